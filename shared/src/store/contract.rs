//! The behaviour every [`SyncStore`] must have, written once and run against each implementation:
//! [`MemoryStore`](super::MemoryStore) in its unit tests and [`DynamoStore`](super::DynamoStore) on moto in
//! `shared/tests/store_dynamodb.rs`. Each check takes a fresh, empty store.
//!
//! [`store_contract_tests!`](crate::store_contract_tests) turns every check into a `#[tokio::test]`, given an
//! expression evaluating to a future of a fresh store, so no implementation can skip one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{LeaseOutcome, Page, StoreError, SyncStore};
use crate::model::{
    CurrentNames, Destination, DestinationKind, DestinationResult, DestinationState,
    DestinationStatus, LeaverPolicy, PlannedChange, PlannedChanges, Run, RunMode, RunStatus,
    RunSummary, RunTotals, Source, SyncDefinition, Trigger,
};

/// Generates one `#[tokio::test]` per contract check; `$make` is evaluated (and awaited) once per test and
/// must yield a fresh, empty store.
#[macro_export]
#[doc(hidden)]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_tests!(@each $make;
            create_get_and_duplicate,
            update_checks_the_version,
            concurrent_conditional_writes_have_one_winner,
            update_preserves_lease_and_last_run,
            set_last_run_keeps_the_version,
            current_names_keep_the_version_and_survive_updates,
            list_syncs_pages_by_name,
            list_syncs_rejects_foreign_tokens,
            lease_lifecycle,
            runs_newest_first_with_paging,
            claim_invocation_is_exactly_once,
            results_are_per_run,
            destination_states,
            delete_sync_removes_everything,
        );
    };
    (@each $make:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let store = $make.await;
                $crate::store::contract::$check(&store).await;
            }
        )+
    };
}

/// A fixed instant plus `secs` seconds (whole seconds: every store keeps them exactly).
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

/// A complete definition at version 1, with every kind of destination.
pub fn definition(id: &str, name: &str) -> SyncDefinition {
    SyncDefinition {
        id: id.to_owned(),
        name: name.to_owned(),
        description: format!("{name} contacts for everyone"),
        source: Source {
            user_id: "100000000000000000001".to_owned(),
            user_email: "owner@example.com".to_owned(),
            contact_group: "contactGroups/abc123".to_owned(),
            contact_group_name: "Partners".to_owned(),
        },
        destinations: vec![
            Destination {
                kind: DestinationKind::User,
                id: "100000000000000000002".to_owned(),
                display: "ann@example.com".to_owned(),
            },
            Destination {
                kind: DestinationKind::Group,
                id: "03ph8a2z1".to_owned(),
                display: "sales@example.com".to_owned(),
            },
            Destination {
                kind: DestinationKind::OrgUnit,
                id: "id:03ph8a2z2".to_owned(),
                display: "/Sales/EMEA".to_owned(),
            },
            Destination {
                kind: DestinationKind::Domain,
                id: "example.com".to_owned(),
                display: "example.com".to_owned(),
            },
        ],
        label_name: "Partners".to_owned(),
        enabled: true,
        leaver_policy: LeaverPolicy::KeepUnmanaged,
        version: 1,
        created_at: at(0),
        created_by: "admin@example.com".to_owned(),
        updated_at: at(0),
        updated_by: "admin@example.com".to_owned(),
        last_run: None,
        current_names: None,
    }
}

pub fn run(sync_id: &str, run_id: &str, started_at: DateTime<Utc>) -> Run {
    Run {
        sync_id: sync_id.to_owned(),
        run_id: run_id.to_owned(),
        trigger: Trigger::Schedule,
        mode: RunMode::Apply,
        status: RunStatus::Running,
        started_at,
        finished_at: None,
        totals: RunTotals::default(),
        error: None,
        invocations: 1,
        requested_by: "scheduler".to_owned(),
    }
}

pub fn result(user_id: &str, status: DestinationStatus) -> DestinationResult {
    DestinationResult {
        user_id: user_id.to_owned(),
        email: format!("{user_id}@example.com"),
        status,
        created: 3,
        updated: 2,
        deleted: 1,
        unchanged: 40,
        error: (status == DestinationStatus::Failed).then(|| "quota exceeded".to_owned()),
        planned: None,
        finished_at: at(60),
    }
}

