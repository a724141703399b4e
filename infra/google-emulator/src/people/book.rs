//! One user's address book as the People API keeps it: contacts, contact groups and the tombstones of deleted
//! ones (for sync tokens), with Google's rules for memberships, etags and per-user limits; plus the change
//! counters and the sync tokens the world keeps next to the books. The world builds the books from the seed;
//! the People API handlers ([`super`]) read and change them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::ids;
use crate::person::{self, ContactView, READABLE_FIELDS};

/// Change sequence (orders every People write, for sync tokens and etags) and an id counter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub seq: u64,
    pub next_id: u64,
}

impl Counters {
    /// The next change sequence number.
    pub fn tick(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The next value of the id counter.
    pub fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// System contact groups every user has: (id, formatted name). Only the first two accept new members.
const SYSTEM_GROUPS: &[(&str, &str)] = &[
    ("myContacts", "My Contacts"),
    ("starred", "Starred"),
    ("chatBuddies", "Chat contacts"),
    ("all", "All Contacts"),
    ("friends", "Friends"),
    ("family", "Family"),
    ("coworkers", "Coworkers"),
    ("blocked", "Blocked"),
];
pub(super) const ADDABLE_SYSTEM_GROUPS: &[&str] = &["myContacts", "starred"];
const MY_CONTACTS: &str = "myContacts";

/// Google's per-user limits of Google Contacts.
const MAX_CONTACT_BYTES: usize = 128 * 1024;
const MAX_BOOK_BYTES: usize = 20 * 1024 * 1024;

const ETAG_MISMATCH: &str = "Request person.etag is different than the current person.etag. Clear \
                             local cache and get the latest person.";

pub(super) const GROUP_FIELDS: &[&str] =
    &["clientData", "groupType", "memberCount", "metadata", "name"];

#[derive(Debug, Clone)]
pub(super) struct Contact {
    pub(super) num: u64,
    created: u64,
    pub(super) fields: Map<String, Value>,
    /// Contact group ids (`myContacts`, `starred`, user group ids).
    pub(super) groups: BTreeSet<String>,
    etag: String,
    pub(super) seq: u64,
    update_time: String,
    pub(super) size: usize,
}

#[derive(Debug, Clone)]
pub(super) struct UserGroup {
    id: String,
    created: u64,
    pub(super) name: String,
    pub(super) client_data: Vec<Value>,
    pub(super) etag: String,
    pub(super) seq: u64,
    update_time: String,
}

/// A deleted contact (key: its number) or contact group (key: its id), kept for sync tokens.
#[derive(Debug, Clone)]
pub(super) struct Tombstone<K> {
    pub(super) key: K,
    pub(super) seq: u64,
    pub(super) etag: String,
    pub(super) update_time: String,
}

/// A validated contact to create.
pub(super) struct PreparedContact {
    fields: Map<String, Value>,
    groups: BTreeSet<String>,
    pub(super) size: usize,
}

/// The stored size of a contact, within Google's 128 KB per contact.
fn contact_size(fields: &Map<String, Value>) -> Result<usize, ApiError> {
    let size = serde_json::to_vec(fields).map(|v| v.len()).unwrap_or(0);
    // [B] Google's message for an oversized contact is not documented.
    if size > MAX_CONTACT_BYTES {
        return Err(ApiError::invalid_argument(format!(
            "Contact is too large: {size} bytes, the maximum is {MAX_CONTACT_BYTES}."
        )));
    }
    Ok(size)
}

/// A validated contact update, ready to apply.
pub(super) struct PreparedUpdate {
    fields: Map<String, Value>,
    /// New memberships, when the mask names them.
    groups: Option<BTreeSet<String>>,
    pub(super) size: usize,
}

/// One user's address book.
#[derive(Debug, Clone, Default)]
pub(crate) struct Book {
    pub(super) contacts: BTreeMap<u64, Contact>,
    pub(super) groups: BTreeMap<String, UserGroup>,
    pub(super) contact_tombstones: Vec<Tombstone<u64>>,
    pub(super) group_tombstones: Vec<Tombstone<String>>,
    total_bytes: usize,
    /// Last change to any membership (the system groups' update time).
    pub(super) system_update_time: String,
}

/// What a sync token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SyncKind {
    Connections,
    ContactGroups,
}

#[derive(Debug, Clone)]
pub(crate) struct SyncToken {
    pub(super) user_id: String,
    pub(super) kind: SyncKind,
    pub(super) seq: u64,
    pub(super) issued: DateTime<Utc>,
    pub(super) expired: bool,
}

/// Marks every sync token issued so far as expired (control knob `expire_sync_tokens`).
pub(crate) fn expire_sync_tokens(tokens: &mut HashMap<String, SyncToken>) {
    for t in tokens.values_mut() {
        t.expired = true;
    }
}

pub(super) fn contact_resource_name(num: u64) -> String {
    format!("people/c{num}")
}

pub(super) fn group_resource_name(id: &str) -> String {
    format!("contactGroups/{id}")
}

pub(super) fn is_system_group(id: &str) -> bool {
    SYSTEM_GROUPS.iter().any(|(g, _)| *g == id)
}

pub(super) fn parse_group_name(rn: &str) -> Result<&str, ApiError> {
    rn.strip_prefix("contactGroups/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "Resource name \"{rn}\" is not a valid contact group resource name."
            ))
        })
}

