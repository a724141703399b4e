//! Google clients: service-account auth, the People API (impersonating each user) and the Directory API
//! (impersonating an admin), behind small traits so the engine and the API can be tested in-process.
//!
//! Base URLs are host roots (`https://people.googleapis.com`, `https://admin.googleapis.com`, or the emulator's
//! `http://127.0.0.1:PORT`); the clients append `/v1/...` and `/admin/directory/v1/...`.

pub mod auth;
mod clients;
pub mod directory;
mod error;
pub mod http;
pub mod key;
mod lazy;
pub mod people;
mod retry;
mod stats;
#[cfg(test)]
mod testing;
mod types;

pub use auth::{AccessToken, JwtClaims, TokenProvider};
pub use clients::GoogleClients;
pub use directory::GoogleDirectoryClient;
pub use error::GoogleError;
pub use http::{GoogleHttp, HttpConfig};
pub use key::{ServiceAccountKey, load_key_from_secrets_manager};
pub use lazy::LazyGoogle;
pub use people::GooglePeopleClient;
pub use retry::RetryPolicy;
pub use stats::{RequestStats, RequestStatsSnapshot};
pub use types::*;

use std::collections::BTreeMap;

use async_trait::async_trait;

/// Google's production base URL of the People API.
pub const DEFAULT_PEOPLE_API_BASE_URL: &str = "https://people.googleapis.com";
/// Google's production base URL of the Admin SDK (Directory API).
pub const DEFAULT_DIRECTORY_API_BASE_URL: &str = "https://admin.googleapis.com";

/// Where the Google APIs are: Google's by default, the emulator's in tests and in the local stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEndpoints {
    pub people_base_url: String,
    pub directory_base_url: String,
}

impl GoogleEndpoints {
    /// Both APIs served from one root (the emulator).
    pub fn all_at(base_url: &str) -> Self {
        GoogleEndpoints {
            people_base_url: base_url.to_owned(),
            directory_base_url: base_url.to_owned(),
        }
    }
}

impl Default for GoogleEndpoints {
    /// Google's production endpoints.
    fn default() -> Self {
        GoogleEndpoints {
            people_base_url: DEFAULT_PEOPLE_API_BASE_URL.to_owned(),
            directory_base_url: DEFAULT_DIRECTORY_API_BASE_URL.to_owned(),
        }
    }
}

/// How a binary reaches Google: where the service-account key is, whom Directory calls impersonate, and where
/// the APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleConfig {
    /// The Secrets Manager secret holding the key JSON.
    pub key_secret_id: String,
    /// The Workspace admin the Directory API calls impersonate.
    pub admin_email: String,
    pub endpoints: GoogleEndpoints,
}

/// OAuth scope for reading and writing a user's contacts.
pub const SCOPE_CONTACTS: &str = "https://www.googleapis.com/auth/contacts";
/// OAuth scopes for the Directory reads, impersonating an admin.
pub const DIRECTORY_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
    "https://www.googleapis.com/auth/admin.directory.orgunit.readonly",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
];

/// Google's per-call limits, from the discovery documents and Google's documentation (docs/google-apis.md).
pub mod limits {
    pub const BATCH_GET_PEOPLE: usize = 200;
    pub const BATCH_CREATE_CONTACTS: usize = 200;
    pub const BATCH_UPDATE_CONTACTS: usize = 200;
    pub const BATCH_DELETE_CONTACTS: usize = 500;
    pub const MODIFY_MEMBERS: usize = 1000;
    pub const CONNECTIONS_PAGE_SIZE: u32 = 1000;
    pub const CONTACT_GROUPS_PAGE_SIZE: u32 = 1000;
    pub const USERS_PAGE_SIZE: u32 = 500;
    pub const GROUPS_PAGE_SIZE: u32 = 200;
    pub const MEMBERS_PAGE_SIZE: u32 = 200;
}

