//! The executor against the Google emulator and moto when things go wrong: a missing source, failing
//! destinations, faults and quotas, concurrent invocations, crashes and deadlines.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use contact_sync::api::{ApiContext, ops};
use contact_sync::dispatch::{DispatchError, Dispatcher};
use contact_sync::google::Person;
use contact_sync::model::{
    DestinationKind, DestinationStatus, ExecutorEvent, Run, RunMode, RunStatus, Trigger,
};
use contact_sync::sync::{Engine, EngineSettings, RunOutcome};
use contact_sync_tests::executor_support::{
    Rig, RigOptions, SOURCE, dest, event, full_contact, invoke_engine, invoke_engine_until, seed,
    standard_seed,
};
use google_emulator::{ConfigUpdate, EmulatorOptions};
use serde_json::{Value, json};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const CAT: &str = "cat@example.com";

/// Slow Google (150 ms a call), one user at a time and a 1 s safety margin: an invocation given a deadline of a
/// few seconds runs out of time part-way through the users.
fn slow_one_user_at_a_time() -> RigOptions {
    RigOptions {
        emulator: EmulatorOptions {
            latency_ms: 150,
            ..EmulatorOptions::default()
        },
        settings: EngineSettings {
            concurrency: 1,
            safety_margin: Duration::from_secs(1),
            ..RigOptions::default().settings
        },
        ..RigOptions::default()
    }
}

async fn sales_rig(
    options: RigOptions,
    contacts: usize,
) -> (Rig, contact_sync::model::SyncDefinition) {
    let mut s = standard_seed();
    if contacts > 0 {
        s["contact_groups"][SOURCE][0]["contacts"] =
            Value::Array((0..contacts).map(full_contact).collect());
    }
    sales_rig_with_seed(s, options).await
}

/// A rig on `seed_json` with the sync "Partners" from SOURCE into the /Sales org unit and BOB.
async fn sales_rig_with_seed(
    seed_json: Value,
    options: RigOptions,
) -> (Rig, contact_sync::model::SyncDefinition) {
    let rig = Rig::start(seed(seed_json).expect("seed"), options)
        .await
        .expect("rig");
    let sales = rig.org_unit("/Sales").await.expect("ou");
    let bob_id = rig.user_id(BOB).await.expect("id");
    let sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![
                dest(
                    DestinationKind::OrgUnit,
                    sales["orgUnitId"].as_str().expect("id"),
                    "/Sales",
                ),
                dest(DestinationKind::User, &bob_id, BOB),
            ],
        )
        .await
        .expect("sync");
    (rig, sync)
}

/// Source failures: a deleted source group, a suspended source user and a missing source user fail the
/// run with a clear error, and touch no destination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_fails_the_run_clearly() {
    let (rig, sync) = sales_rig(RigOptions::default(), 0).await;

    // A source user that does not exist.
    let mut ghost = rig
        .create_sync(SOURCE, "Vendors", vec![])
        .await
        .expect("sync");
    ghost.source.user_id = "100000000000000000000".into();
    ghost.version = 2;
    rig.store.update_sync(&ghost, 1).await.expect("update");
    let run = rig.run(&ghost.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.clone().unwrap_or_default();
    assert!(
        error.contains("source user") && error.contains("no longer exists"),
        "{error}"
    );

    // The source group deleted.
    let group = rig.contact_group(SOURCE, "Partners").await.expect("group");
    rig.google
        .people
        .delete_contact_group(SOURCE, &group, false)
        .await
        .expect("delete group");
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.clone().unwrap_or_default();
    assert!(
        error.contains("source contact group") && error.contains("no longer exists"),
        "{error}"
    );
    assert!(rig.persons(ANN).is_empty());
    let definition = rig
        .store
        .get_sync(&sync.id)
        .await
        .expect("get")
        .expect("sync");
    assert_eq!(
        definition.last_run.map(|r| r.status),
        Some(RunStatus::Failed)
    );
    assert_eq!(
        rig.store
            .current_lease(&sync.id, chrono::Utc::now())
            .await
            .expect("lease"),
        None
    );

    // The source user suspended.
    rig.patch_user(SOURCE, json!({"suspended": true}))
        .await
        .expect("suspend");
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.error.clone().unwrap_or_default().contains("suspended"),
        "{run:?}"
    );
}

