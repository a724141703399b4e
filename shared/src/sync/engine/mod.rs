//! One executor invocation, in stages: [`admit`] (the sync, the run, repeated deliveries, the lease, the
//! invocation's claim), [`targets`] (read the source, resolve the audience, who to serve and who left),
//! [`destination`] (one user, several at once) and [`finish`] (the run's outcome, or its continuation). What each
//! stage decides is a pure function of [`super::decide`].
//!
//! All I/O goes through the [`PeopleApi`], [`DirectoryApi`], [`SyncStore`] and [`Dispatcher`] traits and a
//! [`Clock`], so the same code runs in Lambda, in the local stack and in the tests.
//!
//! A run that cannot finish before the invocation's deadline stops starting users when less than
//! [`EngineSettings::safety_margin`] is left, lets the users in flight finish, saves itself (still `running`) and
//! dispatches a continuation with the same run id and the next invocation number, keeping the lease. The
//! continuation skips users that already have a result in this run.
//!
//! A crash anywhere leaves at worst a lease that expires; the next run converges because managed contacts are
//! recognised by their markers, never by remembered state.

mod admit;
mod destination;
mod finish;
mod targets;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::Instrument;

use super::plan::SourceContact;
use crate::clock::{Clock, SystemClock};
use crate::dispatch::{DispatchError, Dispatcher};
use crate::google::{DirectoryApi, PeopleApi};
use crate::model::{
    DestinationState, ExecutorEvent, Run, RunMode, RunStatus, SyncDefinition, Trigger, new_id,
};
use crate::store::{StoreError, SyncStore};
use admit::Admitted;
use targets::Targets;

/// Tuning of the executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Destination users processed in parallel (`EXECUTOR_CONCURRENCY`).
    pub concurrency: usize,
    /// A user is not started with less than this left before the deadline (`EXECUTOR_SAFETY_MARGIN_SECS`).
    pub safety_margin: Duration,
    /// The lease outlives the invocation's deadline by this much (a crashed run blocks the sync no longer).
    pub lease_margin: Duration,
    /// How long the lease is kept for a continuation to pick up.
    pub continuation_lease: Duration,
    /// Read-plan-write attempts per user before giving up on it.
    pub max_attempts: u32,
    /// A run that needs more invocations than this fails (guards against a deadline too short to make progress).
    pub max_invocations: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            concurrency: 8,
            safety_margin: Duration::from_secs(60),
            lease_margin: Duration::from_secs(60),
            continuation_lease: Duration::from_secs(15 * 60),
            max_attempts: 5,
            max_invocations: 50,
        }
    }
}

/// Failures that abort an invocation (the store or the dispatcher); Google failures are recorded on the run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
}

/// What an invocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RunOutcome {
    /// The run finished with this status.
    Finished { status: RunStatus },
    /// The deadline came near; a continuation was dispatched.
    Continued,
    /// Another run holds the lease; this run was recorded as skipped (or failed, for a continuation).
    Skipped { held_by: String },
    /// The sync does not exist (any more).
    SyncMissing,
    /// The run had already finished (a repeated delivery of its event).
    AlreadyFinished { status: RunStatus },
    /// Another delivery of the same event already claimed this invocation of the run; nothing was done.
    Duplicate { invocation: u32 },
    /// A clean-up run removed everything and deleted the sync.
    SyncDeleted,
}

/// The invocation's answer (the Lambda's response payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub sync_id: String,
    pub run_id: Option<String>,
    #[serde(flatten)]
    pub outcome: RunOutcome,
}

/// The executor: everything one invocation needs, built once per process.
pub struct Engine {
    people: Arc<dyn PeopleApi>,
    directory: Arc<dyn DirectoryApi>,
    store: Arc<dyn SyncStore>,
    dispatcher: Arc<dyn Dispatcher>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
}

