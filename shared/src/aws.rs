//! AWS SDK configuration. The SDK reads `AWS_ENDPOINT_URL` itself (set only for moto, never in AWS), and its
//! standard retry policy applies to every call.

use aws_config::{BehaviorVersion, retry::RetryConfig};

/// Loads the shared SDK configuration from the environment (region, credentials, endpoint override).
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(4))
        .load()
        .await
}
