//! The executor against the Google emulator and moto: audience changes, suspended users, leavers, and renames of
//! everything a sync names (issue 3, behaviours 5 and 6).

use contact_sync::model::{DestinationKind, DestinationStatus, LeaverPolicy, RunMode, RunStatus};
use contact_sync::sync::markers;
use contact_sync_tests::executor_support::{Rig, RigOptions, SOURCE, dest, seed, standard_seed};
use serde_json::json;

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const CAT: &str = "cat@example.com";
const DAN: &str = "dan@example.com";

/// Behaviour 5 with an org unit: sub-OUs are included, suspended users and the source are skipped, a joiner gets
/// the contacts, a leaver loses exactly the synced contacts and the label, a user suspended later is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_unit_joiners_leavers_and_suspended_users() {
    let mut s = standard_seed();
    s["contacts"][CAT] = json!([{"names": [{"givenName": "CatOwn"}], "emailAddresses": [{"value": "contact1@partner.example"}]}]);
    let rig = Rig::start(seed(s).expect("seed"), RigOptions::default())
        .await
        .expect("rig");
    let sales = rig.org_unit("/Sales").await.expect("ou");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(
                DestinationKind::OrgUnit,
                sales["orgUnitId"].as_str().expect("id"),
                "/Sales",
            )],
        )
        .await
        .expect("sync");

    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let results = rig.results(&run).await.expect("results");
    assert_eq!(
        results.keys().cloned().collect::<Vec<_>>(),
        vec![ANN.to_owned(), CAT.to_owned()]
    );
    rig.assert_in_sync(ANN, &sync).await.expect("ann");
    rig.assert_in_sync(CAT, &sync)
        .await
        .expect("cat, in a sub-OU");
    assert!(rig.persons(DAN).is_empty(), "suspended user got contacts");
    assert!(
        rig.managed(SOURCE, &sync.id).is_empty(),
        "the source user got copies"
    );
    assert!(rig.persons(BOB).is_empty());

    // Cat leaves the OU, Bob joins it.
    rig.patch_user(CAT, json!({"orgUnitPath": "/Eng"}))
        .await
        .expect("move cat");
    rig.patch_user(BOB, json!({"orgUnitPath": "/Sales/East"}))
        .await
        .expect("move bob");
    let own_before: Vec<_> = rig
        .persons(CAT)
        .into_iter()
        .filter(|p| !markers::is_managed_by(p, &sync.id))
        .collect();
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let results = rig.results(&run).await.expect("results");
    assert_eq!(results[CAT].status, DestinationStatus::Removed);
    assert_eq!(results[CAT].deleted, 3);
    assert_eq!(results[BOB].created, 3);
    assert_eq!(run.totals.removed_users, 1);
    rig.assert_in_sync(BOB, &sync).await.expect("bob joined");
    assert!(rig.managed(CAT, &sync.id).is_empty());
    assert!(
        rig.labels_named(CAT, "Partners").is_empty(),
        "leaver kept the label"
    );
    assert_eq!(
        rig.persons(CAT),
        own_before,
        "the leaver's own contacts changed"
    );
    let states = rig
        .store
        .list_destination_states(&sync.id)
        .await
        .expect("states");
    let cat_id = rig.user_id(CAT).await.expect("id");
    assert!(states.iter().all(|s| s.user_id != cat_id));

    // Ann is suspended: skipped, neither synced nor stripped.
    rig.patch_user(ANN, json!({"suspended": true}))
        .await
        .expect("suspend");
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let results = rig.results(&run).await.expect("results");
    assert!(!results.contains_key(ANN), "{results:?}");
    assert_eq!(rig.managed(ANN, &sync.id).len(), 3);
}

