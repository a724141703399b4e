//! What every API operation works with: the store, the Google clients, the run dispatcher and a clock; and how a
//! Lambda function builds it from its environment (design.md, "Configuration").
//!
//! Each API function declares what it needs ([`Needs`]): only functions that call Google read the key, and only
//! functions that start runs need `EXECUTOR_FUNCTION_NAME`, which matches the per-function IAM policies of
//! template.yaml. Required variables are checked at start-up (a missing one fails start-up naming it). The key
//! itself is read from Secrets Manager on the first Google call and kept for the life of the instance, so a key
//! that has not been put into the secret yet is a 503 saying how to fix it rather than a failed cold start.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

pub use crate::sync::{Clock, SystemClock};

use super::handlers::{Needs, needs_of};
use crate::config::{self, ConfigError, GoogleEndpoints};
use crate::dispatch::{DispatchError, Dispatcher, LambdaDispatcher};
use crate::google::key::KEY_SECRET_ENV;
use crate::google::{
    ContactGroup, DirectoryApi, DirectoryGroup, DirectoryUser, Domain, GoogleClients, GoogleError,
    GroupMember, OrgUnit, PeopleApi, Person, RetryPolicy, UserScope,
};
use crate::model::ExecutorEvent;
use crate::store::{DynamoStore, SyncStore};

/// The dependencies of the API operations, built once per Lambda instance (`ApiContext::for_function`) or by a
/// test or the local gateway.
#[derive(Clone)]
pub struct ApiContext {
    pub store: Arc<dyn SyncStore>,
    pub people: Arc<dyn PeopleApi>,
    pub directory: Arc<dyn DirectoryApi>,
    pub dispatcher: Arc<dyn Dispatcher>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiContext").finish_non_exhaustive()
    }
}

/// Why an API function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0:?} is not an API function")]
    UnknownFunction(String),
}

impl ApiContext {
    /// A context on the system clock.
    pub fn new(
        store: Arc<dyn SyncStore>,
        people: Arc<dyn PeopleApi>,
        directory: Arc<dyn DirectoryApi>,
        dispatcher: Arc<dyn Dispatcher>,
    ) -> Self {
        ApiContext {
            store,
            people,
            directory,
            dispatcher,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The context of the API function named `function_name` (its crate and binary name), from the environment.
    pub async fn for_function(function_name: &str) -> Result<Self, StartupError> {
        let needs = needs_of(function_name)
            .ok_or_else(|| StartupError::UnknownFunction(function_name.to_owned()))?;
        Self::from_env(needs).await
    }

    /// A context from the environment: `TABLE_NAME` always; `GOOGLE_KEY_SECRET_ID` and `GOOGLE_ADMIN_EMAIL`
    /// (plus the optional base URLs) when `needs.google`; `EXECUTOR_FUNCTION_NAME` when `needs.dispatch`.
    pub async fn from_env(needs: Needs) -> Result<Self, StartupError> {
        let table = config::required("TABLE_NAME")?;
        let google = if needs.google {
            Some(GoogleConfig {
                secret_id: config::required(KEY_SECRET_ENV)?,
                admin_email: config::required("GOOGLE_ADMIN_EMAIL")?,
                endpoints: GoogleEndpoints::from_env(),
            })
        } else {
            None
        };
        let executor = if needs.dispatch {
            Some(config::required("EXECUTOR_FUNCTION_NAME")?)
        } else {
            None
        };

        let sdk = crate::aws::load_config().await;
        let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table));
        let google = Arc::new(LazyGoogle {
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            config: google,
            clients: OnceCell::new(),
        });
        let dispatcher: Arc<dyn Dispatcher> = match executor {
            Some(name) => Arc::new(LambdaDispatcher::from_sdk_config(&sdk, name)),
            None => Arc::new(NoDispatcher),
        };
        Ok(ApiContext::new(store, google.clone(), google, dispatcher))
    }
}

/// Where the key is and whom the Directory reads impersonate.
#[derive(Debug, Clone)]
struct GoogleConfig {
    secret_id: String,
    admin_email: String,
    endpoints: GoogleEndpoints,
}

/// The Google clients, built on first use from the key in Secrets Manager. A failure to build them is returned
/// to that call (and retried by the next one); once built they are kept.
struct LazyGoogle {
    secrets: aws_sdk_secretsmanager::Client,
    config: Option<GoogleConfig>,
    clients: OnceCell<GoogleClients>,
}

impl LazyGoogle {
    async fn clients(&self) -> Result<&GoogleClients, GoogleError> {
        let Some(config) = &self.config else {
            return Err(GoogleError::Key(
                "this function is not configured to call Google".to_owned(),
            ));
        };
        self.clients
            .get_or_try_init(|| async {
                GoogleClients::from_secret(
                    &self.secrets,
                    &config.secret_id,
                    &config.endpoints,
                    &config.admin_email,
                    RetryPolicy::default(),
                )
                .await
            })
            .await
    }

    async fn people(&self) -> Result<&dyn PeopleApi, GoogleError> {
        Ok(self.clients().await?.people.as_ref())
    }

