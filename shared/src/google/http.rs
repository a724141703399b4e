//! The one HTTP client, the retry policy and the request executor shared by the People and Directory clients.
//!
//! Retry semantics:
//! - Reads retry on 429, 500, 502, 503, 504, Directory rate-limit 403s (`userRateLimitExceeded`,
//!   `rateLimitExceeded`, `quotaExceeded`) and transport errors (connect, timeout, connection lost).
//! - Writes retry only when Google provably did not process the request: 429, rate-limit 403s, and errors that
//!   happened before anything was sent (connect errors). A timeout, a lost connection or a 5xx after sending
//!   becomes [`GoogleError::OutcomeUnknown`] and is not repeated: the caller re-reads and re-plans, so a create
//!   is never doubled.
//! - Every request: a 401 drops the cached token and is retried once with a fresh one.
//! - Delays: exponential backoff with full jitter (`random(0, min(cap, base * 2^n))`), never shorter than a
//!   `Retry-After` header; a `Retry-After` longer than [`RetryPolicy::max_retry_after`] is not waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::GoogleError;
use super::auth::TokenProvider;

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

fn retry_after_of(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// Timeouts of the shared HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// The whole request, response body included.
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Builds the pooled rustls HTTP client every Google call goes through.
pub fn build_http_client(config: &HttpConfig) -> Result<reqwest::Client, GoogleError> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("contact-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| GoogleError::Transport {
            method: "http client".to_owned(),
            detail: error_chain(&e),
        })
}

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

/// Whether repeating a request can change state twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Safe to repeat.
    Read,
    /// A mutation: repeated only when Google provably did not process it.
    Write,
}

/// One API call, before it is sent.
#[derive(Debug, Clone)]
pub struct ApiCall<'a> {
    /// Google's method id for errors and logs, e.g. `people.batchCreateContacts`.
    pub method_id: &'static str,
    pub http_method: Method,
    pub url: url::Url,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub kind: CallKind,
    /// The impersonated user.
    pub subject: &'a str,
    pub scopes: &'a [&'a str],
}

/// Sends Google API calls with tokens, retries and error parsing. Cheap to clone (shares everything).
#[derive(Clone)]
pub struct GoogleHttp {
    client: reqwest::Client,
    tokens: Arc<TokenProvider>,
    retry: RetryPolicy,
    stats: Arc<RequestStats>,
}

impl std::fmt::Debug for GoogleHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleHttp")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to.
enum Attempt<T> {
    Done(Result<T, GoogleError>),
    Retry {
        error: GoogleError,
        retry_after: Option<Duration>,
    },
    RefreshToken {
        error: GoogleError,
        token: String,
    },
}

impl GoogleHttp {
    /// Shares `client` and `tokens` (whose stats are the ones reported by [`GoogleHttp::stats`]).
    pub fn new(client: reqwest::Client, tokens: Arc<TokenProvider>, retry: RetryPolicy) -> Self {
        let stats = tokens.stats();
        GoogleHttp {
            client,
            tokens,
            retry,
            stats,
        }
    }

    pub fn stats(&self) -> &Arc<RequestStats> {
        &self.stats
    }

