//! Starting executor runs: one abstraction for create-sync (run immediately), start-run, delete-sync (clean-up),
//! the scheduler and the executor's own continuation. In AWS it is an asynchronous Lambda invoke; locally and in
//! tests the executor runs in-process ([`InProcessDispatcher`](crate::sync::InProcessDispatcher)).

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

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

/// Dispatches by invoking the executor Lambda asynchronously (`InvocationType::Event`): Lambda queues the event,
/// retries failed invocations and sends what still fails to the executor's on-failure destination.
#[derive(Debug, Clone)]
pub struct LambdaDispatcher {
    client: aws_sdk_lambda::Client,
    function_name: String,
}

impl LambdaDispatcher {
    /// `function_name` is the executor's name or ARN (`EXECUTOR_FUNCTION_NAME`).
    pub fn new(client: aws_sdk_lambda::Client, function_name: impl Into<String>) -> Self {
        LambdaDispatcher {
            client,
            function_name: function_name.into(),
        }
    }

    /// A dispatcher with a Lambda client built from the shared SDK configuration.
    pub fn from_sdk_config(
        config: &aws_config::SdkConfig,
        function_name: impl Into<String>,
    ) -> Self {
        Self::new(aws_sdk_lambda::Client::new(config), function_name)
    }

    pub fn function_name(&self) -> &str {
        &self.function_name
    }
}

#[async_trait]
impl Dispatcher for LambdaDispatcher {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        let failed = |detail: String| DispatchError::Failed {
            sync_id: event.sync_id.clone(),
            detail,
        };
        let payload = serde_json::to_vec(event).map_err(|e| failed(e.to_string()))?;
        let response = self
            .client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| failed(aws_sdk_lambda::error::DisplayErrorContext(e).to_string()))?;
        // An asynchronous invoke that was queued answers 202.
        if response.status_code() != 202 {
            return Err(failed(format!(
                "Lambda answered status {} instead of 202",
                response.status_code()
            )));
        }
        tracing::info!(sync_id = %event.sync_id, run_id = ?event.run_id, "executor invoked");
        Ok(())
    }
}

/// The dispatcher of binaries that never start runs: refuses, naming the missing configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExecutor;

#[async_trait]
impl Dispatcher for NoExecutor {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        Err(DispatchError::Failed {
            sync_id: event.sync_id.clone(),
            detail: "this function is not configured to start runs (EXECUTOR_FUNCTION_NAME)"
                .to_owned(),
        })
    }
}
