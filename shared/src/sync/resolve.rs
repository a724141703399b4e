//! Resolving a sync's destinations to the set of active users who receive its contacts, by immutable id.
//!
//! - `User`: users.get by id.
//! - `Group`: groups.get by id (current email), then members.list with derived membership (nested groups
//!   flattened); USER members only, looked up in the directory for their primary email and state (one users.list
//!   for the whole customer when there are more than a few, else users.get each). Members unknown to the directory
//!   (external accounts) are left out.
//! - `OrgUnit`: orgunits.get by id (current path), then users.list `orgUnitPath='<path>'` (sub-OUs included).
//! - `Domain`: users.list for the domain.
//!
//! Suspended and archived users are skipped (reported in [`Audience::inactive`] so they are not mistaken for
//! leavers), and so is the source user. A destination that no longer exists, or that cannot be read, is reported in
//! [`Audience::errors`]: the caller then knows the audience is incomplete and must not treat anyone as a leaver
//! (their contacts stay until the definition is fixed), rather than stripping contacts from everyone in a group that
//! was deleted by mistake or could not be read for a moment.

use std::collections::{BTreeMap, BTreeSet};

use crate::google::{DirectoryApi, DirectoryUser, GoogleError, UserScope};
use crate::model::{Destination, DestinationKind};

/// Above this many group members to look up, one users.list of the customer is cheaper than users.get each.
const INDIVIDUAL_LOOKUPS_MAX: usize = 5;

/// One user who receives the contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationUser {
    /// Immutable Directory id.
    pub id: String,
    /// Current primary email (whom to impersonate).
    pub email: String,
}

/// A destination that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationError {
    pub destination: Destination,
    pub error: String,
}

/// The resolved audience of a sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// Active users by id.
    pub users: BTreeMap<String, DestinationUser>,
    /// Ids of suspended or archived users who are in a destination: skipped, but not leavers.
    pub inactive: BTreeSet<String>,
    /// The destinations with their current display names (emails, OU paths), in the definition's order.
    pub destinations: Vec<Destination>,
    /// Destinations that could not be resolved.
    pub errors: Vec<DestinationError>,
}

impl Audience {
    /// True when every destination was resolved, so users missing from it really left.
    pub fn is_complete(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Resolves `destinations`, leaving out `source_user_id`.
pub async fn resolve_audience(
    directory: &dyn DirectoryApi,
    destinations: &[Destination],
    source_user_id: &str,
) -> Audience {
    let mut resolver = Resolver {
        directory,
        customer_users: None,
        audience: Audience::default(),
    };
    for destination in destinations {
        match resolver.resolve(destination).await {
            Ok((display, users)) => {
                resolver.audience.destinations.push(Destination {
                    display,
                    ..destination.clone()
                });
                for user in users {
                    resolver.add(user, source_user_id);
                }
            }
            Err(error) => {
                tracing::warn!(kind = ?destination.kind, id = %destination.id, %error, "destination not resolved");
                resolver.audience.destinations.push(destination.clone());
                resolver.audience.errors.push(DestinationError {
                    destination: destination.clone(),
                    error,
                });
            }
        }
    }
    resolver.audience
}

/// Quotes an org unit path for a users.list query.
pub fn org_unit_query(path: &str) -> String {
    let escaped = path.replace('\\', "\\\\").replace('\'', "\\'");
    format!("orgUnitPath='{escaped}'")
}

struct Resolver<'a> {
    directory: &'a dyn DirectoryApi,
    /// Every user of the customer, by id, once listed.
    customer_users: Option<BTreeMap<String, DirectoryUser>>,
    audience: Audience,
}

impl Resolver<'_> {
    fn add(&mut self, user: DirectoryUser, source_user_id: &str) {
        if user.id == source_user_id {
            return;
        }
        if user.is_active() {
            self.audience.inactive.remove(&user.id);
            self.audience.users.insert(
                user.id.clone(),
                DestinationUser {
                    id: user.id,
                    email: user.primary_email,
                },
            );
        } else if !self.audience.users.contains_key(&user.id) {
            self.audience.inactive.insert(user.id);
        }
    }

