//! The bundle the functions build once per Lambda instance: one HTTP client and one token provider shared by
//! the People and Directory clients.

use std::fmt;
use std::sync::Arc;

use super::auth::TokenProvider;
use super::directory::GoogleDirectoryClient;
use super::http::{GoogleHttp, HttpConfig, build_http_client};
use super::key::{ServiceAccountKey, load_key_from_secrets_manager};
use super::people::GooglePeopleClient;
use super::retry::RetryPolicy;
use super::stats::{RequestStats, RequestStatsSnapshot};
use super::{DirectoryApi, GoogleConfig, GoogleEndpoints, GoogleError, PeopleApi};

/// The Google clients, behind their traits.
#[derive(Clone)]
pub struct GoogleClients {
    pub people: Arc<dyn PeopleApi>,
    pub directory: Arc<dyn DirectoryApi>,
    /// Requests, retries, token requests and unknown write outcomes of both clients.
    pub stats: Arc<RequestStats>,
}

impl fmt::Debug for GoogleClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleClients")
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}

impl GoogleClients {
    /// Clients for `endpoints`, the Directory one impersonating `admin_email`, with the default timeouts
    /// (connect 5 s, request 30 s).
    pub fn new(
        key: ServiceAccountKey,
        endpoints: &GoogleEndpoints,
        admin_email: &str,
        retry: RetryPolicy,
    ) -> Result<Self, GoogleError> {
        Self::with_http_config(key, endpoints, admin_email, retry, &HttpConfig::default())
    }

    /// As [`GoogleClients::new`], with explicit timeouts.
    pub fn with_http_config(
        key: ServiceAccountKey,
        endpoints: &GoogleEndpoints,
        admin_email: &str,
        retry: RetryPolicy,
        http_config: &HttpConfig,
    ) -> Result<Self, GoogleError> {
        let client = build_http_client(http_config)?;
        let tokens = Arc::new(TokenProvider::new(key, client.clone(), retry.clone())?);
        let http = GoogleHttp::new(client, tokens, retry);
        let stats = Arc::clone(http.stats());
        let people = GooglePeopleClient::new(http.clone(), &endpoints.people_base_url)?;
        let directory =
            GoogleDirectoryClient::new(http, &endpoints.directory_base_url, admin_email)?;
        Ok(GoogleClients {
            people: Arc::new(people),
            directory: Arc::new(directory),
            stats,
        })
    }

    /// Loads the key from the configured Secrets Manager secret, then as [`GoogleClients::new`].
    pub async fn from_secret(
        secrets: &aws_sdk_secretsmanager::Client,
        config: &GoogleConfig,
        retry: RetryPolicy,
    ) -> Result<Self, GoogleError> {
        let key = load_key_from_secrets_manager(secrets, &config.key_secret_id).await?;
        Self::new(key, &config.endpoints, &config.admin_email, retry)
    }

    /// A copy of the counters.
    pub fn stats(&self) -> RequestStatsSnapshot {
        self.stats.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::testing::fixed_key;

    fn endpoints(people: &str, directory: &str) -> GoogleEndpoints {
        GoogleEndpoints {
            people_base_url: people.to_owned(),
            directory_base_url: directory.to_owned(),
        }
    }

    #[test]
    fn construction_checks_urls_admin_and_key() {
        let (key, _) = fixed_key("http://127.0.0.1:1/token");
        let ok = endpoints(
            "https://people.googleapis.com",
            "https://admin.googleapis.com/",
        );
        let clients = GoogleClients::new(
            key.clone(),
            &ok,
            "admin@example.com",
            RetryPolicy::default(),
        )
        .expect("clients");
        assert_eq!(clients.stats(), RequestStatsSnapshot::default());
        assert!(format!("{clients:?}").contains("GoogleClients"));

        let bad = endpoints("people.googleapis.com", "https://admin.googleapis.com");
        assert!(
            GoogleClients::new(
                key.clone(),
                &bad,
                "admin@example.com",
                RetryPolicy::default()
            )
            .is_err()
        );
        assert!(GoogleClients::new(key.clone(), &ok, " ", RetryPolicy::default()).is_err());
        let mut broken = key;
        broken.private_key =
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned();
        let err = GoogleClients::new(broken, &ok, "admin@example.com", RetryPolicy::default())
            .expect_err("bad key");
        assert!(matches!(err, GoogleError::Key(_)));
    }
}
