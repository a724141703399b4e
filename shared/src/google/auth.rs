//! Service-account OAuth2 with domain-wide delegation: a signed JWT (RS256) exchanged at the key's `token_uri`
//! for an access token impersonating a user. Tokens are cached per (subject, scope set) until shortly before
//! they expire; concurrent callers for the same subject and scopes share one token request.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::error::{GoogleError, error_chain, parse_error_body, text_excerpt};
use super::key::ServiceAccountKey;
use super::retry::{RetryPolicy, retry_after_of};
use super::stats::RequestStats;

/// The OAuth2 grant type of a signed-JWT exchange.
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The longest lifetime Google accepts for the assertion.
pub const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// A cached token is replaced this long before it expires.
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);

const TOKEN_METHOD: &str = "oauth2.token";

/// The claims of the assertion JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtClaims {
    /// The service account's email.
    pub iss: String,
    /// The impersonated user's email.
    pub sub: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The token endpoint (the key's `token_uri`).
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

impl JwtClaims {
    /// The claims for impersonating `subject` with `scopes` at `iat` (seconds since the epoch).
    pub fn new(key: &ServiceAccountKey, subject: &str, scopes: &[&str], iat: u64) -> Self {
        JwtClaims {
            iss: key.client_email.clone(),
            sub: subject.to_owned(),
            scope: scopes.join(" "),
            aud: key.token_uri.clone(),
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        }
    }
}

/// An access token. `Debug` does not show it.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    expires_at: Instant,
}

impl AccessToken {
    /// The bearer token itself: send it, never log it.
    pub fn secret(&self) -> &str {
        &self.value
    }

    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Usable for at least the refresh margin (or half its lifetime, for very short-lived tokens).
    fn is_fresh(&self, lifetime: Duration) -> bool {
        let margin = TOKEN_REFRESH_MARGIN.min(lifetime / 2);
        Instant::now() + margin < self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Clone)]
struct CachedToken {
    token: AccessToken,
    lifetime: Duration,
}

type Slot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Issues access tokens for any subject, from one service-account key.
pub struct TokenProvider {
    key: ServiceAccountKey,
    encoding_key: EncodingKey,
    client: reqwest::Client,
    retry: RetryPolicy,
    stats: Arc<RequestStats>,
    slots: Mutex<HashMap<(String, BTreeSet<String>), Slot>>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("key", &self.key)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// Checks the key and parses its PEM; tokens are requested lazily.
    pub fn new(
        key: ServiceAccountKey,
        client: reqwest::Client,
        retry: RetryPolicy,
    ) -> Result<Self, GoogleError> {
        key.validate()?;
        let encoding_key = EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|e| {
            GoogleError::Key(format!(
                "\"private_key\" is not a usable RSA private key ({})",
                jwt_error_kind(&e)
            ))
        })?;
        Ok(TokenProvider {
            key,
            encoding_key,
            client,
            retry,
            stats: Arc::new(RequestStats::default()),
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// The counters shared with the API executor built on this provider.
    pub fn stats(&self) -> Arc<RequestStats> {
        Arc::clone(&self.stats)
    }

    pub fn key(&self) -> &ServiceAccountKey {
        &self.key
    }

    /// The signed assertion impersonating `subject` with `scopes`, issued at `now`.
    pub fn signed_assertion(
        &self,
        subject: &str,
        scopes: &[&str],
        now: SystemTime,
    ) -> Result<String, GoogleError> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = JwtClaims::new(&self.key, subject, scopes, iat);
        let mut header = Header::new(Algorithm::RS256);
        if !self.key.private_key_id.is_empty() {
            header.kid = Some(self.key.private_key_id.clone());
        }
        jsonwebtoken::encode(&header, &claims, &self.encoding_key).map_err(|e| {
            GoogleError::Key(format!(
                "could not sign the assertion ({})",
                jwt_error_kind(&e)
            ))
        })
    }

    /// A token for `subject` with `scopes` (order and duplicates do not matter), from the cache when fresh.
    pub async fn token(&self, subject: &str, scopes: &[&str]) -> Result<AccessToken, GoogleError> {
        let slot = self.slot(subject, scopes);
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref()
            && c.token.is_fresh(c.lifetime)
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch(subject, scopes).await?;
        *cached = Some(CachedToken {
            token: token.clone(),
            lifetime,
        });
        Ok(token)
    }

    /// Forgets the cached token for `subject`/`scopes` if it is still `rejected` (one an API refused).
    pub async fn invalidate(&self, subject: &str, scopes: &[&str], rejected: &str) {
        let slot = self.slot(subject, scopes);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| c.token.value == rejected) {
            *cached = None;
        }
    }

    fn slot(&self, subject: &str, scopes: &[&str]) -> Slot {
        let key = (
            subject.to_ascii_lowercase(),
            scopes
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<BTreeSet<_>>(),
        );
        let mut slots = match self.slots.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(slots.entry(key).or_default())
    }