/// The People API as one impersonated user at a time. Every method takes the user's current primary email.
///
/// Mutations for one user must be sent sequentially (Google's rule); callers parallelise across users only.
/// Methods that take more items than one Google call allows split them into calls of the maximum size.
#[async_trait]
pub trait PeopleApi: Send + Sync {
    /// contactGroups.list, all pages.
    async fn list_contact_groups(&self, user: &str) -> Result<Vec<ContactGroup>, GoogleError>;
    /// contactGroups.get with `maxMembers` (0 = no members).
    async fn get_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        max_members: u32,
    ) -> Result<ContactGroup, GoogleError>;
    /// contactGroups.create. A duplicate name is `GoogleError` with status 409.
    async fn create_contact_group(
        &self,
        user: &str,
        name: &str,
    ) -> Result<ContactGroup, GoogleError>;
    /// contactGroups.delete; `delete_contacts` also deletes the group's contacts.
    async fn delete_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        delete_contacts: bool,
    ) -> Result<(), GoogleError>;
    /// contactGroups.members.modify (split into calls of at most 1000 names).
    async fn modify_contact_group_members(
        &self,
        user: &str,
        resource_name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), GoogleError>;
    /// people:batchGet in calls of at most 200, with the given `personFields` (comma-separated).
    async fn batch_get_people(
        &self,
        user: &str,
        resource_names: &[String],
        person_fields: &str,
    ) -> Result<Vec<Person>, GoogleError>;
    /// people/me/connections, all pages of up to 1000, with the given `personFields`.
    async fn list_connections(
        &self,
        user: &str,
        person_fields: &str,
    ) -> Result<Vec<Person>, GoogleError>;
    /// people:batchCreateContacts in calls of at most 200, with an empty read mask (nothing is read back).
    async fn batch_create_contacts(
        &self,
        user: &str,
        contacts: &[Person],
    ) -> Result<(), GoogleError>;
    /// people:batchUpdateContacts in calls of at most 200: resource name -> person carrying its current etag;
    /// `update_mask` names the replaced fields. Empty read mask.
    async fn batch_update_contacts(
        &self,
        user: &str,
        contacts: &BTreeMap<String, Person>,
        update_mask: &str,
    ) -> Result<(), GoogleError>;
    /// people:batchDeleteContacts in calls of at most 500.
    async fn batch_delete_contacts(
        &self,
        user: &str,
        resource_names: &[String],
    ) -> Result<(), GoogleError>;
}

/// The Directory API, impersonating the configured admin.
#[async_trait]
pub trait DirectoryApi: Send + Sync {
    /// users.get by primary email, alias or immutable id; `None` on 404.
    async fn get_user(&self, user_key: &str) -> Result<Option<DirectoryUser>, GoogleError>;
    /// users.list over all pages. `query` uses Google's user search syntax (e.g. `orgUnitPath='/Sales'`).
    async fn list_users(
        &self,
        scope: &UserScope,
        query: Option<&str>,
    ) -> Result<Vec<DirectoryUser>, GoogleError>;
    /// users.list returning at most `max` users (for search boxes).
    async fn search_users(&self, query: &str, max: u32) -> Result<Vec<DirectoryUser>, GoogleError>;
    /// groups.get by email, alias or id; `None` on 404.
    async fn get_group(&self, group_key: &str) -> Result<Option<DirectoryGroup>, GoogleError>;
    /// groups.list for the customer, returning at most `max` groups matching `query` (Google's group search syntax).
    async fn search_groups(
        &self,
        query: &str,
        max: u32,
    ) -> Result<Vec<DirectoryGroup>, GoogleError>;
    /// members.list over all pages; `derived` sets includeDerivedMembership (nested groups flattened).
    async fn list_group_members(
        &self,
        group_key: &str,
        derived: bool,
    ) -> Result<Vec<GroupMember>, GoogleError>;
    /// orgunits.list type=ALL (every org unit of the customer).
    async fn list_org_units(&self) -> Result<Vec<OrgUnit>, GoogleError>;
    /// orgunits.get by path (`/Sales`) or id (`id:...`); `None` on 404.
    async fn get_org_unit(&self, path_or_id: &str) -> Result<Option<OrgUnit>, GoogleError>;
    /// domains.list for the customer.
    async fn list_domains(&self) -> Result<Vec<Domain>, GoogleError>;
}
