//! Planning, as pure functions: what to create, update and delete in one destination user's account so that this
//! sync's managed contacts equal the source contacts. No I/O; [`super::apply`] executes the plan.
//!
//! Rules:
//! - Only contacts carrying this sync's id marker are considered. A user's own contacts (even with the same email,
//!   even inside our label) and other syncs' contacts are never updated or deleted.
//! - A source contact without a managed copy is created (in My Contacts and the label, markers set).
//! - A managed copy is updated when its stored hash or its current content differs from the source, or it is no
//!   longer in the label. Updates replace every copyable field, the markers and the memberships.
//! - Managed copies of the same source beyond the first (e.g. after a crash) are deleted, as are managed copies
//!   whose source is gone or which carry no source marker.

use std::collections::BTreeMap;

use serde_json::Value;

use super::markers::{self, Markers};
use super::normalize::{self, NormalizedContact};
use crate::google::{COPYABLE_PERSON_FIELDS, Membership, Person};
use crate::model::{PlannedChange, PlannedChanges};

/// The system group every visible contact belongs to.
pub const MY_CONTACTS: &str = "contactGroups/myContacts";

/// The `updateMask` of a full update: every copyable field, the markers and the memberships.
pub fn full_update_mask() -> String {
    let mut fields: Vec<&str> = COPYABLE_PERSON_FIELDS.to_vec();
    fields.push("clientData");
    fields.push("memberships");
    fields.join(",")
}

/// The `updateMask` of a release (markers dropped, nothing else touched).
pub const RELEASE_UPDATE_MASK: &str = "clientData";

/// One contact of the source group, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceContact {
    /// The contact's resource name in the source user's account (`people/c...`).
    pub resource_name: String,
    /// For dry-run plans only.
    pub display_name: String,
    pub fields: BTreeMap<String, Value>,
    pub hash: String,
}

impl SourceContact {
    /// Normalises a contact read from the source user. `None` without a resource name.
    pub fn from_person(person: &Person) -> Option<SourceContact> {
        let resource_name = person.resource_name.clone()?;
        let NormalizedContact { fields, hash } = normalize::normalize(person);
        Some(SourceContact {
            resource_name,
            display_name: person.display_name(),
            fields,
            hash,
        })
    }
}

/// What to write to one destination user.
///
/// Creates are kept as the source contacts they copy and turned into complete new contacts
/// ([`Plan::new_contact`]) only when their batch is sent: a first sync of a large group then holds one batch of
/// request bodies per user in flight, not the whole group's.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'a> {
    sync_id: &'a str,
    label: Option<&'a str>,
    /// The source contacts to create a copy of.
    pub creates: Vec<&'a SourceContact>,
    /// Destination resource name -> full replacement carrying the current etag; send with [`full_update_mask`].
    pub updates: BTreeMap<String, Person>,
    /// Destination resource names.
    pub deletes: Vec<String>,
    /// Managed contacts already equal to their source.
    pub unchanged: u32,
    /// The same plan, readable: source resource names for creates and updates, destination ones for deletes.
    pub changes: PlannedChanges,
}

impl Plan<'_> {
    /// Whether the plan writes anything.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty() && self.updates.is_empty() && self.deletes.is_empty()
    }

    /// The new contact copying `source`: its fields, the markers, and memberships of My Contacts and the label.
    pub fn new_contact(&self, source: &SourceContact) -> Person {
        new_contact(self.sync_id, self.label, source)
    }
}

