//! The Google clients against the real emulator (in-process, one per test): tokens, People API round trips as
//! two users, pagination, quotas with Retry-After, injected faults on reads and writes, stale etags,
//! refused delegation, and Directory lookups after a rename.

use std::collections::{BTreeMap, BTreeSet};

use contact_sync::google::GoogleEndpoints;
use contact_sync::google::{
    ClientData, GoogleClients, GoogleError, Membership, Person, RetryPolicy, ServiceAccountKey,
    TokenProvider, UserScope,
};
use google_emulator::{ConfigUpdate, EmulatorOptions, RunningEmulator, Seed};
use serde_json::{Value, json};

const ADMIN: &str = "admin@example.com";
const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const MARKER: &str = "test-marker";

fn seed_json(extra_users: usize) -> Value {
    let mut users = vec![
        json!({"email": ADMIN, "given_name": "Ada", "family_name": "Admin", "is_admin": true}),
        json!({"email": ANN, "given_name": "Ann", "family_name": "Archer", "org_unit": "/Sales"}),
        json!({"email": BOB, "given_name": "Bob", "family_name": "Baker", "org_unit": "/Sales/East Coast"}),
        json!({"email": "carl@example.com", "given_name": "Carl", "family_name": "Cole", "suspended": true}),
    ];
    for i in 0..extra_users {
        users.push(json!({
            "email": format!("user{i:04}@example.com"),
            "given_name": format!("User{i}"),
            "family_name": "Many",
            "org_unit": "/Sales",
        }));
    }
    json!({
        "domains": ["example.com"],
        "org_units": ["/Sales", "/Sales/East Coast"],
        "users": users,
        "groups": [
            {"email": "east@example.com", "name": "East", "members": [BOB]},
            {"email": "team@example.com", "name": "Team", "aliases": ["crew@example.com"],
             "members": [ANN, "east@example.com"]},
        ],
    })
}

fn seed(extra_users: usize) -> Seed {
    Seed::from_json(&seed_json(extra_users).to_string()).expect("seed")
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 8,
        ..RetryPolicy::fast()
    }
}

async fn start(opts: EmulatorOptions) -> (RunningEmulator, GoogleClients) {
    let emu = google_emulator::start(opts).await.expect("emulator");
    let clients = clients_for(&emu, fast_retry());
    (emu, clients)
}

fn clients_for(emu: &RunningEmulator, retry: RetryPolicy) -> GoogleClients {
    let key = ServiceAccountKey::from_json(&emu.service_account_key_json()).expect("key");
    let endpoints = GoogleEndpoints {
        people_base_url: emu.base_url(),
        directory_base_url: emu.base_url(),
    };
    GoogleClients::new(key, &endpoints, ADMIN, retry).expect("clients")
}

fn options(extra_users: usize) -> EmulatorOptions {
    EmulatorOptions {
        seed: Some(seed(extra_users)),
        rng_seed: Some(7),
        ..Default::default()
    }
}

fn contact(marker: &str) -> Person {
    Person {
        client_data: vec![ClientData {
            key: MARKER.to_owned(),
            value: marker.to_owned(),
        }],
        fields: BTreeMap::from([(
            "names".to_owned(),
            json!([{"givenName": "Contact", "familyName": marker}]),
        )]),
        ..Person::default()
    }
}