    pub fn tokens(&self) -> &Arc<TokenProvider> {
        &self.tokens
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Sends the call and decodes a JSON answer (an empty body decodes as `{}`).
    pub async fn execute<T: DeserializeOwned>(&self, call: &ApiCall<'_>) -> Result<T, GoogleError> {
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            match self.attempt(call).await {
                Attempt::Done(result) => {
                    if matches!(result, Err(GoogleError::OutcomeUnknown { .. })) {
                        RequestStats::bump(&self.stats.outcome_unknown);
                    }
                    return result;
                }
                Attempt::RefreshToken { error, token } => {
                    if refreshed {
                        return Err(error);
                    }
                    refreshed = true;
                    attempt -= 1;
                    tracing::info!(
                        method = call.method_id,
                        "token rejected (401); retrying once with a new token"
                    );
                    self.tokens
                        .invalidate(call.subject, call.scopes, &token)
                        .await;
                }
                Attempt::Retry { error, retry_after } => {
                    if attempt >= self.retry.max_attempts
                        || !self.retry.accepts_retry_after(retry_after)
                    {
                        return Err(error);
                    }
                    let delay = self.retry.delay(attempt, retry_after);
                    tracing::debug!(
                        method = call.method_id,
                        attempt,
                        status = error.http_status(),
                        reason = error.reason(),
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                    RequestStats::bump(&self.stats.retries);
                }
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, call: &ApiCall<'_>) -> Attempt<T> {
        let token = match self.tokens.token(call.subject, call.scopes).await {
            Ok(t) => t,
            Err(e) => return Attempt::Done(Err(e)),
        };
        let mut request = self
            .client
            .request(call.http_method.clone(), call.url.clone())
            .bearer_auth(token.secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .query(&call.query);
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        RequestStats::bump(&self.stats.requests);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return self.transport_failure(call, &e),
        };
        let status = response.status();
        let retry_after = retry_after_of(response.headers());
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return self.transport_failure(call, &e),
        };
        if status.is_success() {
            let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
                b"{}"
            } else {
                &body
            };
            return Attempt::Done(
                serde_json::from_slice(text).map_err(|e| GoogleError::Decode {
                    method: call.method_id.to_owned(),
                    detail: format!("HTTP {}: {e}", status.as_u16()),
                }),
            );
        }
        let error = parse_error_body(call.method_id, status.as_u16(), &body);
        if status == StatusCode::UNAUTHORIZED {
            return Attempt::RefreshToken {
                error,
                token: token.secret().to_owned(),
            };
        }
        if is_rate_limited(&error) {
            return Attempt::Retry { error, retry_after };
        }
        match call.kind {
            CallKind::Read if is_retryable_status(status) => Attempt::Retry { error, retry_after },
            CallKind::Write if status.is_server_error() => {
                tracing::warn!(
                    method = call.method_id,
                    status = status.as_u16(),
                    "write answered with a server error: outcome unknown, not repeated"
                );
                Attempt::Done(Err(GoogleError::OutcomeUnknown {
                    method: call.method_id.to_owned(),
                    detail: error.to_string(),
                }))
            }
            _ => Attempt::Done(Err(error)),
        }
    }

    fn transport_failure<T>(&self, call: &ApiCall<'_>, e: &reqwest::Error) -> Attempt<T> {
        let detail = error_chain(e);
        let error = GoogleError::Transport {
            method: call.method_id.to_owned(),
            detail: detail.clone(),
        };
        if call.kind == CallKind::Read || never_sent(e) {
            return Attempt::Retry {
                error,
                retry_after: None,
            };
        }
        tracing::warn!(
            method = call.method_id,
            timeout = e.is_timeout(),
            "write failed after sending: outcome unknown, not repeated"
        );
        Attempt::Done(Err(GoogleError::OutcomeUnknown {
            method: call.method_id.to_owned(),
            detail,
        }))
    }
}

/// Checks a base URL (host root, e.g. `https://people.googleapis.com`) and strips a trailing `/`.
pub fn checked_base_url(base: &str) -> Result<String, GoogleError> {
    let trimmed = base.trim().trim_end_matches('/');
    match url::Url::parse(trimmed) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.has_host() => {
            Ok(trimmed.to_owned())
        }
        _ => Err(GoogleError::Transport {
            method: "client setup".to_owned(),
            detail: format!("base URL {base:?} is not an http(s) URL"),
        }),
    }
}

/// `{base}/{path}` as a URL; `path` is already percent-encoded.
pub fn join_url(base: &str, method_id: &str, path: &str) -> Result<url::Url, GoogleError> {
    url::Url::parse(&format!("{base}/{path}")).map_err(|e| GoogleError::Transport {
        method: method_id.to_owned(),
        detail: format!("invalid request URL: {e}"),
    })
}

/// The next page token, or `None` at the last page (absent or empty token). A token equal to the one just
/// used would loop forever: that is an error.
pub fn pagination_guard(
    method_id: &str,
    current: Option<&str>,
    next: Option<String>,
) -> Result<Option<String>, GoogleError> {
    match next.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) if Some(t.as_str()) == current => Err(GoogleError::Decode {
            method: method_id.to_owned(),
            detail: "the next page token repeats the current one".to_owned(),
        }),
        Some(t) => Ok(Some(t)),
    }
}

/// A transport error that proves the request never reached the server.
pub(crate) fn never_sent(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_builder()
}

