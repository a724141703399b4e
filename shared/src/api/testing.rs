//! Small in-process fakes of the Google APIs and the dispatcher for the unit tests of this module.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use super::context::ApiContext;
use crate::clock::Clock;
use crate::dispatch::{DispatchError, Dispatcher};
use crate::google::{
    ContactGroup, DirectoryApi, DirectoryGroup, DirectoryUser, Domain, GoogleError, GroupMember,
    OrgUnit, PeopleApi, Person, UserName, UserScope,
};
use crate::model::ExecutorEvent;
use crate::store::MemoryStore;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A directory with ann (100), bob (200, alias bob.alias@), suspended sue (300), the group sales@, the org
/// units /Sales and /Sales/EMEA and the domains example.com and example.org.
#[derive(Debug, Default)]
pub struct FakeDirectory {
    pub users: Vec<DirectoryUser>,
    pub groups: Vec<DirectoryGroup>,
    pub org_units: Vec<OrgUnit>,
    pub domains: Vec<Domain>,
    failure: Mutex<Option<GoogleError>>,
    pub queries: Mutex<Vec<String>>,
}

fn user(
    id: &str,
    email: &str,
    given: &str,
    family: &str,
    aliases: &[&str],
    suspended: bool,
) -> DirectoryUser {
    DirectoryUser {
        id: id.into(),
        primary_email: email.into(),
        name: Some(UserName {
            given_name: Some(given.into()),
            family_name: Some(family.into()),
            full_name: Some(format!("{given} {family}")),
        }),
        suspended,
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        ..DirectoryUser::default()
    }
}

impl FakeDirectory {
    pub fn demo() -> Self {
        FakeDirectory {
            users: vec![
                user("100", "ann@example.com", "Ann", "Lee", &[], false),
                user(
                    "200",
                    "bob@example.com",
                    "Bob",
                    "Stone",
                    &["bob.alias@example.com"],
                    false,
                ),
                user("300", "sue@example.com", "Sue", "Park", &[], true),
            ],
            groups: vec![DirectoryGroup {
                id: "g-sales".into(),
                email: "sales@example.com".into(),
                name: Some("Sales team".into()),
                direct_members_count: None,
            }],
            org_units: vec![
                OrgUnit {
                    org_unit_id: "id:ou-sales".into(),
                    org_unit_path: "/Sales".into(),
                    name: Some("Sales".into()),
                    parent_org_unit_id: None,
                },
                OrgUnit {
                    org_unit_id: "id:ou-emea".into(),
                    org_unit_path: "/Sales/EMEA".into(),
                    name: Some("EMEA".into()),
                    parent_org_unit_id: Some("id:ou-sales".into()),
                },
            ],
            domains: vec![
                Domain {
                    domain_name: "example.com".into(),
                    is_primary: true,
                    verified: true,
                },
                Domain {
                    domain_name: "example.org".into(),
                    is_primary: false,
                    verified: true,
                },
            ],
            ..FakeDirectory::default()
        }
    }

    /// Every later call fails with `e`.
    pub fn fail_with(&self, e: GoogleError) {
        *lock(&self.failure) = Some(e);
    }

