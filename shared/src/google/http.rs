//! The one HTTP client and the request executor shared by the People and Directory clients.
//!
//! Retry semantics (the policy and the retryable answers are in [`super::retry`]):
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
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::TokenProvider;
use super::error::{GoogleError, error_chain, parse_error_body};
use super::retry::{RetryPolicy, is_rate_limited, is_retryable_status, retry_after_of};
use super::stats::RequestStats;

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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::google::testing::{
        Recorded, Reply, TestServer, fixed_key, reply_json, reply_with_header, token_reply,
    };
    use std::sync::atomic::{AtomicU64, Ordering};
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
}
