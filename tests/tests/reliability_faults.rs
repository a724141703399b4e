//! Reliability under Google's failures: with a 10% fault rate (half of the faulted writes applied before the
//! 503) and per-user quotas tight enough that every destination meets 429s, a first sync and a re-run after the
//! source changed both end in exactly the right state, over several random seeds: every destination's managed
//! contacts equal the source field by field after normalisation, no duplicates, the suspended user gets nothing,
//! and the users' own contacts are untouched.

use contact_sync::model::{RunMode, RunStatus};
use contact_sync_tests::executor_support::{Rig, RigOptions};
use contact_sync_tests::reliability::{
    RecordingDispatcher, WorldSpec, api_context, change_source, create_sync, snapshot_own,
    test_retry_policy, verify_world, world_seed,
};
use google_emulator::{ConfigUpdate, EmulatorOptions};
use std::sync::Arc;

const SEEDS: [u64; 3] = [3, 17, 42];

async fn faults_case(rng_seed: u64) -> anyhow::Result<()> {
    let spec = WorldSpec {
        contacts: 40,
        destinations: 6,
        own_contacts: 3,
        seed: rng_seed,
    };
    let faults = EmulatorOptions {
        fault_rate: 0.1,
        read_quota_per_minute: Some(1),
        write_quota_per_minute: Some(1),
        quota_window_ms: 250,
        rng_seed: Some(rng_seed),
        ..EmulatorOptions::default()
    };
    let rig = Rig::start(
        world_seed(&spec),
        RigOptions {
            emulator: faults,
            retry: test_retry_policy(),
            ..RigOptions::default()
        },
    )
    .await?;
    let own = snapshot_own(&rig.emulator, &spec);
    let ctx = api_context(&rig, Arc::new(RecordingDispatcher::default()));
    let sync = create_sync(&ctx, &format!("faults {rng_seed}")).await?;

    let first = rig.run(&sync.id, RunMode::Apply).await?;
    let first_stats = rig.emulator.stats();
    assert_eq!(
        first.status,
        RunStatus::Succeeded,
        "seed {rng_seed}: first run {first:?}"
    );
    verify_world(&rig.emulator, &spec, &sync.id, &sync.label_name, Some(&own))
        .map_err(|e| anyhow::anyhow!("seed {rng_seed}, after the first run: {e:#}"))?;

    // The test's own edits to the source go through without faults; the run after them meets faults again.
    rig.emulator.configure(ConfigUpdate {
        fault_rate: Some(0.0),
        read_quota_per_minute: Some(None),
        write_quota_per_minute: Some(None),
        ..ConfigUpdate::default()
    });
    change_source(rig.google.people.as_ref(), 5, 4, 6, rng_seed).await?;
    rig.emulator.configure(ConfigUpdate {
        fault_rate: Some(0.1),
        read_quota_per_minute: Some(Some(1)),
        write_quota_per_minute: Some(Some(1)),
        ..ConfigUpdate::default()
    });
    rig.emulator.reset_stats();

    let second = rig.run(&sync.id, RunMode::Apply).await?;
    let second_stats = rig.emulator.stats();
    let (rate_limited, faults) = (
        first_stats.rate_limited + second_stats.rate_limited,
        first_stats.faults + second_stats.faults,
    );
    assert!(
        rate_limited > 0 && faults > 0,
        "seed {rng_seed}: the runs met {rate_limited} 429s and {faults} 503s: the test proves nothing"
    );
    assert_eq!(
        second.status,
        RunStatus::Succeeded,
        "seed {rng_seed}: re-run {second:?}"
    );
    assert!(
        second.totals.updated > 0 && second.totals.deleted > 0 && second.totals.created > 0,
        "seed {rng_seed}: the re-run should update, delete and create: {:?}",
        second.totals
    );
    verify_world(&rig.emulator, &spec, &sync.id, &sync.label_name, Some(&own))
        .map_err(|e| anyhow::anyhow!("seed {rng_seed}, after the re-run: {e:#}"))?;

    // And a third run finds nothing left to do.
    rig.emulator.configure(ConfigUpdate {
        fault_rate: Some(0.0),
        ..ConfigUpdate::default()
    });
    let third = rig.run(&sync.id, RunMode::Apply).await?;
    assert_eq!(third.status, RunStatus::Succeeded, "{third:?}");
    assert_eq!(
        (
            third.totals.created,
            third.totals.updated,
            third.totals.deleted
        ),
        (0, 0, 0),
        "seed {rng_seed}: a converged world needs no writes: {:?}",
        third.totals
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_tight_quotas_end_in_the_exact_state_over_several_seeds() -> anyhow::Result<()> {
    let cases = SEEDS.map(|seed| tokio::spawn(faults_case(seed)));
    let mut failures = Vec::new();
    for (seed, case) in SEEDS.iter().zip(cases) {
        match case.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("seed {seed}: {e:#}")),
            Err(e) => failures.push(format!("seed {seed}: panicked: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}
