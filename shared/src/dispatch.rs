//! Starting executor runs: one abstraction for create-sync (run immediately), start-run, delete-sync (clean-up),
//! the scheduler and the executor's own continuation. In AWS it is an asynchronous Lambda invoke; locally and in
//! tests the executor runs in-process.

use async_trait::async_trait;

use crate::model::ExecutorEvent;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("dispatching run of sync {sync_id} failed: {detail}")]
    Failed { sync_id: String, detail: String },
}

#[async_trait]
pub trait Dispatcher: Send + Sync {
    /// Hands the event to an executor without waiting for the run to finish.
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError>;
}
