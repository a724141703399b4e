//! One executor invocation: lease, source, audience, every destination user, results, continuation.
//!
//! All I/O goes through the [`PeopleApi`], [`DirectoryApi`], [`SyncStore`] and [`Dispatcher`] traits and a
//! [`Clock`], so the same code runs in Lambda, in the local stack and in the tests.
//!
//! A run that cannot finish before the invocation's deadline stops starting users when less than
//! [`EngineSettings::safety_margin`] is left, lets the users in flight finish, saves itself (still `running`) and
//! dispatches a continuation with the same run id and the next invocation number, keeping the lease. The
//! continuation skips users that already have a result in this run.
//!
//! Every invocation claims its number on the run record with one conditional write
//! ([`SyncStore::claim_invocation`]) before it touches Google, so a repeated delivery of the same event
//! (asynchronous Lambda invokes are at-least-once) exits as [`RunOutcome::Duplicate`] and does nothing.
//!
//! Every invocation that reads the source resolves the source user, the contact group and every destination by
//! immutable id, so it knows their current names; names that differ from those the definition shows are recorded
//! on it ([`SyncStore::set_current_names`], never changing its `version`), for the API to show.
//!
//! A crash anywhere leaves at worst a lease that expires; the next run converges because managed contacts are
//! recognised by their markers, never by remembered state. The run that takes the lease over also records the
//! crashed run, still `running` with nobody holding its lease, as failed ("interrupted"), and a run the API
//! recorded whose event no executor ever took up, once that event can no longer arrive, as failed ("never
//! started").

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use tracing::Instrument;

use super::apply::{self, RemovalTarget, SyncTarget, UserOutcome};
use super::plan::SourceContact;
use super::resolve::{self, DestinationUser};
use crate::clock::{Clock, SystemClock};
use crate::dispatch::{DispatchError, Dispatcher};
use crate::google::{COPYABLE_PERSON_FIELDS, DirectoryApi, PeopleApi};
use crate::model::{
    CurrentNames, Destination, DestinationResult, DestinationState, DestinationStatus,
    ExecutorEvent, LeaverPolicy, Run, RunMode, RunStatus, RunSummary, RunTotals, SyncDefinition,
    Trigger, new_id,
};
use crate::store::{LeaseOutcome, StoreError, SyncStore};

/// How many source group members to ask for (Google Contacts' per-user limit).
const SOURCE_GROUP_MAX_MEMBERS: u32 = 25_000;

/// How many of a sync's newest runs an invocation checks for runs an executor left `running` when it stopped.
const INTERRUPTED_RUN_SCAN: u32 = 10;

/// How old (in seconds) a run that no executor ever took up must be before it is given up as never started. Lambda
/// drops an asynchronous event once it is older than the executor's `MaximumEventAgeInSeconds` (6 hours in
/// `template.yaml`), and the last delivery may then run for the executor's timeout (15 minutes); an hour more is
/// margin. `tests/tests/template_stack.rs` checks the template stays within it.
pub const UNDELIVERED_RUN_AFTER_SECS: i64 = 7 * 60 * 60 + 15 * 60;

/// Tuning of the executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Destination users processed in parallel (`EXECUTOR_CONCURRENCY`).
    pub concurrency: usize,
    /// A user is not started with less than this left before the deadline.
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

/// One unit of work: bring a user in line, or remove the sync from one.
enum Work {
    Sync {
        user: DestinationUser,
        state: Option<DestinationState>,
    },
    Remove {
        state: DestinationState,
    },
}

impl Work {
    fn user_id(&self) -> &str {
        match self {
            Work::Sync { user, .. } => &user.id,
            Work::Remove { state } => &state.user_id,
        }
    }
}

enum Done {
    Recorded,
    /// Not started: too close to the deadline.
    Deferred,
    /// Nothing to do now (a leaver who is suspended: their account cannot be reached).
    Skipped,
}

/// The source user's primary email and the contact group's name, as a run read them.
struct SourceNames {
    user_email: String,
    contact_group_name: String,
}

