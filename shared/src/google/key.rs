//! The service-account key (Google's JSON key file) and loading it from AWS Secrets Manager.
//!
//! The private key never leaves this struct in logs or errors: `Debug` redacts it, and parse errors describe
//! the problem without echoing the secret's content.

use std::fmt;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use serde::{Deserialize, Serialize};

use super::GoogleError;

/// Google's OAuth2 token endpoint, used when a key file does not name one.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A Google service-account key file (JSON), with domain-wide delegation granted by the Workspace admin.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountKey {
    /// Always `service_account`.
    #[serde(rename = "type")]
    pub key_type: String,
    #[serde(default)]
    pub project_id: String,
    /// Sent as the JWT header's `kid`.
    #[serde(default)]
    pub private_key_id: String,
    /// PKCS#8 PEM. Never logged.
    pub private_key: String,
    /// The JWT issuer.
    pub client_email: String,
    /// The numeric client ID the admin authorises for domain-wide delegation.
    #[serde(default)]
    pub client_id: String,
    /// Where tokens are requested (and the JWT audience). Honoured as given: tests point it at the emulator.
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

fn default_token_uri() -> String {
    DEFAULT_TOKEN_URI.to_owned()
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("type", &self.key_type)
            .field("project_id", &self.project_id)
            .field("private_key_id", &self.private_key_id)
            .field("private_key", &"<redacted>")
            .field("client_email", &self.client_email)
            .field("client_id", &self.client_id)
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

impl ServiceAccountKey {
    /// Parses and checks a key file's JSON.
    pub fn from_json(json: &str) -> Result<Self, GoogleError> {
        let key: ServiceAccountKey = serde_json::from_str(json).map_err(describe_json_error)?;
        key.validate()?;
        Ok(key)
    }

    /// Checks what a token request needs (the PEM itself is parsed when the token provider is built).
    pub fn validate(&self) -> Result<(), GoogleError> {
        if self.key_type != "service_account" {
            return Err(GoogleError::Key(format!(
                "\"type\" is {:?}, expected \"service_account\": create a key for a service account \
                 (IAM & Admin > Service accounts > Keys > Add key > JSON)",
                self.key_type
            )));
        }
        if self.client_email.trim().is_empty() {
            return Err(GoogleError::Key("\"client_email\" is empty".to_owned()));
        }
        if !self.private_key.contains("-----BEGIN") || !self.private_key.contains("PRIVATE KEY") {
            return Err(GoogleError::Key(
                "\"private_key\" is not a PEM private key".to_owned(),
            ));
        }
        match url::Url::parse(&self.token_uri) {
            Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Ok(()),
            _ => Err(GoogleError::Key(format!(
                "\"token_uri\" {:?} is not an http(s) URL",
                self.token_uri
            ))),
        }
    }
}

/// Describes a JSON error without quoting the input (which holds the private key).
fn describe_json_error(e: serde_json::Error) -> GoogleError {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    let detail = match e.classify() {
        Category::Data => {
            let text = e.to_string();
            match text.find("missing field") {
                // "missing field `private_key`" names a field, never a value.
                Some(start) => {
                    let end = text.find(" at line").unwrap_or(text.len());
                    format!("{} ({at})", text.get(start..end).unwrap_or("missing field"))
                }
                None => {
                    format!("a field has the wrong type ({at}); expected Google's JSON key file")
                }
            }
        }
        Category::Syntax | Category::Eof => {
            format!("not valid JSON ({at}); expected Google's JSON key file")
        }
        Category::Io => "could not be read".to_owned(),
    };
    GoogleError::Key(detail)
}

/// Reads the key JSON from the Secrets Manager secret `secret_id` (its SecretString).
pub async fn load_key_from_secrets_manager(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<ServiceAccountKey, GoogleError> {
    let how_to_fix = format!(
        "put the service-account key JSON (Google Cloud console > IAM & Admin > Service accounts > Keys) \
         into the Secrets Manager secret {secret_id}, e.g. \
         `aws secretsmanager put-secret-value --secret-id {secret_id} --secret-string file://key.json`"
    );
    let output = match client.get_secret_value().secret_id(secret_id).send().await {
        Ok(output) => output,
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), GetSecretValueError::ResourceNotFoundException(_)) =>
        {
            return Err(GoogleError::Key(format!(
                "the secret {secret_id} does not exist or has no value: {how_to_fix}"
            )));
        }
        Err(e) => {
            return Err(GoogleError::Key(format!(
                "could not read the secret {secret_id}: {}",
                DisplayErrorContext(&e)
            )));
        }
    };
    let text = output.secret_string().map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(GoogleError::Key(format!(
            "the secret {secret_id} is empty: {how_to_fix}"
        )));
    }
    ServiceAccountKey::from_json(text).map_err(|e| match e {
        GoogleError::Key(detail) => GoogleError::Key(format!(
            "the secret {secret_id} does not hold a valid key: {detail}; {how_to_fix}"
        )),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::testing::{Recorded, TestServer, reply_json};
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

    fn sample_json(private_key: &str, token_uri: &str) -> String {
        serde_json::json!({
            "type": "service_account",
            "project_id": "demo-project",
            "private_key_id": "kid-1",
            "private_key": private_key,
            "client_email": "sync@demo-project.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        })
        .to_string()
    }

    const FAKE_PEM: &str =
        "-----BEGIN PRIVATE KEY-----\nSECRETMATERIAL\n-----END PRIVATE KEY-----\n";

    #[test]
    fn parses_a_key_file_and_ignores_unknown_fields() {
        let key = ServiceAccountKey::from_json(&sample_json(FAKE_PEM, "http://127.0.0.1:1/token"))
            .expect("valid key");
        assert_eq!(key.key_type, "service_account");
        assert_eq!(key.private_key_id, "kid-1");
        assert_eq!(key.client_id, "1234567890");
        assert_eq!(key.token_uri, "http://127.0.0.1:1/token");
    }

    #[test]
    fn debug_redacts_the_private_key() {
        let key = ServiceAccountKey::from_json(&sample_json(FAKE_PEM, DEFAULT_TOKEN_URI))
            .expect("valid key");
        let shown = format!("{key:?}");
        assert!(!shown.contains("SECRETMATERIAL"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains("sync@demo-project.iam.gserviceaccount.com"));
    }

    #[test]
    fn missing_token_uri_defaults_to_google() {
        let mut v: serde_json::Value =
            serde_json::from_str(&sample_json(FAKE_PEM, DEFAULT_TOKEN_URI)).expect("json");
        v.as_object_mut().expect("object").remove("token_uri");
        let key = ServiceAccountKey::from_json(&v.to_string()).expect("valid key");
        assert_eq!(key.token_uri, DEFAULT_TOKEN_URI);
    }

    #[test]
    fn errors_name_the_problem_without_echoing_the_secret() {
        let cases = [
            (
                "not json at all SECRETMATERIAL".to_owned(),
                "not valid JSON",
            ),
            (
                r#"{"type":"service_account","client_email":"a@b"}"#.to_owned(),
                "missing field `private_key`",
            ),
            (
                sample_json(FAKE_PEM, DEFAULT_TOKEN_URI).replace("service_account", "user"),
                "expected \"service_account\"",
            ),
            (
                sample_json("SECRETMATERIAL", DEFAULT_TOKEN_URI),
                "not a PEM private key",
            ),
            (
                sample_json(FAKE_PEM, "ftp://x/token"),
                "is not an http(s) URL",
            ),
            (
                r#"{"type":"service_account","private_key":7,"client_email":"SECRETMATERIAL"}"#
                    .to_owned(),
                "wrong type",
            ),
        ];
        for (json, expected) in cases {
            let err = ServiceAccountKey::from_json(&json).expect_err("invalid key");
            let text = err.to_string();
            assert!(matches!(err, GoogleError::Key(_)), "{text}");
            assert!(text.contains(expected), "{text} should contain {expected}");
            assert!(!text.contains("SECRETMATERIAL"), "{text}");
        }
    }

    /// A stand-in for Secrets Manager's GetSecretValue (awsJson 1.1): secret id -> SecretString.
    async fn secrets_server() -> TestServer {
        TestServer::start(|req: &Recorded| {
            let id = req.body_json()["SecretId"].as_str().unwrap_or_default().to_owned();
            let secret = match id.as_str() {
                "good" => Some(sample_json(FAKE_PEM, DEFAULT_TOKEN_URI)),
                "empty" => Some("  ".to_owned()),
                // Valid JSON, but not a service-account key (e.g. a note an admin stored instead of the key file).
                "not-a-key" => Some(r#"{"replace":"with the key JSON SECRETMATERIAL"}"#.to_owned()),
                _ => None,
            };
            match secret {
                Some(s) => reply_json(
                    200,
                    &serde_json::json!({"ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{id}"), "Name": id, "SecretString": s}).to_string(),
                ),
                None => reply_json(
                    400,
                    r#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#,
                ),
            }
        })
        .await
    }

    #[tokio::test]
    async fn loads_the_key_from_secrets_manager_with_helpful_errors() {
        let server = secrets_server().await;
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(server.base_url())
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .build();
        let client = aws_sdk_secretsmanager::Client::from_conf(config);

        let key = load_key_from_secrets_manager(&client, "good")
            .await
            .expect("key");
        assert_eq!(key.private_key_id, "kid-1");
        assert_eq!(
            server.requests()[0].header("x-amz-target"),
            Some("secretsmanager.GetSecretValue")
        );

        for (id, expected) in [
            ("missing", "does not exist or has no value"),
            ("empty", "is empty"),
            ("not-a-key", "missing field"),
        ] {
            let err = load_key_from_secrets_manager(&client, id)
                .await
                .expect_err("no usable key");
            let text = err.to_string();
            assert!(matches!(err, GoogleError::Key(_)), "{text}");
            assert!(text.contains(expected), "{text}");
            assert!(
                text.contains("put-secret-value"),
                "says how to fix it: {text}"
            );
            assert!(text.contains(id), "{text}");
            assert!(!text.contains("SECRETMATERIAL"), "{text}");
        }
    }
}
