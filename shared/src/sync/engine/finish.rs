//! The end of an invocation: the run's outcome (totals from its results, its status, the definition's summary, the
//! lease released), or, when the deadline is near, the run saved and continued in a new invocation.

use super::{Engine, EngineError, RunOutcome, add};
use crate::model::{ExecutorEvent, Run, RunStatus, RunSummary, SyncDefinition};
use crate::store::LeaseOutcome;
use crate::sync::decide;

impl Engine {
    /// Saves the run (still running), keeps the lease for the continuation and dispatches it.
    pub(super) async fn continue_later(
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

    /// Totals from every result of the run, the final status ([`decide::final_status`]), the run record, the
    /// definition's summary, the lease.
    pub(super) async fn finish(
        &self,
        sync: &SyncDefinition,
        run: &mut Run,
        error: Option<String>,
        run_failed: bool,
    ) -> Result<RunStatus, EngineError> {
        let results = self.store.list_results(&sync.id, &run.run_id).await?;
        let totals = decide::totals(&results);
        run.totals = totals;
        run.status = decide::final_status(&totals, error.as_deref(), run_failed);
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

    /// Best effort after a store or dispatch failure: leave a failed run rather than one that stays `running`
    /// forever, and give the lease back.
    pub(super) async fn abort(&self, sync: &SyncDefinition, run: &mut Run, error: &EngineError) {
        tracing::error!(error = %error, "run aborted");
        run.status = RunStatus::Failed;
        run.error = Some(format!("run aborted: {error}"));
        run.finished_at = Some(self.clock.now());
        if let Err(put) = self.store.put_run(run).await {
            tracing::error!(error = %put, "could not record the aborted run");
        }
        if let Err(release) = self.store.release_lease(&sync.id, &run.run_id).await {
            tracing::error!(error = %release, "could not release the lease");
        }
    }
}