    /// The destination's current display name and its users (active or not).
    async fn resolve(
        &mut self,
        destination: &Destination,
    ) -> Result<(String, Vec<DirectoryUser>), String> {
        let describe = |e: GoogleError| format!("{}: {e}", describe(destination));
        match destination.kind {
            DestinationKind::User => {
                let user = self
                    .directory
                    .get_user(&destination.id)
                    .await
                    .map_err(describe)?
                    .ok_or_else(|| missing(destination))?;
                Ok((user.primary_email.clone(), vec![user]))
            }
            DestinationKind::Group => {
                let group = self
                    .directory
                    .get_group(&destination.id)
                    .await
                    .map_err(describe)?
                    .ok_or_else(|| missing(destination))?;
                let members = self
                    .directory
                    .list_group_members(&group.id, true)
                    .await
                    .map_err(describe)?;
                let ids: BTreeSet<String> = members
                    .into_iter()
                    .filter(|m| m.kind.as_deref() == Some("USER"))
                    .filter_map(|m| m.id)
                    .collect();
                let users = self.look_up(&ids).await.map_err(describe)?;
                Ok((group.email, users))
            }
            DestinationKind::OrgUnit => {
                let unit = self
                    .directory
                    .get_org_unit(&destination.id)
                    .await
                    .map_err(describe)?
                    .ok_or_else(|| missing(destination))?;
                let users = self
                    .directory
                    .list_users(
                        &UserScope::Customer,
                        Some(&org_unit_query(&unit.org_unit_path)),
                    )
                    .await
                    .map_err(describe)?;
                Ok((unit.org_unit_path, users))
            }
            DestinationKind::Domain => {
                let users = self
                    .directory
                    .list_users(&UserScope::Domain(destination.id.clone()), None)
                    .await
                    .map_err(describe)?;
                Ok((destination.id.clone(), users))
            }
        }
    }

    /// Directory entries for group members, by id; ids unknown to the directory are left out.
    async fn look_up(&mut self, ids: &BTreeSet<String>) -> Result<Vec<DirectoryUser>, GoogleError> {
        if self.customer_users.is_none() && ids.len() <= INDIVIDUAL_LOOKUPS_MAX {
            let mut users = Vec::new();
            for id in ids {
                if let Some(user) = self.directory.get_user(id).await? {
                    users.push(user);
                }
            }
            return Ok(users);
        }
        let all = match self.customer_users.take() {
            Some(all) => all,
            None => self
                .directory
                .list_users(&UserScope::Customer, None)
                .await?
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect(),
        };
        let users = ids.iter().filter_map(|id| all.get(id).cloned()).collect();
        self.customer_users = Some(all);
        Ok(users)
    }
}

fn describe(destination: &Destination) -> String {
    let kind = match destination.kind {
        DestinationKind::User => "user",
        DestinationKind::Group => "group",
        DestinationKind::OrgUnit => "org unit",
        DestinationKind::Domain => "domain",
    };
    format!(
        "destination {kind} {} ({})",
        destination.display, destination.id
    )
}

