//! The daily scheduler: start one run of every enabled sync.
//!
//! Definitions are listed page by page through the store (GSI1, never a table scan), then one executor event per
//! enabled sync is handed to the [`Dispatcher`] under bounded concurrency. Listing comes first, completely: if it
//! fails nothing has been dispatched yet and the whole invocation can be retried without starting duplicate runs.
//! A failed dispatch is logged and counted and never stops the others.

use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;

use crate::dispatch::Dispatcher;
use crate::model::ExecutorEvent;
use crate::store::{StoreError, SyncStore};

/// Recorded as `requested_by` on every scheduled run.
pub const REQUESTED_BY: &str = "scheduler";

/// How the scheduler lists and dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Dispatches in flight at once.
    pub concurrency: usize,
    /// Definitions read per store page.
    pub page_size: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            concurrency: 10,
            page_size: 100,
        }
    }
}

/// What one scheduler invocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ScheduleSummary {
    /// Enabled syncs whose run was handed to the executor.
    pub dispatched: usize,
    /// Disabled syncs, not run.
    pub skipped: usize,
    /// Enabled syncs whose dispatch failed (each one is logged).
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Listing the definitions failed; nothing was dispatched.
    #[error("listing syncs failed: {0}")]
    List(#[from] StoreError),
}

/// The scheduler function: where syncs are listed and how their runs are started.
#[derive(Clone)]
pub struct Scheduler {
    pub store: Arc<dyn SyncStore>,
    pub dispatcher: Arc<dyn Dispatcher>,
    pub config: ScheduleConfig,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// One scheduled event: a run of every enabled sync.
    pub async fn run(&self) -> Result<ScheduleSummary, ScheduleError> {
        run_schedule(
            self.store.as_ref(),
            Arc::clone(&self.dispatcher),
            self.config,
        )
        .await
    }
}

/// Lists every sync and dispatches a scheduled run of each enabled one.
pub async fn run_schedule(
    store: &dyn SyncStore,
    dispatcher: Arc<dyn Dispatcher>,
    config: ScheduleConfig,
) -> Result<ScheduleSummary, ScheduleError> {
    let (enabled, skipped) = enabled_sync_ids(store, config.page_size.max(1)).await?;
    tracing::info!(
        enabled = enabled.len(),
        skipped,
        "listed syncs; dispatching scheduled runs"
    );

    let outcomes: Vec<bool> = futures::stream::iter(enabled)
        .map(|sync_id| {
            let dispatcher = Arc::clone(&dispatcher);
            async move {
                match dispatcher.dispatch(&ExecutorEvent::scheduled(&sync_id, REQUESTED_BY)).await {
                    Ok(()) => {
                        tracing::debug!(sync_id = %sync_id, "dispatched scheduled run");
                        true
                    }
                    Err(err) => {
                        tracing::error!(sync_id = %sync_id, error = %err, "dispatching scheduled run failed");
                        false
                    }
                }
            }
        })
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;

    let dispatched = outcomes.iter().filter(|ok| **ok).count();
    let summary = ScheduleSummary {
        dispatched,
        skipped,
        failed: outcomes.len() - dispatched,
    };
    if summary.failed > 0 {
        tracing::error!(
            dispatched = summary.dispatched,
            skipped = summary.skipped,
            failed = summary.failed,
            "scheduler finished with failed dispatches"
        );
    } else {
        tracing::info!(
            dispatched = summary.dispatched,
            skipped = summary.skipped,
            failed = summary.failed,
            "scheduler finished"
        );
    }
    Ok(summary)
}

/// Every page of definitions: the ids of the enabled ones, and how many are disabled.
async fn enabled_sync_ids(
    store: &dyn SyncStore,
    page_size: u32,
) -> Result<(Vec<String>, usize), StoreError> {
    let mut enabled = Vec::new();
    let mut skipped = 0;
    let mut next_token: Option<String> = None;
    loop {
        let page = store.list_syncs(page_size, next_token.as_deref()).await?;
        for sync in page.items {
            if sync.enabled {
                enabled.push(sync.id);
            } else {
                tracing::debug!(sync_id = %sync.id, "sync disabled; not scheduled");
                skipped += 1;
            }
        }
        match page.next_token {
            Some(token) => next_token = Some(token),
            None => return Ok((enabled, skipped)),
        }
    }
}
