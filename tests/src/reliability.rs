//! Helpers of the reliability suite (`tests/tests/reliability_*.rs`, `tests/tests/api_fuzz_*.rs`) and of the
//! benchmark harness (`infra/bench`): generated worlds (the emulator's [`Seed`]), the exact-state check of every
//! destination against the source, a clock that can be moved past a lease, and a People API decorator that "crashes"
//! the executor after a given number of writes.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use contact_sync::api::ApiContext;
use contact_sync::api::ops;
use contact_sync::api::request::CreateSyncRequest;
use contact_sync::clock::Clock;
use contact_sync::dispatch::{DispatchError, Dispatcher};
use contact_sync::google::{ContactGroup, GoogleError, PeopleApi, Person, RetryPolicy};
use contact_sync::model::{ExecutorEvent, SyncDefinition};
use contact_sync::sync::Engine;
use contact_sync::sync::markers;
use contact_sync::sync::normalize::normalize_fields;
use google_emulator::{
    DEFAULT_DELEGATION_SCOPES, RunningEmulator, Seed, SeedContactGroup, SeedUser,
};

use crate::executor_support::Rig;
use contact_sync::api::api_function;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use local_stack::event::{Caller, IncomingRequest, api_gateway_v2_event, lambda_request};
use local_stack::gateway::match_path;
use local_stack::template::{Route, default_template_path, load_routes};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The generated customer's domain.
pub const DOMAIN: &str = "example.com";
/// The administrator the Directory reads impersonate (the executor rig's).
pub const ADMIN_EMAIL: &str = crate::executor_support::ADMIN;
/// The user whose contact group is copied.
pub const SOURCE_EMAIL: &str = "source@example.com";
/// The source user's contact group (and so the label in every destination).
pub const SOURCE_GROUP: &str = "Customers";
/// The org unit holding every destination user; syncs target it.
pub const DESTINATION_OU: &str = "/Field";
/// A suspended user inside [`DESTINATION_OU`]: never a destination.
pub const SUSPENDED_EMAIL: &str = "suspended@example.com";

/// What a generated world holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorldSpec {
    /// Contacts in the source user's [`SOURCE_GROUP`].
    pub contacts: usize,
    /// Active users in [`DESTINATION_OU`].
    pub destinations: usize,
    /// The destination users' own contacts each (one of them shares an email with a synced contact).
    pub own_contacts: usize,
    /// Makes the generated contacts reproducible.
    pub seed: u64,
}

/// The primary email of destination user `index` (0-based).
pub fn destination_email(index: usize) -> String {
    format!("user{:05}@{DOMAIN}", index + 1)
}

fn seed_user(email: &str, given: &str, family: &str, org_unit: &str) -> SeedUser {
    SeedUser {
        email: email.to_owned(),
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        org_unit: org_unit.to_owned(),
        is_admin: false,
        suspended: false,
        archived: false,
        aliases: Vec::new(),
    }
}

const GIVEN: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sofia", "Lucas", "Mia", "Hugo", "Zoe",
    "Arjun", "Chloe", "Kenji", "Amara", "Jonas",
];
const FAMILY: &[&str] = &[
    "Bennett",
    "Carter",
    "Schultz",
    "Okafor",
    "Tanaka",
    "Garcia",
    "Novak",
    "Dubois",
    "Rossi",
    "Lindqvist",
    "Haddad",
    "Kowalski",
    "Moreau",
    "Silva",
    "Nakamura",
    "O'Connor",
];
const COMPANIES: &[&str] = &[
    "Northwind Traders",
    "Contoso Ltd",
    "Fabrikam GmbH",
    "Tailspin Toys",
    "Wide World Importers",
    "Adventure Works",
    "Proseware Inc",
    "Litware SA",
];
const TITLES: &[&str] = &[
    "Purchasing Manager",
    "IT Director",
    "Head of Procurement",
    "Account Executive",
    "Operations Lead",
    "CFO",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Seattle", "WA", "US"),
    ("Berlin", "Berlin", "DE"),
    ("Lyon", "Auvergne-Rhone-Alpes", "FR"),
    ("Osaka", "Osaka", "JP"),
    ("Toronto", "ON", "CA"),
    ("Madrid", "Madrid", "ES"),
];