/// A destination that no longer exists is an error on the run; the other destinations are synced, and nobody is
/// treated as a leaver while the audience is incomplete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_destination_is_reported_and_removes_nobody() {
    let rig = Rig::start(seed(standard_seed()).expect("seed"), RigOptions::default())
        .await
        .expect("rig");
    let ann_id = rig.user_id(ANN).await.expect("id");
    let cat_id = rig.user_id(CAT).await.expect("id");
    let mut sync = rig
        .create_sync(
            SOURCE,
            "Partners",
            vec![
                dest(DestinationKind::User, &ann_id, ANN),
                dest(DestinationKind::User, &cat_id, CAT),
            ],
        )
        .await
        .expect("sync");
    rig.run(&sync.id, RunMode::Apply).await.expect("run");

    // Cat's destination is replaced by a group that does not exist.
    sync.destinations[1] = dest(DestinationKind::Group, "0gone000000000", "gone@example.com");
    sync.version = 2;
    rig.store.update_sync(&sync, 1).await.expect("update");
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::PartiallyFailed, "{run:?}");
    let error = run.error.clone().unwrap_or_default();
    assert!(
        error.contains("gone@example.com") && error.contains("no longer exists"),
        "{error}"
    );
    rig.assert_in_sync(ANN, &sync).await.expect("ann");
    assert_eq!(
        rig.managed(CAT, &sync.id).len(),
        3,
        "cat was treated as a leaver"
    );
}

/// Destination failures: a destination answering 403 and one at its contact limit are recorded as failed;
/// the others still succeed; once the problems are gone the next run completes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_destinations_do_not_fail_the_others() {
    let mut s = standard_seed();
    s["contacts"][BOB] = json!([
        {"names": [{"givenName": "B1"}]}, {"names": [{"givenName": "B2"}]}, {"names": [{"givenName": "B3"}]}
    ]);
    let (rig, sync) = sales_rig_with_seed(s, RigOptions::default()).await;
    let bob_id = rig.user_id(BOB).await.expect("id");
    rig.emulator.configure(ConfigUpdate {
        user_faults: Some(BTreeMap::from([(CAT.to_owned(), 403)])),
        max_contacts_per_user: Some(4),
        ..ConfigUpdate::default()
    });

    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::PartiallyFailed, "{run:?}");
    assert_eq!(
        (run.totals.succeeded_users, run.totals.failed_users),
        (1, 2)
    );
    let results = rig.results(&run).await.expect("results");
    assert_eq!(results[ANN].status, DestinationStatus::Succeeded);
    for user in [CAT, BOB] {
        assert_eq!(results[user].status, DestinationStatus::Failed, "{user}");
        assert!(!results[user].error.clone().unwrap_or_default().is_empty());
    }
    assert!(
        results[CAT]
            .error
            .clone()
            .unwrap_or_default()
            .contains("403"),
        "{:?}",
        results[CAT]
    );
    rig.assert_in_sync(ANN, &sync).await.expect("ann");
    let states = rig
        .store
        .list_destination_states(&sync.id)
        .await
        .expect("states");
    assert!(
        states
            .iter()
            .any(|s| s.user_id == bob_id && s.last_error.is_some())
    );

    rig.emulator.configure(ConfigUpdate {
        user_faults: Some(BTreeMap::new()),
        max_contacts_per_user: Some(25_000),
        ..ConfigUpdate::default()
    });
    let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    for user in [ANN, CAT, BOB] {
        rig.assert_in_sync(user, &sync).await.expect("in sync");
    }
}