    fn check(&self) -> Result<(), GoogleError> {
        match lock(&self.failure).clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The value of a `field:value*` clause, unquoted.
fn prefix_of(query: &str, field: &str) -> Option<String> {
    let rest = query
        .strip_prefix(field)?
        .strip_prefix(':')?
        .strip_suffix('*')?;
    Some(rest.trim_matches('\'').replace("\\'", "'").to_lowercase())
}

#[async_trait]
impl DirectoryApi for FakeDirectory {
    async fn get_user(&self, key: &str) -> Result<Option<DirectoryUser>, GoogleError> {
        self.check()?;
        let key = key.to_lowercase();
        Ok(self
            .users
            .iter()
            .find(|u| u.id == key || u.primary_email == key || u.aliases.contains(&key))
            .cloned())
    }

    async fn list_users(
        &self,
        _: &UserScope,
        _: Option<&str>,
    ) -> Result<Vec<DirectoryUser>, GoogleError> {
        self.check()?;
        Ok(self.users.clone())
    }

    async fn search_users(&self, query: &str, max: u32) -> Result<Vec<DirectoryUser>, GoogleError> {
        self.check()?;
        lock(&self.queries).push(query.to_owned());
        let matches = |u: &DirectoryUser| {
            let name = u.name.clone().unwrap_or_default();
            if let Some(p) = prefix_of(query, "email") {
                u.primary_email.starts_with(&p) || u.aliases.iter().any(|a| a.starts_with(&p))
            } else if let Some(p) = prefix_of(query, "givenName") {
                name.given_name
                    .unwrap_or_default()
                    .to_lowercase()
                    .starts_with(&p)
            } else if let Some(p) = prefix_of(query, "familyName") {
                name.family_name
                    .unwrap_or_default()
                    .to_lowercase()
                    .starts_with(&p)
            } else {
                false
            }
        };
        Ok(self
            .users
            .iter()
            .filter(|u| matches(u))
            .take(max as usize)
            .cloned()
            .collect())
    }

    async fn get_group(&self, key: &str) -> Result<Option<DirectoryGroup>, GoogleError> {
        self.check()?;
        let key = key.to_lowercase();
        Ok(self
            .groups
            .iter()
            .find(|g| g.id == key || g.email == key)
            .cloned())
    }

    async fn search_groups(
        &self,
        query: &str,
        max: u32,
    ) -> Result<Vec<DirectoryGroup>, GoogleError> {
        self.check()?;
        lock(&self.queries).push(query.to_owned());
        let matches = |g: &DirectoryGroup| {
            if let Some(p) = prefix_of(query, "email") {
                g.email.starts_with(&p)
            } else if let Some(p) = prefix_of(query, "name") {
                g.name
                    .clone()
                    .unwrap_or_default()
                    .to_lowercase()
                    .starts_with(&p)
            } else {
                false
            }
        };
        Ok(self
            .groups
            .iter()
            .filter(|g| matches(g))
            .take(max as usize)
            .cloned()
            .collect())
    }

    async fn list_group_members(&self, _: &str, _: bool) -> Result<Vec<GroupMember>, GoogleError> {
        self.check()?;
        Ok(Vec::new())
    }

    async fn list_org_units(&self) -> Result<Vec<OrgUnit>, GoogleError> {
        self.check()?;
        Ok(self.org_units.clone())
    }

    async fn get_org_unit(&self, path_or_id: &str) -> Result<Option<OrgUnit>, GoogleError> {
        self.check()?;
        Ok(self
            .org_units
            .iter()
            .find(|ou| {
                ou.org_unit_id == path_or_id || ou.org_unit_path.eq_ignore_ascii_case(path_or_id)
            })
            .cloned())
    }

    async fn list_domains(&self) -> Result<Vec<Domain>, GoogleError> {
        self.check()?;
        Ok(self.domains.clone())
    }
}

/// People API fake: contact groups per user email.
#[derive(Debug, Default)]
pub struct FakePeople {
    pub groups: BTreeMap<String, Vec<ContactGroup>>,
}

impl FakePeople {
    /// ann@ has the user groups Customers (3 members) and Vendors, and the system group myContacts.
    pub fn demo() -> Self {
        let g = |rn: &str, name: &str, t: &str, count: u32| ContactGroup {
            resource_name: rn.into(),
            name: name.into(),
            group_type: Some(t.into()),
            member_count: Some(count),
            ..ContactGroup::default()
        };
        let ann = vec![
            g(
                "contactGroups/myContacts",
                "myContacts",
                "SYSTEM_CONTACT_GROUP",
                10,
            ),
            g("contactGroups/vendors", "Vendors", "USER_CONTACT_GROUP", 1),
            g(
                "contactGroups/customers",
                "Customers",
                "USER_CONTACT_GROUP",
                3,
            ),
        ];
        FakePeople {
            groups: BTreeMap::from([("ann@example.com".to_owned(), ann)]),
        }
    }

    fn not_found(method: &str) -> GoogleError {
        GoogleError::Api {
            method: method.into(),
            status: 404,
            status_text: "NOT_FOUND".into(),
            reason: None,
            message: "Requested entity was not found.".into(),
        }
    }

    fn unsupported(method: &str) -> GoogleError {
        GoogleError::Decode {
            method: method.into(),
            detail: "not part of the fake".into(),
        }
    }
}

#[async_trait]
impl PeopleApi for FakePeople {
    async fn list_contact_groups(&self, user: &str) -> Result<Vec<ContactGroup>, GoogleError> {
        Ok(self.groups.get(user).cloned().unwrap_or_default())
    }

    async fn get_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        _: u32,
    ) -> Result<ContactGroup, GoogleError> {
        self.groups
            .get(user)
            .and_then(|gs| gs.iter().find(|g| g.resource_name == resource_name))
            .cloned()
            .ok_or_else(|| Self::not_found("people.contactGroups.get"))
    }

    async fn create_contact_group(&self, _: &str, _: &str) -> Result<ContactGroup, GoogleError> {
        Err(Self::unsupported("people.contactGroups.create"))
    }

    async fn delete_contact_group(&self, _: &str, _: &str, _: bool) -> Result<(), GoogleError> {
        Err(Self::unsupported("people.contactGroups.delete"))
    }

    async fn modify_contact_group_members(
        &self,
        _: &str,
        _: &str,
        _: &[String],
        _: &[String],
    ) -> Result<(), GoogleError> {
        Err(Self::unsupported("people.contactGroups.members.modify"))
    }

    async fn batch_get_people(
        &self,
        _: &str,
        _: &[String],
        _: &str,
    ) -> Result<Vec<Person>, GoogleError> {
        Err(Self::unsupported("people.people.getBatchGet"))
    }

    async fn list_connections(&self, _: &str, _: &str) -> Result<Vec<Person>, GoogleError> {
        Err(Self::unsupported("people.people.connections.list"))
    }

    async fn batch_create_contacts(&self, _: &str, _: &[Person]) -> Result<(), GoogleError> {
        Err(Self::unsupported("people.people.batchCreateContacts"))
    }

    async fn batch_update_contacts(
        &self,
        _: &str,
        _: &BTreeMap<String, Person>,
        _: &str,
    ) -> Result<(), GoogleError> {
        Err(Self::unsupported("people.people.batchUpdateContacts"))
    }

    async fn batch_delete_contacts(&self, _: &str, _: &[String]) -> Result<(), GoogleError> {
        Err(Self::unsupported("people.people.batchDeleteContacts"))
    }
}

/// Records every dispatched event; fails when told to.
#[derive(Debug, Default)]
pub struct RecordingDispatcher {
    pub events: Mutex<Vec<ExecutorEvent>>,
    pub fail: Mutex<bool>,
}

impl RecordingDispatcher {
    pub fn events(&self) -> Vec<ExecutorEvent> {
        lock(&self.events).clone()
    }
}

#[async_trait]
impl Dispatcher for RecordingDispatcher {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        if *lock(&self.fail) {
            return Err(DispatchError::Failed {
                sync_id: event.sync_id.clone(),
                detail: "invoke refused".into(),
            });
        }
        lock(&self.events).push(event.clone());
        Ok(())
    }
}

/// A clock that stays where it is set.
#[derive(Debug)]
pub struct FixedClock(pub Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn at_2025() -> Self {
        FixedClock(Mutex::new(
            Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
                .single()
                .unwrap_or_default(),
        ))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = lock(&self.0);
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// A context over the demo fakes, a `MemoryStore`, a recording dispatcher and a fixed clock.
pub struct Fixture {
    pub ctx: ApiContext,
    pub store: Arc<MemoryStore>,
    pub directory: Arc<FakeDirectory>,
    pub dispatcher: Arc<RecordingDispatcher>,
    pub clock: Arc<FixedClock>,
}

impl Fixture {
    pub fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let directory = Arc::new(FakeDirectory::demo());
        let dispatcher = Arc::new(RecordingDispatcher::default());
        let clock = Arc::new(FixedClock::at_2025());
        let ctx = ApiContext::new(
            store.clone(),
            Arc::new(FakePeople::demo()),
            directory.clone(),
            dispatcher.clone(),
        )
        .with_clock(clock.clone());
        Fixture {
            ctx,
            store,
            directory,
            dispatcher,
            clock,
        }
    }
}