/// Source contact `index`: every contact has a name, an email, a phone and an organisation; others add addresses,
/// biographies, urls, birthdays, events, relations, nicknames and user-defined fields, so every copyable field
/// is exercised.
pub fn source_contact(index: usize, rng: &mut StdRng) -> Value {
    let given = GIVEN[rng.random_range(0..GIVEN.len())];
    let family = FAMILY[rng.random_range(0..FAMILY.len())];
    let company = COMPANIES[rng.random_range(0..COMPANIES.len())];
    let slug: String = company
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let email = format!(
        "{}.{}{index}@{slug}.example",
        given.to_ascii_lowercase(),
        family.to_ascii_lowercase().replace('\'', "")
    );
    let mut contact = json!({
        "names": [{"givenName": given, "familyName": family}],
        "emailAddresses": [{"value": email, "type": "work"}],
        "phoneNumbers": [{"value": format!("+1 206-555-{:04}", rng.random_range(0..10_000)), "type": "work"}],
        "organizations": [{
            "name": company,
            "title": TITLES[rng.random_range(0..TITLES.len())],
            "type": "work"
        }],
    });
    let mut add = |field: &str, value: Value| {
        if let Some(object) = contact.as_object_mut() {
            object.insert(field.to_owned(), value);
        }
    };
    if index.is_multiple_of(3) {
        let (city, region, country) = CITIES[rng.random_range(0..CITIES.len())];
        add(
            "addresses",
            json!([{
                "streetAddress": format!("{} Market St", rng.random_range(1..2000)),
                "city": city,
                "region": region,
                "postalCode": format!("{:05}", rng.random_range(10_000..99_999)),
                "countryCode": country,
                "type": "work"
            }]),
        );
    }
    if index % 4 == 1 {
        add(
            "biographies",
            json!([{"value": format!("Met at trade fair #{index}. Prefers email.")}]),
        );
        add(
            "urls",
            json!([{"value": format!("https://{slug}.example/team/{index}"), "type": "work"}]),
        );
    }
    if index % 5 == 2 {
        add(
            "birthdays",
            json!([{"date": {"year": rng.random_range(1950..2000), "month": rng.random_range(1..13), "day": rng.random_range(1..29)}}]),
        );
        add("nicknames", json!([{"value": format!("{given}{index}")}]));
    }
    if index % 7 == 3 {
        add(
            "events",
            json!([{"date": {"year": 2019, "month": 6, "day": rng.random_range(1..29)}, "type": "anniversary"}]),
        );
        add(
            "relations",
            json!([{"person": format!("{} {family}", GIVEN[rng.random_range(0..GIVEN.len())]), "type": "spouse"}]),
        );
    }
    if index % 6 == 5 {
        let tier = ["Gold", "Silver", "Bronze"][index % 3];
        add(
            "userDefined",
            json!([{"key": "Account tier", "value": tier}]),
        );
        add(
            "phoneNumbers",
            json!([
                {"value": format!("+1 206-555-{:04}", rng.random_range(0..10_000)), "type": "work"},
                {"value": format!("+1 425-555-{:04}", rng.random_range(0..10_000)), "type": "mobile"}
            ]),
        );
    }
    contact
}

/// A destination user's own contact; `shared_email` makes it look like a synced contact (same address).
fn own_contact(user: usize, index: usize, shared_email: Option<&str>) -> Value {
    let email = shared_email
        .map(str::to_owned)
        .unwrap_or_else(|| format!("friend{index}.of.user{user}@personal.example"));
    json!({
        "names": [{"givenName": format!("Friend{index}"), "familyName": format!("OfUser{user}")}],
        "emailAddresses": [{"value": email, "type": "home"}],
        "phoneNumbers": [{"value": format!("+44 20 7946 {:04}", (user * 31 + index) % 10_000), "type": "mobile"}],
        "biographies": [{"value": "My own contact: contact sync must never touch it."}],
    })
}