/// What an invocation needs to know about the run it is part of.
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
        self.execute_run(event, run_id, deadline)
            .instrument(span)
            .await
    }

    async fn execute_run(
        &self,
        event: &ExecutorEvent,
        run_id: String,
        deadline: DateTime<Utc>,
    ) -> Result<RunReport, EngineError> {
        let sync_id = event.sync_id.clone();
        let report = |outcome| RunReport {
            sync_id: sync_id.clone(),
            run_id: Some(run_id.clone()),
            outcome,
        };
        let now = self.clock.now();
        let Some(sync) = self.store.get_sync(&sync_id).await? else {
            tracing::info!("sync no longer exists; nothing to do");
            return Ok(report(RunOutcome::SyncMissing));
        };
        let existing = match &event.run_id {
            Some(id) => self.store.get_run(&sync_id, id).await?,
            None => None,
        };
        if let Some(run) = existing.as_ref().filter(|r| r.status.is_finished()) {
            tracing::info!(status = ?run.status, "run already finished");
            return Ok(report(RunOutcome::AlreadyFinished { status: run.status }));
        }
        // The invocation this event starts: its own number for a continuation, else the first. A run with no
        // record yet starts here, at its first.
        let invocation = match &existing {
            Some(_) => event.invocation.unwrap_or(1),
            None => 1,
        };
        if let Some(run) = existing.as_ref().filter(|r| r.invocations >= invocation) {
            tracing::info!(
                invocation,
                recorded = run.invocations,
                "duplicate delivery: this invocation of the run was already taken; nothing to do"
            );
            return Ok(report(RunOutcome::Duplicate { invocation }));
        }
        let recorded = existing.is_some();
        let mut run = existing.unwrap_or_else(|| {
            Run::new(
                &sync_id,
                &run_id,
                event.trigger,
                event.mode,
                event.requester(),
                now,
            )
        });

        let until = add(deadline, self.settings.lease_margin);
        match self
            .store
            .acquire_lease(&sync_id, &run_id, until, now)
            .await?
        {
            LeaseOutcome::Acquired => {}
            LeaseOutcome::SyncMissing => return Ok(report(RunOutcome::SyncMissing)),
            LeaseOutcome::Held {
                run_id: holder,
                until,
            } => {
                if run.invocations > 0 {
                    run.status = RunStatus::Failed;
                    run.error = Some(format!(
                        "another run ({holder}) took over this sync before this run could continue"
                    ));
                } else {
                    run.status = RunStatus::Skipped;
                    run.error = Some(format!(
                        "skipped: another run ({holder}) of this sync is in progress (its lease runs until {})",
                        until.to_rfc3339()
                    ));
                }
                run.finished_at = Some(now);
                tracing::info!(held_by = %holder, "lease held by another run");
                self.store.put_run(&run).await?;
                return Ok(report(RunOutcome::Skipped { held_by: holder }));
            }
        }

        // Same run id, same lease: only this conditional write tells two deliveries of one event apart.
        if !recorded {
            self.store.put_run(&run).await?;
        }
        if !self
            .store
            .claim_invocation(&sync_id, &run_id, invocation)
            .await?
        {
            return self
                .lost_claim(&sync_id, &run_id, invocation)
                .await
                .map(report);
        }
        run.invocations = invocation;
        if run.invocations > self.settings.max_invocations {
            let message = format!(
                "gave up after {} invocations without finishing",
                self.settings.max_invocations
            );
            let status = self.finish(&sync, &mut run, Some(message), true).await?;
            return Ok(report(RunOutcome::Finished { status }));
        }
        self.store.put_run(&run).await?;
        tracing::info!(invocation = run.invocations, mode = ?run.mode, trigger = ?run.trigger, "run started");
        // Housekeeping: a failure here must not stop this run; the next invocation tries again.
        if let Err(e) = self.finalise_interrupted_runs(&sync, &run).await {
            tracing::warn!(error = %e, "could not check for interrupted runs");
        }

        match self.invocation(&sync, &mut run, deadline).await {
            Ok(outcome) => Ok(report(outcome)),
            Err(e) => {
                // Best effort: leave a failed run rather than one that stays "running" forever.
                tracing::error!(error = %e, "run aborted");
                run.status = RunStatus::Failed;
                run.error = Some(format!("run aborted: {e}"));
                run.finished_at = Some(self.clock.now());
                if let Err(put) = self.store.put_run(&run).await {
                    tracing::error!(error = %put, "could not record the aborted run");
                }
                if let Err(release) = self.store.release_lease(&sync.id, &run.run_id).await {
                    tracing::error!(error = %release, "could not release the lease");
                }
                Err(e)
            }
        }
    }

    /// Another delivery of the same event claimed this invocation between our read of the run and our claim (or the
    /// run finished meanwhile). Nothing of the run is touched; the lease we renewed is given back only if the run has
    /// finished (its holder released it before we renewed it).
    async fn lost_claim(
        &self,
        sync_id: &str,
        run_id: &str,
        invocation: u32,
    ) -> Result<RunOutcome, EngineError> {
        match self.store.get_run(sync_id, run_id).await? {
            Some(run) if run.status.is_finished() => {
                self.store.release_lease(sync_id, run_id).await?;
                tracing::info!(status = ?run.status, "run already finished");
                Ok(RunOutcome::AlreadyFinished { status: run.status })
            }
            run => {
                tracing::info!(
                    invocation,
                    recorded = ?run.map(|r| r.invocations),
                    "duplicate delivery: another invocation claimed this one first; nothing to do"
                );
                Ok(RunOutcome::Duplicate { invocation })
            }
        }
    }

    /// Records as failed every other recent run of the sync still `running` after an invocation: their executor
    /// stopped (timeout or crash) and their lease is gone, since `current` holds it now. A run recorded but never
    /// taken up by an executor (no invocation yet) is left alone while its event may still arrive, and recorded as
    /// failed once it cannot ([`UNDELIVERED_RUN_AFTER_SECS`]). The definition's `last_run` shows the newest of them
    /// if it is newer than the run it shows now, until `current` finishes.
    async fn finalise_interrupted_runs(
        &self,
        sync: &SyncDefinition,
        current: &Run,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let undelivered_before = now - chrono::Duration::seconds(UNDELIVERED_RUN_AFTER_SECS);
        let recent = self
            .store
            .list_runs(&sync.id, INTERRUPTED_RUN_SCAN, None)
            .await?
            .items;
        let mut newest: Option<RunSummary> = None;
        for mut stale in recent.into_iter().filter(|r| {
            r.run_id != current.run_id
                && r.status == RunStatus::Running
                && (r.invocations > 0 || r.started_at < undelivered_before)
        }) {
            let results = self.store.list_results(&sync.id, &stale.run_id).await?;
            stale.totals = totals(&results);
            stale.status = RunStatus::Failed;
            stale.error = Some(if stale.invocations > 0 {
                format!(
                    "interrupted: the executor stopped before finishing (timeout or crash); superseded by run {}",
                    current.run_id
                )
            } else {
                format!(
                    "never started: no executor took this run up within {} hours (its event was lost or expired; \
                     the executor's dead-letter queue holds undelivered events); superseded by run {}",
                    UNDELIVERED_RUN_AFTER_SECS / 3600,
                    current.run_id
                )
            });
            stale.finished_at = Some(now);
            self.store.put_run(&stale).await?;
            tracing::warn!(
                interrupted_run_id = %stale.run_id,
                started_at = %stale.started_at.to_rfc3339(),
                invocations = stale.invocations,
                users_done = stale.totals.users,
                "a run that no executor is working on any more is recorded as failed"
            );
            let summary = RunSummary::from(&stale);
            if newest.as_ref().is_none_or(|n| started_later(&summary, n)) {
                newest = Some(summary);
            }
        }
        if let Some(summary) = newest
            && sync
                .last_run
                .as_ref()
                .is_none_or(|shown| started_later(&summary, shown))
        {
            self.store.set_last_run(&sync.id, &summary).await?;
        }
        Ok(())
    }

    /// The body of an invocation, once the lease is ours.
    async fn invocation(
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
        let done: BTreeSet<String> = self
            .store
            .list_results(&sync.id, &run.run_id)
            .await?
            .into_iter()
            .map(|r| r.user_id)
            .collect();

        let mut ctx = RunContext {
            sync,
            run_id: &run.run_id,
            dry_run: run.mode == RunMode::DryRun,
            cleanup,
            sources: BTreeMap::new(),
            deadline,
        };
        let mut work = Vec::new();
        let mut resolve_errors = None;
        if cleanup {
            work.extend(
                states
                    .into_values()
                    .filter(|s| !done.contains(&s.user_id))
                    .map(|state| Work::Remove { state }),
            );
        } else {
            // The names the definition shows now (its own, or those an earlier run recorded), so messages use the
            // newest known names and only renames since then are recorded.
            let (shown, _) = sync.clone().with_current_names();
            let read_at = self.clock.now();
            let (sources, source_names) = match self.read_source(&shown).await {
                Ok(read) => read,
                Err(message) => {
                    tracing::warn!(error = %message, "source unavailable; run failed");
                    let status = self.finish(sync, run, Some(message), true).await?;
                    return Ok(RunOutcome::Finished { status });
                }
            };
            ctx.sources = sources;
            let audience = resolve::resolve_audience(
                self.directory.as_ref(),
                &shown.destinations,
                &sync.source.user_id,
            )
            .await;
            self.record_current_names(&shown, source_names, &audience.destinations, read_at)
                .await;
            tracing::info!(
                sources = ctx.sources.len(),
                users = audience.users.len(),
                inactive = audience.inactive.len(),
                unresolved = audience.errors.len(),
                "source read and audience resolved"
            );
            let leavers: Vec<DestinationState> = if audience.is_complete() {
                states
                    .values()
                    .filter(|s| {
                        !audience.users.contains_key(&s.user_id)
                            && !audience.inactive.contains(&s.user_id)
                    })
                    .cloned()
                    .collect()
            } else {
                tracing::warn!("audience incomplete: nobody is treated as a leaver in this run");
                Vec::new()
            };
            if !audience.errors.is_empty() {
                let messages: Vec<&str> =
                    audience.errors.iter().map(|e| e.error.as_str()).collect();
                resolve_errors = Some(messages.join("; "));
            }
            work.extend(
                audience
                    .users
                    .into_values()
                    .filter(|u| !done.contains(&u.id))
                    .map(|user| {
                        let state = states.get(&user.id).cloned();
                        Work::Sync { user, state }
                    }),
            );
            work.extend(
                leavers
                    .into_iter()
                    .filter(|s| !done.contains(&s.user_id))
                    .map(|state| Work::Remove { state }),
            );
        }

        let ctx = &ctx;
        let outcomes: Vec<Result<Done, EngineError>> = futures::stream::iter(work)
            .map(|w| self.process(ctx, w))
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut deferred = 0usize;
        for outcome in outcomes {
            if let Done::Deferred = outcome? {
                deferred += 1;
            }
        }

        if deferred > 0 {
            tracing::info!(deferred, "deadline near; continuing in a new invocation");
            return self.continue_later(sync, run).await;
        }
        let status = self.finish(sync, run, resolve_errors, false).await?;
        if cleanup && status == RunStatus::Succeeded {
            self.store.delete_sync(&sync.id).await?;
            tracing::info!("clean-up finished; sync deleted");
            return Ok(RunOutcome::SyncDeleted);
        }
        Ok(RunOutcome::Finished { status })
    }

    /// Records the names this invocation found for the source and the destinations on the definition, if they
    /// differ from those it shows (so a run that finds nothing renamed writes nothing). Best effort: the names are
    /// for reading only, so a failure to record them is logged and the run goes on.
    async fn record_current_names(
        &self,
        shown: &SyncDefinition,
        source: SourceNames,
        destinations: &[Destination],
        read_at: DateTime<Utc>,
    ) {
        let names = CurrentNames {
            source_user_email: source.user_email,
            contact_group_name: source.contact_group_name,
            destinations: destinations
                .iter()
                .map(|d| (d.id.clone(), d.display.clone()))
                .collect(),
            refreshed_at: read_at,
        };
        if !names_changed(shown, &names) {
            return;
        }
        match self.store.set_current_names(&shown.id, &names).await {
            Ok(()) => tracing::info!(
                source_user_email = %names.source_user_email,
                contact_group_name = %names.contact_group_name,
                "renames recorded on the sync"
            ),
            Err(StoreError::NotFound(_)) => {
                tracing::info!("the sync was deleted meanwhile; renames not recorded");
            }
            Err(e) => tracing::warn!(error = %e, "could not record renames on the sync"),
        }
    }

    /// Reads the source user's group: the normalised contacts by resource name and the current names of the
    /// source user and group, or why the run cannot go on.
    async fn read_source(
        &self,
        sync: &SyncDefinition,
    ) -> Result<(BTreeMap<String, SourceContact>, SourceNames), String> {
        let source = &sync.source;
        let user = self
            .directory
            .get_user(&source.user_id)
            .await
            .map_err(|e| format!("reading the source user {} failed: {e}", source.user_email))?
            .ok_or_else(|| {
                format!(
                    "the source user {} (id {}) no longer exists",
                    source.user_email, source.user_id
                )
            })?;
        if user.suspended || user.archived {
            let state = if user.suspended {
                "suspended"
            } else {
                "archived"
            };
            return Err(format!(
                "the source user {} (id {}) is {state}",
                user.primary_email, user.id
            ));
        }
        let group = match self
            .people
            .get_contact_group(
                &user.primary_email,
                &source.contact_group,
                SOURCE_GROUP_MAX_MEMBERS,
            )
            .await
        {
            Ok(group) => group,
            Err(e) if e.is_not_found() => {
                return Err(format!(
                    "the source contact group {:?} ({}) no longer exists in {}'s contacts",
                    source.contact_group_name, source.contact_group, user.primary_email
                ));
            }
            Err(e) => return Err(format!("reading the source contact group failed: {e}")),
        };
        let names = SourceNames {
            user_email: user.primary_email.clone(),
            contact_group_name: group.name.clone(),
        };
        if group.member_resource_names.is_empty() {
            return Ok((BTreeMap::new(), names));
        }
        let people = self
            .people
            .batch_get_people(
                &user.primary_email,
                &group.member_resource_names,
                &COPYABLE_PERSON_FIELDS.join(","),
            )
            .await
            .map_err(|e| format!("reading the source contacts failed: {e}"))?;
        let contacts = people
            .iter()
            .filter(|p| !p.is_deleted())
            .filter_map(SourceContact::from_person)
            .map(|c| (c.resource_name.clone(), c))
            .collect();
        Ok((contacts, names))
    }

    /// Processes one user (unless the deadline is near) and records the result and state at once.
    async fn process(&self, ctx: &RunContext<'_>, work: Work) -> Result<Done, EngineError> {
        if add(self.clock.now(), self.settings.safety_margin) > ctx.deadline {
            return Ok(Done::Deferred);
        }
        // The run's ids are repeated so every log line of a destination can be found by run id alone.
        let span = tracing::info_span!(
            "destination",
            sync_id = %ctx.sync.id,
            run_id = %ctx.run_id,
            user_id = %work.user_id()
        );
        async {
            match work {
                Work::Sync { user, state } => self.sync_one(ctx, user, state).await,
                Work::Remove { state } => self.remove_one(ctx, state).await,
            }
        }
        .instrument(span)
        .await
    }

    async fn sync_one(
        &self,
        ctx: &RunContext<'_>,
        user: DestinationUser,
        state: Option<DestinationState>,
    ) -> Result<Done, EngineError> {
        let stored_label = state.as_ref().and_then(|s| s.label_resource_name.clone());
        let target = SyncTarget {
            sync_id: &ctx.sync.id,
            label_name: &ctx.sync.label_name,
            stored_label: stored_label.as_deref(),
            sources: &ctx.sources,
            dry_run: ctx.dry_run,
            max_attempts: self.settings.max_attempts,
        };
        let outcome = apply::sync_user(self.people.as_ref(), &user.email, &target).await;
        let (result, label) = match outcome {
            Ok(outcome) => {
                tracing::info!(
                    created = outcome.created,
                    updated = outcome.updated,
                    deleted = outcome.deleted,
                    unchanged = outcome.unchanged,
                    dry_run = ctx.dry_run,
                    "destination synced"
                );
                let label = outcome.label.clone().or(stored_label);
                let result = self.result(
                    &user.id,
                    &user.email,
                    DestinationStatus::Succeeded,
                    outcome,
                    None,
                );
                (result, label)
            }
            Err(e) => {
                tracing::warn!(error = %e, "destination failed");
                let result = self.result(
                    &user.id,
                    &user.email,
                    DestinationStatus::Failed,
                    UserOutcome::default(),
                    Some(e.to_string()),
                );
                (result, stored_label)
            }
        };
        self.store
            .put_result(&ctx.sync.id, ctx.run_id, &result)
            .await?;
        if !ctx.dry_run {
            let state = DestinationState {
                user_id: user.id,
                email: user.email,
                label_resource_name: label,
                last_run_id: Some(ctx.run_id.to_owned()),
                last_status: Some(result.status),
                last_error: result.error.clone(),
                updated_at: self.clock.now(),
            };
            self.store
                .put_destination_state(&ctx.sync.id, &state)
                .await?;
        }
        Ok(Done::Recorded)
    }

    async fn remove_one(
        &self,
        ctx: &RunContext<'_>,
        state: DestinationState,
    ) -> Result<Done, EngineError> {
        let user = match self.directory.get_user(&state.user_id).await {
            Ok(user) => user,
            Err(e) => {
                let message = format!("looking up the user failed: {e}");
                return self.record_removal_failure(ctx, state, message).await;
            }
        };
        let Some(user) = user else {
            // The account is gone, and its contacts with it.
            tracing::info!("user no longer exists; forgetting them");
            return self
                .record_removed(ctx, &state.user_id, &state.email, UserOutcome::default())
                .await;
        };
        if !user.is_active() {
            if ctx.cleanup {
                let message = format!(
                    "{} is suspended or archived: this sync's contacts cannot be removed from the account now",
                    user.primary_email
                );
                return self.record_removal_failure(ctx, state, message).await;
            }
            tracing::info!(
                "leaver is suspended or archived; their contacts are removed once they can be reached"
            );
            return Ok(Done::Skipped);
        }
        // A clean-up removes the contacts whatever the leaver policy says.
        let policy = if ctx.cleanup {
            LeaverPolicy::Remove
        } else {
            ctx.sync.leaver_policy
        };
        let target = RemovalTarget {
            sync_id: &ctx.sync.id,
            label_name: &ctx.sync.label_name,
            stored_label: state.label_resource_name.as_deref(),
            policy,
            dry_run: ctx.dry_run,
            max_attempts: self.settings.max_attempts,
        };
        match apply::remove_user(self.people.as_ref(), &user.primary_email, &target).await {
            Ok(outcome) => {
                tracing::info!(
                    deleted = outcome.deleted,
                    updated = outcome.updated,
                    ?policy,
                    "sync removed from user"
                );
                self.record_removed(ctx, &state.user_id, &user.primary_email, outcome)
                    .await
            }
            Err(e) => {
                let state = DestinationState {
                    email: user.primary_email,
                    ..state
                };
                self.record_removal_failure(ctx, state, e.to_string()).await
            }
        }
    }

    /// Records the sync as removed from a user (or the user as gone), and forgets the user unless this is a dry run.
    async fn record_removed(
        &self,
        ctx: &RunContext<'_>,
        user_id: &str,
        email: &str,
        outcome: UserOutcome,
    ) -> Result<Done, EngineError> {
        let result = self.result(user_id, email, DestinationStatus::Removed, outcome, None);
        self.store
            .put_result(&ctx.sync.id, ctx.run_id, &result)
            .await?;
        if !ctx.dry_run {
            self.store
                .delete_destination_state(&ctx.sync.id, user_id)
                .await?;
        }
        Ok(Done::Recorded)
    }

    async fn record_removal_failure(
        &self,
        ctx: &RunContext<'_>,
        state: DestinationState,
        message: String,
    ) -> Result<Done, EngineError> {
        tracing::warn!(error = %message, "removing the sync from a user failed");
        let result = self.result(
            &state.user_id,
            &state.email,
            DestinationStatus::Failed,
            UserOutcome::default(),
            Some(message),
        );
        self.store
            .put_result(&ctx.sync.id, ctx.run_id, &result)
            .await?;
        if !ctx.dry_run {
            let state = DestinationState {
                last_run_id: Some(ctx.run_id.to_owned()),
                last_status: Some(DestinationStatus::Failed),
                last_error: result.error.clone(),
                updated_at: self.clock.now(),
                ..state
            };
            self.store
                .put_destination_state(&ctx.sync.id, &state)
                .await?;
        }
        Ok(Done::Recorded)
    }

    fn result(
        &self,
        user_id: &str,
        email: &str,
        status: DestinationStatus,
        outcome: UserOutcome,
        error: Option<String>,
    ) -> DestinationResult {
        DestinationResult {
            user_id: user_id.to_owned(),
            email: email.to_owned(),
            status,
            created: outcome.created,
            updated: outcome.updated,
            deleted: outcome.deleted,
            unchanged: outcome.unchanged,
            error,
            planned: outcome.planned,
            finished_at: self.clock.now(),
        }
    }

    /// Saves the run (still running), keeps the lease for the continuation and dispatches it.
    async fn continue_later(
        &self,
        sync: &SyncDefinition,
        run: &mut Run,
    ) -> Result<RunOutcome, EngineError> {
        let now = self.clock.now();
        let until = add(now, self.settings.continuation_lease);
        if self
            .store
            .acquire_lease(&sync.id, &run.run_id, until, now)
            .await?
            != LeaseOutcome::Acquired
        {
            let message = "the run lost its lease before it could continue".to_owned();
            let status = self.finish(sync, run, Some(message), true).await?;
            return Ok(RunOutcome::Finished { status });
        }
        self.store.put_run(run).await?;
        let event = ExecutorEvent::for_run(run, Some(run.invocations.saturating_add(1)));
        if let Err(e) = self.dispatcher.dispatch(&event).await {
            let status = self
                .finish(
                    sync,
                    run,
                    Some(format!("could not continue the run: {e}")),
                    true,
                )
                .await?;
            return Ok(RunOutcome::Finished { status });
        }
        Ok(RunOutcome::Continued)
    }

    /// Totals from every result of the run, the final status, the run record, the definition's summary, the lease.
    async fn finish(
        &self,
        sync: &SyncDefinition,
        run: &mut Run,
        error: Option<String>,
        run_failed: bool,
    ) -> Result<RunStatus, EngineError> {
        let results = self.store.list_results(&sync.id, &run.run_id).await?;
        let totals = totals(&results);
        run.totals = totals;
        run.status = if run_failed {
            RunStatus::Failed
        } else if totals.failed_users == 0 && error.is_none() {
            RunStatus::Succeeded
        } else if totals.succeeded_users + totals.removed_users == 0 {
            RunStatus::Failed
        } else {
            RunStatus::PartiallyFailed
        };
        run.error = error;
        run.finished_at = Some(self.clock.now());
        self.store.put_run(run).await?;
        self.store
            .set_last_run(&sync.id, &RunSummary::from(&*run))
            .await?;
        self.store.release_lease(&sync.id, &run.run_id).await?;
        tracing::info!(
            status = ?run.status,
            users = totals.users,
            failed_users = totals.failed_users,
            removed_users = totals.removed_users,
            created = totals.created,
            updated = totals.updated,
            deleted = totals.deleted,
            unchanged = totals.unchanged,
            "run finished"
        );
        Ok(run.status)
    }
}

