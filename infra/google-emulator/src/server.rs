//! The HTTP server: shared state, the Google API pipeline (auth, scopes, admin check, user faults,
//! quotas, injected faults, validation, handler, partial response), the token endpoint and the control API.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{Call, Query, Reply};
use crate::auth::{self, ServiceAccount};
use crate::discovery::{Api, discovery};
use crate::error::{ApiError, control_error, default_message};
use crate::fields;
use crate::routes::{self, NoMatch};
use crate::seed::{Seed, SeedError};
use crate::world::World;
use crate::{ConfigUpdate, Stats, directory, people};

/// The run-time knobs (flags, EmulatorOptions, POST /emulator/config).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Config {
    pub latency_ms: u64,
    pub fault_rate: f64,
    pub read_quota_per_minute: Option<u32>,
    pub write_quota_per_minute: Option<u32>,
    pub quota_window_ms: u64,
    pub user_faults: BTreeMap<String, u16>,
    pub token_lifetime_secs: u64,
    pub max_contacts_per_user: usize,
}

struct AccessToken {
    user_id: String,
    scopes: BTreeSet<String>,
    expires: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum QuotaKind {
    Read,
    Write,
}

struct Window {
    start: Instant,
    count: u32,
}

pub(crate) struct Inner {
    pub world: World,
    pub config: Config,
    tokens: HashMap<String, AccessToken>,
    quotas: HashMap<(String, QuotaKind), Window>,
    pub stats: Stats,
    rng: StdRng,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub base_url: String,
    pub account: ServiceAccount,
    state: Mutex<Inner>,
}

impl Shared {
    pub fn new(
        base_url: String,
        account: ServiceAccount,
        world: World,
        config: Config,
        rng_seed: Option<u64>,
    ) -> Shared {
        let rng = match rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Shared {
            base_url,
            account,
            state: Mutex::new(Inner {
                world,
                config,
                tokens: HashMap::new(),
                quotas: HashMap::new(),
                stats: Stats::default(),
                rng,
            }),
        }
    }

    /// The state; a panic in another request never makes it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the world with a new seed's. Access tokens stay valid for users that still exist (ids
    /// derive from the seed email); quota windows and sync tokens start afresh.
    pub fn reset(&self, seed: &Seed) -> Result<(), SeedError> {
        let world = World::from_seed(seed, &crate::api::timestamp(Utc::now()))?;
        let mut st = self.lock();
        st.world = world;
        st.quotas.clear();
        Ok(())
    }

