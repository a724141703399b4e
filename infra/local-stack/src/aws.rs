//! AWS SDK configuration for moto, and the resources the stack creates in it: the table and the secret holding
//! the emulator's service-account key.

use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;

/// The dummy credentials moto accepts (the same ones `make test` exports).
pub const DUMMY_ACCESS_KEY_ID: &str = "testing";
pub const DUMMY_SECRET_ACCESS_KEY: &str = "testing";

/// An SDK configuration that talks to `endpoint_url` (moto) with dummy credentials, ignoring any profile.
pub async fn moto_config(endpoint_url: &str, region: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        DUMMY_ACCESS_KEY_ID,
        DUMMY_SECRET_ACCESS_KEY,
        Some("testing".to_owned()),
        None,
        "local-stack",
    );
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint_url)
        .credentials_provider(credentials)
        .retry_config(RetryConfig::standard().with_max_attempts(4))
        .load()
        .await
}

#[derive(Debug, thiserror::Error)]
#[error("storing the service-account key in the secret {secret_id} failed: {detail}")]
pub struct SecretError {
    pub secret_id: String,
    pub detail: String,
}

/// Creates the secret `secret_id` holding `value`, or gives an existing one that value.
pub async fn put_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    value: &str,
) -> Result<(), SecretError> {
    let fail = |detail: String| SecretError {
        secret_id: secret_id.to_owned(),
        detail,
    };
    match client
        .create_secret()
        .name(secret_id)
        .description("contact-sync local stack: the Google emulator's service-account key")
        .secret_string(value)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), CreateSecretError::ResourceExistsException(_)) =>
        {
            client
                .put_secret_value()
                .secret_id(secret_id)
                .secret_string(value)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| fail(DisplayErrorContext(&e).to_string()))
        }
        Err(e) => Err(fail(DisplayErrorContext(&e).to_string())),
    }
}