pub fn destination_state(user_id: &str) -> DestinationState {
    DestinationState {
        user_id: user_id.to_owned(),
        email: format!("{user_id}@example.com"),
        label_resource_name: Some(format!("contactGroups/label-{user_id}")),
        last_run_id: Some("01JRUN0001".to_owned()),
        last_status: Some(DestinationStatus::Succeeded),
        last_error: None,
        updated_at: at(60),
    }
}

fn summary(run_id: &str) -> RunSummary {
    RunSummary {
        run_id: run_id.to_owned(),
        status: RunStatus::PartiallyFailed,
        started_at: at(100),
        finished_at: Some(at(160)),
        totals: RunTotals {
            users: 10,
            succeeded_users: 9,
            failed_users: 1,
            removed_users: 0,
            created: 5,
            updated: 4,
            deleted: 3,
            unchanged: 200,
        },
    }
}

fn ids(page: &Page<SyncDefinition>) -> Vec<&str> {
    page.items.iter().map(|d| d.id.as_str()).collect()
}

fn run_ids(page: &Page<Run>) -> Vec<&str> {
    page.items.iter().map(|r| r.run_id.as_str()).collect()
}

async fn must_get(store: &dyn SyncStore, id: &str) -> SyncDefinition {
    store
        .get_sync(id)
        .await
        .expect("get_sync")
        .unwrap_or_else(|| panic!("sync {id} should exist"))
}

pub async fn create_get_and_duplicate(store: &dyn SyncStore) {
    let def = definition("S1", "Sales");
    store.create_sync(&def).await.expect("create_sync");
    assert_eq!(must_get(store, "S1").await, def);
    assert_eq!(store.get_sync("S404").await.expect("get_sync"), None);

    let duplicate = definition("S1", "Someone else's");
    let err = store.create_sync(&duplicate).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(
        must_get(store, "S1").await,
        def,
        "a duplicate must not overwrite"
    );
}

pub async fn update_checks_the_version(store: &dyn SyncStore) {
    let def = definition("S1", "Sales");
    store.create_sync(&def).await.expect("create_sync");

    let v2 = SyncDefinition {
        name: "Marketing".to_owned(),
        description: String::new(),
        destinations: def.destinations[..1].to_vec(),
        enabled: false,
        leaver_policy: LeaverPolicy::Remove,
        version: 2,
        updated_at: at(30),
        updated_by: "other@example.com".to_owned(),
        ..def.clone()
    };
    store
        .update_sync(&v2, 1)
        .await
        .expect("update at version 1");
    assert_eq!(must_get(store, "S1").await, v2);

    let stale = SyncDefinition {
        name: "Stale".to_owned(),
        ..v2.clone()
    };
    let err = store.update_sync(&stale, 1).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(
        must_get(store, "S1").await,
        v2,
        "a stale update must not apply"
    );

    let ghost = definition("S404", "Ghost");
    let err = store.update_sync(&ghost, 1).await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
    assert_eq!(
        store.get_sync("S404").await.expect("get_sync"),
        None,
        "an update must not create"
    );

    let listed = store.list_syncs(10, None).await.expect("list_syncs");
    assert_eq!(listed.items, vec![v2], "listings follow the new name");
}

/// How many writers race in [`concurrent_conditional_writes_have_one_winner`].
const RACERS: usize = 12;

