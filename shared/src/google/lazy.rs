//! The Google clients of the API functions, built on the first call that needs them. The key is read from Secrets
//! Manager then and kept for the life of the instance, so a key that has not been put into the secret yet is an
//! error of that call (the API answers 503 saying how to fix it) rather than a failed cold start.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::{
    ContactGroup, DirectoryApi, DirectoryGroup, DirectoryUser, Domain, GoogleClients, GoogleConfig,
    GoogleError, GroupMember, OrgUnit, PeopleApi, Person, RetryPolicy, UserScope,
};

/// The Google clients, built on first use from the key in Secrets Manager. A failure to build them is returned
/// to that call (and retried by the next one); once built they are kept.
pub struct LazyGoogle {
    secrets: aws_sdk_secretsmanager::Client,
    config: Option<GoogleConfig>,
    clients: OnceCell<GoogleClients>,
}

impl fmt::Debug for LazyGoogle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyGoogle")
            .field("config", &self.config)
            .field("built", &self.clients.initialized())
            .finish_non_exhaustive()
    }
}

impl LazyGoogle {
    /// Clients that read the key from `secrets` on first use; `config` `None` for a binary that is not configured
    /// to call Google (every call is then a key error saying so).
    pub fn new(secrets: aws_sdk_secretsmanager::Client, config: Option<GoogleConfig>) -> Self {
        LazyGoogle {
            secrets,
            config,
            clients: OnceCell::new(),
        }
    }

    async fn clients(&self) -> Result<&GoogleClients, GoogleError> {
        let Some(config) = &self.config else {
            return Err(GoogleError::Key(
                "this function is not configured to call Google".to_owned(),
            ));
        };
        self.clients
            .get_or_try_init(|| async {
                GoogleClients::from_secret(&self.secrets, config, RetryPolicy::default()).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unconfigured_google_is_a_key_error_not_a_panic() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let google = LazyGoogle::new(aws_sdk_secretsmanager::Client::new(&sdk), None);
        let e = google
            .get_user("ann@example.com")
            .await
            .expect_err("no config");
        assert!(matches!(e, GoogleError::Key(_)), "{e}");
    }
}
