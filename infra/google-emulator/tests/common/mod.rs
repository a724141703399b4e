//! Shared by the integration tests: an emulator started in-process, JWTs signed with the key it serves,
//! and an HTTP helper that checks every successful Google API response against the discovery schema of
//! its method, and every error against Google's error shape.

#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use google_emulator::discovery::discovery;
use google_emulator::{EmulatorOptions, RunningEmulator, Seed};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

pub const CONTACTS: &str = "https://www.googleapis.com/auth/contacts";
pub const CONTACTS_RO: &str = "https://www.googleapis.com/auth/contacts.readonly";
pub const USER_RO: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
pub const USER_RW: &str = "https://www.googleapis.com/auth/admin.directory.user";
pub const GROUP_RO: &str = "https://www.googleapis.com/auth/admin.directory.group.readonly";
pub const GROUP_RW: &str = "https://www.googleapis.com/auth/admin.directory.group";
pub const MEMBER_RO: &str = "https://www.googleapis.com/auth/admin.directory.group.member.readonly";
pub const OU_RO: &str = "https://www.googleapis.com/auth/admin.directory.orgunit.readonly";
pub const OU_RW: &str = "https://www.googleapis.com/auth/admin.directory.orgunit";
pub const DOMAIN_RO: &str = "https://www.googleapis.com/auth/admin.directory.domain.readonly";

pub const DIRECTORY_RO: &[&str] = &[USER_RO, GROUP_RO, MEMBER_RO, OU_RO, DOMAIN_RO];
pub const DIRECTORY_RW: &[&str] = &[USER_RW, GROUP_RW, OU_RW];

pub const ADMIN: &str = "admin@example.com";
pub const SAM: &str = "salesuser@example.com";

/// A response: status, Retry-After, JSON body (Null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Resp {
    /// `error.details[]` ErrorInfo reason, if any.
    pub fn reason(&self) -> Option<&str> {
        self.body["error"]["details"]
            .as_array()?
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")?
            .get("reason")?
            .as_str()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        self.body
    }

    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status, status, "unexpected status: {}", self.body);
        self
    }
}

pub struct Env {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub key: Value,
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Env {
    pub async fn start(opts: EmulatorOptions) -> Env {
        let emu = google_emulator::start(opts).await.expect("emulator starts");
        let key: Value = serde_json::from_str(&emu.service_account_key_json()).expect("key json");
        Env {
            emu,
            http: reqwest::Client::new(),
            key,
        }
    }

    pub async fn demo() -> Env {
        Env::start(EmulatorOptions::default()).await
    }

    /// The demo seed with the Directory write scopes authorised too (to rename users, groups, OUs).
    pub async fn demo_with_directory_writes() -> Env {
        let mut seed = google_emulator::demo_seed();
        seed.delegation_scopes
            .extend(DIRECTORY_RW.iter().map(|s| s.to_string()));
        Env::start(EmulatorOptions {
            seed: Some(seed),
            ..Default::default()
        })
        .await
    }

    pub async fn with_seed(seed: Seed) -> Env {
        Env::start(EmulatorOptions {
            seed: Some(seed),
            ..Default::default()
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    /// The standard claims of a delegation assertion.
    pub fn claims(&self, sub: &str, scopes: &[&str]) -> Value {
        let iat = now();
        json!({
            "iss": self.key["client_email"],
            "sub": sub,
            "scope": scopes.join(" "),
            "aud": self.key["token_uri"],
            "iat": iat,
            "exp": iat + 3600,
        })
    }

    /// Signs claims with the served key (RS256, kid = private_key_id).
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key["private_key_id"].as_str().map(str::to_string);
        let pem = self.key["private_key"].as_str().expect("private_key");
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem key");
        jsonwebtoken::encode(&header, claims, &key).expect("signs")
    }

    /// POSTs a token request; returns status and body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let token_uri = self.key["token_uri"].as_str().expect("token_uri");
        let resp = self
            .http
            .post(token_uri)
            .form(form)
            .send()
            .await
            .expect("token endpoint answers");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("token endpoint answers JSON");
        (status, body)
    }

    pub async fn assertion_request(&self, claims: &Value) -> (u16, Value) {
        let jwt = self.sign(claims);
        self.token_request(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &jwt),
        ])
        .await
    }

    /// An access token for `sub` with `scopes` (asserts success).
    pub async fn token(&self, sub: &str, scopes: &[&str]) -> String {
        let (status, body) = self.assertion_request(&self.claims(sub, scopes)).await;
        assert_eq!(status, 200, "token for {sub}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn contacts_token(&self, sub: &str) -> String {
        self.token(sub, &[CONTACTS]).await
    }

    pub async fn admin_token(&self) -> String {
        self.token(ADMIN, DIRECTORY_RO).await
    }

    /// A Google API call. Successful responses are checked against the response schema of the route's
    /// discovery method; errors against Google's error envelope.
    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.http.request(method.clone(), self.url(path));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("emulator answers");
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.expect("body");
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        let bare_path = path.split('?').next().unwrap_or(path);
        if let Some(method_id) = google_emulator::method_id_for(method.as_str(), bare_path) {
            if (200..300).contains(&status) {
                if status != 204 {
                    let violations = discovery().check_response(method_id, &body);
                    assert!(
                        violations.is_empty(),
                        "{method_id} response does not fit its discovery schema: {violations:?}\n{body}"
                    );
                }
                record_conformance(method_id);
            } else {
                check_error_shape(status, &body);
            }
        }
        Resp {
            status,
            retry_after,
            body,
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Resp {
        self.call(token, Method::GET, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Resp {
        self.call(token, Method::POST, path, Some(body)).await
    }

    /// A control API call (not Google's).
    pub async fn control(&self, method: Method, path: &str, body: Option<String>) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("control API answers");
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Creates contacts as `token`'s user with batchCreateContacts and no read-back; returns nothing.
    pub async fn create_contacts(&self, token: &str, people: Vec<Value>) {
        let contacts: Vec<Value> = people
            .into_iter()
            .map(|p| json!({"contactPerson": p}))
            .collect();
        self.post(
            token,
            "/v1/people:batchCreateContacts",
            json!({"contacts": contacts, "readMask": ""}),
        )
        .await
        .ok();
    }
}

/// Google's error envelope: `{"error": {"code", "message", "status", ...}}` with a matching code.
pub fn check_error_shape(status: u16, body: &Value) {
    let error = &body["error"];
    assert_eq!(
        error["code"],
        json!(status),
        "error code mirrors HTTP status: {body}"
    );
    assert!(error["message"].is_string(), "error message: {body}");
    assert!(error["status"].is_string(), "error status: {body}");
    if let Some(errors) = error.get("errors") {
        for e in errors.as_array().expect("errors is an array") {
            assert!(e["message"].is_string() && e["domain"].is_string() && e["reason"].is_string());
        }
    }
}

/// Method ids whose successful responses were schema-checked in this test binary.
static CHECKED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

fn record_conformance(method_id: &'static str) {
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if !checked.contains(&method_id) {
        checked.push(method_id);
    }
}

pub fn conformance_checked() -> Vec<&'static str> {
    CHECKED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A minimal contact.
pub fn person(given: &str, family: &str) -> Value {
    json!({
        "names": [{"givenName": given, "familyName": family}],
        "emailAddresses": [{"value": format!("{}.{}@example.org", given.to_lowercase(), family.to_lowercase()), "type": "work"}],
    })
}
