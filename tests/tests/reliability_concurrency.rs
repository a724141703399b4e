//! Concurrency: two runs of one sync at once (one runs, the other is recorded as skipped), two updates of one
//! definition at once through the API (one 200, one 412), and deleting a sync while it runs:
//!
//! - `DELETE /syncs/{id}?remove_contacts=true` while a run holds the lease is refused (409 `run_in_progress`) and
//!   changes nothing; the run finishes normally.
//! - `DELETE /syncs/{id}` (keep the contacts) while a run holds the lease deletes the definition at once (204);
//!   the run in flight stops at its next store write for the sync, and the definition never comes back (GET 404,
//!   absent from the listing). Contacts already written stay, as a delete without `remove_contacts` promises.

use std::sync::Arc;
use std::time::{Duration, Instant};

use contact_sync::model::{RunMode, RunStatus};
use contact_sync::sync::RunOutcome;
use contact_sync_tests::executor_support::{Rig, RigOptions, event};
use contact_sync_tests::reliability::{
    ApiRoutes, RecordingDispatcher, WorldSpec, api_context, create_sync, snapshot_own,
    verify_world, world_seed,
};
use google_emulator::EmulatorOptions;
use serde_json::json;

fn spec() -> WorldSpec {
    WorldSpec {
        contacts: 20,
        destinations: 6,
        own_contacts: 1,
        seed: 77,
    }
}

/// A rig whose Google answers take a while, so runs overlap with what the test does meanwhile.
async fn slow_rig(latency_ms: u64) -> anyhow::Result<Rig> {
    Rig::start(
        world_seed(&spec()),
        RigOptions {
            emulator: EmulatorOptions {
                latency_ms,
                rng_seed: Some(77),
                ..EmulatorOptions::default()
            },
            ..RigOptions::default()
        },
    )
    .await
}

