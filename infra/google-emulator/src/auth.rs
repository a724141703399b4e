//! OAuth2 for a service account with domain-wide delegation: the generated key pair, the key file JSON,
//! and the verification of JWT bearer assertions at the token endpoint.

use std::collections::BTreeSet;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::OAuthError;
use crate::ids;
use crate::world::World;

pub(crate) const CLIENT_EMAIL: &str = "contact-sync@emulator-project.iam.gserviceaccount.com";
pub(crate) const PROJECT_ID: &str = "emulator-project";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Longest lifetime Google accepts for an assertion (exp - iat).
const MAX_ASSERTION_SECS: i64 = 3600;
/// Clock skew tolerated on iat / exp.
const SKEW_SECS: i64 = 300;
const KEY_SEED_MIX: u64 = 0x6b65_795f_7365_6564;

/// The registered service account: its key file fields and the public key that verifies assertions.
pub(crate) struct ServiceAccount {
    pub client_id: String,
    pub private_key_id: String,
    pub private_key_pem: String,
    pub token_uri: String,
    verifier: DecodingKey,
}

/// Bridges rand 0.9's generator to the rand_core 0.6 traits the rsa crate takes.
struct RsaRng<'a>(&'a mut StdRng);

impl rsa::rand_core::RngCore for RsaRng<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for RsaRng<'_> {}

impl ServiceAccount {
    /// Generates an RSA 2048 key pair (deterministic when `rng_seed` is given) and registers it.
    pub fn generate(base_url: &str, rng_seed: Option<u64>) -> anyhow::Result<ServiceAccount> {
        let mut rng = match rng_seed {
            // Its own stream, apart from the fault generator seeded with the same value.
            Some(seed) => StdRng::seed_from_u64(seed ^ KEY_SEED_MIX),
            None => StdRng::from_os_rng(),
        };
        let key = RsaPrivateKey::new(&mut RsaRng(&mut rng), 2048)?;
        let private_key_pem = key.to_pkcs8_pem(LineEnding::LF)?.to_string();
        let public_der = RsaPublicKey::from(&key).to_pkcs1_der()?;
        let verifier = DecodingKey::from_rsa_der(public_der.as_bytes());
        let kid_seed = rng.next_u64().to_string();
        let private_key_id = ids::opaque(&["private_key_id", &kid_seed])
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(40)
            .collect::<String>()
            .to_ascii_lowercase();
        let client_id = format!(
            "1{:020}",
            ids::hash64(&["client_id", CLIENT_EMAIL]) % 10_000_000_000_000_000_000
        );
        Ok(ServiceAccount {
            client_id,
            private_key_id,
            private_key_pem,
            token_uri: format!("{base_url}/token"),
            verifier,
        })
    }

    /// The key file Google Cloud would let an admin download.
    pub fn key_json(&self) -> Value {
        json!({
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{}",
                CLIENT_EMAIL.replace('@', "%40")
            ),
            "universe_domain": "googleapis.com",
        })
    }

    /// The project number quota errors name as consumer.
    pub fn project_number(&self) -> String {
        (ids::hash64(&["project", PROJECT_ID]) % 1_000_000_000_000).to_string()
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    scope: Option<String>,
    aud: Option<Value>,
    iat: Option<i64>,
    exp: Option<i64>,
}

/// What a valid assertion grants: the impersonated user and the scopes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grant {
    pub user_id: String,
    pub scopes: BTreeSet<String>,
}

/// Verifies a token request (the form fields) like Google's token endpoint.
pub(crate) fn verify_token_request(
    account: &ServiceAccount,
    world: &World,
    form: &[(String, String)],
    now: i64,
) -> Result<Grant, OAuthError> {
    let field = |name: &str| {
        form.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        Some(GRANT_TYPE) => {}
        Some(other) => {
            return Err(OAuthError {
                code: 400,
                error: "unsupported_grant_type",
                description: format!("Invalid grant_type: {other}"),
            });
        }
        None => {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: grant_type",
            ));
        }
    }
    let assertion = field("assertion")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: assertion"))?;

    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| OAuthError::invalid_grant("Invalid JWT: malformed assertion."))?;
    let claims: Claims = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|_| OAuthError::invalid_grant("Invalid JWT: malformed claims."))?;
    let no_verifier =
        || OAuthError::invalid_grant("Invalid JWT: No valid verifier found for issuer.");
    if claims.iss.as_deref() != Some(CLIENT_EMAIL) {
        return Err(no_verifier());
    }
    if header
        .kid
        .as_deref()
        .is_some_and(|kid| kid != account.private_key_id)
    {
        return Err(no_verifier());
    }
    if header.alg != Algorithm::RS256 {
        return Err(OAuthError::invalid_grant("Invalid JWT Signature."));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims = Default::default();
    jsonwebtoken::decode::<Value>(assertion, &account.verifier, &validation)
        .map_err(|_| OAuthError::invalid_grant("Invalid JWT Signature."))?;

    let aud_ok = match &claims.aud {
        Some(Value::String(a)) => *a == account.token_uri,
        Some(Value::Array(items)) => items
            .iter()
            .any(|a| a.as_str() == Some(account.token_uri.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_grant(format!(
            "Invalid JWT: Failed audience check. The right audience is {}",
            account.token_uri
        )));
    }
    let timeframe = || {
        OAuthError::invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        )
    };
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err(timeframe());
    };
    if exp <= iat
        || exp - iat > MAX_ASSERTION_SECS
        || iat > now + SKEW_SECS
        || exp < now - SKEW_SECS
    {
        return Err(timeframe());
    }
    let scopes: BTreeSet<String> = claims
        .scope
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        return Err(OAuthError {
            code: 400,
            error: "invalid_scope",
            description: "Invalid OAuth scope or ID token audience provided.".into(),
        });
    }
    // [B] Google's message for an unknown or suspended subject.
    let user = claims
        .sub
        .as_deref()
        .and_then(|sub| world.find_user(sub))
        .filter(|u| !u.suspended)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid email or User ID"))?;
    if !scopes.iter().all(|s| world.delegation_scopes.contains(s)) {
        return Err(OAuthError::unauthorized_client());
    }
    Ok(Grant {
        user_id: user.id.clone(),
        scopes,
    })
}
