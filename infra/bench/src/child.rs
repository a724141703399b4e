//! One scenario in a fresh process: the executor built as the Lambda builds it (key from Secrets Manager, Google
//! clients, DynamoDB store, in-process dispatcher for continuations), one invocation, then the emulator's request
//! counters, the run record and this process's peak RSS.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use contact_sync::config::Config;
use contact_sync::google::{GoogleConfig, GoogleEndpoints, RetryPolicy};
use contact_sync::model::{
    CurrentNames, DestinationResult, DestinationState, Run, RunMode, RunSummary, SyncDefinition,
};
use contact_sync::store::{DynamoStore, LeaseOutcome, Page, StoreError, SyncStore};
use contact_sync::sync::{EngineSettings, RunOutcome};
use contact_sync::wiring;
use contact_sync_tests::executor_support::PEOPLE_WRITES;

use crate::emulator::ControlClient;
use crate::scenario::{ChildPlan, Measurement, RESULT_PREFIX, Spread};
use crate::sysinfo;

/// The executor Lambda's timeout: the invocation's deadline.
const INVOCATION_TIME: Duration = Duration::from_secs(15 * 60);

/// Counts the store's calls and the time spent in them (summed over concurrent calls).
struct TimedStore {
    inner: DynamoStore,
    calls: AtomicU64,
    micros: AtomicU64,
}

impl TimedStore {
    async fn time<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
        out
    }
}