    async fn fetch(
        &self,
        subject: &str,
        scopes: &[&str],
    ) -> Result<(AccessToken, Duration), GoogleError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let assertion = self.signed_assertion(subject, scopes, SystemTime::now())?;
            let requested_at = Instant::now();
            RequestStats::bump(&self.stats.token_requests);
            let sent = self
                .client
                .post(&self.key.token_uri)
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&[
                    ("grant_type", JWT_BEARER_GRANT_TYPE),
                    ("assertion", assertion.as_str()),
                ])
                .send()
                .await;
            let (error, retry_after) = match sent {
                Err(e) => (
                    GoogleError::Transport {
                        method: TOKEN_METHOD.to_owned(),
                        detail: error_chain(&e),
                    },
                    None,
                ),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after_of(response.headers());
                    match response.bytes().await {
                        Err(e) => (
                            GoogleError::Transport {
                                method: TOKEN_METHOD.to_owned(),
                                detail: error_chain(&e),
                            },
                            None,
                        ),
                        Ok(body) if status.is_success() => {
                            return self.accept(subject, &body, requested_at);
                        }
                        Ok(body) if status.as_u16() == 429 || status.is_server_error() => (
                            parse_error_body(TOKEN_METHOD, status.as_u16(), &body),
                            retry_after,
                        ),
                        Ok(body) => {
                            let (error, description) =
                                match serde_json::from_slice::<OAuthError>(&body) {
                                    Ok(e) => (e.error, e.error_description),
                                    Err(_) => ("http_error".to_owned(), text_excerpt(&body)),
                                };
                            tracing::warn!(
                                subject,
                                status = status.as_u16(),
                                error = error.as_str(),
                                "token request refused"
                            );
                            return Err(GoogleError::Auth {
                                subject: subject.to_owned(),
                                status: status.as_u16(),
                                error,
                                description,
                            });
                        }
                    }
                }
            };
            if attempt >= self.retry.max_attempts || !self.retry.accepts_retry_after(retry_after) {
                return Err(error);
            }
            let delay = self.retry.delay(attempt, retry_after);
            tracing::debug!(
                subject,
                attempt,
                status = error.http_status(),
                "retrying token request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    fn accept(
        &self,
        subject: &str,
        body: &[u8],
        requested_at: Instant,
    ) -> Result<(AccessToken, Duration), GoogleError> {
        let parsed: TokenResponse =
            serde_json::from_slice(body).map_err(|e| GoogleError::Decode {
                method: TOKEN_METHOD.to_owned(),
                detail: format!("token response is not the expected JSON: {e}"),
            })?;
        let value = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GoogleError::Decode {
                method: TOKEN_METHOD.to_owned(),
                detail: "token response has no access_token".to_owned(),
            })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(ASSERTION_LIFETIME_SECS));
        tracing::debug!(subject, expires_in = lifetime.as_secs(), "token issued");
        Ok((
            AccessToken {
                value,
                expires_at: requested_at + lifetime,
            },
            lifetime,
        ))
    }
}