/// Plans one destination user.
///
/// `label` is the label's resource name in the destination account, `None` when it does not exist yet (dry runs
/// before the first real run): then creates carry no label membership and every managed contact needs one.
pub fn plan<'a>(
    sync_id: &'a str,
    label: Option<&'a str>,
    sources: &'a BTreeMap<String, SourceContact>,
    contacts: &[Person],
) -> Plan<'a> {
    let mut out = Plan {
        sync_id,
        label,
        creates: Vec::new(),
        updates: BTreeMap::new(),
        deletes: Vec::new(),
        unchanged: 0,
        changes: PlannedChanges::default(),
    };

    // Managed contacts of this sync, grouped by their source; the rest of ours are orphans.
    let mut by_source: BTreeMap<&str, Vec<&Person>> = BTreeMap::new();
    for person in contacts
        .iter()
        .filter(|p| markers::is_managed_by(p, sync_id) && p.resource_name.is_some())
    {
        match markers::source_of(person).filter(|s| sources.contains_key(*s)) {
            Some(source) => by_source.entry(source).or_default().push(person),
            None => delete(&mut out, person),
        }
    }

    for (source_name, source) in sources {
        let copies = by_source.remove(source_name.as_str()).unwrap_or_default();
        let mut copies: Vec<&Person> = copies;
        copies.sort_by(|a, b| a.resource_name.cmp(&b.resource_name));
        // Keep the copy that is already up to date if there is one, else the first; delete the others.
        let keep = copies
            .iter()
            .position(|p| is_current(p, source, label))
            .unwrap_or(0);
        for (i, copy) in copies.iter().enumerate() {
            if i != keep {
                delete(&mut out, copy);
            }
        }
        match copies.get(keep) {
            None => {
                out.creates.push(source);
                out.changes.creates.push(change(source));
            }
            Some(copy) if is_current(copy, source, label) => out.unchanged += 1,
            Some(copy) => {
                if let Some(name) = copy.resource_name.clone() {
                    out.updates
                        .insert(name, replacement(sync_id, label, source, copy));
                    out.changes.updates.push(change(source));
                }
            }
        }
    }
    out
}

/// What removing this sync from a user (a leaver, or a clean-up run) does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Removal {
    /// This sync's managed contacts.
    pub deletes: Vec<String>,
    /// For dry runs.
    pub changes: Vec<PlannedChange>,
    /// Whether contacts that are not this sync's (the user's own, another sync's) are in the label: then the label is
    /// kept, because deleting it would take those contacts out of a label the user relies on.
    pub label_has_other_contacts: bool,
}

/// Plans removing every managed contact of `sync_id` from a user.
pub fn plan_removal(sync_id: &str, label: Option<&str>, contacts: &[Person]) -> Removal {
    let mut removal = Removal::default();
    for person in contacts {
        if markers::is_managed_by(person, sync_id) {
            if let Some(name) = &person.resource_name {
                removal.deletes.push(name.clone());
                removal.changes.push(PlannedChange {
                    resource_name: name.clone(),
                    display_name: person.display_name(),
                });
            }
        } else if label.is_some_and(|l| person.is_member_of(l)) {
            removal.label_has_other_contacts = true;
        }
    }
    removal
}

/// Plans releasing every managed contact of `sync_id` (markers dropped, contacts kept as the user's own): resource
/// name -> update carrying the etag and the remaining clientData; send with [`RELEASE_UPDATE_MASK`].
pub fn plan_release(sync_id: &str, contacts: &[Person]) -> BTreeMap<String, Person> {
    contacts
        .iter()
        .filter(|p| markers::is_managed_by(p, sync_id))
        .filter_map(|p| {
            let name = p.resource_name.clone()?;
            let update = Person {
                resource_name: Some(name.clone()),
                etag: p.etag.clone(),
                client_data: markers::foreign_client_data(p),
                ..Person::default()
            };
            Some((name, update))
        })
        .collect()
}

/// A managed copy is current when the hash it was written with, the hash of its content now and its label
/// membership all agree with the source.
fn is_current(copy: &Person, source: &SourceContact, label: Option<&str>) -> bool {
    markers::hash_of(copy) == Some(source.hash.as_str())
        && normalize::normalize(copy).hash == source.hash
        && label.is_some_and(|l| copy.is_member_of(l))
}

fn delete(out: &mut Plan<'_>, person: &Person) {
    if let Some(name) = &person.resource_name {
        out.deletes.push(name.clone());
        out.changes.deletes.push(PlannedChange {
            resource_name: name.clone(),
            display_name: person.display_name(),
        });
    }
}

fn change(source: &SourceContact) -> PlannedChange {
    PlannedChange {
        resource_name: source.resource_name.clone(),
        display_name: source.display_name.clone(),
    }
}