/// What the destinations of one invocation share about the run they are part of.
struct RunContext<'a> {
    sync: &'a SyncDefinition,
    run_id: &'a str,
    dry_run: bool,
    cleanup: bool,
    sources: BTreeMap<String, SourceContact>,
    deadline: DateTime<Utc>,
}

impl Engine {
    pub fn new(
        people: Arc<dyn PeopleApi>,
        directory: Arc<dyn DirectoryApi>,
        store: Arc<dyn SyncStore>,
        dispatcher: Arc<dyn Dispatcher>,
        settings: EngineSettings,
    ) -> Engine {
        Engine {
            people,
            directory,
            store,
            dispatcher,
            clock: Arc::new(SystemClock),
            settings,
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Engine {
        self.clock = clock;
        self
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    pub fn store(&self) -> &Arc<dyn SyncStore> {
        &self.store
    }

    /// Handles one executor event; `deadline` is when the invocation will be stopped.
    pub async fn execute(
        &self,
        event: &ExecutorEvent,
        deadline: DateTime<Utc>,
    ) -> Result<RunReport, EngineError> {
        let run_id = event.run_id.clone().unwrap_or_else(new_id);
        let span = tracing::info_span!("run", sync_id = %event.sync_id, run_id = %run_id);
        let outcome = self
            .execute_run(event, &run_id, deadline)
            .instrument(span)
            .await?;
        Ok(RunReport {
            sync_id: event.sync_id.clone(),
            run_id: Some(run_id),
            outcome,
        })
    }

    async fn execute_run(
        &self,
        event: &ExecutorEvent,
        run_id: &str,
        deadline: DateTime<Utc>,
    ) -> Result<RunOutcome, EngineError> {
        let (sync, mut run) = match self.admit(event, run_id, deadline).await? {
            Admitted::Run { sync, run } => (sync, run),
            Admitted::Done(outcome) => return Ok(outcome),
        };
        match self.work(&sync, &mut run, deadline).await {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                self.abort(&sync, &mut run, &e).await;
                Err(e)
            }
        }
    }

    /// The body of an invocation, once the lease is ours: who to serve, each of them, then the outcome.
    async fn work(
        &self,
        sync: &SyncDefinition,
        run: &mut Run,
        deadline: DateTime<Utc>,
    ) -> Result<RunOutcome, EngineError> {
        let cleanup = run.mode == RunMode::Cleanup || run.trigger == Trigger::Delete;
        let states: BTreeMap<String, DestinationState> = self
            .store
            .list_destination_states(&sync.id)
            .await?
            .into_iter()
            .map(|s| (s.user_id.clone(), s))
            .collect();
        // Users with a result in this run were done by an earlier invocation.
        let done: BTreeSet<String> = self
            .store
            .list_results(&sync.id, &run.run_id)
            .await?
            .into_iter()
            .map(|r| r.user_id)
            .collect();
        let targets = if cleanup {
            Targets::cleanup(states, &done)
        } else {
            match self.targets(sync, states, &done).await {
                Ok(targets) => targets,
                Err(message) => {
                    tracing::warn!(error = %message, "source unavailable; run failed");
                    let status = self.finish(sync, run, Some(message), true).await?;
                    return Ok(RunOutcome::Finished { status });
                }
            }
        };

        let ctx = RunContext {
            sync,
            run_id: &run.run_id,
            dry_run: run.mode == RunMode::DryRun,
            cleanup,
            sources: targets.sources,
            deadline,
        };
        let deferred = self.process_all(&ctx, targets.work).await?;
        if deferred > 0 {
            tracing::info!(deferred, "deadline near; continuing in a new invocation");
            return self.continue_later(sync, run).await;
        }
        let status = self.finish(sync, run, targets.incomplete, false).await?;
        if cleanup && status == RunStatus::Succeeded {
            self.store.delete_sync(&sync.id).await?;
            tracing::info!("clean-up finished; sync deleted");
            return Ok(RunOutcome::SyncDeleted);
        }
        Ok(RunOutcome::Finished { status })
    }
}

/// `t + d`, saturating at the latest representable time.
fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
