//! Crashes: the executor is stopped after k writes to Google (the k-th reaches Google but its answer is lost with
//! the process; nothing after it is sent), its task aborted, its lease left in place. A new run is skipped while
//! the lease holds; once the lease has expired (a clock an hour ahead) a new run converges: the final state is
//! exact, nothing is duplicated and no user-owned contact is touched. For several k and seeds, in a first sync and
//! in a re-run that creates, updates and deletes.

use std::sync::Arc;
use std::time::Duration;

use contact_sync::clock::{Clock, SystemClock};
use contact_sync::google::PeopleApi;
use contact_sync::model::{RunMode, RunStatus};
use contact_sync::sync::RunOutcome;
use contact_sync_tests::executor_support::{Rig, RigOptions};
use contact_sync_tests::reliability::{
    CrashAfterWrites, OffsetClock, RecordingDispatcher, WorldSpec, api_context, change_source,
    create_sync, deadline_after, destination_email, duplicate_sources, engine_with, snapshot_own,
    verify_world, world_seed,
};
use google_emulator::EmulatorOptions;

/// How long a crashing run may take to reach its crash point.
const CRASH_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The first sync crashes (labels and contacts half created).
    FirstSync,
    /// A re-run after source edits, deletions and additions crashes (deletes, updates and creates half done).
    ReRun,
}

fn spec(seed: u64) -> WorldSpec {
    WorldSpec {
        contacts: 24,
        destinations: 4,
        own_contacts: 2,
        seed,
    }
}

async fn crash_case(rig: &Rig, seed: u64, phase: Phase, k: usize) -> anyhow::Result<()> {
    let spec = spec(seed);
    rig.emulator
        .reset(world_seed(&spec))
        .map_err(|e| anyhow::anyhow!("reset: {e}"))?;
    let own = snapshot_own(&rig.emulator, &spec);
    let ctx = api_context(rig, Arc::new(RecordingDispatcher::default()));
    let sync = create_sync(&ctx, &format!("crash {seed} {phase:?} {k}")).await?;
    if phase == Phase::ReRun {
        let first = rig.run(&sync.id, RunMode::Apply).await?;
        anyhow::ensure!(first.status == RunStatus::Succeeded, "first run {first:?}");
        change_source(rig.google.people.as_ref(), 4, 3, 5, seed).await?;
    }

    // The crashing run.
    let crashing = CrashAfterWrites::new(Arc::clone(&rig.google.people), k);
    let engine = Arc::new(engine_with(
        rig,
        Arc::clone(&crashing) as Arc<dyn PeopleApi>,
        Arc::new(SystemClock),
    ));
    let event = contact_sync_tests::executor_support::event(&sync.id, RunMode::Apply);
    let task = {
        let engine = Arc::clone(&engine);
        let event = event.clone();
        tokio::spawn(async move {
            let deadline = deadline_after(&SystemClock, 15);
            engine.execute(&event, deadline).await
        })
    };
    let crashed = tokio::time::timeout(CRASH_TIMEOUT, crashing.crashed()).await;
    anyhow::ensure!(
        crashed.is_ok(),
        "the run never reached write {k} (it made {} writes)",
        crashing.writes()
    );
    task.abort();
    let aborted = task.await;
    anyhow::ensure!(
        aborted.as_ref().is_err_and(|e| e.is_cancelled()),
        "the crashing run finished instead of being stopped: {aborted:?}"
    );

    // The crashed run's lease still holds: a new run is skipped.
    let skipped = rig.invoke(event.clone(), Duration::from_secs(600)).await?;
    anyhow::ensure!(
        matches!(skipped.outcome, RunOutcome::Skipped { .. }),
        "a run during the crashed run's lease should be skipped: {skipped:?}"
    );

    // An hour later the lease has expired: a new run converges.
    let later: Arc<dyn Clock> = Arc::new(OffsetClock(chrono::Duration::hours(1)));
    let engine = engine_with(rig, Arc::clone(&rig.google.people), Arc::clone(&later));
    let report = engine
        .execute(&event, deadline_after(later.as_ref(), 15))
        .await?;
    anyhow::ensure!(
        report.outcome
            == RunOutcome::Finished {
                status: RunStatus::Succeeded
            },
        "the run after the crash: {report:?}"
    );
    for i in 0..spec.destinations {
        let user = destination_email(i);
        let duplicates = duplicate_sources(&rig.emulator.contacts_of(&user), &sync.id);
        anyhow::ensure!(duplicates.is_empty(), "{user}: duplicated {duplicates:?}");
    }
    verify_world(&rig.emulator, &spec, &sync.id, &sync.label_name, Some(&own))?;
    Ok(())
}

async fn crash_cases(phase: Phase, seeds: &[u64], ks: &[usize]) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for &seed in seeds {
        let rig = Rig::start(
            world_seed(&spec(seed)),
            RigOptions {
                emulator: EmulatorOptions {
                    rng_seed: Some(seed),
                    ..EmulatorOptions::default()
                },
                ..RigOptions::default()
            },
        )
        .await?;
        for &k in ks {
            if let Err(e) = crash_case(&rig, seed, phase, k).await {
                failures.push(format!(
                    "seed {seed}, {phase:?}, crash after {k} writes: {e:#}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}

/// A first sync to 4 users makes 8 writes (a label and one batch of creates each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_stopped_after_k_writes_converges_after_the_lease_expires()
-> anyhow::Result<()> {
    crash_cases(Phase::FirstSync, &[5, 9], &[1, 2, 4, 7]).await
}

/// A re-run after edits, deletions and additions makes 12 writes (a delete, an update and a create batch each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_run_stopped_after_k_writes_converges_after_the_lease_expires() -> anyhow::Result<()> {
    crash_cases(Phase::ReRun, &[5, 9], &[1, 3, 6, 11]).await
}