/// The world a spec describes: an admin, the source user with [`SOURCE_GROUP`], the destination users (plus one
/// suspended user) in [`DESTINATION_OU`], and each destination user's own contacts.
pub fn world_seed(spec: &WorldSpec) -> Seed {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let sources: Vec<Value> = (0..spec.contacts)
        .map(|i| source_contact(i, &mut rng))
        .collect();
    let mut admin = seed_user(ADMIN_EMAIL, "Ada", "Admin", "/");
    admin.is_admin = true;
    let mut users = vec![admin, seed_user(SOURCE_EMAIL, "Sam", "Source", "/")];
    users.extend((0..spec.destinations).map(|i| {
        seed_user(
            &destination_email(i),
            "Dest",
            &format!("User{i}"),
            DESTINATION_OU,
        )
    }));
    let mut suspended = seed_user(SUSPENDED_EMAIL, "Sid", "Suspended", DESTINATION_OU);
    suspended.suspended = true;
    users.push(suspended);

    let mut contacts = BTreeMap::new();
    if spec.own_contacts > 0 {
        for user in 0..spec.destinations {
            let own: Vec<Value> = (0..spec.own_contacts)
                .map(|j| {
                    let shared = (j == 0)
                        .then(|| sources.get(user % sources.len().max(1)))
                        .flatten()
                        .and_then(|c| c["emailAddresses"][0]["value"].as_str());
                    own_contact(user, j, shared)
                })
                .collect();
            contacts.insert(destination_email(user), own);
        }
    }
    let mut contact_groups = BTreeMap::new();
    contact_groups.insert(
        SOURCE_EMAIL.to_owned(),
        vec![SeedContactGroup {
            name: SOURCE_GROUP.to_owned(),
            contacts: sources,
        }],
    );
    Seed {
        customer_id: "C0bench01".to_owned(),
        domains: vec![DOMAIN.to_owned()],
        org_units: vec![DESTINATION_OU.to_owned()],
        users,
        groups: Vec::new(),
        contact_groups,
        contacts,
        delegation_scopes: DEFAULT_DELEGATION_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    }
}

// ---- the exact-state check -----------------------------------------------------------------------------------

fn person(value: &Value) -> Result<Person> {
    serde_json::from_value(value.clone()).context("a contact is not a People API Person")
}

fn resource_name(value: &Value) -> String {
    value["resourceName"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// What every destination must hold: the source group's contacts (by source resource name), normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub contacts: BTreeMap<String, BTreeMap<String, Value>>,
}

impl Expected {
    /// The normalised members of `group_resource_name` among the source user's contacts.
    pub fn from_source(source_contacts: &[Value], group_resource_name: &str) -> Result<Expected> {
        let mut contacts = BTreeMap::new();
        for value in source_contacts {
            let p = person(value)?;
            if p.is_member_of(group_resource_name) {
                contacts.insert(resource_name(value), normalize_fields(&p));
            }
        }
        Ok(Expected { contacts })
    }
}

/// The contacts of `contacts` that carry no contact-sync marker at all, by resource name (the user's own).
pub fn own_contacts(contacts: &[Value]) -> BTreeMap<String, Value> {
    contacts
        .iter()
        .filter(|c| {
            !c["clientData"].as_array().is_some_and(|entries| {
                entries.iter().any(|e| {
                    e["key"]
                        .as_str()
                        .is_some_and(|k| k.starts_with(markers::KEY_PREFIX))
                })
            })
        })
        .map(|c| (resource_name(c), c.clone()))
        .collect()
}

/// Checks one destination: exactly one managed contact per source contact, field by field equal after
/// normalisation, each in the label `label_resource_name`, and no managed contact without a source.
pub fn check_destination(
    user: &str,
    expected: &Expected,
    contacts: &[Value],
    sync_id: &str,
    label_resource_name: Option<&str>,
) -> Result<()> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for value in contacts {
        let p = person(value)?;
        if !markers::is_managed_by(&p, sync_id) {
            continue;
        }
        let source = markers::source_of(&p)
            .ok_or_else(|| {
                anyhow!(
                    "{user}: managed contact {} has no source",
                    resource_name(value)
                )
            })?
            .to_owned();
        *seen.entry(source.clone()).or_default() += 1;
        let Some(want) = expected.contacts.get(&source) else {
            bail!(
                "{user}: managed contact {} copies {source}, which is not in the source group",
                resource_name(value)
            );
        };
        let got = normalize_fields(&p);
        if &got != want {
            bail!(
                "{user}: contact copied from {source} differs from the source\n  want {}\n  got  {}",
                serde_json::to_string(want).unwrap_or_default(),
                serde_json::to_string(&got).unwrap_or_default()
            );
        }
        if let Some(label) = label_resource_name
            && !p.is_member_of(label)
        {
            bail!("{user}: contact copied from {source} is not in the label {label}");
        }
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    if !duplicates.is_empty() {
        bail!("{user}: duplicated contacts: {duplicates:?}");
    }
    let missing: Vec<_> = expected
        .contacts
        .keys()
        .filter(|k| !seen.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{user}: {} source contacts missing: {missing:?}",
            missing.len()
        );
    }
    Ok(())
}