/// A name for a jsonwebtoken error that cannot carry key material.
fn jwt_error_kind(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidKeyFormat => "invalid key format",
        ErrorKind::InvalidRsaKey(_) => "invalid RSA key",
        ErrorKind::Base64(_) => "invalid base64 in the PEM",
        ErrorKind::RsaFailedSigning | ErrorKind::Signing(_) => "signing failed",
        ErrorKind::Json(_) => "claims could not be serialised",
        _ => "unusable key",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::testing::{TestServer, fixed_key, key_json, reply_json};
    use jsonwebtoken::{DecodingKey, Validation};

    const SCOPES: &[&str] = &["https://www.googleapis.com/auth/contacts", "scope-b"];

    #[test]
    fn claims_follow_googles_rules() {
        let key =
            ServiceAccountKey::from_json(&key_json("https://oauth2.example/token")).expect("key");
        let c = JwtClaims::new(&key, "ann@example.com", SCOPES, 1_700_000_000);
        assert_eq!(c.iss, key.client_email);
        assert_eq!(c.sub, "ann@example.com");
        assert_eq!(c.scope, "https://www.googleapis.com/auth/contacts scope-b");
        assert_eq!(c.aud, "https://oauth2.example/token");
        assert_eq!(c.iat, 1_700_000_000);
        assert_eq!(c.exp, 1_700_003_600);
    }

    #[test]
    fn assertion_is_rs256_with_kid_and_verifies_with_the_public_key() {
        let (key, public_pem) = fixed_key("https://oauth2.example/token");
        let provider = TokenProvider::new(key.clone(), reqwest::Client::new(), RetryPolicy::fast())
            .expect("provider");
        let now = SystemTime::now();
        let jwt = provider
            .signed_assertion("ann@example.com", SCOPES, now)
            .expect("signed");
        let header = jsonwebtoken::decode_header(&jwt).expect("header");
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(key.private_key_id.as_str()));
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://oauth2.example/token"]);
        validation.set_issuer(&[key.client_email.as_str()]);
        let decoded = jsonwebtoken::decode::<JwtClaims>(
            &jwt,
            &DecodingKey::from_rsa_pem(public_pem.as_bytes()).expect("public key"),
            &validation,
        )
        .expect("valid signature");
        assert_eq!(decoded.claims.sub, "ann@example.com");
        assert_eq!(decoded.claims.exp - decoded.claims.iat, 3600);
    }

    #[test]
    fn a_bad_pem_is_a_key_error_without_the_key() {
        let mut key =
            ServiceAccountKey::from_json(&key_json("https://oauth2.example/token")).expect("key");
        key.private_key =
            "-----BEGIN PRIVATE KEY-----\nTOTALLYSECRET\n-----END PRIVATE KEY-----\n".to_owned();
        let err = TokenProvider::new(key, reqwest::Client::new(), RetryPolicy::fast())
            .expect_err("bad pem");
        assert!(matches!(err, GoogleError::Key(_)));
        assert!(!err.to_string().contains("TOTALLYSECRET"));
    }

    #[test]
    fn access_token_debug_is_redacted() {
        let t = AccessToken {
            value: "ya29.secret".to_owned(),
            expires_at: Instant::now(),
        };
        assert!(!format!("{t:?}").contains("ya29"));
    }

    #[tokio::test]
    async fn tokens_are_cached_per_subject_and_scope_set_without_stampede() {
        let server = TestServer::start(|req| {
            assert_eq!(req.path, "/token");
            assert!(
                req.body_text()
                    .contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
            );
            reply_json(
                200,
                r#"{"access_token":"tok","expires_in":3599,"token_type":"Bearer"}"#,
            )
        })
        .await;
        let (key, _) = fixed_key(&server.url("/token"));
        let provider = Arc::new(
            TokenProvider::new(key, reqwest::Client::new(), RetryPolicy::fast()).expect("provider"),
        );
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let p = Arc::clone(&provider);
            tasks.push(tokio::spawn(async move {
                p.token("ann@example.com", SCOPES).await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("join").expect("token").secret(), "tok");
        }
        assert_eq!(
            server.request_count(),
            1,
            "one request for ten concurrent callers"
        );
        // Same scopes in another order, subject in another case: cached.
        provider
            .token(
                "Ann@Example.com",
                &["scope-b", "https://www.googleapis.com/auth/contacts"],
            )
            .await
            .expect("token");
        assert_eq!(server.request_count(), 1);
        // Another subject or scope set: a new token.
        provider
            .token("bob@example.com", SCOPES)
            .await
            .expect("token");
        provider
            .token("ann@example.com", &["scope-b"])
            .await
            .expect("token");
        assert_eq!(server.request_count(), 3);
        // Invalidating a token that is no longer cached changes nothing; the cached one is dropped.
        provider
            .invalidate("ann@example.com", SCOPES, "other")
            .await;
        provider
            .token("ann@example.com", SCOPES)
            .await
            .expect("token");
        assert_eq!(server.request_count(), 3);
        provider.invalidate("ann@example.com", SCOPES, "tok").await;
        provider
            .token("ann@example.com", SCOPES)
            .await
            .expect("token");
        assert_eq!(server.request_count(), 4);
        assert_eq!(provider.stats().snapshot().token_requests, 4);
    }

    #[tokio::test]
    async fn oauth_errors_become_auth_errors_and_5xx_is_retried() {
        let server = TestServer::start(|req| {
            let n = req.seq;
            let body = req.body_text();
            if body.contains("assertion=") && n < 2 {
                reply_json(503, r#"{"error":"internal_failure","error_description":"try again"}"#)
            } else {
                reply_json(
                    401,
                    r#"{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}"#,
                )
            }
        })
        .await;
        let (key, _) = fixed_key(&server.url("/token"));
        let provider =
            TokenProvider::new(key, reqwest::Client::new(), RetryPolicy::fast()).expect("provider");
        let err = provider
            .token("ann@example.com", SCOPES)
            .await
            .expect_err("refused");
        match err {
            GoogleError::Auth {
                subject,
                status,
                error,
                description,
            } => {
                assert_eq!(subject, "ann@example.com");
                assert_eq!(status, 401);
                assert_eq!(error, "unauthorized_client");
                assert!(description.starts_with("Client is unauthorized"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(server.request_count(), 3, "two 503s retried, then the 401");
    }

    #[tokio::test]
    async fn persistent_5xx_and_transport_errors_give_up_after_max_attempts() {
        let server = TestServer::start(|_| reply_json(500, "oops")).await;
        let (key, _) = fixed_key(&server.url("/token"));
        let retry = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::fast()
        };
        let provider = TokenProvider::new(key, reqwest::Client::new(), retry.clone()).expect("p");
        let err = provider
            .token("a@example.com", SCOPES)
            .await
            .expect_err("5xx");
        assert_eq!(err.http_status(), Some(500));
        assert_eq!(server.request_count(), 3);

        let (key, _) = fixed_key("http://127.0.0.1:9/token");
        let provider = TokenProvider::new(key, reqwest::Client::new(), retry).expect("p");
        let err = provider
            .token("a@example.com", SCOPES)
            .await
            .expect_err("down");
        assert!(matches!(err, GoogleError::Transport { .. }), "{err:?}");
        assert_eq!(provider.stats().snapshot().token_requests, 3);
    }
}
