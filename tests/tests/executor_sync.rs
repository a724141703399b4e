//! The executor against the Google emulator and moto: what a run does to destination users' contacts, and what it
//! costs in Google calls (the efficiency bounds).

use std::collections::BTreeMap;

use contact_sync::google::{COPYABLE_PERSON_FIELDS, Membership, Person};
use contact_sync::model::{DestinationKind, DestinationStatus, RunMode, RunStatus};
use contact_sync::sync::markers;
use contact_sync::sync::normalize::normalize_fields;
use contact_sync_tests::executor_support::{
    Rig, RigOptions, SOURCE, dest, full_contact, seed, small_contact, standard_seed,
};
use serde_json::{Value, json};

const ANN: &str = "ann@example.com";
const CAT: &str = "cat@example.com";

async fn standard_rig() -> Rig {
    Rig::start(seed(standard_seed()).expect("seed"), RigOptions::default())
        .await
        .expect("rig")
}

/// The first run copies every copyable field into a label; an unchanged re-run writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_copies_every_field_into_a_label_and_a_rerun_writes_nothing() {
    let rig = standard_rig().await;
    let team = rig.group("team@example.com").await.expect("group");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(
                DestinationKind::Group,
                team["id"].as_str().expect("id"),
                "team@example.com",
            )],
        )
        .await
        .expect("sync");

    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.totals.users, 2, "ann and cat (nested group)");
    assert_eq!(run.totals.created, 6);
    let results = rig.results(&run).await.expect("results");
    for user in [ANN, CAT] {
        let r = &results[user];
        assert_eq!(
            (r.status, r.created, r.error.as_deref()),
            (DestinationStatus::Succeeded, 3, None)
        );
        rig.assert_in_sync(user, &sync).await.expect("in sync");
    }

    // Every copyable field arrived, values equal to the source's; the markers are in clientData only.
    let source = rig.contact_named(SOURCE, "Given2").expect("source contact");
    let copy = rig.contact_named(ANN, "Given2").expect("copy");
    for field in COPYABLE_PERSON_FIELDS {
        assert!(copy.fields.contains_key(*field), "copy lacks {field}");
    }
    let visible = |p: &Person| {
        let mut p = p.clone();
        p.client_data.clear();
        p.memberships.clear();
        p.metadata = None;
        p.etag = None;
        p.resource_name = None;
        serde_json::to_string(&p).expect("json")
    };
    assert!(
        !visible(&copy).contains(&sync.id),
        "sync id leaked into visible fields"
    );
    assert!(!visible(&copy).contains("contact-sync"));
    assert_eq!(
        copy.client_data_value(markers::SYNC_ID_KEY),
        Some(sync.id.as_str())
    );
    assert_eq!(
        copy.client_data_value(markers::SOURCE_KEY),
        source.resource_name.as_deref()
    );
    let (copy_fields, source_fields) = (normalize_fields(&copy), normalize_fields(&source));
    for field in COPYABLE_PERSON_FIELDS {
        assert_eq!(
            copy_fields.get(*field),
            source_fields.get(*field),
            "{field} differs"
        );
        assert!(copy_fields.contains_key(*field), "{field} missing");
    }
    let state = rig
        .store
        .list_destination_states(&sync.id)
        .await
        .expect("states");
    assert_eq!(state.len(), 2);
    assert!(state.iter().all(|s| s.label_resource_name.is_some()));

    // Unchanged re-run: no writes, at most two reads per destination user.
    rig.emulator.reset_stats();
    let rerun = rig.run(&sync.id, RunMode::Apply).await.expect("rerun");
    assert_eq!(rerun.status, RunStatus::Succeeded);
    assert_eq!(
        (
            rerun.totals.created,
            rerun.totals.updated,
            rerun.totals.deleted
        ),
        (0, 0, 0)
    );
    assert_eq!(rerun.totals.unchanged, 6);
    for user in [ANN, CAT] {
        assert_eq!(rig.writes_of(user), 0, "{user}: {:?}", rig.calls_of(user));
        assert!(rig.reads_of(user) <= 2, "{user}: {:?}", rig.calls_of(user));
    }
    assert_eq!(rig.emulator.stats().writes, 0);
    let definition = rig
        .store
        .get_sync(&sync.id)
        .await
        .expect("get")
        .expect("sync");
    assert_eq!(definition.last_run.map(|r| r.run_id), Some(rerun.run_id));
}