fn missing(destination: &Destination) -> String {
    format!("{} no longer exists", describe(destination))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::{DirectoryGroup, Domain, GroupMember, OrgUnit};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// An in-memory directory for unit tests, counting calls.
    #[derive(Default)]
    struct FakeDirectory {
        users: Vec<DirectoryUser>,
        groups: BTreeMap<String, (DirectoryGroup, Vec<GroupMember>)>,
        units: Vec<OrgUnit>,
        calls: Mutex<Vec<String>>,
    }

    impl FakeDirectory {
        fn log(&self, call: String) {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(call);
            }
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().map(|c| c.clone()).unwrap_or_default()
        }
    }

    #[async_trait]
    impl DirectoryApi for FakeDirectory {
        async fn get_user(&self, key: &str) -> Result<Option<DirectoryUser>, GoogleError> {
            self.log(format!("users.get {key}"));
            Ok(self.users.iter().find(|u| u.id == key).cloned())
        }
        async fn list_users(
            &self,
            scope: &UserScope,
            query: Option<&str>,
        ) -> Result<Vec<DirectoryUser>, GoogleError> {
            self.log(format!("users.list {scope:?} {query:?}"));
            Ok(self
                .users
                .iter()
                .filter(|u| match scope {
                    UserScope::Customer => true,
                    UserScope::Domain(d) => u.primary_email.ends_with(&format!("@{d}")),
                })
                .filter(|u| match query {
                    None => true,
                    Some(q) => u.org_unit_path.as_deref().is_some_and(|p| {
                        q.starts_with("orgUnitPath='")
                            && (q == org_unit_query(p)
                                || self.units.iter().any(|unit| {
                                    q == org_unit_query(&unit.org_unit_path)
                                        && p.starts_with(&format!("{}/", unit.org_unit_path))
                                }))
                    }),
                })
                .cloned()
                .collect())
        }
        async fn search_users(&self, _: &str, _: u32) -> Result<Vec<DirectoryUser>, GoogleError> {
            Ok(Vec::new())
        }
        async fn get_group(&self, key: &str) -> Result<Option<DirectoryGroup>, GoogleError> {
            self.log(format!("groups.get {key}"));
            Ok(self.groups.get(key).map(|(g, _)| g.clone()))
        }
        async fn search_groups(&self, _: &str, _: u32) -> Result<Vec<DirectoryGroup>, GoogleError> {
            Ok(Vec::new())
        }
        async fn list_group_members(
            &self,
            key: &str,
            derived: bool,
        ) -> Result<Vec<GroupMember>, GoogleError> {
            self.log(format!("members.list {key} {derived}"));
            Ok(self
                .groups
                .get(key)
                .map(|(_, m)| m.clone())
                .unwrap_or_default())
        }
        async fn list_org_units(&self) -> Result<Vec<OrgUnit>, GoogleError> {
            Ok(self.units.clone())
        }
        async fn get_org_unit(&self, key: &str) -> Result<Option<OrgUnit>, GoogleError> {
            self.log(format!("orgunits.get {key}"));
            Ok(self.units.iter().find(|u| u.org_unit_id == key).cloned())
        }
        async fn list_domains(&self) -> Result<Vec<Domain>, GoogleError> {
            Ok(Vec::new())
        }
    }

    fn user(id: &str, email: &str, ou: &str) -> DirectoryUser {
        DirectoryUser {
            id: id.into(),
            primary_email: email.into(),
            org_unit_path: Some(ou.into()),
            ..DirectoryUser::default()
        }
    }

    fn member(id: &str) -> GroupMember {
        GroupMember {
            id: Some(id.into()),
            kind: Some("USER".into()),
            ..GroupMember::default()
        }
    }

    fn dest(kind: DestinationKind, id: &str, display: &str) -> Destination {
        Destination {
            kind,
            id: id.into(),
            display: display.into(),
        }
    }

    fn directory() -> FakeDirectory {
        let mut suspended = user("4", "dan@example.com", "/Sales/East");
        suspended.suspended = true;
        let mut archived = user("5", "eve@example.com", "/Sales");
        archived.archived = true;
        let mut dir = FakeDirectory {
            users: vec![
                user("1", "src@example.com", "/Sales"),
                user("2", "bob.renamed@example.com", "/Sales"),
                user("3", "cat@example.com", "/Sales/East"),
                suspended,
                archived,
                user("6", "fay@other.example", "/"),
            ],
            units: vec![
                OrgUnit {
                    org_unit_id: "id:sales".into(),
                    org_unit_path: "/Sales".into(),
                    ..OrgUnit::default()
                },
                OrgUnit {
                    org_unit_id: "id:east".into(),
                    org_unit_path: "/Sales/East".into(),
                    ..OrgUnit::default()
                },
            ],
            ..FakeDirectory::default()
        };
        dir.groups.insert(
            "g1".into(),
            (
                DirectoryGroup {
                    id: "g1".into(),
                    email: "team-renamed@example.com".into(),
                    ..DirectoryGroup::default()
                },
                vec![
                    member("2"),
                    member("4"),
                    GroupMember {
                        id: Some("nested".into()),
                        kind: Some("GROUP".into()),
                        ..GroupMember::default()
                    },
                    member("external-id"),
                ],
            ),
        );
        dir
    }

    #[tokio::test]
    async fn org_unit_includes_sub_units_and_skips_source_and_inactive_users() {
        let dir = directory();
        let audience = resolve_audience(
            &dir,
            &[dest(DestinationKind::OrgUnit, "id:sales", "/OldName")],
            "1",
        )
        .await;
        assert!(audience.is_complete());
        let ids: Vec<&str> = audience.users.keys().map(String::as_str).collect();
        assert_eq!(ids, vec!["2", "3"]);
        assert_eq!(
            audience.inactive,
            BTreeSet::from(["4".to_owned(), "5".to_owned()])
        );
        assert_eq!(audience.destinations[0].display, "/Sales");
    }

    #[tokio::test]
    async fn group_users_are_looked_up_and_renames_refreshed() {
        let dir = directory();
        let audience = resolve_audience(
            &dir,
            &[dest(DestinationKind::Group, "g1", "team@example.com")],
            "1",
        )
        .await;
        assert_eq!(audience.users["2"].email, "bob.renamed@example.com");
        assert_eq!(audience.users.len(), 1);
        assert!(audience.inactive.contains("4"));
        assert_eq!(audience.destinations[0].display, "team-renamed@example.com");
        let calls = dir.calls();
        assert!(calls.contains(&"members.list g1 true".to_owned()));
    }

    #[tokio::test]
    async fn many_group_members_take_one_users_list() {
        let mut dir = directory();
        let members: Vec<GroupMember> = (0..20).map(|i| member(&format!("u{i}"))).collect();
        for i in 0..20 {
            dir.users
                .push(user(&format!("u{i}"), &format!("u{i}@example.com"), "/"));
        }
        if let Some(group) = dir.groups.get_mut("g1") {
            group.1 = members;
        }
        let audience = resolve_audience(
            &dir,
            &[dest(DestinationKind::Group, "g1", "team@example.com")],
            "1",
        )
        .await;
        assert_eq!(audience.users.len(), 20);
        let gets = dir
            .calls()
            .iter()
            .filter(|c| c.starts_with("users.get"))
            .count();
        let lists = dir
            .calls()
            .iter()
            .filter(|c| c.starts_with("users.list"))
            .count();
        assert_eq!((gets, lists), (0, 1));
    }

    #[tokio::test]
    async fn users_and_domains_resolve_and_missing_destinations_are_errors() {
        let dir = directory();
        let audience = resolve_audience(
            &dir,
            &[
                dest(DestinationKind::User, "3", "old@example.com"),
                dest(DestinationKind::Domain, "other.example", "other.example"),
                dest(DestinationKind::Group, "gone", "gone@example.com"),
                dest(DestinationKind::User, "4", "dan@example.com"),
            ],
            "1",
        )
        .await;
        let ids: Vec<&str> = audience.users.keys().map(String::as_str).collect();
        assert_eq!(ids, vec!["3", "6"]);
        assert_eq!(audience.destinations[0].display, "cat@example.com");
        assert!(!audience.is_complete());
        assert_eq!(audience.errors.len(), 1);
        assert!(audience.errors[0].error.contains("no longer exists"));
        assert!(audience.inactive.contains("4"));
    }

    #[tokio::test]
    async fn a_user_active_through_one_destination_is_not_inactive() {
        let dir = directory();
        let audience = resolve_audience(
            &dir,
            &[
                dest(DestinationKind::OrgUnit, "id:east", "/Sales/East"),
                dest(DestinationKind::User, "3", "cat@example.com"),
            ],
            "1",
        )
        .await;
        assert!(audience.users.contains_key("3"));
        assert!(!audience.inactive.contains("3"));
    }

    #[test]
    fn org_unit_paths_are_quoted_and_escaped() {
        assert_eq!(org_unit_query("/Sales"), "orgUnitPath='/Sales'");
        assert_eq!(org_unit_query("/O'Brien's"), r"orgUnitPath='/O\'Brien\'s'");
    }
}