/// With quotas and a 10% fault rate (some writes answered 503 after being applied, so their outcome
/// is unknown) runs still converge to exactly the right final state, with no duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_quotas_still_converge_exactly() {
    // The rig is set up without faults (the test's own calls do not retry); then faults and quotas are switched on.
    let options = RigOptions {
        emulator: EmulatorOptions {
            rng_seed: Some(7),
            ..EmulatorOptions::default()
        },
        ..RigOptions::default()
    };
    let (rig, sync) = sales_rig(options, 30).await;
    rig.emulator.configure(ConfigUpdate {
        fault_rate: Some(0.1),
        read_quota_per_minute: Some(Some(2)),
        write_quota_per_minute: Some(Some(1)),
        quota_window_ms: Some(200),
        ..ConfigUpdate::default()
    });

    let mut last = None;
    for _ in 0..4 {
        let run = rig.run(&sync.id, RunMode::Apply).await.expect("run");
        let done = run.status == RunStatus::Succeeded;
        last = Some(run);
        if done {
            break;
        }
    }
    let last = last.expect("a run");
    assert_eq!(last.status, RunStatus::Succeeded, "{last:?}");
    let stats = rig.emulator.stats();
    assert!(stats.faults > 0, "no faults were injected: {stats:?}");
    assert!(stats.rate_limited > 0, "no quota was hit: {stats:?}");

    // Change the source (faults paused for the test's own calls), sync under faults again, then check the exact
    // final state without faults.
    rig.emulator.configure(ConfigUpdate {
        fault_rate: Some(0.0),
        ..ConfigUpdate::default()
    });
    let group = rig.contact_group(SOURCE, "Partners").await.expect("group");
    let members = rig
        .google
        .people
        .get_contact_group(SOURCE, &group, 100)
        .await
        .expect("group")
        .member_resource_names;
    rig.google
        .people
        .modify_contact_group_members(SOURCE, &group, &[], &members[..5])
        .await
        .expect("take five out");
    rig.emulator.configure(ConfigUpdate {
        fault_rate: Some(0.1),
        ..ConfigUpdate::default()
    });
    let mut status = RunStatus::Running;
    for _ in 0..4 {
        status = rig.run(&sync.id, RunMode::Apply).await.expect("run").status;
        if status == RunStatus::Succeeded {
            break;
        }
    }
    assert_eq!(status, RunStatus::Succeeded);
    rig.emulator.configure(ConfigUpdate {
        fault_rate: Some(0.0),
        read_quota_per_minute: Some(None),
        write_quota_per_minute: Some(None),
        ..ConfigUpdate::default()
    });
    for user in [ANN, CAT, BOB] {
        rig.assert_in_sync(user, &sync)
            .await
            .expect("exact final state");
        assert_eq!(rig.managed(user, &sync.id).len(), 25);
    }
    rig.emulator.reset_stats();
    rig.run(&sync.id, RunMode::Apply).await.expect("run");
    assert_eq!(rig.emulator.stats().writes, 0);
}