/// Waits until some run holds the sync's lease.
async fn wait_for_lease(rig: &Rig, sync_id: &str) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        if let Some(run_id) = rig.store.current_lease(sync_id, chrono::Utc::now()).await? {
            return Ok(run_id);
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "no run took the lease"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_one_sync_at_once_one_runs_the_other_is_skipped() -> anyhow::Result<()> {
    let rig = slow_rig(15).await?;
    let spec = spec();
    let own = snapshot_own(&rig.emulator, &spec);
    let ctx = api_context(&rig, Arc::new(RecordingDispatcher::default()));
    let sync = create_sync(&ctx, "concurrent runs").await?;

    let (a, b) = tokio::join!(
        rig.invoke(event(&sync.id, RunMode::Apply), Duration::from_secs(600)),
        rig.invoke(event(&sync.id, RunMode::Apply), Duration::from_secs(600)),
    );
    let (a, b) = (a?, b?);
    let outcomes = [&a.outcome, &b.outcome];
    let finished = outcomes
        .iter()
        .filter(|o| {
            ***o == RunOutcome::Finished {
                status: RunStatus::Succeeded,
            }
        })
        .count();
    let skipped: Vec<_> = [&a, &b]
        .into_iter()
        .filter(|r| matches!(r.outcome, RunOutcome::Skipped { .. }))
        .collect();
    assert_eq!(
        (finished, skipped.len()),
        (1, 1),
        "one run must succeed and one be skipped: {a:?} / {b:?}"
    );
    let skipped_id = skipped[0].run_id.clone().unwrap_or_default();
    let record = rig
        .store
        .get_run(&sync.id, &skipped_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the skipped run is not recorded"))?;
    assert_eq!(record.status, RunStatus::Skipped);
    assert!(
        record
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("in progress"),
        "{record:?}"
    );
    verify_world(&rig.emulator, &spec, &sync.id, &sync.label_name, Some(&own))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_updates_of_one_definition_at_once_give_one_200_and_one_412() -> anyhow::Result<()> {
    let rig = slow_rig(10).await?;
    let ctx = api_context(&rig, Arc::new(RecordingDispatcher::default()));
    let sync = create_sync(&ctx, "concurrent updates").await?;
    let api = ApiRoutes::load()?;
    let path = format!("/syncs/{}", sync.id);
    let headers = [("content-type", "application/json"), ("if-match", "\"1\"")];
    let body_a = json!({"name": "renamed by A", "description": "A was here"}).to_string();
    let body_b = json!({"name": "renamed by B", "enabled": false}).to_string();
    let (a, b) = tokio::join!(
        api.call(&ctx, "PATCH", &path, "", &headers, body_a.as_bytes()),
        api.call(&ctx, "PATCH", &path, "", &headers, body_b.as_bytes()),
    );
    let a = a?.ok_or_else(|| anyhow::anyhow!("no route for PATCH {path}"))?;
    let b = b?.ok_or_else(|| anyhow::anyhow!("no route for PATCH {path}"))?;
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412], "A: {} / B: {}", a.text, b.text);
    let (winner, loser) = if a.status == 200 { (&a, &b) } else { (&b, &a) };
    assert!(loser.has_error_body(), "{}", loser.text);

    let stored = rig
        .store
        .get_sync(&sync.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the sync is gone"))?;
    assert_eq!(stored.version, 2);
    assert_eq!(Some(stored.name.as_str()), winner.body["name"].as_str());
    let got = api.call(&ctx, "GET", &path, "", &[], b"").await?;
    let got = got.ok_or_else(|| anyhow::anyhow!("no route for GET {path}"))?;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.headers.get("etag").and_then(|v| v.to_str().ok()),
        Some("\"2\"")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_while_running() -> anyhow::Result<()> {
    let rig = slow_rig(40).await?;
    let ctx = api_context(&rig, Arc::new(RecordingDispatcher::default()));
    let api = ApiRoutes::load()?;

    // remove_contacts=true while running: 409, nothing changes, the run finishes.
    let sync = create_sync(&ctx, "delete while running, clean-up").await?;
    let running = {
        let engine = Arc::clone(&rig.engine);
        let event = event(&sync.id, RunMode::Apply);
        tokio::spawn(async move {
            contact_sync_tests::executor_support::invoke_engine(
                &engine,
                event,
                Duration::from_secs(600),
            )
            .await
        })
    };
    wait_for_lease(&rig, &sync.id).await?;
    let before = rig.store.get_sync(&sync.id).await?;
    let path = format!("/syncs/{}", sync.id);
    let refused = api
        .call(&ctx, "DELETE", &path, "remove_contacts=true", &[], b"")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no route for DELETE {path}"))?;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(
        refused.body["error"]["code"], "run_in_progress",
        "{}",
        refused.text
    );
    let after = rig.store.get_sync(&sync.id).await?;
    assert_eq!(
        before.map(|s| (s.version, s.enabled)),
        after.map(|s| (s.version, s.enabled)),
        "a refused delete changed the definition"
    );
    let report = running.await??;
    assert_eq!(
        report.outcome,
        RunOutcome::Finished {
            status: RunStatus::Succeeded
        }
    );

    // Keep the contacts while running: 204 at once; the run stops, the definition stays gone.
    let sync = create_sync(&ctx, "delete while running, keep contacts").await?;
    let running = {
        let engine = Arc::clone(&rig.engine);
        let event = event(&sync.id, RunMode::Apply);
        tokio::spawn(async move {
            contact_sync_tests::executor_support::invoke_engine(
                &engine,
                event,
                Duration::from_secs(600),
            )
            .await
        })
    };
    wait_for_lease(&rig, &sync.id).await?;
    let path = format!("/syncs/{}", sync.id);
    let deleted = api
        .call(&ctx, "DELETE", &path, "", &[], b"")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no route for DELETE {path}"))?;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let finished = tokio::time::timeout(Duration::from_secs(120), running).await;
    let outcome = finished
        .map_err(|_| anyhow::anyhow!("the run did not stop after its sync was deleted"))??;
    // The run either noticed the deletion (an error from the store, or SyncMissing) or finished the users it had
    // started; it must not bring the definition back.
    if let Ok(report) = &outcome {
        assert!(
            !matches!(report.outcome, RunOutcome::Skipped { .. }),
            "{report:?}"
        );
    }
    assert!(
        rig.store.get_sync(&sync.id).await?.is_none(),
        "the deleted sync came back"
    );
    let gone = api
        .call(&ctx, "GET", &path, "", &[], b"")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no route for GET {path}"))?;
    assert_eq!(gone.status, 404, "{}", gone.text);
    assert!(gone.has_error_body(), "{}", gone.text);
    let listed = api
        .call(&ctx, "GET", "/syncs", "limit=100", &[], b"")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no route for GET /syncs"))?;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|s| s["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(!ids.contains(&sync.id.as_str()), "{ids:?}");
    // A later run of the deleted sync does nothing.
    let late = rig
        .invoke(event(&sync.id, RunMode::Apply), Duration::from_secs(600))
        .await?;
    assert_eq!(late.outcome, RunOutcome::SyncMissing);
    Ok(())
}
