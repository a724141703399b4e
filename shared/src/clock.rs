//! The time, behind a trait so tests can move it (past a lease, past an undelivered run's deadline).

use chrono::{DateTime, Utc};

/// Where the engine and the API operations read the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