/// Efficiency: the first sync of N contacts to one user costs at most ceil(N/200) creates plus 3 other calls for
/// that user; reading the source group takes O(N/200) calls; an unchanged re-run writes nothing and reads twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_group_costs_batched_calls_only() {
    const N: usize = 450;
    let mut s = standard_seed();
    s["contact_groups"][SOURCE][0]["contacts"] = Value::Array((0..N).map(full_contact).collect());
    let rig = Rig::start(seed(s).expect("seed"), RigOptions::default())
        .await
        .expect("rig");
    let ann_id = rig.user_id(ANN).await.expect("id");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(DestinationKind::User, &ann_id, ANN)],
        )
        .await
        .expect("sync");
    rig.emulator.reset_stats();

    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.totals.created as usize, N);

    let ann = rig.calls_of(ANN);
    let creates = ann
        .get("people.people.batchCreateContacts")
        .copied()
        .unwrap_or(0);
    let total: u64 = ann.values().sum();
    assert_eq!(creates, N.div_ceil(200) as u64, "{ann:?}");
    assert!(
        total - creates <= 3,
        "more than 3 other calls for the user: {ann:?}"
    );

    let source = rig.calls_of(SOURCE);
    let source_total: u64 = source.values().sum();
    assert!(
        source_total <= 1 + N.div_ceil(200) as u64,
        "source group read is not batched: {source:?}"
    );
    assert_eq!(source.get("people.people.get"), None);
    rig.assert_in_sync(ANN, &sync).await.expect("in sync");

    rig.emulator.reset_stats();
    let rerun = rig.run(&sync.id, RunMode::Apply).await.expect("rerun");
    assert_eq!(rerun.totals.unchanged as usize, N);
    assert_eq!(rig.writes_of(ANN), 0, "{:?}", rig.calls_of(ANN));
    assert!(rig.reads_of(ANN) <= 2, "{:?}", rig.calls_of(ANN));
}

/// Additions, edits, deletions and removals from the source group are reflected exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_changes_are_reflected_exactly() {
    let rig = standard_rig().await;
    let ann_id = rig.user_id(ANN).await.expect("id");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(DestinationKind::User, &ann_id, ANN)],
        )
        .await
        .expect("sync");
    rig.run(&sync.id, RunMode::Apply).await.expect("run");
    let people = &rig.google.people;
    let group = rig.contact_group(SOURCE, "Partners").await.expect("group");

    // Add a contact to the group, edit one, delete one, take one out of the group.
    let mut added: Person = serde_json::from_value(small_contact("Newton")).expect("person");
    added.memberships = vec![Membership::of_group(&group)];
    people
        .batch_create_contacts(SOURCE, &[added])
        .await
        .expect("create");
    let mut edited = rig.contact_named(SOURCE, "Given1").expect("contact");
    edited.fields.insert(
        "phoneNumbers".into(),
        json!([{"value": "+1 555 999 0000", "type": "work"}]),
    );
    edited.fields.remove("urls");
    let edited_name = edited.resource_name.clone().expect("name");
    people
        .batch_update_contacts(
            SOURCE,
            &BTreeMap::from([(edited_name, edited)]),
            "phoneNumbers,urls",
        )
        .await
        .expect("edit");
    let deleted = rig.contact_named(SOURCE, "Given2").expect("contact");
    people
        .batch_delete_contacts(SOURCE, &[deleted.resource_name.clone().expect("name")])
        .await
        .expect("delete");
    let taken_out = rig.contact_named(SOURCE, "Given3").expect("contact");
    people
        .modify_contact_group_members(
            SOURCE,
            &group,
            &[],
            &[taken_out.resource_name.clone().expect("name")],
        )
        .await
        .expect("modify");

    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(
        (run.totals.created, run.totals.updated, run.totals.deleted),
        (1, 1, 2),
        "{:?}",
        run.totals
    );
    rig.assert_in_sync(ANN, &sync).await.expect("in sync");
    let copy = rig.contact_named(ANN, "Given1").expect("copy");
    assert_eq!(copy.fields["phoneNumbers"][0]["value"], "+1 555 999 0000");
    assert!(!copy.fields.contains_key("urls"));
    assert!(rig.contact_named(ANN, "Given2").is_err());
    assert!(rig.contact_named(ANN, "Given3").is_err());
    assert!(rig.contact_named(ANN, "Newton").is_ok());
}