/// Conditional writes sent at the same time: of the updates made at one version exactly one applies and the
/// others conflict; of the runs asking for a free lease exactly one gets it. DynamoDB guarantees this per item;
/// the API's If-Match and the one-run-at-a-time lease rely on it.
pub async fn concurrent_conditional_writes_have_one_winner(store: &dyn SyncStore) {
    let def = definition("S1", "Sales");
    store.create_sync(&def).await.expect("create_sync");

    let racers: Vec<SyncDefinition> = (0..RACERS)
        .map(|i| SyncDefinition {
            name: format!("Racer {i}"),
            version: 2,
            updated_at: at(30),
            ..def.clone()
        })
        .collect();
    let outcomes =
        futures::future::join_all(racers.iter().map(|racer| store.update_sync(racer, 1))).await;
    let mut winners = Vec::new();
    for (racer, outcome) in racers.iter().zip(&outcomes) {
        match outcome {
            Ok(()) => winners.push(racer.name.as_str()),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("{}: {e}", racer.name),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "updates at version 1 that applied: {winners:?}"
    );
    let stored = must_get(store, "S1").await;
    assert_eq!(stored.name, winners[0]);
    assert_eq!(stored.version, 2);

    let runs: Vec<String> = (0..RACERS).map(|i| format!("R{i}")).collect();
    let outcomes = futures::future::join_all(
        runs.iter()
            .map(|run| store.acquire_lease("S1", run, at(600), at(60))),
    )
    .await;
    let mut holders = Vec::new();
    for (run, outcome) in runs.iter().zip(outcomes) {
        match outcome.expect("acquire_lease") {
            LeaseOutcome::Acquired => holders.push(run.clone()),
            LeaseOutcome::Held { .. } => {}
            other => panic!("{run}: {other:?}"),
        }
    }
    assert_eq!(holders.len(), 1, "runs that got the lease: {holders:?}");
    assert_eq!(
        store
            .current_lease("S1", at(61))
            .await
            .expect("current_lease"),
        holders.pop()
    );
}

pub async fn update_preserves_lease_and_last_run(store: &dyn SyncStore) {
    let def = definition("S1", "Sales");
    store.create_sync(&def).await.expect("create_sync");
    store
        .set_last_run("S1", &summary("R1"))
        .await
        .expect("set_last_run");
    let lease = store
        .acquire_lease("S1", "R2", at(600), at(0))
        .await
        .expect("acquire_lease");
    assert_eq!(lease, LeaseOutcome::Acquired);

    // The API's copy of the definition carries no last_run; the stored one must survive.
    let v2 = SyncDefinition {
        name: "Sales (EU)".to_owned(),
        version: 2,
        last_run: None,
        ..def.clone()
    };
    store.update_sync(&v2, 1).await.expect("update_sync");
    let stored = must_get(store, "S1").await;
    assert_eq!(stored.name, "Sales (EU)");
    assert_eq!(stored.version, 2);
    assert_eq!(stored.last_run, Some(summary("R1")));
    assert_eq!(
        store
            .current_lease("S1", at(1))
            .await
            .expect("current_lease"),
        Some("R2".to_owned())
    );
    assert_eq!(
        store
            .acquire_lease("S1", "R3", at(700), at(1))
            .await
            .expect("acquire_lease"),
        LeaseOutcome::Held {
            run_id: "R2".to_owned(),
            until: at(600)
        }
    );
}

pub async fn set_last_run_keeps_the_version(store: &dyn SyncStore) {
    let def = definition("S1", "Sales");
    store.create_sync(&def).await.expect("create_sync");
    store
        .set_last_run("S1", &summary("R1"))
        .await
        .expect("set_last_run");
    let stored = must_get(store, "S1").await;
    assert_eq!(
        stored,
        SyncDefinition {
            last_run: Some(summary("R1")),
            ..def.clone()
        }
    );
    store
        .set_last_run("S1", &summary("R2"))
        .await
        .expect("set_last_run again");
    assert_eq!(must_get(store, "S1").await.last_run, Some(summary("R2")));

    let err = store.set_last_run("S404", &summary("R1")).await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
    assert_eq!(store.get_sync("S404").await.expect("get_sync"), None);
}

/// Names a run found for [`definition`]'s source and destinations, read at `at(secs)`.
pub fn current_names(secs: i64) -> CurrentNames {
    CurrentNames {
        source_user_email: "owner.renamed@example.com".to_owned(),
        contact_group_name: "Partners & Suppliers".to_owned(),
        destinations: BTreeMap::from([
            (
                "100000000000000000002".to_owned(),
                "ann.smith@example.com".to_owned(),
            ),
            ("03ph8a2z1".to_owned(), "sales-team@example.com".to_owned()),
            ("id:03ph8a2z2".to_owned(), "/Sales/Europe".to_owned()),
            ("example.com".to_owned(), "example.com".to_owned()),
        ]),
        refreshed_at: at(secs),
    }
}

pub async fn current_names_keep_the_version_and_survive_updates(store: &dyn SyncStore) {
    let def = definition("S1", "Sales");
    store.create_sync(&def).await.expect("create_sync");
    let lease = store
        .acquire_lease("S1", "R1", at(600), at(0))
        .await
        .expect("acquire_lease");
    assert_eq!(lease, LeaseOutcome::Acquired);

    store
        .set_current_names("S1", &current_names(60))
        .await
        .expect("set_current_names");
    assert_eq!(
        must_get(store, "S1").await,
        SyncDefinition {
            current_names: Some(current_names(60)),
            ..def.clone()
        },
        "only the names are recorded: the version and the definition's own fields stay"
    );

    // Replaced as a whole (a destination gone from the map is gone), next to last_run, under the lease.
    let fewer = CurrentNames {
        destinations: BTreeMap::new(),
        ..current_names(120)
    };
    store
        .set_current_names("S1", &fewer)
        .await
        .expect("set_current_names again");
    store
        .set_last_run("S1", &summary("R1"))
        .await
        .expect("set_last_run");
    let stored = must_get(store, "S1").await;
    assert_eq!(stored.current_names, Some(fewer.clone()));
    assert_eq!(stored.last_run, Some(summary("R1")));
    assert_eq!(stored.version, 1);
    assert_eq!(
        store
            .current_lease("S1", at(1))
            .await
            .expect("current_lease"),
        Some("R1".to_owned())
    );

    // A definition update neither clears nor sets them, whatever the API's copy carries.
    for (expected, carried) in [(1, None), (2, Some(current_names(999)))] {
        let next = SyncDefinition {
            name: format!("Sales v{}", expected + 1),
            version: expected + 1,
            current_names: carried,
            ..def.clone()
        };
        store
            .update_sync(&next, expected)
            .await
            .expect("update_sync");
        let stored = must_get(store, "S1").await;
        assert_eq!(stored.name, next.name);
        assert_eq!(stored.version, expected + 1);
        assert_eq!(stored.current_names, Some(fewer.clone()));
        assert_eq!(stored.last_run, Some(summary("R1")));
    }
    let listed = store.list_syncs(10, None).await.expect("list_syncs");
    assert_eq!(
        listed
            .items
            .iter()
            .map(|d| d.current_names.clone())
            .collect::<Vec<_>>(),
        vec![Some(fewer)],
        "listings carry the names"
    );

    let err = store.set_current_names("S404", &current_names(60)).await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
    assert_eq!(
        store.get_sync("S404").await.expect("get_sync"),
        None,
        "recording names must not create a sync"
    );
}

pub async fn list_syncs_pages_by_name(store: &dyn SyncStore) {
    let empty = store.list_syncs(2, None).await.expect("list_syncs");
    assert_eq!(
        empty,
        Page {
            items: vec![],
            next_token: None
        }
    );

    // Case-insensitive by name, then by id for equal names.
    for (id, name) in [
        ("S1", "delta"),
        ("S2", "bravo"),
        ("S3", "charlie"),
        ("S4", "Bravo"),
        ("S5", "Alpha"),
    ] {
        store
            .create_sync(&definition(id, name))
            .await
            .expect("create_sync");
    }
    let first = store.list_syncs(2, None).await.expect("page 1");
    assert_eq!(ids(&first), ["S5", "S2"]);
    let token = first.next_token.as_deref().expect("page 1 has a token");
    let second = store.list_syncs(2, Some(token)).await.expect("page 2");
    assert_eq!(ids(&second), ["S4", "S3"]);
    let token = second.next_token.as_deref().expect("page 2 has a token");
    let third = store.list_syncs(2, Some(token)).await.expect("page 3");
    assert_eq!(ids(&third), ["S1"]);
    assert_eq!(third.next_token, None, "the last page has no token");
    assert_eq!(third.items[0], definition("S1", "delta"));

    let exact = store.list_syncs(5, None).await.expect("exact fit");
    assert_eq!(ids(&exact), ["S5", "S2", "S4", "S3", "S1"]);
    assert_eq!(
        exact.next_token, None,
        "an exactly full last page has no token"
    );
}

pub async fn list_syncs_rejects_foreign_tokens(store: &dyn SyncStore) {
    for (id, name) in [("S1", "a"), ("S2", "b"), ("S3", "c")] {
        store
            .create_sync(&definition(id, name))
            .await
            .expect("create_sync");
        store
            .put_run(&run(id, &format!("R{id}"), at(0)))
            .await
            .expect("put_run");
    }
    store
        .put_run(&run("S1", "R2", at(1)))
        .await
        .expect("put_run");
    let run_token = store
        .list_runs("S1", 1, None)
        .await
        .expect("list_runs")
        .next_token
        .expect("a run token");
    let sync_token = store
        .list_syncs(1, None)
        .await
        .expect("list_syncs")
        .next_token
        .expect("a sync token");

    for garbage in ["", "garbage!", "bm90IGpzb24", "e30", run_token.as_str()] {
        let err = store.list_syncs(2, Some(garbage)).await;
        assert!(
            matches!(err, Err(StoreError::InvalidToken)),
            "list_syncs accepted {garbage:?}: {err:?}"
        );
    }
    for garbage in ["", "garbage!", "e30", sync_token.as_str()] {
        let err = store.list_runs("S1", 2, Some(garbage)).await;
        assert!(
            matches!(err, Err(StoreError::InvalidToken)),
            "list_runs accepted {garbage:?}: {err:?}"
        );
    }
    let err = store.list_runs("S2", 2, Some(&run_token)).await;
    assert!(
        matches!(err, Err(StoreError::InvalidToken)),
        "list_runs accepted another sync's token: {err:?}"
    );
}

pub async fn lease_lifecycle(store: &dyn SyncStore) {
    assert_eq!(
        store
            .acquire_lease("S1", "R1", at(60), at(0))
            .await
            .expect("acquire on a missing sync"),
        LeaseOutcome::SyncMissing
    );
    store
        .release_lease("S1", "R1")
        .await
        .expect("release on a missing sync");
    assert_eq!(
        store.current_lease("S1", at(0)).await.expect("current"),
        None
    );
    assert_eq!(
        store.get_sync("S1").await.expect("get_sync"),
        None,
        "lease calls must not create a definition"
    );

    let def = definition("S1", "Sales");
    store.create_sync(&def).await.expect("create_sync");
    assert_eq!(
        store.current_lease("S1", at(0)).await.expect("current"),
        None
    );

    let acquire = |run: &'static str, until: i64, now: i64| async move {
        store
            .acquire_lease("S1", run, at(until), at(now))
            .await
            .expect("acquire_lease")
    };
    assert_eq!(acquire("R1", 60, 0).await, LeaseOutcome::Acquired);
    assert_eq!(
        store.current_lease("S1", at(0)).await.expect("current"),
        Some("R1".to_owned())
    );
    assert_eq!(
        acquire("R2", 120, 10).await,
        LeaseOutcome::Held {
            run_id: "R1".to_owned(),
            until: at(60)
        }
    );
    // Renewal by the holder, even with the lease still running.
    assert_eq!(acquire("R1", 90, 30).await, LeaseOutcome::Acquired);
    assert_eq!(
        store.current_lease("S1", at(80)).await.expect("current"),
        Some("R1".to_owned()),
        "renewal extends the lease"
    );
    assert_eq!(
        acquire("R2", 150, 89).await,
        LeaseOutcome::Held {
            run_id: "R1".to_owned(),
            until: at(90)
        }
    );
    // Expired at its `until`: another run takes over.
    assert_eq!(
        store.current_lease("S1", at(90)).await.expect("current"),
        None
    );
    assert_eq!(acquire("R2", 150, 90).await, LeaseOutcome::Acquired);
    assert_eq!(
        store.current_lease("S1", at(100)).await.expect("current"),
        Some("R2".to_owned())
    );

    // Releasing someone else's lease does nothing.
    store.release_lease("S1", "R1").await.expect("release R1");
    assert_eq!(
        store.current_lease("S1", at(100)).await.expect("current"),
        Some("R2".to_owned())
    );
    store.release_lease("S1", "R2").await.expect("release R2");
    assert_eq!(
        store.current_lease("S1", at(100)).await.expect("current"),
        None
    );
    store
        .release_lease("S1", "R2")
        .await
        .expect("releasing twice is fine");
    assert_eq!(acquire("R3", 200, 100).await, LeaseOutcome::Acquired);

    assert_eq!(
        must_get(store, "S1").await,
        def,
        "the lease is not part of the definition"
    );
}