#[async_trait]
impl SyncStore for TimedStore {
    async fn create_sync(&self, sync: &SyncDefinition) -> Result<(), StoreError> {
        self.time(self.inner.create_sync(sync)).await
    }
    async fn get_sync(&self, sync_id: &str) -> Result<Option<SyncDefinition>, StoreError> {
        self.time(self.inner.get_sync(sync_id)).await
    }
    async fn update_sync(&self, sync: &SyncDefinition, expected: u64) -> Result<(), StoreError> {
        self.time(self.inner.update_sync(sync, expected)).await
    }
    async fn delete_sync(&self, sync_id: &str) -> Result<(), StoreError> {
        self.time(self.inner.delete_sync(sync_id)).await
    }
    async fn list_syncs(
        &self,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<SyncDefinition>, StoreError> {
        self.time(self.inner.list_syncs(limit, next_token)).await
    }
    async fn set_last_run(&self, sync_id: &str, summary: &RunSummary) -> Result<(), StoreError> {
        self.time(self.inner.set_last_run(sync_id, summary)).await
    }
    async fn set_current_names(
        &self,
        sync_id: &str,
        names: &CurrentNames,
    ) -> Result<(), StoreError> {
        self.time(self.inner.set_current_names(sync_id, names))
            .await
    }
    async fn acquire_lease(
        &self,
        sync_id: &str,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<LeaseOutcome, StoreError> {
        self.time(self.inner.acquire_lease(sync_id, run_id, until, now))
            .await
    }
    async fn release_lease(&self, sync_id: &str, run_id: &str) -> Result<(), StoreError> {
        self.time(self.inner.release_lease(sync_id, run_id)).await
    }
    async fn current_lease(
        &self,
        sync_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        self.time(self.inner.current_lease(sync_id, now)).await
    }
    async fn put_run(&self, run: &Run) -> Result<(), StoreError> {
        self.time(self.inner.put_run(run)).await
    }
    async fn get_run(&self, sync_id: &str, run_id: &str) -> Result<Option<Run>, StoreError> {
        self.time(self.inner.get_run(sync_id, run_id)).await
    }
    async fn claim_invocation(
        &self,
        sync_id: &str,
        run_id: &str,
        expected: u32,
    ) -> Result<bool, StoreError> {
        self.time(self.inner.claim_invocation(sync_id, run_id, expected))
            .await
    }
    async fn list_runs(
        &self,
        sync_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<Run>, StoreError> {
        self.time(self.inner.list_runs(sync_id, limit, next_token))
            .await
    }
    async fn put_result(
        &self,
        sync_id: &str,
        run_id: &str,
        result: &DestinationResult,
    ) -> Result<(), StoreError> {
        self.time(self.inner.put_result(sync_id, run_id, result))
            .await
    }
    async fn list_results(
        &self,
        sync_id: &str,
        run_id: &str,
    ) -> Result<Vec<DestinationResult>, StoreError> {
        self.time(self.inner.list_results(sync_id, run_id)).await
    }
    async fn list_destination_states(
        &self,
        sync_id: &str,
    ) -> Result<Vec<DestinationState>, StoreError> {
        self.time(self.inner.list_destination_states(sync_id)).await
    }
    async fn put_destination_state(
        &self,
        sync_id: &str,
        state: &DestinationState,
    ) -> Result<(), StoreError> {
        self.time(self.inner.put_destination_state(sync_id, state))
            .await
    }
    async fn delete_destination_state(
        &self,
        sync_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        self.time(self.inner.delete_destination_state(sync_id, user_id))
            .await
    }
}

/// Runs the plan's scenario once and prints the measurement as one line on stdout.
pub async fn run(plan: ChildPlan) -> Result<()> {
    let control = ControlClient::new(&plan.emulator_url);
    let sdk = contact_sync::aws::load_config().await;
    let config = Config {
        table_name: plan.table_name.clone(),
        google: Some(GoogleConfig {
            key_secret_id: plan.secret_id.clone(),
            admin_email: plan.admin_email.clone(),
            endpoints: GoogleEndpoints::all_at(&plan.emulator_url),
        }),
        executor_function_name: None,
        engine: EngineSettings {
            concurrency: plan.concurrency,
            ..EngineSettings::default()
        },
    };
    // The executor as the Lambda builds it, with the store wrapped in a timer so moto's share of the time is
    // visible.
    let google = wiring::google_clients(&config, &sdk, RetryPolicy::default())
        .await
        .context("building the Google clients from the secret")?;
    let store = Arc::new(TimedStore {
        inner: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
        calls: AtomicU64::new(0),
        micros: AtomicU64::new(0),
    });
    let (engine, dispatcher) = wiring::in_process_engine(
        &config,
        &google,
        Arc::clone(&store) as Arc<dyn SyncStore>,
        INVOCATION_TIME,
    );

    control.reset_stats().await?;
    let event = contact_sync_tests::executor_support::event(&plan.sync_id, RunMode::Apply);
    let deadline = Utc::now()
        + chrono::Duration::from_std(INVOCATION_TIME)
            .unwrap_or_else(|_| chrono::Duration::minutes(15));
    let started = Instant::now();
    let report = engine
        .execute(&event, deadline)
        .await
        .map_err(|e| anyhow!("the executor failed: {e}"))?;
    dispatcher.wait_idle().await;
    let wall = started.elapsed();
    let stats = control.stats().await?;
    let peak_rss_kb = sysinfo::peak_rss_kb().unwrap_or(0);

    if let RunOutcome::Skipped { held_by } = &report.outcome {
        return Err(anyhow!(
            "the run was skipped: run {held_by} holds the lease"
        ));
    }
    let run_id = report
        .run_id
        .clone()
        .ok_or_else(|| anyhow!("the executor reported no run id: {report:?}"))?;
    let run = store
        .inner
        .get_run(&plan.sync_id, &run_id)
        .await?
        .ok_or_else(|| anyhow!("run {run_id} was not recorded"))?;

    let writes: BTreeSet<&str> = PEOPLE_WRITES.iter().copied().collect();
    let mut per_destination = Vec::new();
    let mut writes_per_destination = Vec::new();
    let mut run_level_calls = 0;
    for (user, methods) in &stats.by_user {
        let calls: u64 = methods.values().sum();
        if user.eq_ignore_ascii_case(&plan.source_email)
            || user.eq_ignore_ascii_case(&plan.admin_email)
        {
            run_level_calls += calls;
            continue;
        }
        per_destination.push(calls);
        writes_per_destination.push(
            methods
                .iter()
                .filter(|(m, _)| writes.contains(m.as_str()))
                .map(|(_, n)| n)
                .sum(),
        );
    }
    let client = google.stats();
    let measurement = Measurement {
        scenario: plan.scenario.clone(),
        run_status: serde_json::to_value(run.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("{:?}", run.status)),
        run_error: run.error.clone(),
        users: run.totals.users,
        failed_users: run.totals.failed_users,
        created: run.totals.created,
        updated: run.totals.updated,
        deleted: run.totals.deleted,
        unchanged: run.totals.unchanged,
        wall_ms: u64::try_from(wall.as_millis()).unwrap_or(u64::MAX),
        calls_by_method: stats.by_method.clone(),
        reads: stats.reads,
        writes: stats.writes,
        rate_limited: stats.rate_limited,
        faults: stats.faults,
        tokens_issued: stats.tokens_issued,
        destinations_seen: per_destination.len() as u64,
        calls_per_destination: Spread::of(&per_destination),
        writes_per_destination: Spread::of(&writes_per_destination),
        run_level_calls,
        client_requests: client.requests,
        client_retries: client.retries,
        store_calls: store.calls.load(Ordering::Relaxed),
        store_ms: store.micros.load(Ordering::Relaxed) / 1000,
        peak_rss_kb,
        emulator_peak_rss_kb: None,
        verified: None,
        forgotten: None,
    };
    println!(
        "{RESULT_PREFIX}{}",
        serde_json::to_string(&measurement).context("encoding the measurement")?
    );
    Ok(())
}