/// A destination user's edits and deletions of synced contacts are undone; their own contacts (one
/// with a synced contact's email, one they put into the synced label) are never changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_edits_are_undone_and_their_own_contacts_untouched() {
    let mut s = standard_seed();
    s["contacts"][ANN] = json!([
        {"names": [{"givenName": "Mine"}], "emailAddresses": [{"value": "contact1@partner.example"}]},
        {"names": [{"givenName": "Labelled"}], "phoneNumbers": [{"value": "+1 555 123 4567"}]}
    ]);
    let rig = Rig::start(seed(s).expect("seed"), RigOptions::default())
        .await
        .expect("rig");
    let ann_id = rig.user_id(ANN).await.expect("id");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(DestinationKind::User, &ann_id, ANN)],
        )
        .await
        .expect("sync");
    rig.run(&sync.id, RunMode::Apply).await.expect("run");
    let people = &rig.google.people;
    let label = rig.labels_named(ANN, "Partners").pop().expect("label");

    // Ann puts her own contact into the synced label, edits one synced contact, deletes another, and removes a
    // third from the label.
    let labelled = rig.contact_named(ANN, "Labelled").expect("own");
    people
        .modify_contact_group_members(
            ANN,
            &label,
            &[labelled.resource_name.clone().expect("name")],
            &[],
        )
        .await
        .expect("label own contact");
    let mut edited = rig.contact_named(ANN, "Given1").expect("copy");
    edited.fields.insert(
        "names".into(),
        json!([{"givenName": "Given1", "familyName": "Hacked"}]),
    );
    edited
        .fields
        .insert("biographies".into(), json!([{"value": "my notes"}]));
    people
        .batch_update_contacts(
            ANN,
            &BTreeMap::from([(edited.resource_name.clone().expect("name"), edited)]),
            "names,biographies",
        )
        .await
        .expect("edit");
    let deleted = rig.contact_named(ANN, "Given2").expect("copy");
    people
        .batch_delete_contacts(ANN, &[deleted.resource_name.clone().expect("name")])
        .await
        .expect("delete");
    let unlabelled = rig.contact_named(ANN, "Given3").expect("copy");
    people
        .modify_contact_group_members(
            ANN,
            &label,
            &[],
            &[unlabelled.resource_name.clone().expect("name")],
        )
        .await
        .expect("unlabel");
    let own_before: Vec<Person> = rig
        .persons(ANN)
        .into_iter()
        .filter(|p| !markers::is_managed_by(p, &sync.id))
        .collect();
    assert_eq!(own_before.len(), 2);

    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(
        (run.totals.created, run.totals.updated, run.totals.deleted),
        (1, 2, 0)
    );
    rig.assert_in_sync(ANN, &sync).await.expect("in sync");
    let own_after: Vec<Person> = rig
        .persons(ANN)
        .into_iter()
        .filter(|p| !markers::is_managed_by(p, &sync.id))
        .collect();
    assert_eq!(own_after, own_before, "the user's own contacts changed");
    assert!(own_after.iter().any(|p| p.is_member_of(&label)));
}