pub async fn runs_newest_first_with_paging(store: &dyn SyncStore) {
    store
        .create_sync(&definition("S1", "Sales"))
        .await
        .expect("create_sync");
    let empty = store.list_runs("S1", 2, None).await.expect("list_runs");
    assert_eq!(
        empty,
        Page {
            items: vec![],
            next_token: None
        }
    );

    for i in [3, 1, 5, 2, 4] {
        let r = run("S1", &format!("01JRUN000{i}"), at(i * 60));
        store.put_run(&r).await.expect("put_run");
    }
    // Another sync's newer run must not leak into S1's listing.
    store
        .put_run(&run("S2", "01JRUN0009", at(600)))
        .await
        .expect("put_run S2");
    // Results and destination state live in the same partition; they are not runs.
    store
        .put_result(
            "S1",
            "01JRUN0005",
            &result("u1", DestinationStatus::Succeeded),
        )
        .await
        .expect("put_result");
    store
        .put_destination_state("S1", &destination_state("u1"))
        .await
        .expect("put_destination_state");

    let first = store.list_runs("S1", 2, None).await.expect("page 1");
    assert_eq!(run_ids(&first), ["01JRUN0005", "01JRUN0004"]);
    let token = first.next_token.as_deref().expect("page 1 has a token");
    let second = store.list_runs("S1", 2, Some(token)).await.expect("page 2");
    assert_eq!(run_ids(&second), ["01JRUN0003", "01JRUN0002"]);
    let token = second.next_token.as_deref().expect("page 2 has a token");
    let third = store.list_runs("S1", 2, Some(token)).await.expect("page 3");
    assert_eq!(run_ids(&third), ["01JRUN0001"]);
    assert_eq!(third.next_token, None);
    assert_eq!(third.items[0], run("S1", "01JRUN0001", at(60)));

    // Replacing a run (e.g. when it finishes).
    let finished = Run {
        status: RunStatus::PartiallyFailed,
        finished_at: Some(at(400)),
        totals: summary("01JRUN0003").totals,
        error: Some("1 destination failed".to_owned()),
        invocations: 2,
        trigger: Trigger::Manual,
        mode: RunMode::DryRun,
        requested_by: "admin@example.com".to_owned(),
        ..run("S1", "01JRUN0003", at(180))
    };
    store.put_run(&finished).await.expect("put_run again");
    assert_eq!(
        store.get_run("S1", "01JRUN0003").await.expect("get_run"),
        Some(finished)
    );
    assert_eq!(
        store.get_run("S1", "01JRUN0404").await.expect("get_run"),
        None
    );
    assert_eq!(
        store.get_run("S2", "01JRUN0003").await.expect("get_run"),
        None
    );
    let all = store.list_runs("S1", 10, None).await.expect("list_runs");
    assert_eq!(all.items.len(), 5);
    assert_eq!(all.next_token, None);
}