fn view(c: &Contact) -> ContactView<'_> {
    ContactView {
        resource_name: contact_resource_name(c.num),
        source_id: format!("{:x}", c.num),
        etag: &c.etag,
        update_time: &c.update_time,
        fields: &c.fields,
        memberships: c.groups.iter().map(|g| group_resource_name(g)).collect(),
    }
}

impl Book {
    pub(super) fn render_contact(&self, c: &Contact, mask: &[&str], list_cap: bool) -> Value {
        person::render(&view(c), mask, list_cap)
    }

    /// Forgets every contact (no tombstones; memberships go with them): the control API's memory valve for
    /// benchmarks that write millions of contacts. Returns how many were dropped.
    pub(crate) fn forget_contacts(&mut self) -> usize {
        let dropped = self.contacts.len();
        self.contacts.clear();
        self.total_bytes = 0;
        dropped
    }

    /// Every contact with all its fields, in creation order (the control API's view).
    pub(crate) fn dump_contacts(&self) -> Vec<Value> {
        let mut contacts: Vec<&Contact> = self.contacts.values().collect();
        contacts.sort_by_key(|c| c.created);
        contacts
            .into_iter()
            .map(|c| self.render_contact(c, READABLE_FIELDS, false))
            .collect()
    }

    /// Every contact group (system and user) with all fields and members (the control API's view).
    pub(crate) fn dump_groups(&self, user_id: &str) -> Vec<Value> {
        self.group_ids()
            .iter()
            .filter_map(|id| self.render_group(user_id, id, GROUP_FIELDS, usize::MAX))
            .collect()
    }

    /// Group ids in listing order: system groups, then user groups by creation.
    pub(super) fn group_ids(&self) -> Vec<String> {
        let mut user: Vec<&UserGroup> = self.groups.values().collect();
        user.sort_by_key(|g| g.created);
        SYSTEM_GROUPS
            .iter()
            .map(|(id, _)| id.to_string())
            .chain(user.into_iter().map(|g| g.id.clone()))
            .collect()
    }

    pub(super) fn members_of(&self, group_id: &str) -> Vec<&Contact> {
        let mut members: Vec<&Contact> = self
            .contacts
            .values()
            .filter(|c| group_id == "all" || c.groups.contains(group_id))
            .collect();
        members.sort_by_key(|c| c.created);
        members
    }

    pub(super) fn render_group(
        &self,
        user_id: &str,
        id: &str,
        fields: &[&str],
        max_members: usize,
    ) -> Option<Value> {
        let members = self.members_of(id);
        let (etag, name, formatted, group_type, update_time, client_data) =
            match SYSTEM_GROUPS.iter().find(|(g, _)| *g == id) {
                Some((g, formatted)) => (
                    ids::people_etag(&[
                        "system-group",
                        user_id,
                        g,
                        &members.len().to_string(),
                        &self.system_update_time,
                    ]),
                    g.to_string(),
                    formatted.to_string(),
                    "SYSTEM_CONTACT_GROUP",
                    self.system_update_time.clone(),
                    Vec::new(),
                ),
                None => {
                    let g = self.groups.get(id)?;
                    (
                        g.etag.clone(),
                        g.name.clone(),
                        g.name.clone(),
                        "USER_CONTACT_GROUP",
                        g.update_time.clone(),
                        g.client_data.clone(),
                    )
                }
            };
        let mut out = Map::new();
        out.insert("resourceName".into(), json!(group_resource_name(id)));
        out.insert("etag".into(), json!(etag));
        if fields.contains(&"metadata") {
            let update_time = if update_time.is_empty() {
                None
            } else {
                Some(update_time)
            };
            out.insert("metadata".into(), json!({ "updateTime": update_time }));
            if let Some(Value::Object(m)) = out.get_mut("metadata") {
                m.retain(|_, v| !v.is_null());
            }
        }
        if fields.contains(&"groupType") {
            out.insert("groupType".into(), json!(group_type));
        }
        if fields.contains(&"name") {
            out.insert("name".into(), json!(name));
            out.insert("formattedName".into(), json!(formatted));
        }
        if fields.contains(&"memberCount") && !members.is_empty() {
            out.insert("memberCount".into(), json!(members.len()));
        }
        if fields.contains(&"clientData") && !client_data.is_empty() {
            out.insert("clientData".into(), Value::Array(client_data));
        }
        if max_members > 0 && !members.is_empty() {
            let names: Vec<String> = members
                .iter()
                .take(max_members)
                .map(|c| contact_resource_name(c.num))
                .collect();
            out.insert("memberResourceNames".into(), json!(names));
        }
        Some(Value::Object(out))
    }