/// Of two simultaneous invocations one runs and the other records that it was skipped; a run that
/// crashed mid-way blocks the sync until its lease expires, and the next run converges with no duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_skip_and_crashed_runs_converge() {
    let options = RigOptions {
        emulator: EmulatorOptions {
            latency_ms: 40,
            ..EmulatorOptions::default()
        },
        ..RigOptions::default()
    };
    let (rig, sync) = sales_rig(options, 0).await;

    let (a, b) = tokio::join!(
        rig.invoke(event(&sync.id, RunMode::Apply), Duration::from_secs(600)),
        rig.invoke(event(&sync.id, RunMode::Apply), Duration::from_secs(600)),
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    let (ran, skipped) = match (&a.outcome, &b.outcome) {
        (RunOutcome::Finished { .. }, RunOutcome::Skipped { .. }) => (a, b),
        (RunOutcome::Skipped { .. }, RunOutcome::Finished { .. }) => (b, a),
        other => panic!("expected one run and one skip, got {other:?}"),
    };
    assert_eq!(
        ran.outcome,
        RunOutcome::Finished {
            status: RunStatus::Succeeded
        }
    );
    let skipped_run = rig
        .store
        .get_run(&sync.id, skipped.run_id.as_deref().expect("id"))
        .await
        .expect("get")
        .expect("skipped run recorded");
    assert_eq!(skipped_run.status, RunStatus::Skipped);
    let error = skipped_run.error.unwrap_or_default();
    assert!(
        error.contains("in progress") && error.contains(ran.run_id.as_deref().expect("id")),
        "{error}"
    );

    // A source change, then a run that crashes after writing part of it.
    let mut added = Vec::new();
    let group = rig.contact_group(SOURCE, "Partners").await.expect("group");
    for i in 10..16 {
        let mut p: Person = serde_json::from_value(full_contact(i)).expect("person");
        p.memberships = vec![contact_sync::google::Membership::of_group(&group)];
        added.push(p);
    }
    rig.google
        .people
        .batch_create_contacts(SOURCE, &added)
        .await
        .expect("add");
    let engine = rig.engine.clone();
    let crashing = tokio::spawn({
        let id = sync.id.clone();
        async move {
            contact_sync_tests::executor_support::invoke_engine(
                &engine,
                event(&id, RunMode::Apply),
                Duration::from_secs(600),
            )
            .await
        }
    });
    let mut waited = 0;
    while rig.managed(ANN, &sync.id).len()
        + rig.managed(CAT, &sync.id).len()
        + rig.managed(BOB, &sync.id).len()
        <= 9
        && waited < 200
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    crashing.abort();
    let _ = crashing.await;

    // Also leave a duplicate behind, as a crash between a create and its answer would.
    let copy = rig.managed(ANN, &sync.id).pop().expect("a managed copy");
    let duplicate = Person {
        resource_name: None,
        etag: None,
        metadata: None,
        ..copy
    };
    rig.google
        .people
        .batch_create_contacts(ANN, &[duplicate])
        .await
        .expect("duplicate");

    // While the crashed run's lease lasts, a new run is skipped.
    let crashed_id = rig
        .store
        .current_lease(&sync.id, chrono::Utc::now())
        .await
        .expect("lease")
        .expect("the crashed run finished before it could be aborted");
    let crashed = rig
        .store
        .get_run(&sync.id, &crashed_id)
        .await
        .expect("get")
        .expect("the crashed run is recorded");
    assert_eq!(
        (crashed.status, crashed.invocations),
        (RunStatus::Running, 1)
    );
    let blocked = rig
        .invoke(event(&sync.id, RunMode::Apply), Duration::from_secs(600))
        .await
        .expect("invoke");
    assert!(
        matches!(blocked.outcome, RunOutcome::Skipped { .. }),
        "{blocked:?}"
    );

    // After it expires (a clock an hour later), a new run converges with no duplicates.
    let later = rig.engine_with_clock_offset(chrono::Duration::hours(1));
    let deadline = chrono::Utc::now() + chrono::Duration::hours(1) + chrono::Duration::minutes(10);
    let report = invoke_engine_until(&later, event(&sync.id, RunMode::Apply), deadline)
        .await
        .expect("invoke");
    assert_eq!(
        report.outcome,
        RunOutcome::Finished {
            status: RunStatus::Succeeded
        },
        "{report:?}"
    );
    for user in [ANN, CAT, BOB] {
        rig.assert_in_sync(user, &sync)
            .await
            .expect("converged without duplicates");
        assert_eq!(rig.managed(user, &sync.id).len(), 9);
    }

    // The run that took over recorded the crashed one as failed, readable like any other run.
    let later_id = report.run_id.as_deref().expect("run id");
    let ctx = ApiContext::new(
        Arc::clone(&rig.store),
        Arc::clone(&rig.google.people),
        Arc::clone(&rig.google.directory),
        Arc::clone(&rig.dispatcher) as Arc<dyn Dispatcher>,
    );
    let detail = ops::get_run(&ctx, &sync.id, &crashed_id)
        .await
        .expect("GET /syncs/{id}/runs/{run_id} of the crashed run");
    assert_eq!(detail.run.status, RunStatus::Failed, "{:?}", detail.run);
    assert_eq!(
        detail.run.error.as_deref(),
        Some(
            format!(
                "interrupted: the executor stopped before finishing (timeout or crash); superseded by run \
                 {later_id}"
            )
            .as_str()
        )
    );
    let finished_at = detail.run.finished_at.expect("finished_at");
    assert!(
        finished_at > chrono::Utc::now() + chrono::Duration::minutes(50),
        "finished when the later run (an hour ahead) took over: {finished_at}"
    );
    assert_eq!(detail.run.invocations, 1);
    assert_eq!(
        detail.run.totals.users as usize,
        detail.results.len(),
        "totals count what the crashed run recorded"
    );
    let runs = rig
        .store
        .list_runs(&sync.id, 10, None)
        .await
        .expect("runs")
        .items;
    assert!(
        runs.iter().all(|r| r.status.is_finished()),
        "a run is still recorded as running: {runs:?}"
    );
    assert_eq!(
        report_run(&runs, blocked.run_id.as_deref()).status,
        RunStatus::Skipped,
        "a run skipped while the crashed run held the lease stays skipped"
    );
    let last_run = rig
        .store
        .get_sync(&sync.id)
        .await
        .expect("get")
        .expect("sync")
        .last_run
        .expect("last run");
    assert_eq!(
        (last_run.run_id.as_str(), last_run.status),
        (later_id, RunStatus::Succeeded),
        "the summary shows the newest finished run"
    );
}