pub async fn claim_invocation_is_exactly_once(store: &dyn SyncStore) {
    store
        .create_sync(&definition("S1", "Sales"))
        .await
        .expect("create_sync");
    let claim = |run_id: &'static str, expected: u32| async move {
        store
            .claim_invocation("S1", run_id, expected)
            .await
            .expect("claim_invocation")
    };
    assert!(!claim("R1", 1).await, "a missing run cannot be claimed");
    assert_eq!(
        store.get_run("S1", "R1").await.expect("get_run"),
        None,
        "a claim must not create a run"
    );

    // A run recorded by the API before any executor took it up.
    let queued = Run {
        invocations: 0,
        ..run("S1", "R1", at(0))
    };
    store.put_run(&queued).await.expect("put_run");
    assert!(!claim("R1", 0).await, "invocation 0 is never claimed");
    assert!(!claim("R1", 2).await, "invocation 2 before invocation 1");
    assert!(claim("R1", 1).await, "the first invocation");
    assert!(
        !claim("R1", 1).await,
        "a second delivery of the first event"
    );
    assert!(claim("R1", 2).await, "the continuation");
    assert!(
        !claim("R1", 2).await,
        "a second delivery of the continuation"
    );
    assert_eq!(
        store.get_run("S1", "R1").await.expect("get_run"),
        Some(Run {
            invocations: 2,
            ..queued.clone()
        }),
        "a claim changes nothing but the number of invocations"
    );

    // Simultaneous deliveries of the same continuation: exactly one wins.
    let claims =
        futures::future::join_all((0..8).map(|_| store.claim_invocation("S1", "R1", 3))).await;
    let won = claims
        .into_iter()
        .map(|claimed| claimed.expect("claim_invocation"))
        .filter(|claimed| *claimed)
        .count();
    assert_eq!(won, 1, "concurrent claims of invocation 3");
    assert_eq!(
        store
            .get_run("S1", "R1")
            .await
            .expect("get_run")
            .map(|r| r.invocations),
        Some(3)
    );

    // A finished run is never claimed again, and another sync's run of the same id is another run.
    let finished = Run {
        status: RunStatus::Failed,
        finished_at: Some(at(90)),
        error: Some("interrupted".to_owned()),
        invocations: 3,
        ..queued.clone()
    };
    store.put_run(&finished).await.expect("put_run");
    assert!(!claim("R1", 4).await, "a finished run");
    assert_eq!(
        store.get_run("S1", "R1").await.expect("get_run"),
        Some(finished)
    );
    store
        .put_run(&Run {
            sync_id: "S2".to_owned(),
            ..queued.clone()
        })
        .await
        .expect("put_run S2");
    assert!(
        store
            .claim_invocation("S2", "R1", 1)
            .await
            .expect("claim_invocation S2")
    );
}