    pub(super) fn group_name_taken(&self, name: &str, except: Option<&str>) -> bool {
        let wanted = name.trim().to_lowercase();
        self.groups
            .values()
            .any(|g| Some(g.id.as_str()) != except && g.name.trim().to_lowercase() == wanted)
    }

    /// Creates a user contact group; 409 when the user already has a group of that name.
    pub(crate) fn create_group(
        &mut self,
        counters: &mut Counters,
        user_id: &str,
        name: &str,
        client_data: Vec<Value>,
        now: &str,
    ) -> Result<String, ApiError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid_argument(
                "Contact group name must not be empty.",
            ));
        }
        if self.group_name_taken(name, None) {
            return Err(ApiError::already_exists(
                "Contact group name already exists.",
            ));
        }
        let created = counters.next();
        let id = format!(
            "{:x}",
            ids::hash64(&[user_id, "group", &created.to_string()])
        );
        let seq = counters.tick();
        let group = UserGroup {
            id: id.clone(),
            created,
            name: name.to_string(),
            client_data,
            etag: ids::people_etag(&["group", user_id, &id, &seq.to_string()]),
            seq,
            update_time: now.to_string(),
        };
        self.groups.insert(id.clone(), group);
        Ok(id)
    }

    pub(super) fn touch_group(
        &mut self,
        counters: &mut Counters,
        user_id: &str,
        id: &str,
        now: &str,
    ) {
        if let Some(g) = self.groups.get_mut(id) {
            g.seq = counters.tick();
            g.etag = ids::people_etag(&["group", user_id, id, &g.seq.to_string()]);
            g.update_time = now.to_string();
        } else {
            self.system_update_time = now.to_string();
        }
    }

    /// Resolves membership resource names to group ids; unknown groups and system groups that take no
    /// members are 400s.
    fn resolve_memberships(&self, names: &[String]) -> Result<BTreeSet<String>, ApiError> {
        let mut out = BTreeSet::new();
        for rn in names {
            let id = parse_group_name(rn)?;
            if is_system_group(id) {
                if !ADDABLE_SYSTEM_GROUPS.contains(&id) {
                    return Err(ApiError::invalid_argument(format!(
                        "Cannot add contacts to system contact group \"{rn}\"; only \
                         contactGroups/myContacts and contactGroups/starred take new members."
                    )));
                }
            } else if !self.groups.contains_key(id) {
                return Err(ApiError::invalid_argument(format!(
                    "Contact group \"{rn}\" not found."
                )));
            }
            out.insert(id.to_string());
        }
        Ok(out)
    }

    /// Whether the book stays within Google's 20 MB once `freed` bytes go and `added` come.
    pub(super) fn check_storage(&self, freed: usize, added: usize) -> Result<(), ApiError> {
        // [B] Google's message for the storage limit is not documented.
        if self.total_bytes - freed + added > MAX_BOOK_BYTES {
            return Err(ApiError::failed_precondition(
                "Contacts storage limit reached (20 MB).",
            ));
        }
        Ok(())
    }

    /// Validates one Person to create. myContacts is always added to its memberships.
    pub(super) fn prepare_create(&self, person: &Value) -> Result<PreparedContact, ApiError> {
        let fields = person::stored_fields(person, None)?;
        let mut groups = self.resolve_memberships(&person::input_memberships(person)?)?;
        groups.insert(MY_CONTACTS.to_string());
        let size = contact_size(&fields)?;
        Ok(PreparedContact {
            fields,
            groups,
            size,
        })
    }

    pub(super) fn check_capacity(&self, adding: usize, max: usize) -> Result<(), ApiError> {
        // [B] Google's message when the 25,000-contact limit is reached is not documented.
        if self.contacts.len() + adding > max {
            return Err(ApiError::failed_precondition(format!(
                "Contact limit reached: a user can have at most {max} contacts."
            )));
        }
        Ok(())
    }

    /// Stores a validated contact (limits already checked); returns its number.
    pub(super) fn insert_contact(
        &mut self,
        counters: &mut Counters,
        user_id: &str,
        prepared: PreparedContact,
        now: &str,
    ) -> u64 {
        let PreparedContact {
            fields,
            groups,
            size,
        } = prepared;
        let created = counters.next();
        // A positive 63-bit number, like Google's `c` ids; unique within the book.
        let mut num = ids::hash64(&[user_id, "contact", &created.to_string()]) >> 1;
        while self.contacts.contains_key(&num) {
            num = num.wrapping_add(1) & (u64::MAX >> 1);
        }
        let seq = counters.tick();
        let contact = Contact {
            num,
            created,
            fields,
            groups,
            etag: ids::people_etag(&[user_id, &num.to_string(), &seq.to_string()]),
            seq,
            update_time: now.to_string(),
            size,
        };
        self.total_bytes += size;
        self.contacts.insert(num, contact);
        self.system_update_time = now.to_string();
        num
    }

    /// Creates a contact from a People API Person (seeding and createContact).
    pub(crate) fn create_contact(
        &mut self,
        counters: &mut Counters,
        user_id: &str,
        person: &Value,
        extra_groups: &[String],
        now: &str,
    ) -> Result<u64, ApiError> {
        let mut prepared = self.prepare_create(person)?;
        prepared.groups.extend(extra_groups.iter().cloned());
        self.check_storage(0, prepared.size)?;
        Ok(self.insert_contact(counters, user_id, prepared, now))
    }

    pub(super) fn bump_contact(
        &mut self,
        counters: &mut Counters,
        user_id: &str,
        num: u64,
        now: &str,
    ) {
        if let Some(c) = self.contacts.get_mut(&num) {
            c.seq = counters.tick();
            c.etag = ids::people_etag(&[user_id, &num.to_string(), &c.seq.to_string()]);
            c.update_time = now.to_string();
        }
    }

    pub(super) fn delete_contact(
        &mut self,
        counters: &mut Counters,
        user_id: &str,
        num: u64,
        now: &str,
    ) {
        if let Some(c) = self.contacts.remove(&num) {
            self.total_bytes -= c.size;
            let seq = counters.tick();
            self.contact_tombstones.push(Tombstone {
                key: num,
                seq,
                etag: ids::people_etag(&[user_id, &num.to_string(), &seq.to_string()]),
                update_time: now.to_string(),
            });
            self.system_update_time = now.to_string();
        }
    }

    pub(super) fn contact(&self, num: u64) -> Result<&Contact, ApiError> {
        self.contacts
            .get(&num)
            .ok_or_else(ApiError::entity_not_found)
    }

    /// Validates an update of one contact; returns what to store.
    pub(super) fn prepare_update(
        &self,
        num: u64,
        person: &Value,
        mask: &[&'static str],
    ) -> Result<PreparedUpdate, ApiError> {
        let current = self.contact(num)?;
        let etag = person.get("etag").and_then(Value::as_str).unwrap_or("");
        if etag != current.etag {
            return Err(ApiError::failed_precondition(ETAG_MISMATCH));
        }
        let updated = person::stored_fields(person, Some(mask))?;
        let mut fields = current.fields.clone();
        for f in mask {
            if *f == "memberships" {
                continue;
            }
            match updated.get(*f) {
                Some(v) => fields.insert(f.to_string(), v.clone()),
                None => fields.remove(*f),
            };
        }
        let groups = if mask.contains(&"memberships") {
            let groups = self.resolve_memberships(&person::input_memberships(person)?)?;
            if groups.is_empty() {
                return Err(ApiError::failed_precondition(
                    "A contact must be a member of at least one contact group.",
                ));
            }
            Some(groups)
        } else {
            None
        };
        let size = contact_size(&fields)?;
        self.check_storage(current.size, size)?;
        Ok(PreparedUpdate {
            fields,
            groups,
            size,
        })
    }

    pub(super) fn apply_update(
        &mut self,
        counters: &mut Counters,
        user_id: &str,
        num: u64,
        update: PreparedUpdate,
        now: &str,
    ) {
        let PreparedUpdate {
            fields,
            groups,
            size,
        } = update;
        if let Some(c) = self.contacts.get_mut(&num) {
            self.total_bytes = self.total_bytes - c.size + size;
            c.fields = fields;
            c.size = size;
            if let Some(g) = groups {
                c.groups = g;
            }
        }
        self.bump_contact(counters, user_id, num, now);
        self.system_update_time = now.to_string();
    }
}