/// Whether `names` differ from what `shown` shows for the source or any of its destinations.
fn names_changed(shown: &SyncDefinition, names: &CurrentNames) -> bool {
    shown.source.user_email != names.source_user_email
        || shown.source.contact_group_name != names.contact_group_name
        || shown
            .destinations
            .iter()
            .any(|d| names.destinations.get(&d.id) != Some(&d.display))
}

/// Whether run `a` started after run `b` (ULID run ids break ties in start time).
fn started_later(a: &RunSummary, b: &RunSummary) -> bool {
    (a.started_at, &a.run_id) > (b.started_at, &b.run_id)
}

/// Sums the results of a run.
pub fn totals(results: &[DestinationResult]) -> RunTotals {
    let mut t = RunTotals::default();
    for r in results {
        t.users += 1;
        match r.status {
            DestinationStatus::Succeeded => t.succeeded_users += 1,
            DestinationStatus::Failed => t.failed_users += 1,
            DestinationStatus::Removed => t.removed_users += 1,
        }
        t.created += r.created;
        t.updated += r.updated;
        t.deleted += r.deleted;
        t.unchanged += r.unchanged;
    }
    t
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(sync: &SyncDefinition) -> CurrentNames {
        CurrentNames {
            source_user_email: sync.source.user_email.clone(),
            contact_group_name: sync.source.contact_group_name.clone(),
            destinations: sync
                .destinations
                .iter()
                .map(|d| (d.id.clone(), d.display.clone()))
                .collect(),
            refreshed_at: sync.updated_at,
        }
    }

    #[test]
    fn only_a_different_name_is_a_change() {
        let sync = crate::store::contract::definition("S1", "Sales");
        let same = found(&sync);
        assert!(!names_changed(&sync, &same));

        let mut renamed = same.clone();
        renamed.source_user_email = "owner2@example.com".to_owned();
        assert!(names_changed(&sync, &renamed));
        let mut renamed = same.clone();
        renamed.contact_group_name = "Suppliers".to_owned();
        assert!(names_changed(&sync, &renamed));
        let mut renamed = same.clone();
        renamed
            .destinations
            .insert("id:03ph8a2z2".to_owned(), "/Sales/Europe".to_owned());
        assert!(names_changed(&sync, &renamed));
        let mut missing = same;
        missing.destinations.remove("03ph8a2z1");
        assert!(names_changed(&sync, &missing));
    }
}
