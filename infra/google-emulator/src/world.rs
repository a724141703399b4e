//! The emulated Workspace: the Directory (customer, domains, org units, users, groups) and every user's
//! address book, built from a seed document.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use crate::ids;
use crate::people::{Book, Counters, SyncToken};
use crate::person::normalise_person;
use crate::seed::{Seed, SeedError};

#[derive(Debug, Clone)]
pub(crate) struct OrgUnit {
    pub id: String,
    pub name: String,
    pub description: String,
    /// None for the root org unit "/".
    pub parent: Option<String>,
    pub version: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub primary_email: String,
    pub aliases: Vec<String>,
    pub given_name: String,
    pub family_name: String,
    pub is_admin: bool,
    pub suspended: bool,
    pub archived: bool,
    /// Org unit id.
    pub org_unit: String,
    pub creation_time: String,
    pub version: u64,
}

impl User {
    pub fn has_address(&self, email: &str) -> bool {
        self.primary_email.eq_ignore_ascii_case(email)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(email))
    }
}

/// A member of a Directory group.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Member {
    User(String),
    Group(String),
    External(String),
    Customer,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub id: String,
    pub email: String,
    pub aliases: Vec<String>,
    pub name: String,
    pub description: String,
    pub members: Vec<Member>,
    pub version: u64,
}

impl Group {
    pub fn has_address(&self, email: &str) -> bool {
        self.email.eq_ignore_ascii_case(email)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(email))
    }
}

/// What an email address belongs to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Owner {
    User(String),
    Group(String),
}

pub(crate) struct World {
    pub customer_id: String,
    pub domains: Vec<String>,
    pub delegation_scopes: BTreeSet<String>,
    pub org_units: BTreeMap<String, OrgUnit>,
    pub root_ou: String,
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub books: HashMap<String, Book>,
    pub counters: Counters,
    pub sync_tokens: HashMap<String, SyncToken>,
}

