//! When and how long failed Google calls are retried: the retry policy (exponential backoff with full jitter,
//! bounded by `Retry-After`), the `Retry-After` header, and which answers say "try again". Shared by the API
//! executor ([`super::http`]) and the token provider ([`super::auth`]).

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::GoogleError;

/// How failed calls are retried. Tests shrink the delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The backoff before the first retry is drawn from `0..=base_delay`, then doubles.
    pub base_delay: Duration,
    /// The largest backoff drawn.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries with the error.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Tiny delays, for tests (still honours `Retry-After` up to 5 s).
    pub fn fast() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        }
    }

    /// The upper bound of the backoff before retry number `retry` (1 = first retry): `min(cap, base * 2^(retry-1))`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let ceiling = self.base_delay.saturating_mul(1u32 << exp);
        ceiling.min(self.max_delay)
    }

    /// The delay before retry number `retry` with full jitter, never shorter than `retry_after`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(rand::rng().random_range(0..=millis));
        match retry_after {
            Some(after) => jittered.max(after),
            None => jittered,
        }
    }

    /// Whether a server-requested wait is short enough to honour.
    pub fn accepts_retry_after(&self, retry_after: Option<Duration>) -> bool {
        retry_after.is_none_or(|d| d <= self.max_retry_after)
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `Retry-After` of a response, if it has a valid one.
pub(crate) fn retry_after_of(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// 429, or a Directory API 403 whose reason says "rate limited" (Google refused before processing).
pub(crate) fn is_rate_limited(error: &GoogleError) -> bool {
    match error.http_status() {
        Some(429) => true,
        Some(403) => matches!(
            error.reason(),
            Some(
                "userRateLimitExceeded"
                    | "rateLimitExceeded"
                    | "quotaExceeded"
                    | "RATE_LIMIT_EXCEEDED"
                    | "RESOURCE_EXHAUSTED"
            )
        ),
        _ => false,
    }
}

/// Statuses a read is retried on.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap_with_full_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(250));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(500));
        assert_eq!(p.backoff_ceiling(4), Duration::from_millis(2000));
        assert_eq!(p.backoff_ceiling(7), Duration::from_millis(16000));
        assert_eq!(p.backoff_ceiling(8), Duration::from_secs(20));
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_secs(20));
        let mut seen_small = false;
        let mut seen_large = false;
        for _ in 0..500 {
            let d = p.delay(3, None);
            assert!(d <= Duration::from_millis(1000));
            seen_small |= d < Duration::from_millis(300);
            seen_large |= d > Duration::from_millis(700);
        }
        assert!(
            seen_small && seen_large,
            "full jitter spreads over 0..=ceiling"
        );
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_ones_are_not_waited_for() {
        let p = RetryPolicy::fast();
        for _ in 0..50 {
            assert!(p.delay(1, Some(Duration::from_secs(1))) >= Duration::from_secs(1));
        }
        assert!(p.accepts_retry_after(None));
        assert!(p.accepts_retry_after(Some(Duration::from_secs(5))));
        assert!(!p.accepts_retry_after(Some(Duration::from_secs(6))));
    }

    #[test]
    fn retryable_statuses() {
        for s in [429u16, 500, 502, 503, 504] {
            assert!(is_retryable_status(
                StatusCode::from_u16(s).expect("status")
            ));
        }
        for s in [400u16, 401, 403, 404, 409, 501] {
            assert!(!is_retryable_status(
                StatusCode::from_u16(s).expect("status")
            ));
        }
    }
}
