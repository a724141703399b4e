//! The executor against the Google emulator and moto: audience changes, suspended users, leavers, and renames of
//! everything a sync names, which GET /syncs/{id} then shows.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use contact_sync::api::api_function;
use contact_sync::google::{RetryPolicy, SCOPE_CONTACTS, ServiceAccountKey, TokenProvider};
use contact_sync::model::{DestinationKind, DestinationStatus, LeaverPolicy, RunMode, RunStatus};
use contact_sync::sync::markers;
use contact_sync_tests::api_support::EventBuilder;
use contact_sync_tests::executor_support::{Rig, RigOptions, SOURCE, dest, seed, standard_seed};
use contact_sync_tests::reliability::{RecordingDispatcher, api_context};
use serde_json::{Value, json};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const CAT: &str = "cat@example.com";
const DAN: &str = "dan@example.com";

/// The audience of an org unit: sub-OUs are included, suspended users and the source are skipped, a joiner gets
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

/// The audience of a group: a member who leaves loses the synced contacts; the label stays when the user put
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

/// A GET route of the API, served by its Lambda handler over the rig's store (and Google clients, which the read
/// routes do not use): the status, the ETag and the JSON body.
async fn api_get(rig: &Rig, function: &str, request: EventBuilder) -> Result<(u16, String, Value)> {
    let ctx = api_context(rig, Arc::new(RecordingDispatcher::default()));
    let handler = api_function(function)
        .with_context(|| format!("no handler {function}"))?
        .handler;
    let response = handler(&ctx, request.request()?).await?;
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = serde_json::from_slice(response.body().as_ref()).context("JSON body")?;
    Ok((response.status().as_u16(), etag, body))
}

/// GET /syncs/{id}: the ETag and the body.
async fn get_sync(rig: &Rig, sync_id: &str) -> Result<(String, Value)> {
    let request = EventBuilder::new("GET", "/syncs/{id}", &[("id", sync_id)]);
    let (status, etag, body) = api_get(rig, "get-sync", request).await?;
    if status != 200 {
        bail!("GET /syncs/{sync_id}: {status} {body}");
    }
    Ok((etag, body))
}

/// The names a sync response shows: source email, contact group name, and each destination's display.
fn names_shown(sync: &Value) -> (Value, Value, Vec<Value>) {
    let displays = sync["destinations"]
        .as_array()
        .map(|d| d.iter().map(|d| d["display"].clone()).collect())
        .unwrap_or_default();
    (
        sync["source"]["user_email"].clone(),
        sync["source"]["contact_group_name"].clone(),
        displays,
    )
}

/// contactGroups.update as the group's owner: renames one of their contact groups.
async fn rename_contact_group(
    rig: &Rig,
    owner: &str,
    resource_name: &str,
    name: &str,
) -> Result<()> {
    let key = ServiceAccountKey::from_json(&rig.emulator.service_account_key_json())?;
    let http = reqwest::Client::new();
    let tokens = TokenProvider::new(key, http.clone(), RetryPolicy::fast())?;
    let token = tokens.token(owner, &[SCOPE_CONTACTS]).await?;
    let url = format!("{}/v1/{resource_name}", rig.emulator.base_url());
    let response = http
        .put(&url)
        .bearer_auth(token.secret())
        .json(&json!({"contactGroup": {"name": name}, "updateGroupFields": "name"}))
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        bail!("{url}: HTTP {status}: {}", response.text().await?);
    }
    Ok(())
}

