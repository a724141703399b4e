//! Counters of the requests the Google clients send, shared by the API executor and the token provider.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of what the clients sent, cheap enough to keep in production (reported in run summaries/tests).
#[derive(Debug, Default)]
pub struct RequestStats {
    /// API requests sent (every attempt counts).
    pub requests: AtomicU64,
    /// Attempts that were retries.
    pub retries: AtomicU64,
    /// Token requests sent to the token endpoint (every attempt counts).
    pub token_requests: AtomicU64,
    /// Writes that ended in `OutcomeUnknown`.
    pub outcome_unknown: AtomicU64,
}

/// A point-in-time copy of [`RequestStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStatsSnapshot {
    pub requests: u64,
    pub retries: u64,
    pub token_requests: u64,
    pub outcome_unknown: u64,
}

impl RequestStats {
    pub fn snapshot(&self) -> RequestStatsSnapshot {
        RequestStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            token_requests: self.token_requests.load(Ordering::Relaxed),
            outcome_unknown: self.outcome_unknown.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