/// The resource name of the user's contact group called `name`, if any.
pub fn contact_group_named(groups: &[Value], name: &str) -> Option<String> {
    groups
        .iter()
        .find(|g| {
            g["name"].as_str() == Some(name)
                && g["groupType"].as_str() != Some("SYSTEM_CONTACT_GROUP")
        })
        .and_then(|g| g["resourceName"].as_str())
        .map(str::to_owned)
}

// ---- runs --------------------------------------------------------------------------------------------------

/// A dispatcher that only records what it was asked to start (nothing runs).
#[derive(Debug, Default)]
pub struct RecordingDispatcher {
    events: std::sync::Mutex<Vec<ExecutorEvent>>,
}

impl RecordingDispatcher {
    pub fn events(&self) -> Vec<ExecutorEvent> {
        self.events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}

#[async_trait]
impl Dispatcher for RecordingDispatcher {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        match self.events.lock() {
            Ok(mut events) => events.push(event.clone()),
            Err(poisoned) => poisoned.into_inner().push(event.clone()),
        }
        Ok(())
    }
}

/// The API operations' context on a rig: its store and Google clients, runs only recorded.
pub fn api_context(rig: &Rig, dispatcher: Arc<RecordingDispatcher>) -> ApiContext {
    ApiContext::new(
        Arc::clone(&rig.store),
        Arc::clone(&rig.google.people),
        Arc::clone(&rig.google.directory),
        dispatcher,
    )
}

/// Creates a sync of [`SOURCE_GROUP`] to [`DESTINATION_OU`] through the API operation (references resolved as for
/// `POST /syncs`), without starting a run.
pub async fn create_sync(ctx: &ApiContext, name: &str) -> Result<SyncDefinition> {
    let request: CreateSyncRequest = serde_json::from_value(json!({
        "name": name,
        "source_user": SOURCE_EMAIL,
        "contact_group": SOURCE_GROUP,
        "destinations": [{"type": "org_unit", "value": DESTINATION_OU}],
        "run_immediately": false,
    }))
    .context("the create request")?;
    let created = ops::create_sync(ctx, "reliability-suite", request)
        .await
        .map_err(|e| anyhow!("creating the sync failed: {e:?}"))?;
    Ok(created.sync)
}

/// An executor like the rig's, over `people` (e.g. a [`CrashAfterWrites`]) and `clock`, continuations only
/// recorded.
pub fn engine_with(rig: &Rig, people: Arc<dyn PeopleApi>, clock: Arc<dyn Clock>) -> Engine {
    Engine::new(
        people,
        Arc::clone(&rig.google.directory),
        Arc::clone(&rig.store),
        Arc::new(RecordingDispatcher::default()),
        rig.engine.settings().clone(),
    )
    .with_clock(clock)
}

/// A deadline `minutes` after `clock`'s now.
pub fn deadline_after(clock: &dyn Clock, minutes: i64) -> DateTime<Utc> {
    clock.now() + chrono::Duration::minutes(minutes)
}

/// Retries that converge under a 10% fault rate and tight quotas without slowing the suite down (Retry-After
/// is still honoured).
pub fn test_retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    }
}

/// The system clock moved by a fixed offset (to step past a crashed run's lease).
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock(pub chrono::Duration);

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