fn report_run<'a>(runs: &'a [Run], run_id: Option<&str>) -> &'a Run {
    runs.iter()
        .find(|r| Some(r.run_id.as_str()) == run_id)
        .unwrap_or_else(|| panic!("run {run_id:?} not among {runs:?}"))
}

/// A run that cannot finish before the deadline saves its progress and continues in a new
/// invocation, which skips the users already done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_near_its_deadline_continues_in_a_new_invocation() {
    let (rig, sync) = sales_rig(slow_one_user_at_a_time(), 0).await;

    let report = rig
        .invoke(event(&sync.id, RunMode::Apply), Duration::from_millis(2500))
        .await
        .expect("invoke");
    assert_eq!(report.outcome, RunOutcome::Continued, "{report:?}");
    let run_id = report.run_id.expect("run id");
    let saved = rig
        .store
        .get_run(&sync.id, &run_id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!((saved.status, saved.invocations), (RunStatus::Running, 1));
    assert!(
        rig.store
            .current_lease(&sync.id, chrono::Utc::now())
            .await
            .expect("lease")
            .is_some()
    );

    rig.dispatcher.wait_idle().await;
    let run = rig
        .store
        .get_run(&sync.id, &run_id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(run.invocations >= 2, "{run:?}");
    assert_eq!(run.totals.users, 3);
    assert_eq!(run.totals.created, 9);
    for user in [ANN, CAT, BOB] {
        rig.assert_in_sync(user, &sync).await.expect("in sync");
        let creates = rig
            .calls_of(user)
            .get("people.people.batchCreateContacts")
            .copied();
        assert_eq!(creates, Some(1), "{user} was processed more than once");
    }
}

/// Keeps the events an engine dispatches instead of running them, so the test delivers them itself.
#[derive(Default)]
struct RecordingDispatcher {
    events: Mutex<Vec<ExecutorEvent>>,
}

impl RecordingDispatcher {
    fn take(&self) -> Vec<ExecutorEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl Dispatcher for RecordingDispatcher {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
        Ok(())
    }
}

/// Source reads made as the source user (each processing invocation reads the group once, then its members).
fn source_reads(rig: &Rig) -> (u64, u64) {
    let calls = rig.calls_of(SOURCE);
    let count = |method: &str| calls.get(method).copied().unwrap_or(0);
    (
        count("people.contactGroups.get"),
        count("people.people.getBatchGet"),
    )
}

/// Asynchronous Lambda invokes are at-least-once: the same continuation delivered twice at once is processed by
/// exactly one invocation (the other exits as a duplicate without calling Google), and so is the same first event
/// of a run the API recorded. A delivery after the run finished does nothing either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_delivered_twice_is_processed_once() {
    let (rig, sync) = sales_rig(slow_one_user_at_a_time(), 0).await;

    // A first invocation that runs out of time; its continuation is kept rather than run.
    let recorder = Arc::new(RecordingDispatcher::default());
    let engine = Engine::new(
        Arc::clone(&rig.google.people),
        Arc::clone(&rig.google.directory),
        Arc::clone(&rig.store),
        Arc::clone(&recorder) as Arc<dyn Dispatcher>,
        rig.engine.settings().clone(),
    );
    let report = invoke_engine(
        &engine,
        event(&sync.id, RunMode::Apply),
        Duration::from_millis(2500),
    )
    .await
    .expect("invoke");
    assert_eq!(report.outcome, RunOutcome::Continued, "{report:?}");
    let run_id = report.run_id.clone().expect("run id");
    let mut continuations = recorder.take();
    assert_eq!(continuations.len(), 1, "{continuations:?}");
    let continuation = continuations.remove(0);
    assert_eq!(continuation.run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(continuation.invocation, Some(2));
    let saved = rig
        .store
        .get_run(&sync.id, &run_id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!((saved.status, saved.invocations), (RunStatus::Running, 1));
    let done_first = rig
        .store
        .list_results(&sync.id, &run_id)
        .await
        .expect("results")
        .len();
    assert!(done_first < 3, "the first invocation did every user");
    assert_eq!(source_reads(&rig), (1, 1));

    // The continuation, delivered twice at once.
    let (a, b) = tokio::join!(
        rig.invoke(continuation.clone(), Duration::from_secs(600)),
        rig.invoke(continuation.clone(), Duration::from_secs(600)),
    );
    let outcomes = [a.expect("first delivery"), b.expect("second delivery")].map(|r| r.outcome);
    let finished = RunOutcome::Finished {
        status: RunStatus::Succeeded,
    };
    let duplicate = RunOutcome::Duplicate { invocation: 2 };
    assert!(
        outcomes == [finished.clone(), duplicate.clone()]
            || outcomes == [duplicate.clone(), finished.clone()],
        "expected one run and one duplicate, got {outcomes:?}"
    );
    rig.dispatcher.wait_idle().await;
    assert_eq!(source_reads(&rig), (2, 2), "the duplicate read the source");
    let run = rig
        .store
        .get_run(&sync.id, &run_id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!(
        (run.status, run.invocations, run.error.as_deref()),
        (RunStatus::Succeeded, 2, None),
        "{run:?}"
    );
    assert_eq!(
        (
            run.totals.users,
            run.totals.succeeded_users,
            run.totals.created
        ),
        (3, 3, 9)
    );
    for user in [ANN, CAT, BOB] {
        rig.assert_in_sync(user, &sync).await.expect("in sync");
        assert_eq!(rig.managed(user, &sync.id).len(), 3, "{user}");
        let creates = rig
            .calls_of(user)
            .get("people.people.batchCreateContacts")
            .copied();
        assert_eq!(creates, Some(1), "{user} was processed more than once");
    }
    assert_eq!(
        rig.store
            .current_lease(&sync.id, chrono::Utc::now())
            .await
            .expect("lease"),
        None,
        "the finished run released the lease"
    );

    // Delivered once more after the run finished: nothing happens.
    let calls_before = rig.emulator.stats().by_method;
    let late = rig
        .invoke(continuation, Duration::from_secs(600))
        .await
        .expect("late delivery");
    assert_eq!(
        late.outcome,
        RunOutcome::AlreadyFinished {
            status: RunStatus::Succeeded
        }
    );
    assert_eq!(rig.emulator.stats().by_method, calls_before);

    // A run recorded by the API (no invocation yet), its first event delivered twice at once.
    let queued = Run {
        trigger: Trigger::Manual,
        invocations: 0,
        requested_by: "admin@example.com".to_owned(),
        ..contact_sync::store::contract::run(
            &sync.id,
            &contact_sync::model::new_id(),
            chrono::Utc::now(),
        )
    };
    rig.store.put_run(&queued).await.expect("put_run");
    let first = ExecutorEvent {
        run_id: Some(queued.run_id.clone()),
        ..event(&sync.id, RunMode::Apply)
    };
    let (groups_read, members_read) = source_reads(&rig);
    let (a, b) = tokio::join!(
        rig.invoke(first.clone(), Duration::from_secs(600)),
        rig.invoke(first, Duration::from_secs(600)),
    );
    let outcomes = [a.expect("first delivery"), b.expect("second delivery")].map(|r| r.outcome);
    let duplicate = RunOutcome::Duplicate { invocation: 1 };
    assert!(
        outcomes == [finished.clone(), duplicate.clone()]
            || outcomes == [duplicate.clone(), finished.clone()],
        "expected one run and one duplicate, got {outcomes:?}"
    );
    assert_eq!(
        source_reads(&rig),
        (groups_read + 1, members_read + 1),
        "the duplicate read the source"
    );
    let run = rig
        .store
        .get_run(&sync.id, &queued.run_id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!(
        (
            run.status,
            run.invocations,
            run.totals.users,
            run.totals.unchanged
        ),
        (RunStatus::Succeeded, 1, 3, 9),
        "{run:?}"
    );
    for user in [ANN, CAT, BOB] {
        rig.assert_in_sync(user, &sync).await.expect("in sync");
    }
}

/// A run the API recorded whose event never reached an executor (lost, or expired in Lambda's queue) is left alone
/// while the event may still arrive, and recorded as failed by the next run once it cannot; a late copy of the
/// event then does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_event_never_arrived_is_failed_once_it_no_longer_can() {
    let (rig, sync) = sales_rig(RigOptions::default(), 3).await;
    let lost = Run {
        trigger: Trigger::Manual,
        invocations: 0,
        requested_by: "admin@example.com".to_owned(),
        ..contact_sync::store::contract::run(
            &sync.id,
            &contact_sync::model::new_id(),
            chrono::Utc::now(),
        )
    };
    rig.store.put_run(&lost).await.expect("record the lost run");
    let stored_lost = || async {
        rig.store
            .get_run(&sync.id, &lost.run_id)
            .await
            .expect("get")
            .expect("the lost run is recorded")
    };

    // An hour later its event may still come: the daily run leaves it running.
    let hour_later = rig.engine_with_clock_offset(chrono::Duration::hours(1));
    let deadline = chrono::Utc::now() + chrono::Duration::hours(1) + chrono::Duration::minutes(10);
    let report = invoke_engine_until(&hour_later, event(&sync.id, RunMode::Apply), deadline)
        .await
        .expect("invoke");
    assert_eq!(
        report.outcome,
        RunOutcome::Finished {
            status: RunStatus::Succeeded
        },
        "{report:?}"
    );
    assert_eq!(
        stored_lost().await,
        lost,
        "a run whose event may still arrive is untouched"
    );

    // Once Lambda can no longer deliver it (past the event age limit and the executor's timeout), the next run
    // records it as failed.
    let later = chrono::Duration::seconds(contact_sync::sync::UNDELIVERED_RUN_AFTER_SECS + 60);
    let much_later = rig.engine_with_clock_offset(later);
    let deadline = chrono::Utc::now() + later + chrono::Duration::minutes(10);
    let report = invoke_engine_until(&much_later, event(&sync.id, RunMode::Apply), deadline)
        .await
        .expect("invoke");
    assert_eq!(
        report.outcome,
        RunOutcome::Finished {
            status: RunStatus::Succeeded
        },
        "{report:?}"
    );
    let later_id = report.run_id.as_deref().expect("run id");
    let failed = stored_lost().await;
    assert_eq!((failed.status, failed.invocations), (RunStatus::Failed, 0));
    assert_eq!(
        failed.error.as_deref(),
        Some(
            format!(
                "never started: no executor took this run up within 7 hours (its event was lost or expired; the \
                 executor's dead-letter queue holds undelivered events); superseded by run {later_id}"
            )
            .as_str()
        )
    );
    assert_eq!(failed.totals.users, 0);
    let finished_at = failed.finished_at.expect("finished_at");
    assert!(finished_at > chrono::Utc::now() + later - chrono::Duration::minutes(5));

    // A copy of its event arriving after all is a no-op.
    let late = ExecutorEvent {
        run_id: Some(lost.run_id.clone()),
        ..event(&sync.id, RunMode::Apply)
    };
    let report = rig
        .invoke(late, Duration::from_secs(600))
        .await
        .expect("invoke");
    assert_eq!(
        report.outcome,
        RunOutcome::AlreadyFinished {
            status: RunStatus::Failed
        }
    );
    assert_eq!(stored_lost().await, failed);
    for user in [ANN, CAT, BOB] {
        rig.assert_in_sync(user, &sync).await.expect("in sync");
    }
}