pub async fn results_are_per_run(store: &dyn SyncStore) {
    store
        .create_sync(&definition("S1", "Sales"))
        .await
        .expect("create_sync");
    store
        .put_run(&run("S1", "R1", at(0)))
        .await
        .expect("put_run");
    let mut dry_run_result = result("u3", DestinationStatus::Succeeded);
    dry_run_result.planned = Some(PlannedChanges {
        creates: vec![PlannedChange {
            resource_name: "people/c1".to_owned(),
            display_name: "Ada Lovelace".to_owned(),
        }],
        updates: vec![],
        deletes: vec![PlannedChange {
            resource_name: "people/c9".to_owned(),
            display_name: String::new(),
        }],
    });
    for r in [
        result("u2", DestinationStatus::Succeeded),
        dry_run_result.clone(),
        result("u1", DestinationStatus::Failed),
    ] {
        store.put_result("S1", "R1", &r).await.expect("put_result");
    }
    // "R10" starts with "R1": its results must not show up under R1, nor another sync's.
    store
        .put_result("S1", "R10", &result("u0", DestinationStatus::Removed))
        .await
        .expect("put_result R10");
    store
        .put_result("S2", "R1", &result("u7", DestinationStatus::Succeeded))
        .await
        .expect("put_result S2");

    let r1 = store.list_results("S1", "R1").await.expect("list_results");
    assert_eq!(
        r1,
        vec![
            result("u1", DestinationStatus::Failed),
            result("u2", DestinationStatus::Succeeded),
            dry_run_result
        ],
        "ordered by user id"
    );

    // A later result for the same user replaces the earlier one.
    store
        .put_result("S1", "R1", &result("u1", DestinationStatus::Succeeded))
        .await
        .expect("put_result again");
    let r1 = store.list_results("S1", "R1").await.expect("list_results");
    assert_eq!(r1.len(), 3);
    assert_eq!(r1[0], result("u1", DestinationStatus::Succeeded));

    assert_eq!(
        store.list_results("S1", "R10").await.expect("list_results"),
        vec![result("u0", DestinationStatus::Removed)]
    );
    assert_eq!(
        store.list_results("S2", "R1").await.expect("list_results"),
        vec![result("u7", DestinationStatus::Succeeded)]
    );
    assert!(
        store
            .list_results("S1", "R404")
            .await
            .expect("list_results")
            .is_empty()
    );
}