/// Every destination's state in the emulator: exact copies of the source in the label, no duplicates, and each
/// user's own contacts exactly as in `own_before` (when given). Suspended users hold no managed contact.
pub fn verify_world(
    emulator: &RunningEmulator,
    spec: &WorldSpec,
    sync_id: &str,
    label_name: &str,
    own_before: Option<&BTreeMap<String, BTreeMap<String, Value>>>,
) -> Result<()> {
    let source_groups = emulator.contact_groups_of(SOURCE_EMAIL);
    let group = contact_group_named(&source_groups, SOURCE_GROUP)
        .ok_or_else(|| anyhow!("the source group {SOURCE_GROUP} is gone"))?;
    let expected = Expected::from_source(&emulator.contacts_of(SOURCE_EMAIL), &group)?;
    let mut failures = Vec::new();
    for i in 0..spec.destinations {
        let user = destination_email(i);
        let contacts = emulator.contacts_of(&user);
        let label = contact_group_named(&emulator.contact_groups_of(&user), label_name);
        if label.is_none() && !expected.contacts.is_empty() {
            failures.push(format!("{user}: no label {label_name:?}"));
        }
        if let Err(e) = check_destination(&user, &expected, &contacts, sync_id, label.as_deref()) {
            failures.push(format!("{e:#}"));
        }
        if let Some(before) = own_before.and_then(|b| b.get(&user))
            && &own_contacts(&contacts) != before
        {
            failures.push(format!("{user}: the user's own contacts were changed"));
        }
    }
    let suspended = emulator.contacts_of(SUSPENDED_EMAIL);
    if suspended.len() != own_contacts(&suspended).len() {
        failures.push(format!("{SUSPENDED_EMAIL} (suspended) received contacts"));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        bail!("{} problems:\n{}", failures.len(), failures.join("\n"))
    }
}

/// Each destination user's own contacts, to compare after runs.
pub fn snapshot_own(
    emulator: &RunningEmulator,
    spec: &WorldSpec,
) -> BTreeMap<String, BTreeMap<String, Value>> {
    (0..spec.destinations)
        .map(|i| {
            let user = destination_email(i);
            let own = own_contacts(&emulator.contacts_of(&user));
            (user, own)
        })
        .collect()
}

/// Changes the source group through the People API as the source user: edits `edit` contacts (new title and
/// phone), deletes `delete` contacts and adds `add` new ones to the group. Returns how many of each were done.
pub async fn change_source(
    people: &dyn PeopleApi,
    edit: usize,
    delete: usize,
    add: usize,
    seed: u64,
) -> Result<(usize, usize, usize)> {
    let groups = people.list_contact_groups(SOURCE_EMAIL).await?;
    let group: ContactGroup = groups
        .into_iter()
        .find(|g| g.name == SOURCE_GROUP)
        .ok_or_else(|| anyhow!("no source group"))?;
    let group = people
        .get_contact_group(SOURCE_EMAIL, &group.resource_name, 25_000)
        .await?;
    let members = group.member_resource_names.clone();
    let to_edit: Vec<String> = members.iter().step_by(3).take(edit).cloned().collect();
    let to_delete: Vec<String> = members
        .iter()
        .skip(1)
        .step_by(3)
        .take(delete)
        .cloned()
        .collect();
    if !to_edit.is_empty() {
        let current = people
            .batch_get_people(SOURCE_EMAIL, &to_edit, "organizations,phoneNumbers")
            .await?;
        let mut updates = BTreeMap::new();
        for (i, p) in current.into_iter().enumerate() {
            let Some(name) = p.resource_name.clone() else {
                continue;
            };
            let mut fields = BTreeMap::new();
            fields.insert(
                "organizations".to_owned(),
                json!([{"name": "Changed Corp", "title": format!("Edited title {seed}-{i}"), "type": "work"}]),
            );
            fields.insert(
                "phoneNumbers".to_owned(),
                json!([{"value": format!("+1 312-555-{:04}", (seed as usize * 7 + i) % 10_000), "type": "work"}]),
            );
            updates.insert(
                name,
                Person {
                    etag: p.etag.clone(),
                    fields,
                    ..Person::default()
                },
            );
        }
        people
            .batch_update_contacts(SOURCE_EMAIL, &updates, "organizations,phoneNumbers")
            .await?;
    }
    if !to_delete.is_empty() {
        people
            .batch_delete_contacts(SOURCE_EMAIL, &to_delete)
            .await?;
    }
    if add > 0 {
        let mut rng = StdRng::seed_from_u64(seed ^ 0xadd);
        let mut new = Vec::with_capacity(add);
        for i in 0..add {
            let mut p = person(&source_contact(10_000 + i, &mut rng))?;
            p.memberships = vec![contact_sync::google::Membership::of_group(
                &group.resource_name,
            )];
            new.push(p);
        }
        people.batch_create_contacts(SOURCE_EMAIL, &new).await?;
    }
    Ok((to_edit.len(), to_delete.len(), add))
}