/// Two syncs into the same user keep their own labels and contacts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_into_one_user_stay_independent() {
    let rig = standard_rig().await;
    let ann_id = rig.user_id(ANN).await.expect("id");
    let partners = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(DestinationKind::User, &ann_id, ANN)],
        )
        .await
        .expect("sync");
    let vendors = rig
        .create_sync(
            SOURCE,
            "Vendors",
            vec![dest(DestinationKind::User, &ann_id, ANN)],
        )
        .await
        .expect("sync");
    for sync in [&partners, &vendors, &partners, &vendors] {
        let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    }
    rig.assert_in_sync(ANN, &partners).await.expect("partners");
    rig.assert_in_sync(ANN, &vendors).await.expect("vendors");
    assert_eq!(rig.managed(ANN, &partners.id).len(), 3);
    assert_eq!(rig.managed(ANN, &vendors.id).len(), 2);

    // Emptying one sync's source group removes only that sync's contacts.
    let group = rig.contact_group(SOURCE, "Vendors").await.expect("group");
    let members = rig
        .google
        .people
        .get_contact_group(SOURCE, &group, 100)
        .await
        .expect("group")
        .member_resource_names;
    rig.google
        .people
        .modify_contact_group_members(SOURCE, &group, &[], &members)
        .await
        .expect("empty group");
    rig.run(&vendors.id, RunMode::Apply).await.expect("run");
    assert_eq!(rig.managed(ANN, &vendors.id).len(), 0);
    rig.assert_in_sync(ANN, &partners)
        .await
        .expect("partners untouched");
}

/// A dry run records the planned creates, updates and deletes per destination and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_records_the_plan_and_writes_nothing() {
    let rig = standard_rig().await;
    let ann_id = rig.user_id(ANN).await.expect("id");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(DestinationKind::User, &ann_id, ANN)],
        )
        .await
        .expect("sync");
    rig.emulator.reset_stats();
    let run = rig.run(&sync.id, RunMode::DryRun).await.expect("dry run");
    assert_eq!(
        (run.status, run.mode),
        (RunStatus::Succeeded, RunMode::DryRun)
    );
    assert_eq!(rig.emulator.stats().writes, 0);
    assert!(rig.persons(ANN).is_empty());
    assert!(rig.labels_named(ANN, "Partners").is_empty());
    let result = &rig.results(&run).await.expect("results")[ANN];
    let planned = result.planned.as_ref().expect("planned changes");
    assert_eq!(planned.creates.len(), 3);
    assert!(
        planned
            .creates
            .iter()
            .any(|c| c.display_name.contains("Given1"))
    );
    assert!(
        rig.store
            .list_destination_states(&sync.id)
            .await
            .expect("states")
            .is_empty()
    );

    // After a real run and a source edit, a dry run plans exactly that update.
    rig.run(&sync.id, RunMode::Apply).await.expect("run");
    let mut edited = rig.contact_named(SOURCE, "Given1").expect("contact");
    edited
        .fields
        .insert("nicknames".into(), json!([{"value": "Changed"}]));
    rig.google
        .people
        .batch_update_contacts(
            SOURCE,
            &BTreeMap::from([(edited.resource_name.clone().expect("name"), edited)]),
            "nicknames",
        )
        .await
        .expect("edit");
    let before = rig.persons(ANN);
    rig.emulator.reset_stats();
    let run = rig.run(&sync.id, RunMode::DryRun).await.expect("dry run");
    assert_eq!(rig.emulator.stats().writes, 0);
    assert_eq!(rig.persons(ANN), before);
    let planned = rig.results(&run).await.expect("results")[ANN]
        .planned
        .clone()
        .expect("planned");
    assert_eq!(
        (
            planned.creates.len(),
            planned.updates.len(),
            planned.deletes.len()
        ),
        (0, 1, 0)
    );
}