pub async fn destination_states(store: &dyn SyncStore) {
    assert!(
        store
            .list_destination_states("S1")
            .await
            .expect("list on an empty store")
            .is_empty()
    );
    let bare = DestinationState {
        label_resource_name: None,
        last_run_id: None,
        last_status: None,
        last_error: None,
        ..destination_state("u2")
    };
    store
        .put_destination_state("S1", &bare)
        .await
        .expect("put u2");
    store
        .put_destination_state("S1", &destination_state("u1"))
        .await
        .expect("put u1");
    store
        .put_destination_state("S2", &destination_state("u9"))
        .await
        .expect("put S2 u9");
    assert_eq!(
        store.list_destination_states("S1").await.expect("list"),
        vec![destination_state("u1"), bare.clone()]
    );

    let moved = DestinationState {
        email: "u1.renamed@example.com".to_owned(),
        last_status: Some(DestinationStatus::Failed),
        last_error: Some("403 PERMISSION_DENIED".to_owned()),
        ..destination_state("u1")
    };
    store
        .put_destination_state("S1", &moved)
        .await
        .expect("replace u1");
    store
        .delete_destination_state("S1", "u2")
        .await
        .expect("delete u2");
    store
        .delete_destination_state("S1", "u2")
        .await
        .expect("deleting twice is fine");
    store
        .delete_destination_state("S404", "u2")
        .await
        .expect("deleting under a missing sync is fine");
    assert_eq!(
        store.list_destination_states("S1").await.expect("list"),
        vec![moved]
    );
    assert_eq!(
        store.list_destination_states("S2").await.expect("list"),
        vec![destination_state("u9")]
    );
}