/// The markers of a user's contacts as the emulator holds them (with repeats).
fn markers_in_emulator(emu: &RunningEmulator, user: &str) -> Vec<String> {
    emu.contacts_of(user)
        .iter()
        .filter_map(|c| {
            c.get("clientData")?
                .as_array()?
                .iter()
                .find(|d| d.get("key").and_then(Value::as_str) == Some(MARKER))?
                .get("value")?
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn marker_of(p: &Person) -> Option<String> {
    p.client_data_value(MARKER).map(str::to_owned)
}

#[tokio::test]
async fn tokens_are_obtained_once_per_user_and_cached() {
    let (emu, clients) = start(options(0)).await;
    for _ in 0..3 {
        clients
            .people
            .list_contact_groups(ANN)
            .await
            .expect("groups");
    }
    assert_eq!(emu.stats().tokens_issued, 1);
    clients
        .people
        .list_contact_groups(BOB)
        .await
        .expect("groups");
    clients.directory.list_domains().await.expect("domains");
    clients.directory.get_user(ANN).await.expect("user");
    assert_eq!(
        emu.stats().tokens_issued,
        3,
        "ann, bob, and the admin's directory token"
    );
    let stats = clients.stats();
    assert_eq!(stats.token_requests, 3);
    assert_eq!(stats.requests, 6);
    assert_eq!(stats.retries, 0);
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire() {
    let (emu, clients) = start(options(0)).await;
    emu.configure(ConfigUpdate {
        token_lifetime_secs: Some(2),
        ..Default::default()
    });
    clients
        .people
        .list_contact_groups(ANN)
        .await
        .expect("groups");
    clients
        .people
        .list_contact_groups(ANN)
        .await
        .expect("groups");
    assert_eq!(emu.stats().tokens_issued, 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    clients
        .people
        .list_contact_groups(ANN)
        .await
        .expect("groups");
    assert_eq!(
        emu.stats().tokens_issued,
        2,
        "renewed within the refresh margin"
    );
    assert_eq!(clients.stats().retries, 0, "never sent an expired token");
}

#[tokio::test]
async fn contacts_round_trip_as_two_users() {
    let (emu, clients) = start(options(0)).await;
    let people = &clients.people;

    let label = people
        .create_contact_group(ANN, "Synced")
        .await
        .expect("label");
    assert!(label.resource_name.starts_with("contactGroups/"));
    let dup = people
        .create_contact_group(ANN, "Synced")
        .await
        .expect_err("duplicate name");
    assert!(dup.is_conflict(), "{dup:?}");

    let mut ann_contacts: Vec<Person> = (0..3).map(|i| contact(&format!("ann-{i}"))).collect();
    for c in &mut ann_contacts {
        c.memberships = vec![
            Membership::of_group("contactGroups/myContacts"),
            Membership::of_group(&label.resource_name),
        ];
    }
    people
        .batch_create_contacts(ANN, &ann_contacts)
        .await
        .expect("create ann");
    let bob_contacts: Vec<Person> = (0..2).map(|i| contact(&format!("bob-{i}"))).collect();
    people
        .batch_create_contacts(BOB, &bob_contacts)
        .await
        .expect("create bob");

    let fields = "names,clientData,memberships,metadata";
    let ann_listed = people
        .list_connections(ANN, fields)
        .await
        .expect("list ann");
    let bob_listed = people
        .list_connections(BOB, fields)
        .await
        .expect("list bob");
    let ann_markers: BTreeSet<_> = ann_listed.iter().filter_map(marker_of).collect();
    let bob_markers: BTreeSet<_> = bob_listed.iter().filter_map(marker_of).collect();
    assert_eq!(
        ann_markers,
        BTreeSet::from(["ann-0".into(), "ann-1".into(), "ann-2".into()])
    );
    assert_eq!(
        bob_markers,
        BTreeSet::from(["bob-0".into(), "bob-1".into()])
    );
    assert!(
        ann_listed
            .iter()
            .filter(|p| marker_of(p).is_some())
            .all(|p| p.is_member_of(&label.resource_name))
    );

    let group = people
        .get_contact_group(ANN, &label.resource_name, 100)
        .await
        .expect("group");
    assert_eq!(group.member_resource_names.len(), 3);

    // batchGet by resource name, then update one with its etag.
    let names: Vec<String> = ann_listed
        .iter()
        .filter(|p| marker_of(p).is_some())
        .filter_map(|p| p.resource_name.clone())
        .collect();
    let fetched = people
        .batch_get_people(ANN, &names, fields)
        .await
        .expect("batchGet");
    assert_eq!(fetched.len(), 3);
    let target = fetched
        .iter()
        .find(|p| marker_of(p).as_deref() == Some("ann-0"))
        .expect("ann-0");
    let rn = target.resource_name.clone().expect("resource name");
    let mut changed = target.clone();
    changed.fields.insert(
        "names".into(),
        json!([{"givenName": "Renamed", "familyName": "ann-0"}]),
    );
    people
        .batch_update_contacts(ANN, &BTreeMap::from([(rn.clone(), changed)]), "names")
        .await
        .expect("update");
    let after = people
        .batch_get_people(ANN, std::slice::from_ref(&rn), "names")
        .await
        .expect("reread");
    assert_eq!(after[0].fields["names"][0]["givenName"], json!("Renamed"));

    // Remove one from the label, then delete two contacts.
    people
        .modify_contact_group_members(ANN, &label.resource_name, &[], std::slice::from_ref(&rn))
        .await
        .expect("modify");
    let group = people
        .get_contact_group(ANN, &label.resource_name, 100)
        .await
        .expect("group");
    assert_eq!(group.member_resource_names.len(), 2);
    let to_delete: Vec<String> = names.iter().filter(|n| **n != rn).cloned().collect();
    people
        .batch_delete_contacts(ANN, &to_delete)
        .await
        .expect("delete");
    assert_eq!(markers_in_emulator(&emu, ANN), vec!["ann-0".to_owned()]);
    assert_eq!(
        markers_in_emulator(&emu, BOB).len(),
        2,
        "bob's contacts untouched"
    );

    let groups = people.list_contact_groups(ANN).await.expect("groups");
    assert!(
        groups
            .iter()
            .any(|g| g.resource_name == label.resource_name)
    );
    people
        .delete_contact_group(ANN, &label.resource_name, false)
        .await
        .expect("delete label");
    let groups = people.list_contact_groups(ANN).await.expect("groups");
    assert!(
        !groups
            .iter()
            .any(|g| g.resource_name == label.resource_name)
    );
    assert_eq!(
        markers_in_emulator(&emu, ANN),
        vec!["ann-0".to_owned()],
        "contacts kept"
    );
}

#[tokio::test]
async fn lists_page_beyond_one_page() {
    let (emu, clients) = start(options(520)).await;
    let contacts: Vec<Person> = (0..1050).map(|i| contact(&format!("c{i}"))).collect();
    clients
        .people
        .batch_create_contacts(ANN, &contacts)
        .await
        .expect("create");
    let stats = emu.stats();
    assert_eq!(
        stats.by_method.get("people.people.batchCreateContacts"),
        Some(&6)
    );

    let listed = clients
        .people
        .list_connections(ANN, "clientData")
        .await
        .expect("list");
    let markers: BTreeSet<_> = listed.iter().filter_map(marker_of).collect();
    assert_eq!(markers.len(), 1050);
    assert_eq!(
        emu.stats().by_method.get("people.people.connections.list"),
        Some(&2)
    );

    let names: Vec<String> = listed
        .iter()
        .filter_map(|p| p.resource_name.clone())
        .collect();
    let fetched = clients
        .people
        .batch_get_people(ANN, &names, "clientData")
        .await
        .expect("get");
    assert_eq!(fetched.len(), names.len());
    assert_eq!(
        emu.stats().by_method.get("people.people.getBatchGet"),
        Some(&6)
    );

    let users = clients
        .directory
        .list_users(&UserScope::Customer, None)
        .await
        .expect("users");
    assert_eq!(users.len(), 524);
    assert_eq!(emu.stats().by_method.get("directory.users.list"), Some(&2));
    let page = clients
        .directory
        .search_users("familyName:Many", 7)
        .await
        .expect("search");
    assert_eq!(page.len(), 7);

    clients
        .people
        .batch_delete_contacts(ANN, &names)
        .await
        .expect("delete");
    assert!(markers_in_emulator(&emu, ANN).is_empty());
    assert_eq!(
        emu.stats()
            .by_method
            .get("people.people.batchDeleteContacts"),
        Some(&3)
    );
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after() {
    let (emu, clients) = start(EmulatorOptions {
        read_quota_per_minute: Some(2),
        write_quota_per_minute: Some(1),
        quota_window_ms: 500,
        ..options(0)
    })
    .await;
    for _ in 0..3 {
        clients
            .people
            .list_contact_groups(ANN)
            .await
            .expect("read despite the quota");
    }
    for i in 0..2 {
        clients
            .people
            .batch_create_contacts(ANN, &[contact(&format!("q{i}"))])
            .await
            .expect("write despite the quota");
    }
    let stats = emu.stats();
    assert!(stats.rate_limited >= 2, "{stats:?}");
    assert!(clients.stats().retries >= 2);
    let mut markers = markers_in_emulator(&emu, ANN);
    markers.sort();
    assert_eq!(
        markers,
        vec!["q0".to_owned(), "q1".to_owned()],
        "429s were not applied"
    );
}

#[tokio::test]
async fn faulted_reads_are_retried_until_they_succeed() {
    let (emu, clients) = start(options(0)).await;
    clients
        .people
        .batch_create_contacts(ANN, &[contact("r")])
        .await
        .expect("create");
    emu.configure(ConfigUpdate {
        fault_rate: Some(0.3),
        ..Default::default()
    });
    for _ in 0..15 {
        let listed = clients
            .people
            .list_connections(ANN, "clientData")
            .await
            .expect("read");
        assert_eq!(listed.iter().filter_map(marker_of).count(), 1);
        clients
            .directory
            .get_user(BOB)
            .await
            .expect("directory read")
            .expect("bob");
    }
    assert!(emu.stats().faults > 0);
    assert_eq!(clients.stats().outcome_unknown, 0);
}

#[tokio::test]
async fn faulted_writes_are_outcome_unknown_and_never_duplicated() {
    let (emu, clients) = start(options(0)).await;
    emu.configure(ConfigUpdate {
        fault_rate: Some(0.5),
        ..Default::default()
    });
    let mut unknown = Vec::new();
    for i in 0..20 {
        let marker = format!("w{i}");
        match clients
            .people
            .batch_create_contacts(ANN, &[contact(&marker)])
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_outcome_unknown() => unknown.push(marker),
            Err(e) => panic!("a write may only succeed or be of unknown outcome: {e:?}"),
        }
    }
    assert!(!unknown.is_empty(), "faults were injected");
    assert_eq!(
        emu.stats()
            .by_method
            .get("people.people.batchCreateContacts"),
        Some(&20),
        "no write was repeated"
    );
    let held = markers_in_emulator(&emu, ANN);
    let distinct: BTreeSet<_> = held.iter().cloned().collect();
    assert_eq!(held.len(), distinct.len(), "no duplicate contacts");

    // What the engine does next: re-read, and create only what is missing.
    emu.configure(ConfigUpdate {
        fault_rate: Some(0.0),
        ..Default::default()
    });
    let listed = clients
        .people
        .list_connections(ANN, "clientData")
        .await
        .expect("reread");
    let present: BTreeSet<_> = listed.iter().filter_map(marker_of).collect();
    let missing: Vec<Person> = (0..20)
        .map(|i| format!("w{i}"))
        .filter(|m| !present.contains(m))
        .map(|m| contact(&m))
        .collect();
    assert!(
        missing
            .iter()
            .all(|p| marker_of(p).is_some_and(|m| unknown.contains(&m)))
    );
    clients
        .people
        .batch_create_contacts(ANN, &missing)
        .await
        .expect("create missing");
    let mut held = markers_in_emulator(&emu, ANN);
    held.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    expected.sort();
    assert_eq!(held, expected, "each contact exactly once");
}

#[tokio::test]
async fn a_stale_etag_is_recognised() {
    let (_emu, clients) = start(options(0)).await;
    let people = &clients.people;
    people
        .batch_create_contacts(ANN, &[contact("e")])
        .await
        .expect("create");
    let listed = people
        .list_connections(ANN, "names,clientData")
        .await
        .expect("list");
    let original = listed
        .into_iter()
        .find(|p| marker_of(p).is_some())
        .expect("contact");
    let rn = original.resource_name.clone().expect("resource name");
    let mut first = original.clone();
    first
        .fields
        .insert("names".into(), json!([{"givenName": "First"}]));
    people
        .batch_update_contacts(ANN, &BTreeMap::from([(rn.clone(), first)]), "names")
        .await
        .expect("first update");
    let mut second = original;
    second
        .fields
        .insert("names".into(), json!([{"givenName": "Second"}]));
    let err = people
        .batch_update_contacts(ANN, &BTreeMap::from([(rn, second)]), "names")
        .await
        .expect_err("stale etag");
    assert!(err.is_stale_etag(), "{err:?}");
    assert!(!err.is_outcome_unknown());
}

#[tokio::test]
async fn refused_delegation_and_unknown_users_are_auth_errors() {
    let mut s = seed_json(0);
    s["delegation_scopes"] = json!(["https://www.googleapis.com/auth/contacts"]);
    let (emu, clients) = start(EmulatorOptions {
        seed: Some(Seed::from_json(&s.to_string()).expect("seed")),
        ..options(0)
    })
    .await;
    let err = clients
        .directory
        .get_user(ANN)
        .await
        .expect_err("scope not authorised");
    match &err {
        GoogleError::Auth {
            subject,
            status,
            error,
            ..
        } => {
            assert_eq!(subject, ADMIN);
            assert_eq!(*status, 401);
            assert_eq!(error, "unauthorized_client");
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    let err = clients
        .people
        .list_contact_groups("nobody@example.com")
        .await
        .expect_err("unknown user");
    assert!(
        matches!(&err, GoogleError::Auth { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    assert_eq!(emu.stats().tokens_issued, 0);
    clients
        .people
        .list_contact_groups(ANN)
        .await
        .expect("contacts scope still works");
}

#[tokio::test]
async fn a_non_admin_gets_a_403_from_the_directory() {
    let emu = google_emulator::start(options(0)).await.expect("emulator");
    let key = ServiceAccountKey::from_json(&emu.service_account_key_json()).expect("key");
    let endpoints = GoogleEndpoints {
        people_base_url: emu.base_url(),
        directory_base_url: emu.base_url(),
    };
    let clients = GoogleClients::new(key, &endpoints, ANN, fast_retry()).expect("clients");
    let err = clients
        .directory
        .list_domains()
        .await
        .expect_err("not an admin");
    assert_eq!(err.http_status(), Some(403), "{err:?}");
    assert_eq!(
        clients.stats().retries,
        0,
        "a permission error is not retried"
    );
}

#[tokio::test]
async fn directory_lookups_follow_renames() {
    let mut s = seed_json(0);
    let mut scopes: Vec<Value> = google_emulator::DEFAULT_DELEGATION_SCOPES
        .iter()
        .map(|s| json!(s))
        .collect();
    scopes.push(json!(
        "https://www.googleapis.com/auth/admin.directory.user"
    ));
    s["delegation_scopes"] = Value::Array(scopes);
    let (emu, clients) = start(EmulatorOptions {
        seed: Some(Seed::from_json(&s.to_string()).expect("seed")),
        ..options(0)
    })
    .await;
    let dir = &clients.directory;
    let ann = dir.get_user(ANN).await.expect("get").expect("ann");
    assert_eq!(ann.org_unit_path.as_deref(), Some("/Sales"));

    // Rename ann the way an admin would (users.patch), with a token of the write scope.
    let key = ServiceAccountKey::from_json(&emu.service_account_key_json()).expect("key");
    let http = reqwest::Client::new();
    let tokens = TokenProvider::new(key, http.clone(), RetryPolicy::fast()).expect("tokens");
    let token = tokens
        .token(
            ADMIN,
            &["https://www.googleapis.com/auth/admin.directory.user"],
        )
        .await
        .expect("token");
    let response = http
        .patch(format!("{}/admin/directory/v1/users/{ANN}", emu.base_url()))
        .bearer_auth(token.secret())
        .json(&json!({"primaryEmail": "anna@example.com"}))
        .send()
        .await
        .expect("patch");
    assert!(response.status().is_success(), "{}", response.status());

    let by_id = dir.get_user(&ann.id).await.expect("get").expect("by id");
    assert_eq!(by_id.primary_email, "anna@example.com");
    let by_old = dir
        .get_user(ANN)
        .await
        .expect("get")
        .expect("by old address");
    assert_eq!(by_old.id, ann.id);
    assert!(by_old.aliases.iter().any(|a| a == ANN));
    assert_eq!(dir.get_user("ghost@example.com").await.expect("get"), None);

    // Groups by address, alias and id; nested membership flattened on request.
    let team = dir
        .get_group("crew@example.com")
        .await
        .expect("get")
        .expect("by alias");
    assert_eq!(team.email, "team@example.com");
    assert_eq!(
        dir.get_group(&team.id)
            .await
            .expect("get")
            .expect("by id")
            .id,
        team.id
    );
    assert_eq!(dir.get_group("nope@example.com").await.expect("get"), None);
    let direct = dir
        .list_group_members(&team.id, false)
        .await
        .expect("members");
    assert_eq!(direct.len(), 2);
    let derived = dir
        .list_group_members("team@example.com", true)
        .await
        .expect("members");
    let emails: BTreeSet<_> = derived.iter().filter_map(|m| m.email.clone()).collect();
    assert!(
        emails.contains("anna@example.com") && emails.contains(BOB),
        "{emails:?}"
    );
    let found = dir.search_groups("email:team*", 10).await.expect("groups");
    assert_eq!(found.len(), 1);

    // Org units by path (with a space), by id, the root; users of an OU and its sub-OUs.
    let units = dir.list_org_units().await.expect("ous");
    assert_eq!(units.len(), 2);
    let east = dir
        .get_org_unit("/Sales/East Coast")
        .await
        .expect("get")
        .expect("east");
    assert_eq!(east.org_unit_path, "/Sales/East Coast");
    let by_id = dir
        .get_org_unit(&east.org_unit_id)
        .await
        .expect("get")
        .expect("by id");
    assert_eq!(by_id.org_unit_path, "/Sales/East Coast");
    let root = dir.get_org_unit("/").await.expect("get").expect("root");
    assert_eq!(root.org_unit_path, "/");
    assert_eq!(dir.get_org_unit("/Nowhere").await.expect("get"), None);
    let sales = dir
        .list_users(
            &UserScope::Domain("example.com".to_owned()),
            Some("orgUnitPath='/Sales'"),
        )
        .await
        .expect("users");
    let sales: BTreeSet<_> = sales.into_iter().map(|u| u.primary_email).collect();
    assert_eq!(
        sales,
        BTreeSet::from(["anna@example.com".to_owned(), BOB.to_owned()])
    );
    let domains = dir.list_domains().await.expect("domains");
    assert_eq!(domains.len(), 1);
    assert!(domains[0].is_primary);
}