/// The domain part of an address, lowercased.
pub(crate) fn domain_of(email: &str) -> String {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Records an address as used; every user, group and alias address is unique.
fn claim_address(email: &str, taken: &mut BTreeSet<String>) -> Result<(), SeedError> {
    if !taken.insert(email.to_ascii_lowercase()) {
        return Err(SeedError::DuplicateAddress(email.to_string()));
    }
    Ok(())
}

/// Fixed creation times, one minute apart, so seeded users look the same on every run.
fn creation_time(index: usize) -> String {
    let base: DateTime<Utc> = Utc
        .with_ymd_and_hms(2023, 1, 9, 9, 0, 0)
        .single()
        .unwrap_or_default();
    (base + Duration::minutes(index as i64)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl World {
    /// Builds the world a seed describes; refuses bad references (unknown org units, members, users).
    pub fn from_seed(seed: &Seed, now: &str) -> Result<World, SeedError> {
        let mut domains: Vec<String> = seed
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        if domains.is_empty() {
            for u in &seed.users {
                let d = domain_of(&u.email);
                if !d.is_empty() && !domains.contains(&d) {
                    domains.push(d);
                }
            }
        }
        for s in &seed.delegation_scopes {
            if !s.starts_with("https://www.googleapis.com/auth/") {
                return Err(SeedError::BadScope(s.clone()));
            }
        }
        let root_id = ids::org_unit_id("/");
        let mut world = World {
            customer_id: seed.customer_id.clone(),
            domains,
            delegation_scopes: seed.delegation_scopes.iter().cloned().collect(),
            org_units: BTreeMap::new(),
            root_ou: root_id.clone(),
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            books: HashMap::new(),
            counters: Counters::default(),
            sync_tokens: HashMap::new(),
        };
        let root_name = world.domains.first().cloned().unwrap_or_default();
        world.org_units.insert(
            root_id.clone(),
            OrgUnit {
                id: root_id,
                name: root_name,
                description: String::new(),
                parent: None,
                version: 0,
            },
        );
        world.add_org_units(&seed.org_units)?;
        world.add_users(seed)?;
        world.add_groups(seed)?;
        world.add_books(seed, now)?;
        Ok(world)
    }

    fn check_domain(&self, what: &'static str, email: &str) -> Result<(), SeedError> {
        let domain = domain_of(email);
        if self.domains.contains(&domain) {
            Ok(())
        } else {
            Err(SeedError::UnknownDomain {
                what,
                email: email.to_string(),
                domain,
            })
        }
    }

    fn add_org_units(&mut self, paths: &[String]) -> Result<(), SeedError> {
        let mut sorted: Vec<String> = Vec::new();
        for p in paths {
            let trimmed = p.trim_end_matches('/');
            if !p.starts_with('/') || trimmed.split('/').skip(1).any(str::is_empty) {
                if p == "/" {
                    continue;
                }
                return Err(SeedError::BadOrgUnitPath(p.clone()));
            }
            sorted.push(trimmed.to_string());
        }
        sorted.sort_by_key(|p| p.matches('/').count());
        for path in sorted {
            if self.find_ou_by_path(&path).is_some() {
                continue;
            }
            let (parent_path, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            let parent_path = if parent_path.is_empty() {
                "/"
            } else {
                parent_path
            };
            let parent = self.find_ou_by_path(parent_path).ok_or_else(|| {
                SeedError::MissingParentOrgUnit {
                    path: path.clone(),
                    parent: parent_path.to_string(),
                }
            })?;
            let id = ids::org_unit_id(&path);
            self.org_units.insert(
                id.clone(),
                OrgUnit {
                    id,
                    name: name.to_string(),
                    description: format!("{name} org unit"),
                    parent: Some(parent),
                    version: 0,
                },
            );
        }
        Ok(())
    }

    fn add_users(&mut self, seed: &Seed) -> Result<(), SeedError> {
        let mut taken = BTreeSet::new();
        for g in &seed.groups {
            claim_address(&g.email, &mut taken)?;
            for a in &g.aliases {
                claim_address(a, &mut taken)?;
            }
        }
        for (index, u) in seed.users.iter().enumerate() {
            self.check_domain("users", &u.email)?;
            claim_address(&u.email, &mut taken)?;
            for a in &u.aliases {
                self.check_domain("users", a)?;
                claim_address(a, &mut taken)?;
            }
            let org_unit =
                self.find_ou_by_path(&u.org_unit)
                    .ok_or_else(|| SeedError::UnknownOrgUnit {
                        email: u.email.clone(),
                        org_unit: u.org_unit.clone(),
                    })?;
            let id = ids::user_id(&u.email);
            self.users.insert(
                id.clone(),
                User {
                    id,
                    primary_email: u.email.clone(),
                    aliases: u.aliases.clone(),
                    given_name: u.given_name.clone(),
                    family_name: u.family_name.clone(),
                    is_admin: u.is_admin,
                    suspended: u.suspended,
                    archived: u.archived,
                    org_unit,
                    creation_time: creation_time(index),
                    version: 0,
                },
            );
        }
        Ok(())
    }

    fn add_groups(&mut self, seed: &Seed) -> Result<(), SeedError> {
        for g in &seed.groups {
            self.check_domain("groups", &g.email)?;
            for a in &g.aliases {
                self.check_domain("groups", a)?;
            }
            let id = ids::group_id(&g.email);
            self.groups.insert(
                id.clone(),
                Group {
                    id,
                    email: g.email.clone(),
                    aliases: g.aliases.clone(),
                    name: g.name.clone(),
                    description: g.description.clone(),
                    members: Vec::new(),
                    version: 0,
                },
            );
        }
        for g in &seed.groups {
            let mut members = Vec::new();
            for m in &g.members {
                let member = match self.resolve_member(m) {
                    Some(member) => member,
                    None => {
                        return Err(SeedError::UnknownMember {
                            group: g.email.clone(),
                            member: m.clone(),
                        });
                    }
                };
                if !members.contains(&member) {
                    members.push(member);
                }
            }
            if let Some(group) = self.groups.get_mut(&ids::group_id(&g.email)) {
                group.members = members;
            }
        }
        Ok(())
    }

    /// A member address as Google resolves it: a user or group of the customer (by any address), the
    /// customer id itself, or an external address; None for an unknown address in one of our domains.
    pub fn resolve_member(&self, address: &str) -> Option<Member> {
        if address == self.customer_id {
            return Some(Member::Customer);
        }
        match self.owner_of(address) {
            Some(Owner::User(id)) => Some(Member::User(id)),
            Some(Owner::Group(id)) => Some(Member::Group(id)),
            None if address.contains('@') && !self.domains.contains(&domain_of(address)) => {
                Some(Member::External(address.to_ascii_lowercase()))
            }
            None => None,
        }
    }

    fn add_books(&mut self, seed: &Seed, now: &str) -> Result<(), SeedError> {
        let user_ids: Vec<String> = self.users.keys().cloned().collect();
        for id in user_ids {
            self.books.insert(id, Book::default());
        }
        for (email, groups) in &seed.contact_groups {
            let user_id = self.seed_user(email, "contact_groups")?;
            let mut seen = BTreeSet::new();
            for g in groups {
                if !seen.insert(g.name.to_lowercase()) {
                    return Err(SeedError::DuplicateContactGroup {
                        email: email.clone(),
                        name: g.name.clone(),
                    });
                }
                let book = self.books.entry(user_id.clone()).or_default();
                let group_id = book
                    .create_group(&mut self.counters, &user_id, &g.name, Vec::new(), now)
                    .map_err(|e| SeedError::DuplicateContactGroup {
                        email: email.clone(),
                        name: format!("{} ({})", g.name, e.message),
                    })?;
                for (index, person) in g.contacts.iter().enumerate() {
                    self.seed_contact(
                        "contact_groups",
                        email,
                        &user_id,
                        index,
                        person,
                        std::slice::from_ref(&group_id),
                        now,
                    )?;
                }
            }
        }
        for (email, contacts) in &seed.contacts {
            let user_id = self.seed_user(email, "contacts")?;
            for (index, person) in contacts.iter().enumerate() {
                self.seed_contact("contacts", email, &user_id, index, person, &[], now)?;
            }
        }
        Ok(())
    }

    fn seed_user(&self, email: &str, section: &'static str) -> Result<String, SeedError> {
        self.find_user(email)
            .map(|u| u.id.clone())
            .ok_or_else(|| SeedError::UnknownUser {
                section,
                email: email.to_string(),
            })
    }

    #[allow(clippy::too_many_arguments)]
    fn seed_contact(
        &mut self,
        section: &'static str,
        email: &str,
        user_id: &str,
        index: usize,
        person: &Value,
        groups: &[String],
        now: &str,
    ) -> Result<(), SeedError> {
        let bad = |message: String| SeedError::BadContact {
            section,
            email: email.to_string(),
            index,
            message,
        };
        let mut person = person.clone();
        normalise_person(&mut person).map_err(|e| bad(e.message.clone()))?;
        let book = self.books.entry(user_id.to_string()).or_default();
        book.create_contact(&mut self.counters, user_id, &person, groups, now)
            .map_err(|e| bad(e.message.clone()))?;
        Ok(())
    }

    /// The path of an org unit (`/`, `/Accounting/Payables`).
    pub fn ou_path(&self, id: &str) -> String {
        let mut parts = Vec::new();
        let mut current = self.org_units.get(id);
        while let Some(ou) = current {
            match &ou.parent {
                Some(parent) => {
                    parts.push(ou.name.as_str());
                    current = self.org_units.get(parent);
                }
                None => break,
            }
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    /// An org unit id by path (with or without the leading `/`, case-insensitive).
    pub fn find_ou_by_path(&self, path: &str) -> Option<String> {
        let wanted = format!("/{}", path.trim_matches('/')).to_lowercase();
        self.org_units
            .keys()
            .find(|id| self.ou_path(id).to_lowercase() == wanted)
            .cloned()
    }

    /// An org unit by `id:...` or by path.
    pub fn find_ou(&self, key: &str) -> Option<String> {
        if key.starts_with("id:") {
            return self.org_units.contains_key(key).then(|| key.to_string());
        }
        self.find_ou_by_path(key)
    }

    /// Whether `id` is `ancestor` or one of its descendants.
    pub fn ou_within(&self, id: &str, ancestor: &str) -> bool {
        let mut current = Some(id.to_string());
        while let Some(c) = current {
            if c == ancestor {
                return true;
            }
            current = self.org_units.get(&c).and_then(|ou| ou.parent.clone());
        }
        false
    }

    /// A user by immutable id, primary email or alias.
    pub fn find_user(&self, key: &str) -> Option<&User> {
        self.users
            .get(key)
            .or_else(|| self.users.values().find(|u| u.has_address(key)))
    }

    /// A group by immutable id, email or alias.
    pub fn find_group(&self, key: &str) -> Option<&Group> {
        self.groups
            .get(key)
            .or_else(|| self.groups.values().find(|g| g.has_address(key)))
    }

    pub fn owner_of(&self, email: &str) -> Option<Owner> {
        if let Some(u) = self.users.values().find(|u| u.has_address(email)) {
            return Some(Owner::User(u.id.clone()));
        }
        self.groups
            .values()
            .find(|g| g.has_address(email))
            .map(|g| Owner::Group(g.id.clone()))
    }
}