    pub fn configure(&self, cfg: &ConfigUpdate) {
        let mut st = self.lock();
        let c = &mut st.config;
        if let Some(v) = cfg.latency_ms {
            c.latency_ms = v;
        }
        if let Some(v) = cfg.fault_rate {
            c.fault_rate = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        }
        if let Some(v) = cfg.read_quota_per_minute {
            c.read_quota_per_minute = v;
        }
        if let Some(v) = cfg.write_quota_per_minute {
            c.write_quota_per_minute = v;
        }
        if let Some(v) = cfg.quota_window_ms {
            c.quota_window_ms = v.max(1);
        }
        if let Some(v) = &cfg.user_faults {
            c.user_faults = v
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), *v))
                .collect();
        }
        if let Some(v) = cfg.token_lifetime_secs {
            c.token_lifetime_secs = v;
        }
        if let Some(v) = cfg.max_contacts_per_user {
            c.max_contacts_per_user = v;
        }
        let quota_changed = cfg.read_quota_per_minute.is_some()
            || cfg.write_quota_per_minute.is_some()
            || cfg.quota_window_ms.is_some();
        if quota_changed {
            st.quotas.clear();
        }
        if let Some(seed) = cfg.rng_seed {
            st.rng = StdRng::seed_from_u64(seed);
        }
        if cfg.expire_sync_tokens == Some(true) {
            people::expire_sync_tokens(&mut st.world.sync_tokens);
        }
    }

    /// Every contact of a user (by primary email or alias), all fields.
    pub fn contacts_of(&self, email: &str) -> Option<Vec<Value>> {
        let st = self.lock();
        let user = st.world.find_user(email)?;
        Some(
            st.world
                .books
                .get(&user.id)
                .map(people::Book::dump_contacts)
                .unwrap_or_default(),
        )
    }

    /// Forgets every contact of a user (by primary email or alias); `None` for an unknown user.
    pub fn forget_contacts_of(&self, email: &str) -> Option<usize> {
        let mut st = self.lock();
        let id = st.world.find_user(email)?.id.clone();
        Some(
            st.world
                .books
                .get_mut(&id)
                .map_or(0, people::Book::forget_contacts),
        )
    }

    /// Every contact group of a user (system and user groups), all fields and members.
    pub fn contact_groups_of(&self, email: &str) -> Option<Vec<Value>> {
        let st = self.lock();
        let user = st.world.find_user(email)?;
        let book = st.world.books.get(&user.id).cloned().unwrap_or_default();
        Some(book.dump_groups(&user.id))
    }

    /// Runs one authorised Google API call under the lock (no awaiting inside).
    fn call(
        &self,
        route: &routes::Matched,
        query: &Query,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let result = self.call_locked(st, route, query, headers, body);
        if let Err(e) = &result {
            match e.code {
                429 => st.stats.rate_limited += 1,
                503 => st.stats.faults += 1,
                _ => {}
            }
        }
        result
    }

    fn call_locked(
        &self,
        st: &mut Inner,
        route: &routes::Matched,
        query: &Query,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Reply, ApiError> {
        let method_id = route.method_id;
        let api = Api::of_method(method_id);
        let service = match api {
            Api::People => "people.googleapis.com",
            Api::Directory => "admin.googleapis.com",
        };
        let info = || {
            [
                ("service".to_string(), service.to_string()),
                ("method".to_string(), method_id.to_string()),
            ]
        };
        let disc = discovery();
        let mutating = disc
            .method(method_id)
            .and_then(|m| m.get("httpMethod"))
            .and_then(Value::as_str)
            != Some("GET");

        // 1. The bearer token.
        let token = bearer_token(headers)
            .or_else(|| query.get("access_token"))
            .or_else(|| query.get("oauth_token"))
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(ApiError::new(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access \
                 token, login cookie or other valid authentication credential. See \
                 https://developers.google.com/identity/sign-in/web/devconsole-project.",
            )
            .with_error_info("googleapis.com", "CREDENTIALS_MISSING", info()));
        };
        let invalid = |reason: &str| {
            let mut e = ApiError::new(401, default_message(401)).with_error_info(
                "googleapis.com",
                reason,
                info(),
            );
            e.legacy_message = Some("Invalid Credentials");
            e.location = Some(("header", "Authorization".into()));
            e
        };
        let (user_id, scopes) = match st.tokens.get(token) {
            None => return Err(invalid("ACCESS_TOKEN_TYPE_UNSUPPORTED")),
            Some(t) if t.expires <= Instant::now() => return Err(invalid("ACCESS_TOKEN_EXPIRED")),
            Some(t) => (t.user_id.clone(), t.scopes.clone()),
        };
        // Tokens of users deleted (by a reset) or suspended since stop working.
        let Some(user) = st.world.users.get(&user_id).filter(|u| !u.suspended) else {
            return Err(invalid("ACCOUNT_STATE_INVALID"));
        };
        let email = user.primary_email.clone();
        let aliases = user.aliases.clone();
        let is_admin = user.is_admin;

        // 2. Counted: every call made with a valid token, whatever its outcome.
        st.stats.record(method_id, &email, mutating);

        // 3. Scopes (any one of the method's scopes will do).
        let needed = disc.method_scopes(method_id);
        if !needed.iter().any(|s| scopes.contains(*s)) {
            let mut e = ApiError::new(403, "Request had insufficient authentication scopes.")
                .with_error_info("googleapis.com", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", info());
            e.legacy_reason = "insufficientPermissions";
            e.legacy_message = Some("Insufficient Permission");
            return Err(e);
        }

        // 4. Directory calls need an administrator (except the domain-public user view).
        if api == Api::Directory && !is_admin && !directory::allowed_for_non_admin(method_id, query)
        {
            return Err(ApiError::directory_not_authorized());
        }

        if api == Api::People {
            // 5. A failing destination.
            let fault = std::iter::once(&email)
                .chain(aliases.iter())
                .find_map(|a| st.config.user_faults.get(&a.to_ascii_lowercase()).copied());
            if let Some(code) = fault {
                let mut e = ApiError::new(code, default_message(code));
                if code == 429 {
                    e.retry_after = Some(1);
                }
                return Err(e);
            }
            // 6. Per-user quotas.
            self.check_quota(st, &user_id, mutating)?;
        }

        // 7. Injected faults: half of the faulted mutations are applied before the 503.
        let mut fault_after = false;
        if st.config.fault_rate > 0.0 && st.rng.random::<f64>() < st.config.fault_rate {
            if mutating && st.rng.random_bool(0.5) {
                fault_after = true;
            } else {
                return Err(ApiError::unavailable());
            }
        }

        // 8. Parameters and body, as Google's front end checks them.
        if api == Api::People {
            query.check_people(disc, method_id)?;
        }
        let mut body_json = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice::<Value>(body).map_err(|e| {
                ApiError::invalid_argument(format!("Invalid JSON payload received. {e}."))
            })?
        };
        if let Some(schema) = disc
            .method(method_id)
            .and_then(|m| m.get("request"))
            .and_then(|r| r.get("$ref"))
            .and_then(Value::as_str)
        {
            if !body_json.is_object() {
                return Err(ApiError::invalid_argument(
                    "Invalid JSON payload received. Expected an object.",
                ));
            }
            disc.normalise_request(api, schema, &mut body_json)?;
        }

        // 9. The method itself.
        let call = Call {
            route,
            query,
            body: body_json,
            subject: &user_id,
            now: Utc::now(),
            max_contacts_per_user: st.config.max_contacts_per_user,
        };
        let result = match api {
            Api::People => people::handle(&mut st.world, &call),
            Api::Directory => directory::handle(&mut st.world, &call),
        };
        if fault_after && result.is_ok() {
            return Err(ApiError::unavailable());
        }
        result
    }

    fn check_quota(&self, st: &mut Inner, user_id: &str, mutating: bool) -> Result<(), ApiError> {
        let kind = if mutating {
            QuotaKind::Write
        } else {
            QuotaKind::Read
        };
        let limit = match kind {
            QuotaKind::Read => st.config.read_quota_per_minute,
            QuotaKind::Write => st.config.write_quota_per_minute,
        };
        let Some(limit) = limit else {
            return Ok(());
        };
        let window = Duration::from_millis(st.config.quota_window_ms.max(1));
        let now = Instant::now();
        let w = st
            .quotas
            .entry((user_id.to_string(), kind))
            .or_insert(Window {
                start: now,
                count: 0,
            });
        let mut elapsed = now.duration_since(w.start);
        if elapsed >= window {
            w.start = now;
            w.count = 0;
            elapsed = Duration::ZERO;
        }
        if w.count < limit {
            w.count += 1;
            return Ok(());
        }
        let remaining = window.saturating_sub(elapsed);
        let retry_after = remaining.as_millis().div_ceil(1000).max(1) as u64;
        let (metric, limit_name) = match kind {
            QuotaKind::Read => (
                "Critical read requests (Contact and Profile Reads)",
                "CriticalReadRequestsPerMinutePerUser",
            ),
            QuotaKind::Write => (
                "Critical write requests",
                "CriticalWriteRequestsPerMinutePerUser",
            ),
        };
        let per_user = format!("{metric} per minute per user");
        let project = self.account.project_number();
        let mut e = ApiError::new(
            429,
            format!(
                "Quota exceeded for quota metric '{metric}' and limit '{per_user}' of service \
                 'people.googleapis.com' for consumer 'project_number:{project}'."
            ),
        )
        .with_error_info(
            "googleapis.com",
            "RATE_LIMIT_EXCEEDED",
            [
                ("quota_metric".to_string(), per_user.clone()),
                ("quota_limit".to_string(), limit_name.to_string()),
                ("quota_limit_value".to_string(), limit.to_string()),
                ("quota_location".to_string(), "global".to_string()),
                ("service".to_string(), "people.googleapis.com".to_string()),
                ("consumer".to_string(), format!("projects/{project}")),
            ],
        );
        e.retry_after = Some(retry_after);
        Err(e)
    }

    fn issue_token(&self, form: &[(String, String)]) -> Result<Value, crate::error::OAuthError> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let grant =
            auth::verify_token_request(&self.account, &st.world, form, Utc::now().timestamp())?;
        let mut bytes = [0u8; 48];
        st.rng.fill_bytes(&mut bytes);
        let token = format!(
            "ya29.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let lifetime = st.config.token_lifetime_secs;
        let now = Instant::now();
        st.tokens.retain(|_, t| t.expires > now);
        st.tokens.insert(
            token.clone(),
            AccessToken {
                user_id: grant.user_id,
                scopes: grant.scopes,
                expires: now + Duration::from_secs(lifetime),
            },
        );
        st.stats.tokens_issued += 1;
        Ok(json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}))
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The axum router: token endpoint, control API, and every Google API route through one dispatcher.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token", post(token_endpoint))
        .route("/emulator/health", get(health))
        .route("/emulator/reset", post(control_reset))
        .route("/emulator/service-account-key", get(control_key))
        .route(
            "/emulator/config",
            get(control_get_config).post(control_config),
        )
        .route("/emulator/stats", get(control_stats))
        .route("/emulator/stats/reset", post(control_stats_reset))
        .route(
            "/emulator/users/{email}/contacts",
            get(control_contacts).delete(control_forget_contacts),
        )
        .route(
            "/emulator/users/{email}/contact-groups",
            get(control_contact_groups),
        )
        .fallback(google_api)
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(shared)
}