/// Renaming the source user, a destination user, a destination group and an org unit breaks nothing
/// and duplicates nothing. GET /syncs/{id} and GET /syncs show the new names (and the source contact group's)
/// after the next run, with the same version and ETag, and runs that find nothing renamed write nothing.
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
    let (etag, before) = get_sync(&rig, &sync.id).await.expect("get");
    assert_eq!(etag, "\"1\"");
    assert_eq!(
        names_shown(&before),
        (
            json!(SOURCE),
            json!("Partners"),
            vec![json!(BOB), json!("team@example.com"), json!("/Sales")]
        )
    );
    assert!(before.get("names_refreshed_at").is_none(), "{before}");
    assert_eq!(
        rig.store
            .get_sync(&sync.id)
            .await
            .expect("get")
            .expect("sync")
            .current_names,
        None,
        "a run that finds nothing renamed records nothing"
    );

    rename_contact_group(&rig, SOURCE, &sync.source.contact_group, "Partners & Co")
        .await
        .expect("rename contact group");
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
    // The source group is found by its new name; the label keeps the sync's label name.
    let mut now_named = sync.clone();
    now_named.source.contact_group_name = "Partners & Co".to_owned();
    for user in ["robert@example.com", ANN, CAT] {
        rig.assert_in_sync(user, &now_named).await.expect("in sync");
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

    // The API shows the names the run found, under the same version and ETag.
    let renamed = (
        json!("sam@example.com"),
        json!("Partners & Co"),
        vec![
            json!("robert@example.com"),
            json!("crew@example.com"),
            json!("/Revenue"),
        ],
    );
    let (etag, after) = get_sync(&rig, &sync.id).await.expect("get");
    assert_eq!(etag, "\"1\"", "recording names must not change the ETag");
    assert_eq!(after["version"], 1);
    assert_eq!(after["updated_at"], before["updated_at"]);
    assert_eq!(names_shown(&after), renamed, "{after}");
    let ids = |sync: &Value| -> Vec<Value> {
        sync["destinations"]
            .as_array()
            .map(|d| d.iter().map(|d| d["id"].clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(ids(&after), ids(&before));
    assert_eq!(after["source"]["user_id"], before["source"]["user_id"]);
    assert!(after["names_refreshed_at"].is_string(), "{after}");
    assert!(after.get("current_names").is_none(), "{after}");
    let (status, _, listed) = api_get(&rig, "list-syncs", EventBuilder::new("GET", "/syncs", &[]))
        .await
        .expect("list");
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"][0], after, "the listing shows the same");

    // Another run finds the same names: nothing is written, the API shows the same.
    let recorded = rig
        .store
        .get_sync(&sync.id)
        .await
        .expect("get")
        .expect("sync")
        .current_names;
    assert!(recorded.is_some());
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let stored = rig
        .store
        .get_sync(&sync.id)
        .await
        .expect("get")
        .expect("sync");
    assert_eq!(stored.current_names, recorded, "unchanged names rewritten");
    assert_eq!(stored.version, 1);
    let (etag_again, mut again) = get_sync(&rig, &sync.id).await.expect("get");
    assert_eq!(etag_again, etag);
    assert_eq!(again["names_refreshed_at"], after["names_refreshed_at"]);
    let mut after = after;
    for shown in [&mut again, &mut after] {
        if let Some(shown) = shown.as_object_mut() {
            shown.remove("last_run");
        }
    }
    assert_eq!(again, after, "only last_run moved on");
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

/// A dry run is enough to see a rename: it looks the destinations up by id like any run, so GET /syncs/{id} shows
/// the new name at once, and nothing is written to anyone's contacts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_refreshes_the_names_and_writes_nothing() {
    let rig = Rig::start(seed(standard_seed()).expect("seed"), RigOptions::default())
        .await
        .expect("rig");
    let bob_id = rig.user_id(BOB).await.expect("id");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![dest(DestinationKind::User, &bob_id, BOB)],
        )
        .await
        .expect("sync");
    rig.patch_user(BOB, json!({"primaryEmail": "robert@example.com"}))
        .await
        .expect("rename bob");

    rig.emulator.reset_stats();
    let run = rig.run(&sync.id, RunMode::DryRun).await.expect("dry run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(rig.emulator.stats().writes, 0, "a dry run wrote to Google");
    assert!(rig.managed("robert@example.com", &sync.id).is_empty());

    let (etag, shown) = get_sync(&rig, &sync.id).await.expect("get");
    assert_eq!(etag, "\"1\"", "a refresh of names is not an edit");
    assert_eq!(
        names_shown(&shown).2,
        vec![json!("robert@example.com")],
        "{shown}"
    );
    assert!(shown["names_refreshed_at"].is_string(), "{shown}");
}
