//! The executor run in-process on tokio, for the local stack, the benchmarks and the tests: each dispatched event is
//! a new "invocation" with its own deadline, like an asynchronous Lambda invoke.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::Engine;
use crate::dispatch::{DispatchError, Dispatcher};
use crate::model::ExecutorEvent;

/// Runs the executor in-process on tokio (the local stack and the tests), each dispatched event as a new
/// "invocation" with its own deadline `invocation_time` from now, like an asynchronous Lambda invoke.
///
/// The dispatcher and the [`Engine`] refer to each other (the engine dispatches its own continuations), so the
/// dispatcher is created first and [`InProcessDispatcher::attach`]ed to the engine afterwards; it holds the engine
/// weakly.
pub struct InProcessDispatcher {
    engine: OnceLock<Weak<Engine>>,
    invocation_time: Mutex<Duration>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for InProcessDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessDispatcher")
            .field("attached", &self.engine.get().is_some())
            .field("invocation_time", &self.invocation_time())
            .finish_non_exhaustive()
    }
}

impl InProcessDispatcher {
    /// A dispatcher whose invocations each get `invocation_time` before their deadline.
    pub fn new(invocation_time: Duration) -> Arc<Self> {
        Arc::new(InProcessDispatcher {
            engine: OnceLock::new(),
            invocation_time: Mutex::new(invocation_time),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// Connects the engine that runs dispatched events (once; later calls are ignored).
    pub fn attach(&self, engine: &Arc<Engine>) {
        if self.engine.set(Arc::downgrade(engine)).is_err() {
            tracing::warn!("in-process dispatcher already attached; ignoring");
        }
    }

    /// The time each new invocation gets before its deadline.
    pub fn invocation_time(&self) -> Duration {
        *self
            .invocation_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the time later invocations get (tests shorten and restore it).
    pub fn set_invocation_time(&self, time: Duration) {
        *self
            .invocation_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = time;
    }

    /// Waits until every dispatched invocation, and every invocation those dispatched, has finished.
    pub async fn wait_idle(&self) {
        loop {
            let next = self
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match next {
                Some(task) => {
                    if let Err(e) = task.await {
                        tracing::error!(error = %e, "in-process executor invocation panicked");
                    }
                }
                None => return,
            }
        }
    }
}

#[async_trait]
impl Dispatcher for InProcessDispatcher {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        let engine =
            self.engine
                .get()
                .and_then(Weak::upgrade)
                .ok_or_else(|| DispatchError::Failed {
                    sync_id: event.sync_id.clone(),
                    detail: "no executor is attached to the in-process dispatcher".to_owned(),
                })?;
        let event = event.clone();
        let time = chrono::Duration::from_std(self.invocation_time())
            .unwrap_or_else(|_| chrono::Duration::minutes(15));
        let span = tracing::info_span!("in_process_invocation", sync_id = %event.sync_id);
        let task = tokio::spawn(
            async move {
                let deadline = chrono::Utc::now() + time;
                match engine.execute(&event, deadline).await {
                    Ok(report) => tracing::info!(outcome = ?report.outcome, "invocation finished"),
                    Err(e) => tracing::error!(error = %e, "invocation failed"),
                }
            }
            .instrument(span),
        );
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(task);
        Ok(())
    }
}