    async fn directory(&self) -> Result<&dyn DirectoryApi, GoogleError> {
        Ok(self.clients().await?.directory.as_ref())
    }
}

#[async_trait]
impl PeopleApi for LazyGoogle {
    async fn list_contact_groups(&self, user: &str) -> Result<Vec<ContactGroup>, GoogleError> {
        self.people().await?.list_contact_groups(user).await
    }

    async fn get_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        max_members: u32,
    ) -> Result<ContactGroup, GoogleError> {
        self.people()
            .await?
            .get_contact_group(user, resource_name, max_members)
            .await
    }

    async fn create_contact_group(
        &self,
        user: &str,
        name: &str,
    ) -> Result<ContactGroup, GoogleError> {
        self.people().await?.create_contact_group(user, name).await
    }

    async fn delete_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        delete_contacts: bool,
    ) -> Result<(), GoogleError> {
        self.people()
            .await?
            .delete_contact_group(user, resource_name, delete_contacts)
            .await
    }

    async fn modify_contact_group_members(
        &self,
        user: &str,
        resource_name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), GoogleError> {
        self.people()
            .await?
            .modify_contact_group_members(user, resource_name, add, remove)
            .await
    }

    async fn batch_get_people(
        &self,
        user: &str,
        resource_names: &[String],
        person_fields: &str,
    ) -> Result<Vec<Person>, GoogleError> {
        self.people()
            .await?
            .batch_get_people(user, resource_names, person_fields)
            .await
    }

    async fn list_connections(
        &self,
        user: &str,
        person_fields: &str,
    ) -> Result<Vec<Person>, GoogleError> {
        self.people()
            .await?
            .list_connections(user, person_fields)
            .await
    }

    async fn batch_create_contacts(
        &self,
        user: &str,
        contacts: &[Person],
    ) -> Result<(), GoogleError> {
        self.people()
            .await?
            .batch_create_contacts(user, contacts)
            .await
    }

    async fn batch_update_contacts(
        &self,
        user: &str,
        contacts: &BTreeMap<String, Person>,
        update_mask: &str,
    ) -> Result<(), GoogleError> {
        self.people()
            .await?
            .batch_update_contacts(user, contacts, update_mask)
            .await
    }

    async fn batch_delete_contacts(
        &self,
        user: &str,
        resource_names: &[String],
    ) -> Result<(), GoogleError> {
        self.people()
            .await?
            .batch_delete_contacts(user, resource_names)
            .await
    }
}

#[async_trait]
impl DirectoryApi for LazyGoogle {
    async fn get_user(&self, user_key: &str) -> Result<Option<DirectoryUser>, GoogleError> {
        self.directory().await?.get_user(user_key).await
    }

    async fn list_users(
        &self,
        scope: &UserScope,
        query: Option<&str>,
    ) -> Result<Vec<DirectoryUser>, GoogleError> {
        self.directory().await?.list_users(scope, query).await
    }

    async fn search_users(&self, query: &str, max: u32) -> Result<Vec<DirectoryUser>, GoogleError> {
        self.directory().await?.search_users(query, max).await
    }

    async fn get_group(&self, group_key: &str) -> Result<Option<DirectoryGroup>, GoogleError> {
        self.directory().await?.get_group(group_key).await
    }

    async fn search_groups(
        &self,
        query: &str,
        max: u32,
    ) -> Result<Vec<DirectoryGroup>, GoogleError> {
        self.directory().await?.search_groups(query, max).await
    }

    async fn list_group_members(
        &self,
        group_key: &str,
        derived: bool,
    ) -> Result<Vec<GroupMember>, GoogleError> {
        self.directory()
            .await?
            .list_group_members(group_key, derived)
            .await
    }

    async fn list_org_units(&self) -> Result<Vec<OrgUnit>, GoogleError> {
        self.directory().await?.list_org_units().await
    }

    async fn get_org_unit(&self, path_or_id: &str) -> Result<Option<OrgUnit>, GoogleError> {
        self.directory().await?.get_org_unit(path_or_id).await
    }

    async fn list_domains(&self) -> Result<Vec<Domain>, GoogleError> {
        self.directory().await?.list_domains().await
    }
}

/// The dispatcher of functions that never start runs: refuses, naming the missing configuration.
#[derive(Debug, Clone, Copy)]
struct NoDispatcher;

#[async_trait]
impl Dispatcher for NoDispatcher {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        Err(DispatchError::Failed {
            sync_id: event.sync_id.clone(),
            detail: "this function is not configured to start runs (EXECUTOR_FUNCTION_NAME)"
                .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unconfigured_google_is_a_key_error_not_a_panic() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let google = LazyGoogle {
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            config: None,
            clients: OnceCell::new(),
        };
        let e = google
            .get_user("ann@example.com")
            .await
            .expect_err("no config");
        assert!(matches!(e, GoogleError::Key(_)), "{e}");
        let api = super::super::ApiError::from(e);
        assert_eq!(api.status(), 503);
    }

    #[tokio::test]
    async fn unknown_functions_do_not_start() {
        let e = ApiContext::for_function("executor")
            .await
            .expect_err("not an API function");
        assert!(matches!(e, StartupError::UnknownFunction(_)));
    }
}