async fn google_api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = match routes::match_route(method.as_str(), uri.path()) {
        Ok(r) => r,
        Err(NoMatch::Method) => {
            return ApiError::not_found(format!(
                "Method {} is not supported on {}.",
                method,
                uri.path()
            ))
            .into_response();
        }
        Err(NoMatch::Path) => {
            return ApiError::not_found(format!(
                "The requested URL {} was not found on this server.",
                uri.path()
            ))
            .into_response();
        }
    };
    let query = Query::parse(uri.query());
    let selector = match query.get("fields").filter(|f| !f.trim().is_empty()) {
        Some(f) => match fields::parse(f) {
            Ok(s) => Some(s),
            Err(m) => return ApiError::invalid_argument(m).into_response(),
        },
        None => None,
    };
    let latency = shared.lock().config.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let result = shared.call(&route, &query, &headers, &body);
    tracing::debug!(method = %method, path = %uri.path(), method_id = route.method_id, ok = result.is_ok(), "google api call");
    match result {
        Ok(Reply::Json(mut value)) => {
            if let Some(s) = selector {
                s.apply(&mut value);
            }
            axum::Json(value).into_response()
        }
        Ok(Reply::NoContent) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn token_endpoint(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match shared.issue_token(&form) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn control_reset(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let seed = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(crate::demo_seed())
    } else {
        std::str::from_utf8(&body)
            .map_err(|e| SeedError::Parse(e.to_string()))
            .and_then(Seed::from_json)
    };
    match seed.and_then(|s| shared.reset(&s)) {
        Ok(()) => axum::Json(json!({"status": "ok"})).into_response(),
        Err(e) => control_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn control_key(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.account.key_json()).into_response()
}

async fn control_get_config(State(shared): State<Arc<Shared>>) -> Response {
    let config = shared.lock().config.clone();
    axum::Json(config).into_response()
}

async fn control_config(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let update: ConfigUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, format!("invalid config: {e}")),
    };
    if let Err(m) = update.validate() {
        return control_error(StatusCode::BAD_REQUEST, m);
    }
    shared.configure(&update);
    control_get_config(State(shared)).await
}

async fn control_stats(State(shared): State<Arc<Shared>>) -> Response {
    let stats = shared.lock().stats.clone();
    axum::Json(stats).into_response()
}

async fn control_stats_reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().stats = Stats::default();
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn control_contacts(
    State(shared): State<Arc<Shared>>,
    Path(email): Path<String>,
) -> Response {
    match shared.contacts_of(&email) {
        Some(c) => axum::Json(c).into_response(),
        None => control_error(StatusCode::NOT_FOUND, format!("no user {email}")),
    }
}

async fn control_forget_contacts(
    State(shared): State<Arc<Shared>>,
    Path(email): Path<String>,
) -> Response {
    match shared.forget_contacts_of(&email) {
        Some(dropped) => axum::Json(json!({"forgotten": dropped})).into_response(),
        None => control_error(StatusCode::NOT_FOUND, format!("no user {email}")),
    }
}

async fn control_contact_groups(
    State(shared): State<Arc<Shared>>,
    Path(email): Path<String>,
) -> Response {
    match shared.contact_groups_of(&email) {
        Some(g) => axum::Json(g).into_response(),
        None => control_error(StatusCode::NOT_FOUND, format!("no user {email}")),
    }
}