pub async fn delete_sync_removes_everything(store: &dyn SyncStore) {
    let def = definition("S1", "Sales");
    let other = definition("S2", "Support");
    store.create_sync(&def).await.expect("create S1");
    store.create_sync(&other).await.expect("create S2");
    store
        .put_run(&run("S2", "R0", at(0)))
        .await
        .expect("put_run S2");
    store
        .put_destination_state("S2", &destination_state("u1"))
        .await
        .expect("put_destination_state S2");

    // 12 runs + 24 results + 8 destination states: more than one BatchWriteItem of 25.
    for i in 0..12 {
        let run_id = format!("R{i:02}");
        store
            .put_run(&run("S1", &run_id, at(i)))
            .await
            .expect("put_run");
        for user in ["u1", "u2"] {
            store
                .put_result("S1", &run_id, &result(user, DestinationStatus::Succeeded))
                .await
                .expect("put_result");
        }
    }
    for i in 0..8 {
        store
            .put_destination_state("S1", &destination_state(&format!("u{i}")))
            .await
            .expect("put_destination_state");
    }
    store
        .set_last_run("S1", &summary("R11"))
        .await
        .expect("set_last_run");
    assert_eq!(
        store
            .acquire_lease("S1", "R11", at(600), at(0))
            .await
            .expect("acquire_lease"),
        LeaseOutcome::Acquired
    );

    store.delete_sync("S1").await.expect("delete_sync");

    assert_eq!(store.get_sync("S1").await.expect("get_sync"), None);
    let runs = store.list_runs("S1", 100, None).await.expect("list_runs");
    assert!(runs.items.is_empty(), "runs left: {:?}", run_ids(&runs));
    assert_eq!(store.get_run("S1", "R00").await.expect("get_run"), None);
    for i in 0..12 {
        let left = store
            .list_results("S1", &format!("R{i:02}"))
            .await
            .expect("list_results");
        assert!(left.is_empty(), "results left in run {i}: {left:?}");
    }
    assert!(
        store
            .list_destination_states("S1")
            .await
            .expect("list_destination_states")
            .is_empty()
    );
    assert_eq!(
        store.current_lease("S1", at(0)).await.expect("current"),
        None
    );
    assert_eq!(
        store.list_syncs(10, None).await.expect("list_syncs").items,
        vec![other.clone()]
    );

    // The other sync is untouched.
    assert_eq!(must_get(store, "S2").await, other);
    assert_eq!(
        store
            .list_runs("S2", 10, None)
            .await
            .expect("list_runs")
            .items,
        vec![run("S2", "R0", at(0))]
    );
    assert_eq!(
        store
            .list_destination_states("S2")
            .await
            .expect("list_destination_states"),
        vec![destination_state("u1")]
    );

    // Everything that needs the definition now reports it missing.
    let err = store.delete_sync("S1").await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
    assert_eq!(
        store
            .acquire_lease("S1", "R12", at(600), at(0))
            .await
            .expect("acquire_lease"),
        LeaseOutcome::SyncMissing
    );
    let err = store.set_last_run("S1", &summary("R12")).await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
    let err = store.update_sync(&definition("S1", "Sales"), 1).await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
    // The id is free again.
    store.create_sync(&def).await.expect("re-create S1");
    assert_eq!(must_get(store, "S1").await, def);
}