// ---- crash injection -------------------------------------------------------------------------------------------

/// A People API decorator that lets `allowed` write calls through, the last of them reaching Google but never
/// answering, and holds every later write forever: the executor is "stopped after k writes" (abort its task once
/// [`CrashAfterWrites::crashed`] resolves). Reads pass through.
pub struct CrashAfterWrites {
    inner: Arc<dyn PeopleApi>,
    allowed: usize,
    writes: AtomicUsize,
    crashed: AtomicBool,
    notify: Notify,
}

impl CrashAfterWrites {
    pub fn new(inner: Arc<dyn PeopleApi>, allowed: usize) -> Arc<Self> {
        Arc::new(CrashAfterWrites {
            inner,
            allowed,
            writes: AtomicUsize::new(0),
            crashed: AtomicBool::new(false),
            notify: Notify::new(),
        })
    }

    /// Write calls attempted so far (including the held ones).
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Resolves once the crash point is reached.
    pub async fn crashed(&self) {
        loop {
            let notified = self.notify.notified();
            if self.crashed.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    fn crash(&self) {
        self.crashed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    async fn write<T, F>(&self, call: F) -> Result<T, GoogleError>
    where
        F: Future<Output = Result<T, GoogleError>>,
    {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n < self.allowed {
            return call.await;
        }
        if n == self.allowed {
            // The write reaches Google; its answer is lost with the process.
            let _applied = call.await;
        }
        self.crash();
        std::future::pending().await
    }
}

#[async_trait]
impl PeopleApi for CrashAfterWrites {
    async fn list_contact_groups(&self, user: &str) -> Result<Vec<ContactGroup>, GoogleError> {
        self.inner.list_contact_groups(user).await
    }
    async fn get_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        max_members: u32,
    ) -> Result<ContactGroup, GoogleError> {
        self.inner
            .get_contact_group(user, resource_name, max_members)
            .await
    }
    async fn create_contact_group(
        &self,
        user: &str,
        name: &str,
    ) -> Result<ContactGroup, GoogleError> {
        self.write(self.inner.create_contact_group(user, name))
            .await
    }
    async fn delete_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        delete_contacts: bool,
    ) -> Result<(), GoogleError> {
        self.write(
            self.inner
                .delete_contact_group(user, resource_name, delete_contacts),
        )
        .await
    }
    async fn modify_contact_group_members(
        &self,
        user: &str,
        resource_name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), GoogleError> {
        self.write(
            self.inner
                .modify_contact_group_members(user, resource_name, add, remove),
        )
        .await
    }
    async fn batch_get_people(
        &self,
        user: &str,
        resource_names: &[String],
        person_fields: &str,
    ) -> Result<Vec<Person>, GoogleError> {
        self.inner
            .batch_get_people(user, resource_names, person_fields)
            .await
    }
    async fn list_connections(
        &self,
        user: &str,
        person_fields: &str,
    ) -> Result<Vec<Person>, GoogleError> {
        self.inner.list_connections(user, person_fields).await
    }
    async fn batch_create_contacts(
        &self,
        user: &str,
        contacts: &[Person],
    ) -> Result<(), GoogleError> {
        self.write(self.inner.batch_create_contacts(user, contacts))
            .await
    }
    async fn batch_update_contacts(
        &self,
        user: &str,
        contacts: &BTreeMap<String, Person>,
        update_mask: &str,
    ) -> Result<(), GoogleError> {
        self.write(
            self.inner
                .batch_update_contacts(user, contacts, update_mask),
        )
        .await
    }
    async fn batch_delete_contacts(
        &self,
        user: &str,
        resource_names: &[String],
    ) -> Result<(), GoogleError> {
        self.write(self.inner.batch_delete_contacts(user, resource_names))
            .await
    }
}

/// Resource names that occur more than once (a duplicate would mean a contact was copied twice).
pub fn duplicate_sources(contacts: &[Value], sync_id: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut duplicates = BTreeSet::new();
    for value in contacts {
        let Ok(p) = person(value) else { continue };
        if !markers::is_managed_by(&p, sync_id) {
            continue;
        }
        if let Some(source) = markers::source_of(&p)
            && !seen.insert(source.to_owned())
        {
            duplicates.insert(source.to_owned());
        }
    }
    duplicates
}

// ---- the API through its real handlers ---------------------------------------------------------------------

/// What a handler answered.
#[derive(Debug, Clone)]
pub struct ApiAnswer {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON body (`Null` when empty or not JSON).
    pub body: Value,
    /// The body as text, for messages.
    pub text: String,
}

impl ApiAnswer {
    /// Whether the body is the API's error shape: `{"error": {"code": "...", "message": "...", ...}}`.
    pub fn has_error_body(&self) -> bool {
        let error = &self.body["error"];
        error.is_object()
            && error["code"].as_str().is_some_and(|c| !c.is_empty())
            && error["message"].as_str().is_some_and(|m| !m.is_empty())
    }
}

/// The template's HTTP API routes, each served by its function's real handler (as the local gateway and Lambda
/// serve them), with requests built as API Gateway (HTTP API, payload 2.0) delivers them.
pub struct ApiRoutes {
    pub routes: Vec<Route>,
}

impl ApiRoutes {
    pub fn load() -> Result<ApiRoutes> {
        Ok(ApiRoutes {
            routes: load_routes(&default_template_path())
                .context("reading template.yaml's routes")?,
        })
    }