fn markers_for(sync_id: &str, source: &SourceContact) -> Markers {
    Markers {
        sync_id: sync_id.to_owned(),
        source: source.resource_name.clone(),
        hash: source.hash.clone(),
    }
}

fn new_contact(sync_id: &str, label: Option<&str>, source: &SourceContact) -> Person {
    let mut memberships = vec![Membership::of_group(MY_CONTACTS)];
    if let Some(label) = label {
        memberships.push(Membership::of_group(label));
    }
    Person {
        memberships,
        client_data: markers_for(sync_id, source).to_client_data(),
        fields: source.fields.clone(),
        ..Person::default()
    }
}

/// The full replacement of a managed copy: the source's fields, our markers plus other applications' clientData,
/// and the copy's contact-group memberships (the user's own labels are kept) plus My Contacts and the label.
fn replacement(
    sync_id: &str,
    label: Option<&str>,
    source: &SourceContact,
    copy: &Person,
) -> Person {
    let mut groups: Vec<String> = copy
        .memberships
        .iter()
        .filter_map(|m| m.contact_group_membership.as_ref())
        .filter_map(|g| g.contact_group_resource_name.clone())
        .collect();
    for required in std::iter::once(MY_CONTACTS).chain(label) {
        if !groups.iter().any(|g| g == required) {
            groups.push(required.to_owned());
        }
    }
    Person {
        resource_name: copy.resource_name.clone(),
        etag: copy.etag.clone(),
        memberships: groups.iter().map(|g| Membership::of_group(g)).collect(),
        client_data: markers::client_data_with(copy, &markers_for(sync_id, source)),
        metadata: None,
        fields: source.fields.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::ClientData;
    use proptest::prelude::*;
    use serde_json::json;

    const SYNC: &str = "SYNC1";
    const LABEL: &str = "contactGroups/label1";

    fn source(name: &str, given: &str) -> SourceContact {
        let person: Person = serde_json::from_value(json!({
            "resourceName": name,
            "names": [{"givenName": given}],
            "emailAddresses": [{"value": format!("{given}@example.com")}]
        }))
        .expect("person");
        SourceContact::from_person(&person).expect("resource name")
    }

    fn sources(list: impl IntoIterator<Item = SourceContact>) -> BTreeMap<String, SourceContact> {
        list.into_iter()
            .map(|s| (s.resource_name.clone(), s))
            .collect()
    }

    /// A destination contact as Google would return it after we wrote `written` under `name`.
    fn stored(name: &str, written: &Person) -> Person {
        Person {
            resource_name: Some(name.to_owned()),
            etag: Some(format!("etag-{name}")),
            ..written.clone()
        }
    }

    fn managed(name: &str, sync: &str, src: &SourceContact) -> Person {
        stored(name, &new_contact(sync, Some(LABEL), src))
    }

    fn own_contact(name: &str, email: &str, in_label: bool) -> Person {
        let mut p: Person = serde_json::from_value(json!({
            "resourceName": name,
            "etag": "e",
            "names": [{"givenName": "Mine"}],
            "emailAddresses": [{"value": email}]
        }))
        .expect("person");
        p.memberships.push(Membership::of_group(MY_CONTACTS));
        if in_label {
            p.memberships.push(Membership::of_group(LABEL));
        }
        p
    }

    #[test]
    fn first_run_creates_everything_with_markers_and_memberships() {
        let a = source("people/a", "Ann");
        let srcs = sources([a.clone()]);
        let plan = plan(SYNC, Some(LABEL), &srcs, &[]);
        assert_eq!(plan.creates.len(), 1);
        assert_eq!(plan.creates[0], &a);
        let created = plan.new_contact(plan.creates[0]);
        assert_eq!(created.fields, a.fields);
        assert!(created.is_member_of(LABEL) && created.is_member_of(MY_CONTACTS));
        assert_eq!(created.client_data_value(markers::SYNC_ID_KEY), Some(SYNC));
        assert_eq!(
            created.client_data_value(markers::SOURCE_KEY),
            Some("people/a")
        );
        assert_eq!(
            created.client_data_value(markers::HASH_KEY),
            Some(a.hash.as_str())
        );
        assert!(created.resource_name.is_none() && created.etag.is_none());
        assert_eq!(plan.changes.creates[0].display_name, "Ann");
    }

    #[test]
    fn unchanged_contacts_are_left_alone() {
        let a = source("people/a", "Ann");
        let srcs = sources([a.clone()]);
        let plan = plan(SYNC, Some(LABEL), &srcs, &[managed("people/x", SYNC, &a)]);
        assert!(plan.is_empty());
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn source_edits_user_edits_and_label_removal_cause_updates() {
        let a = source("people/a", "Ann");
        let edited_source = source("people/a", "Anne");

        // Source changed.
        let srcs = sources([edited_source.clone()]);
        let p = plan(SYNC, Some(LABEL), &srcs, &[managed("people/x", SYNC, &a)]);
        assert_eq!(p.updates.len(), 1);
        let update = &p.updates["people/x"];
        assert_eq!(update.etag.as_deref(), Some("etag-people/x"));
        assert_eq!(update.fields, edited_source.fields);
        assert_eq!(
            update.client_data_value(markers::HASH_KEY),
            Some(edited_source.hash.as_str())
        );

        // The user edited the copy (stored hash still matches the source).
        let mut edited_copy = managed("people/x", SYNC, &a);
        edited_copy
            .fields
            .insert("names".into(), json!([{"givenName": "Changed"}]));
        let srcs = sources([a.clone()]);
        let p = plan(SYNC, Some(LABEL), &srcs, &[edited_copy]);
        assert_eq!(p.updates["people/x"].fields, a.fields);

        // The user took the copy out of the label but put it in one of their own.
        let mut unlabelled = managed("people/x", SYNC, &a);
        unlabelled.memberships = vec![
            Membership::of_group(MY_CONTACTS),
            Membership::of_group("contactGroups/theirs"),
        ];
        let p = plan(SYNC, Some(LABEL), &srcs, &[unlabelled]);
        let update = &p.updates["people/x"];
        assert!(update.is_member_of(LABEL) && update.is_member_of("contactGroups/theirs"));
        assert!(update.is_member_of(MY_CONTACTS));
    }

    #[test]
    fn updates_keep_other_applications_client_data() {
        let a = source("people/a", "Ann");
        let mut copy = managed("people/x", SYNC, &a);
        copy.client_data.push(ClientData {
            key: "crm.id".into(),
            value: "42".into(),
        });
        copy.fields
            .insert("names".into(), json!([{"givenName": "Changed"}]));
        let srcs = sources([a]);
        let p = plan(SYNC, Some(LABEL), &srcs, &[copy]);
        assert_eq!(
            p.updates["people/x"].client_data_value("crm.id"),
            Some("42")
        );
    }

    #[test]
    fn source_deletions_and_duplicates_are_deleted() {
        let a = source("people/a", "Ann");
        let b = source("people/b", "Bob");
        let contacts = vec![
            managed("people/x1", SYNC, &a),
            managed("people/x2", SYNC, &a),
            managed("people/y", SYNC, &b),
        ];
        let srcs = sources([a]);
        let p = plan(SYNC, Some(LABEL), &srcs, &contacts);
        let mut deletes = p.deletes.clone();
        deletes.sort();
        assert_eq!(deletes, vec!["people/x2".to_owned(), "people/y".to_owned()]);
        assert_eq!(p.unchanged, 1);
        assert!(p.creates.is_empty() && p.updates.is_empty());
    }

    #[test]
    fn duplicates_keep_the_current_copy() {
        let a = source("people/a", "Ann");
        let mut stale = managed("people/x1", SYNC, &a);
        stale
            .fields
            .insert("names".into(), json!([{"givenName": "Old"}]));
        let current = managed("people/x2", SYNC, &a);
        let srcs = sources([a]);
        let p = plan(SYNC, Some(LABEL), &srcs, &[stale, current]);
        assert_eq!(p.deletes, vec!["people/x1".to_owned()]);
        assert!(p.updates.is_empty());
    }

    #[test]
    fn unmanaged_and_other_syncs_contacts_are_never_touched() {
        let a = source("people/a", "Ann");
        let contacts = vec![
            own_contact("people/own1", "Ann@example.com", true),
            own_contact("people/own2", "other@example.com", false),
            managed("people/other-sync", "SYNC2", &a),
        ];
        let srcs = sources([a]);
        let p = plan(SYNC, Some(LABEL), &srcs, &contacts);
        assert_eq!(p.creates.len(), 1);
        assert!(p.updates.is_empty() && p.deletes.is_empty());
    }

    #[test]
    fn without_a_label_creates_have_no_label_and_copies_need_one() {
        let a = source("people/a", "Ann");
        let srcs = sources([a.clone()]);
        let p = plan(SYNC, None, &srcs, &[]);
        assert!(!p.new_contact(p.creates[0]).is_member_of(LABEL));
        let srcs = sources([a.clone()]);
        let p = plan(SYNC, None, &srcs, &[managed("people/x", SYNC, &a)]);
        assert_eq!(p.updates.len(), 1);
    }

    #[test]
    fn removal_deletes_only_ours_and_notices_other_contacts_in_the_label() {
        let a = source("people/a", "Ann");
        let ours = managed("people/x", SYNC, &a);
        let theirs = managed("people/y", "SYNC2", &a);
        let r = plan_removal(
            SYNC,
            Some(LABEL),
            &[ours.clone(), own_contact("people/o", "o@x", false)],
        );
        assert_eq!(r.deletes, vec!["people/x".to_owned()]);
        assert!(!r.label_has_other_contacts);
        let r = plan_removal(
            SYNC,
            Some(LABEL),
            &[ours.clone(), own_contact("people/o", "o@x", true)],
        );
        assert!(r.label_has_other_contacts);
        let r = plan_removal(SYNC, Some(LABEL), &[ours, theirs]);
        assert!(r.label_has_other_contacts);
    }

    #[test]
    fn release_strips_only_our_markers() {
        let a = source("people/a", "Ann");
        let mut ours = managed("people/x", SYNC, &a);
        ours.client_data.push(ClientData {
            key: "crm.id".into(),
            value: "1".into(),
        });
        let released = plan_release(SYNC, &[ours, own_contact("people/o", "o@x", true)]);
        assert_eq!(released.len(), 1);
        let update = &released["people/x"];
        assert_eq!(update.etag.as_deref(), Some("etag-people/x"));
        assert_eq!(update.client_data.len(), 1);
        assert_eq!(update.client_data_value("crm.id"), Some("1"));
    }

    #[test]
    fn full_update_mask_lists_every_copyable_field() {
        let mask = full_update_mask();
        for f in COPYABLE_PERSON_FIELDS {
            assert!(mask.split(',').any(|m| m == *f));
        }
        assert!(mask.ends_with("clientData,memberships"));
    }

    // ---- properties ----------------------------------------------------------------------------------------

    /// A destination account in a test: contacts by resource name.
    fn execute(contacts: &mut Vec<Person>, plan: &Plan<'_>, next_id: &mut u32) {
        contacts.retain(|p| {
            !p.resource_name
                .as_ref()
                .is_some_and(|n| plan.deletes.contains(n))
        });
        for person in contacts.iter_mut() {
            if let Some(update) = person
                .resource_name
                .as_ref()
                .and_then(|n| plan.updates.get(n))
            {
                *person = Person {
                    etag: Some(format!("etag-{next_id}")),
                    ..update.clone()
                };
                *next_id += 1;
            }
        }
        for create in &plan.creates {
            contacts.push(stored(
                &format!("people/new{next_id}"),
                &plan.new_contact(create),
            ));
            *next_id += 1;
        }
    }

    #[derive(Debug, Clone)]
    enum Dest {
        Copy {
            source: usize,
            edited: bool,
            in_label: bool,
        },
        OtherSync {
            source: usize,
        },
        Own {
            in_label: bool,
        },
        Orphan,
    }

    fn dest_strategy() -> impl Strategy<Value = Dest> {
        prop_oneof![
            (0usize..8, any::<bool>(), any::<bool>()).prop_map(|(source, edited, in_label)| {
                Dest::Copy {
                    source,
                    edited,
                    in_label,
                }
            }),
            (0usize..8).prop_map(|source| Dest::OtherSync { source }),
            any::<bool>().prop_map(|in_label| Dest::Own { in_label }),
            Just(Dest::Orphan),
        ]
    }

    fn build(
        source_count: usize,
        old_sources: &[SourceContact],
        dests: &[Dest],
    ) -> (BTreeMap<String, SourceContact>, Vec<Person>) {
        let current: Vec<SourceContact> = (0..source_count)
            .map(|i| source(&format!("people/s{i}"), &format!("Name{i}")))
            .collect();
        let mut contacts = Vec::new();
        for (i, d) in dests.iter().enumerate() {
            let name = format!("people/d{i}");
            match d {
                Dest::Copy {
                    source: s,
                    edited,
                    in_label,
                } => {
                    let src = &old_sources[*s];
                    let mut p = managed(&name, SYNC, src);
                    if *edited {
                        p.fields
                            .insert("names".into(), json!([{"givenName": "Edited"}]));
                    }
                    if !*in_label {
                        p.memberships = vec![Membership::of_group(MY_CONTACTS)];
                    }
                    contacts.push(p);
                }
                Dest::OtherSync { source: s } => {
                    contacts.push(managed(&name, "SYNC2", &old_sources[*s]))
                }
                Dest::Own { in_label } => {
                    contacts.push(own_contact(&name, "Name0@example.com", *in_label))
                }
                Dest::Orphan => {
                    let mut p = own_contact(&name, "x@x", true);
                    p.client_data = vec![ClientData {
                        key: markers::SYNC_ID_KEY.into(),
                        value: SYNC.into(),
                    }];
                    contacts.push(p);
                }
            }
        }
        (sources(current), contacts)
    }

    proptest! {
        #[test]
        fn plans_converge_in_one_step_and_never_touch_what_is_not_ours(
            source_count in 0usize..6,
            renamed in proptest::collection::vec(any::<bool>(), 8),
            dests in proptest::collection::vec(dest_strategy(), 0..12),
        ) {
            // Destination copies were written from an older source state: some sources were edited since.
            let old_sources: Vec<SourceContact> = (0..8)
                .map(|i| {
                    let given = if renamed[i] { format!("Old{i}") } else { format!("Name{i}") };
                    source(&format!("people/s{i}"), &given)
                })
                .collect();
            let (sources, mut contacts) = build(source_count, &old_sources, &dests);
            let untouchable: Vec<Person> = contacts
                .iter()
                .filter(|p| !markers::is_managed_by(p, SYNC))
                .cloned()
                .collect();

            let first = plan(SYNC, Some(LABEL), &sources, &contacts);
            for name in first.updates.keys().chain(first.deletes.iter()) {
                let target = contacts.iter().find(|p| p.resource_name.as_ref() == Some(name));
                prop_assert!(target.is_some_and(|p| markers::is_managed_by(p, SYNC)));
            }
            let counted = first.creates.len() + first.updates.len() + first.unchanged as usize;
            prop_assert_eq!(counted, sources.len());

            let mut next_id = 0;
            execute(&mut contacts, &first, &mut next_id);

            // One step converges: the next plan is empty and every source has exactly one current copy.
            let second = plan(SYNC, Some(LABEL), &sources, &contacts);
            prop_assert!(second.is_empty(), "second plan not empty: {:?}", second);
            prop_assert_eq!(second.unchanged as usize, sources.len());
            for name in sources.keys() {
                let copies = contacts
                    .iter()
                    .filter(|p| markers::is_managed_by(p, SYNC) && markers::source_of(p) == Some(name.as_str()))
                    .count();
                prop_assert_eq!(copies, 1);
            }
            // What is not ours is exactly as it was.
            for p in &untouchable {
                prop_assert!(contacts.contains(p));
            }
        }
    }
}
