//! Admitting an invocation: the sync and the run it names, repeated deliveries, the run lease, the invocation's
//! claim, and the runs an earlier executor left behind.

use chrono::{DateTime, Utc};

use super::{Engine, EngineError, RunOutcome, add};
use crate::model::{ExecutorEvent, Run, RunStatus, RunSummary, SyncDefinition};
use crate::store::{LeaseOutcome, StoreError};
use crate::sync::decide::{self, Admission};

/// How many of a sync's newest runs an invocation checks for runs an executor left `running` when it stopped.
const ABANDONED_RUN_SCAN: u32 = 10;

/// Whether the invocation goes on, with what.
pub(super) enum Admitted {
    /// The lease is ours and the invocation claimed: work on `run` of `sync`.
    Run {
        sync: Box<SyncDefinition>,
        run: Box<Run>,
    },
    /// Nothing (more) to do.
    Done(RunOutcome),
}

impl Engine {
    /// Takes the run lease and claims this invocation of the run, or says why there is nothing to do.
    pub(super) async fn admit(
        &self,
        event: &ExecutorEvent,
        run_id: &str,
        deadline: DateTime<Utc>,
    ) -> Result<Admitted, EngineError> {
        let sync_id = event.sync_id.as_str();
        let now = self.clock.now();
        let Some(sync) = self.store.get_sync(sync_id).await? else {
            tracing::info!("sync no longer exists; nothing to do");
            return Ok(Admitted::Done(RunOutcome::SyncMissing));
        };
        let existing = match &event.run_id {
            Some(id) => self.store.get_run(sync_id, id).await?,
            None => None,
        };
        let invocation = match decide::admit(existing.as_ref(), event) {
            Admission::Start { invocation } => invocation,
            Admission::AlreadyFinished(status) => {
                tracing::info!(status = ?status, "run already finished");
                return Ok(Admitted::Done(RunOutcome::AlreadyFinished { status }));
            }
            Admission::Duplicate { invocation } => {
                tracing::info!(
                    invocation,
                    "duplicate delivery: this invocation of the run was already taken; nothing to do"
                );
                return Ok(Admitted::Done(RunOutcome::Duplicate { invocation }));
            }
        };
        let recorded = existing.is_some();
        let mut run = existing.unwrap_or_else(|| {
            Run::new(
                sync_id,
                run_id,
                event.trigger,
                event.mode,
                event.requester(),
                now,
            )
        });

        let until = add(deadline, self.settings.lease_margin);
        match self
            .store
            .acquire_lease(sync_id, run_id, until, now)
            .await?
        {
            LeaseOutcome::Acquired => {}
            LeaseOutcome::SyncMissing => return Ok(Admitted::Done(RunOutcome::SyncMissing)),
            LeaseOutcome::Held {
                run_id: holder,
                until,
            } => {
                let (status, reason) = decide::lease_held(&run, &holder, until);
                run.status = status;
                run.error = Some(reason);
                run.finished_at = Some(now);
                tracing::info!(held_by = %holder, "lease held by another run");
                self.store.put_run(&run).await?;
                return Ok(Admitted::Done(RunOutcome::Skipped { held_by: holder }));
            }
        }

        // Same run id, same lease: only this conditional write tells two deliveries of one event apart.
        if !recorded {
            self.store.put_run(&run).await?;
        }
        if !self
            .store
            .claim_invocation(sync_id, run_id, invocation)
            .await?
        {
            let outcome = self.lost_claim(sync_id, run_id, invocation).await?;
            return Ok(Admitted::Done(outcome));
        }
        run.invocations = invocation;
        if run.invocations > self.settings.max_invocations {
            let message = format!(
                "gave up after {} invocations without finishing",
                self.settings.max_invocations
            );
            let status = self.finish(&sync, &mut run, Some(message), true).await?;
            return Ok(Admitted::Done(RunOutcome::Finished { status }));
        }
        self.store.put_run(&run).await?;
        tracing::info!(invocation = run.invocations, mode = ?run.mode, trigger = ?run.trigger, "run started");
        // Housekeeping: a failure here must not stop this run; the next invocation tries again.
        if let Err(e) = self.record_abandoned_runs(&sync, &run).await {
            tracing::warn!(error = %e, "could not check for interrupted runs");
        }
        Ok(Admitted::Run {
            sync: Box::new(sync),
            run: Box::new(run),
        })
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

    /// Records as failed every other recent run of the sync that no executor is working on any more
    /// ([`decide::abandoned`]). The definition's `last_run` shows the newest of them if it is newer than the run it
    /// shows now, until `current` finishes.
    async fn record_abandoned_runs(
        &self,
        sync: &SyncDefinition,
        current: &Run,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let recent = self
            .store
            .list_runs(&sync.id, ABANDONED_RUN_SCAN, None)
            .await?
            .items;
        let mut newest: Option<RunSummary> = None;
        for mut stale in recent {
            let Some(reason) = decide::abandoned(&stale, &current.run_id, now) else {
                continue;
            };
            let results = self.store.list_results(&sync.id, &stale.run_id).await?;
            stale.totals = decide::totals(&results);
            stale.status = RunStatus::Failed;
            stale.error = Some(reason);
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
            if newest
                .as_ref()
                .is_none_or(|n| decide::started_later(&summary, n))
            {
                newest = Some(summary);
            }
        }
        if let Some(summary) = newest
            && sync
                .last_run
                .as_ref()
                .is_none_or(|shown| decide::started_later(&summary, shown))
        {
            self.store.set_last_run(&sync.id, &summary).await?;
        }
        Ok(())
    }
}