/// Behaviour 5 with a group: a member who leaves loses the synced contacts; the label stays when the user put
/// their own contact into it. Under the keep-unmanaged policy a leaver keeps the contacts without markers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_leavers_and_leaver_policies() {
    let rig = Rig::start(seed(standard_seed()).expect("seed"), RigOptions::default())
        .await
        .expect("rig");
    let team = rig.group("team@example.com").await.expect("group");
    let team_dest = dest(
        DestinationKind::Group,
        team["id"].as_str().expect("id"),
        "team@example.com",
    );
    let partners = rig
        .create_sync(SOURCE, "Partners", vec![team_dest.clone()])
        .await
        .expect("sync");
    let mut vendors = rig
        .create_sync(SOURCE, "Vendors", vec![team_dest])
        .await
        .expect("sync");
    vendors.leaver_policy = LeaverPolicy::KeepUnmanaged;
    vendors.version = 2;
    rig.store.update_sync(&vendors, 1).await.expect("update");
    for sync in [&partners, &vendors] {
        let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    }

    // Ann puts one of her own contacts into the Partners label, then leaves the group; a member joins.
    let label = rig.labels_named(ANN, "Partners").pop().expect("label");
    rig.google
        .people
        .batch_create_contacts(
            ANN,
            &[serde_json::from_value(json!({
                "names": [{"givenName": "AnnOwn"}],
                "memberships": [{"contactGroupMembership": {"contactGroupResourceName": label}}]
            }))
            .expect("person")],
        )
        .await
        .expect("own contact");
    rig.remove_group_member("team@example.com", ANN)
        .await
        .expect("leave");
    rig.add_group_member("team@example.com", BOB)
        .await
        .expect("join");

    let run = rig.run(&partners.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(rig.managed(ANN, &partners.id).is_empty());
    assert_eq!(
        rig.labels_named(ANN, "Partners"),
        vec![label.clone()],
        "label with the user's own contact deleted"
    );
    assert!(
        rig.contact_named(ANN, "AnnOwn")
            .expect("own")
            .is_member_of(&label)
    );
    rig.assert_in_sync(BOB, &partners).await.expect("bob");
    rig.assert_in_sync(CAT, &partners).await.expect("cat");

    let run = rig.run(&vendors.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(
        rig.results(&run).await.expect("results")[ANN].status,
        DestinationStatus::Removed
    );
    assert!(rig.managed(ANN, &vendors.id).is_empty());
    let kept: Vec<_> = rig
        .persons(ANN)
        .into_iter()
        .filter(|p| p.client_data.is_empty() && p.display_name().ends_with("Smith"))
        .collect();
    assert_eq!(kept.len(), 2, "keep-unmanaged leaver lost the contacts");
    assert_eq!(rig.labels_named(ANN, "Vendors").len(), 1);

    // The next run leaves released contacts alone.
    rig.emulator.reset_stats();
    rig.run(&vendors.id, RunMode::Apply).await.expect("run");
    assert_eq!(rig.writes_of(ANN), 0);
}

/// Behaviour 6: renaming the source user, a destination user, a destination group and an org unit breaks nothing
/// and duplicates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_break_nothing_and_duplicate_nothing() {
    let rig = Rig::start(seed(standard_seed()).expect("seed"), RigOptions::default())
        .await
        .expect("rig");
    let team = rig.group("team@example.com").await.expect("group");
    let sales = rig.org_unit("/Sales").await.expect("ou");
    let bob_id = rig.user_id(BOB).await.expect("id");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![
                dest(DestinationKind::User, &bob_id, BOB),
                dest(
                    DestinationKind::Group,
                    team["id"].as_str().expect("id"),
                    "team@example.com",
                ),
                dest(
                    DestinationKind::OrgUnit,
                    sales["orgUnitId"].as_str().expect("id"),
                    "/Sales",
                ),
            ],
        )
        .await
        .expect("sync");
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.totals.users, 3, "bob, ann, cat");

    rig.patch_user(SOURCE, json!({"primaryEmail": "sam@example.com"}))
        .await
        .expect("rename source");
    rig.patch_user(BOB, json!({"primaryEmail": "robert@example.com"}))
        .await
        .expect("rename bob");
    rig.patch_group("team@example.com", json!({"email": "crew@example.com"}))
        .await
        .expect("rename group");
    rig.patch_org_unit("/Sales", json!({"name": "Revenue"}))
        .await
        .expect("rename ou");
    assert_eq!(
        rig.org_unit("/Revenue").await.expect("renamed ou")["orgUnitId"],
        sales["orgUnitId"]
    );

    rig.emulator.reset_stats();
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.totals.users, 3);
    assert_eq!(
        (run.totals.created, run.totals.updated, run.totals.deleted),
        (0, 0, 0)
    );
    assert_eq!(rig.emulator.stats().writes, 0);
    let results = rig.results(&run).await.expect("results");
    assert!(results.contains_key("robert@example.com"), "{results:?}");
    for user in ["robert@example.com", ANN, CAT] {
        rig.assert_in_sync(user, &sync).await.expect("in sync");
    }
    let states = rig
        .store
        .list_destination_states(&sync.id)
        .await
        .expect("states");
    assert!(
        states
            .iter()
            .any(|s| s.user_id == bob_id && s.email == "robert@example.com")
    );
}

/// Clean-up (the run started by deleting a sync): every destination loses the sync's contacts and its label (kept
/// where the user put their own contact into it), then the definition is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_removes_everything_then_the_sync() {
    let rig = Rig::start(seed(standard_seed()).expect("seed"), RigOptions::default())
        .await
        .expect("rig");
    let sales = rig.org_unit("/Sales").await.expect("ou");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(
                DestinationKind::OrgUnit,
                sales["orgUnitId"].as_str().expect("id"),
                "/Sales",
            )],
        )
        .await
        .expect("sync");
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let label = rig.labels_named(CAT, "Partners").pop().expect("label");
    rig.google
        .people
        .batch_create_contacts(
            CAT,
            &[serde_json::from_value(json!({
                "names": [{"givenName": "CatOwn"}],
                "memberships": [{"contactGroupMembership": {"contactGroupResourceName": label}}]
            }))
            .expect("person")],
        )
        .await
        .expect("own contact");

    let cleanup = contact_sync::model::ExecutorEvent {
        sync_id: sync.id.clone(),
        run_id: None,
        trigger: contact_sync::model::Trigger::Delete,
        mode: RunMode::Cleanup,
        requested_by: Some("test".into()),
        invocation: None,
    };
    let report = rig
        .invoke(cleanup, std::time::Duration::from_secs(600))
        .await
        .expect("cleanup");
    assert_eq!(
        report.outcome,
        contact_sync::sync::RunOutcome::SyncDeleted,
        "{report:?}"
    );
    for user in [ANN, CAT] {
        assert!(
            rig.managed(user, &sync.id).is_empty(),
            "{user} kept synced contacts"
        );
    }
    assert!(rig.labels_named(ANN, "Partners").is_empty());
    assert_eq!(
        rig.labels_named(CAT, "Partners"),
        vec![label],
        "label holding the user's own contact deleted"
    );
    assert_eq!(rig.persons(CAT).len(), 1);
    assert!(rig.store.get_sync(&sync.id).await.expect("get").is_none());
    assert!(
        rig.store
            .list_destination_states(&sync.id)
            .await
            .expect("states")
            .is_empty()
    );
}