/// 429, or a Directory API 403 whose reason says "rate limited" (Google refused before processing).
fn is_rate_limited(error: &GoogleError) -> bool {
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

/// A reqwest error with its sources, e.g. "error sending request: connection refused".
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Turns a Google error body into [`GoogleError::Api`]. Understands the standard shape
/// `{"error":{"code","message","status","details":[{"@type":".../google.rpc.ErrorInfo","reason"}],
/// "errors":[{"reason","message","domain"}]}}` (ErrorInfo reason preferred over the legacy one), the OAuth shape
/// `{"error":"...","error_description":"..."}`, and anything else (the start of the text is kept as message).
pub fn parse_error_body(method: &str, status: u16, body: &[u8]) -> GoogleError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let (status_text, reason, message) = match error {
        Some(Value::Object(e)) => {
            let status_text = e
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let error_info_reason = e
                .get("details")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|d| {
                    d.get("@type")
                        .and_then(Value::as_str)
                        .is_none_or(|t| t.ends_with("google.rpc.ErrorInfo"))
                })
                .find_map(|d| d.get("reason").and_then(Value::as_str));
            let legacy_reason = e
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find_map(|d| d.get("reason").and_then(Value::as_str));
            let reason = error_info_reason.or(legacy_reason).map(str::to_owned);
            (status_text, reason, message)
        }
        Some(Value::String(code)) => {
            let description = parsed
                .as_ref()
                .and_then(|v| v.get("error_description"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (String::new(), Some(code.clone()), description)
        }
        _ => (String::new(), None, text_excerpt(body)),
    };
    GoogleError::Api {
        method: method.to_owned(),
        status,
        status_text,
        reason,
        message,
    }
}

/// The first 200 characters of a non-JSON body, on one line.
pub(crate) fn text_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    one_line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::google::testing::{
        Recorded, Reply, TestServer, fixed_key, reply_json, reply_with_header, token_reply,
    };
    use std::time::Instant;

    /// An executor whose tokens and API calls both go to `server`.
    fn http_for(server: &TestServer, retry: RetryPolicy, timeout: Duration) -> GoogleHttp {
        let client = build_http_client(&HttpConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: timeout,
        })
        .expect("client");
        let (key, _) = fixed_key(&server.url("/token"));
        let tokens =
            Arc::new(TokenProvider::new(key, client.clone(), retry.clone()).expect("tokens"));
        GoogleHttp::new(client, tokens, retry)
    }

    async fn scripted<F>(api: F) -> TestServer
    where
        F: Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    {
        let api_seq = Arc::new(AtomicU64::new(0));
        TestServer::start(move |req| {
            if req.path == "/token" {
                token_reply()
            } else {
                let n = api_seq.fetch_add(1, Ordering::SeqCst);
                api(usize::try_from(n).unwrap_or(usize::MAX), req)
            }
        })
        .await
    }

    fn call(server: &TestServer, kind: CallKind) -> ApiCall<'static> {
        ApiCall {
            method_id: "test.method",
            http_method: if kind == CallKind::Read {
                Method::GET
            } else {
                Method::POST
            },
            url: url::Url::parse(&server.url("/v1/thing")).expect("url"),
            query: vec![("pageSize", "10".to_owned())],
            body: (kind == CallKind::Write).then(|| serde_json::json!({"a": 1})),
            kind,
            subject: "ann@example.com",
            scopes: &["scope-a"],
        }
    }

    const UNAVAILABLE: &str = r#"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#;
    const QUOTA: &str = r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"}]}}"#;

    #[tokio::test]
    async fn reads_send_token_query_and_retry_5xx_then_succeed() {
        let server = scripted(|n, _| match n {
            0 => reply_json(503, UNAVAILABLE),
            1 => reply_json(502, "<html>bad gateway</html>"),
            2 => Reply::Close,
            _ => reply_json(200, r#"{"ok":true}"#),
        })
        .await;
        let http = http_for(&server, RetryPolicy::fast(), Duration::from_secs(5));
        let v: Value = http
            .execute(&call(&server, CallKind::Read))
            .await
            .expect("ok");
        assert_eq!(v, serde_json::json!({"ok": true}));
        let api = server.api_requests();
        assert_eq!(api.len(), 4);
        assert_eq!(api[0].method, "GET");
        assert_eq!(api[0].header("authorization"), Some("Bearer test-token"));
        assert_eq!(api[0].query_values("pageSize"), vec!["10"]);
        let stats = http.stats().snapshot();
        assert_eq!(
            (stats.requests, stats.retries, stats.token_requests),
            (4, 3, 1)
        );
    }

    #[tokio::test]
    async fn reads_give_up_after_max_attempts_with_the_last_error() {
        let server = scripted(|_, _| reply_json(503, UNAVAILABLE)).await;
        let retry = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::fast()
        };
        let http = http_for(&server, retry, Duration::from_secs(5));
        let err = http
            .execute::<Value>(&call(&server, CallKind::Read))
            .await
            .expect_err("503");
        assert_eq!(err.http_status(), Some(503));
        assert!(
            matches!(&err, GoogleError::Api { status_text, .. } if status_text == "UNAVAILABLE")
        );
        assert_eq!(server.api_requests().len(), 3);
    }

    #[tokio::test]
    async fn read_timeouts_are_retried() {
        let server = scripted(|n, _| {
            if n == 0 {
                Reply::Hang(Duration::from_millis(800))
            } else {
                reply_json(200, "{}")
            }
        })
        .await;
        let http = http_for(&server, RetryPolicy::fast(), Duration::from_millis(300));
        let _: Value = http
            .execute(&call(&server, CallKind::Read))
            .await
            .expect("ok");
        assert_eq!(server.api_requests().len(), 2);
    }

    #[tokio::test]
    async fn retry_after_is_honoured_for_writes_on_429() {
        let server = scripted(|n, _| {
            if n == 0 {
                reply_with_header(429, ("Retry-After", "1"), QUOTA)
            } else {
                reply_json(200, "")
            }
        })
        .await;
        let http = http_for(&server, RetryPolicy::fast(), Duration::from_secs(5));
        let started = Instant::now();
        let _: Value = http
            .execute(&call(&server, CallKind::Write))
            .await
            .expect("ok");
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "waited for Retry-After"
        );
        let api = server.api_requests();
        assert_eq!(api.len(), 2);
        assert_eq!(api[1].body_json(), serde_json::json!({"a": 1}));
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_limit_is_not_waited_for() {
        let server = scripted(|_, _| reply_with_header(429, ("Retry-After", "3600"), QUOTA)).await;
        let http = http_for(&server, RetryPolicy::fast(), Duration::from_secs(5));
        let err = http
            .execute::<Value>(&call(&server, CallKind::Read))
            .await
            .expect_err("429");
        assert_eq!(err.reason(), Some("RATE_LIMIT_EXCEEDED"));
        assert_eq!(server.api_requests().len(), 1);
    }

    #[tokio::test]
    async fn writes_are_not_repeated_after_a_5xx() {
        let server = scripted(|_, _| reply_json(503, UNAVAILABLE)).await;
        let http = http_for(&server, RetryPolicy::fast(), Duration::from_secs(5));
        let err = http
            .execute::<Value>(&call(&server, CallKind::Write))
            .await
            .expect_err("unknown");
        assert!(err.is_outcome_unknown(), "{err:?}");
        assert_eq!(server.api_requests().len(), 1);
        assert_eq!(http.stats().snapshot().outcome_unknown, 1);
    }

    #[tokio::test]
    async fn writes_are_not_repeated_after_a_timeout_or_a_lost_connection() {
        let server = scripted(|n, _| {
            if n == 0 {
                Reply::Hang(Duration::from_millis(800))
            } else {
                Reply::Close
            }
        })
        .await;
        let http = http_for(&server, RetryPolicy::fast(), Duration::from_millis(300));
        for _ in 0..2 {
            let err = http
                .execute::<Value>(&call(&server, CallKind::Write))
                .await
                .expect_err("unknown");
            assert!(err.is_outcome_unknown(), "{err:?}");
        }
        assert_eq!(
            server.api_requests().len(),
            2,
            "one request per write, never repeated"
        );
    }

    #[tokio::test]
    async fn writes_that_were_never_sent_are_retried() {
        let tokens = TestServer::start(|_| token_reply()).await;
        // A port nobody listens on: every attempt fails to connect.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let dead_url = format!("http://{}/v1/thing", closed.local_addr().expect("addr"));
        drop(closed);
        let retry = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::fast()
        };
        let http = http_for(&tokens, retry, Duration::from_secs(5));
        let mut c = call(&tokens, CallKind::Write);
        c.url = url::Url::parse(&dead_url).expect("url");
        let err = http.execute::<Value>(&c).await.expect_err("refused");
        assert!(matches!(err, GoogleError::Transport { .. }), "{err:?}");
        assert_eq!(http.stats().snapshot().requests, 3);
    }

    #[tokio::test]
    async fn a_401_refreshes_the_token_once() {
        let server = scripted(|n, _| {
            if n == 0 {
                reply_json(401, r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#)
            } else {
                reply_json(200, "{}")
            }
        })
        .await;
        let http = http_for(&server, RetryPolicy::fast(), Duration::from_secs(5));
        let _: Value = http
            .execute(&call(&server, CallKind::Write))
            .await
            .expect("ok");
        assert_eq!(server.api_requests().len(), 2);
        assert_eq!(http.stats().snapshot().token_requests, 2);

        let always = scripted(|_, _| reply_json(401, "{}")).await;
        let http = http_for(&always, RetryPolicy::fast(), Duration::from_secs(5));
        let err = http
            .execute::<Value>(&call(&always, CallKind::Read))
            .await
            .expect_err("401");
        assert_eq!(err.http_status(), Some(401));
        assert_eq!(always.api_requests().len(), 2);
    }

    #[tokio::test]
    async fn client_errors_are_returned_at_once_and_bad_json_is_a_decode_error() {
        let server = scripted(|n, _| {
            if n == 0 {
                reply_json(404, r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#)
            } else {
                reply_json(200, "not json")
            }
        })
        .await;
        let http = http_for(&server, RetryPolicy::fast(), Duration::from_secs(5));
        let err = http
            .execute::<Value>(&call(&server, CallKind::Read))
            .await
            .expect_err("404");
        assert!(err.is_not_found());
        let err = http
            .execute::<Value>(&call(&server, CallKind::Read))
            .await
            .expect_err("decode");
        assert!(matches!(err, GoogleError::Decode { .. }), "{err:?}");
        assert_eq!(server.api_requests().len(), 2);
    }

    #[test]
    fn pagination_guard_stops_on_empty_and_repeated_tokens() {
        assert_eq!(pagination_guard("m", None, None).expect("ok"), None);
        assert_eq!(
            pagination_guard("m", None, Some(String::new())).expect("ok"),
            None
        );
        assert_eq!(
            pagination_guard("m", Some("a"), Some("b".to_owned())).expect("ok"),
            Some("b".to_owned())
        );
        assert!(pagination_guard("m", Some("a"), Some("a".to_owned())).is_err());
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            checked_base_url("https://people.googleapis.com/").expect("ok"),
            "https://people.googleapis.com"
        );
        assert!(checked_base_url("people.googleapis.com").is_err());
    }

    #[test]
    fn parses_error_info_reason_and_status() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'Critical read requests'","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com","metadata":{"service":"people.googleapis.com"}},{"@type":"type.googleapis.com/google.rpc.Help","links":[]}]}}"#;
        let e = parse_error_body("people.connections.list", 429, body);
        match &e {
            GoogleError::Api {
                method,
                status,
                status_text,
                reason,
                message,
            } => {
                assert_eq!(method, "people.connections.list");
                assert_eq!(*status, 429);
                assert_eq!(status_text, "RESOURCE_EXHAUSTED");
                assert_eq!(reason.as_deref(), Some("RATE_LIMIT_EXCEEDED"));
                assert!(message.starts_with("Quota exceeded"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(is_rate_limited(&e));
    }

    #[test]
    fn parses_legacy_errors_array() {
        let body = br#"{"error":{"code":403,"message":"Not Authorized to access this resource/api","errors":[{"message":"Not Authorized to access this resource/api","domain":"global","reason":"forbidden"}]}}"#;
        let e = parse_error_body("directory.users.list", 403, body);
        assert_eq!(e.reason(), Some("forbidden"));
        assert_eq!(e.http_status(), Some(403));
        assert!(!is_rate_limited(&e));
        let limited = parse_error_body(
            "directory.users.list",
            403,
            br#"{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded"}]}}"#,
        );
        assert!(is_rate_limited(&limited));
    }

    #[test]
    fn error_info_wins_over_legacy_reason() {
        let body = br#"{"error":{"code":400,"message":"Sync token is expired. Clear local cache and retry call without the sync token.","status":"FAILED_PRECONDITION","errors":[{"reason":"failedPrecondition"}],"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"EXPIRED_SYNC_TOKEN"}]}}"#;
        let e = parse_error_body("people.connections.list", 400, body);
        assert_eq!(e.reason(), Some("EXPIRED_SYNC_TOKEN"));
        assert!(e.is_expired_sync_token());
    }

    #[test]
    fn stale_etag_is_recognised() {
        let body = br#"{"error":{"code":400,"message":"Request person.etag is different than the current person.etag. Clear local cache and get the latest person.","status":"FAILED_PRECONDITION"}}"#;
        let e = parse_error_body("people.batchUpdateContacts", 400, body);
        assert!(e.is_stale_etag());
        assert_eq!(e.reason(), None);
    }

    #[test]
    fn parses_oauth_shape_and_plain_text() {
        let e = parse_error_body(
            "people.batchGet",
            401,
            br#"{"error":"invalid_token","error_description":"Invalid Credentials"}"#,
        );
        assert_eq!(e.reason(), Some("invalid_token"));
        assert!(e.to_string().contains("Invalid Credentials"));

        let e = parse_error_body(
            "people.batchGet",
            502,
            b"<html>\n<body>Bad Gateway</body></html>",
        );
        match e {
            GoogleError::Api {
                status_text,
                reason,
                message,
                ..
            } => {
                assert_eq!(status_text, "");
                assert_eq!(reason, None);
                assert_eq!(message, "<html> <body>Bad Gateway</body></html>");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

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
