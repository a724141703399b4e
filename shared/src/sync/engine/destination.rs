//! One destination user: bring them in line with the source, or take the sync out of their account (a leaver,
//! or everyone in a clean-up). Several users are processed at once; one user's writes are strictly sequential
//! (inside [`apply`]). The user's result and state are recorded as soon as the user is done, so a continuation or
//! a later run knows.

use futures::StreamExt;
use tracing::Instrument;

use super::{Engine, EngineError, RunContext, add};
use crate::model::{DestinationResult, DestinationState, DestinationStatus, LeaverPolicy};
use crate::sync::apply::{self, RemovalTarget, SyncTarget, UserOutcome};
use crate::sync::resolve::DestinationUser;

/// One unit of work: bring a user in line, or remove the sync from one.
pub(super) enum Work {
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

impl Engine {
    /// Processes every unit of work, `concurrency` users at once; the number deferred to a continuation.
    pub(super) async fn process_all(
        &self,
        ctx: &RunContext<'_>,
        work: Vec<Work>,
    ) -> Result<usize, EngineError> {
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
        Ok(deferred)
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
}
