//! The scheduler Lambda: on the EventBridge schedule, starts a run of every enabled sync. Its configuration and
//! parts come from `contact_sync::lambda`.

use contact_sync::lambda;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let scheduler = lambda::scheduler().await?;
    lambda_runtime::run(service_fn(|event| lambda::schedule(&scheduler, event))).await
}