    /// The route serving `method raw_path` and its decoded path parameters.
    pub fn route_for(
        &self,
        method: &str,
        raw_path: &str,
    ) -> Option<(&Route, BTreeMap<String, String>)> {
        self.routes.iter().find_map(|route| {
            (route.method.as_str() == method)
                .then(|| match_path(&route.path, raw_path))
                .flatten()
                .map(|params| (route, params))
        })
    }

    /// Sends one request to the handler of the route it matches; `None` when no route matches (API Gateway would
    /// answer 404 itself, before any function).
    pub async fn call(
        &self,
        ctx: &ApiContext,
        method: &str,
        raw_path: &str,
        raw_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Option<ApiAnswer>> {
        let Some((route, params)) = self.route_for(method, raw_path) else {
            return Ok(None);
        };
        let handler = api_function(&route.binary)
            .ok_or_else(|| anyhow!("no handler for the function {}", route.binary))?
            .handler;
        let mut header_map = HeaderMap::new();
        header_map.insert("host", HeaderValue::from_static("api.local"));
        for (name, value) in headers {
            header_map.insert(
                HeaderName::from_bytes(name.as_bytes()).context("a header name")?,
                HeaderValue::from_str(value).context("a header value")?,
            );
        }
        let method = Method::from_bytes(method.as_bytes()).context("the method")?;
        let request = IncomingRequest {
            route,
            method: &method,
            raw_path,
            raw_query,
            headers: &header_map,
            body,
            path_parameters: &params,
            source_ip: "127.0.0.1".to_owned(),
            request_id: ulid::Ulid::generate().to_string(),
        };
        let event = api_gateway_v2_event(&request, &Caller::default());
        let request = lambda_request(event).context("the API Gateway event")?;
        let response = match handler(ctx, request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes: &[u8] = response.body().as_ref();
        let text = String::from_utf8_lossy(bytes).into_owned();
        let body = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        Ok(Some(ApiAnswer {
            status,
            headers,
            body,
            text,
        }))
    }
}
