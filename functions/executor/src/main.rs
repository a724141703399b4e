//! The executor Lambda binary. Configuration: TABLE_NAME, GOOGLE_KEY_SECRET_ID, GOOGLE_ADMIN_EMAIL,
//! EXECUTOR_FUNCTION_NAME (required), PEOPLE_API_BASE_URL, DIRECTORY_API_BASE_URL, EXECUTOR_CONCURRENCY (optional).

use contact_sync::sync::executor::lambda_engine_from_env;
use contact_sync::telemetry;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let engine = lambda_engine_from_env().await?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<contact_sync::model::ExecutorEvent>| {
            let engine = engine.clone();
            async move { executor::handle(&engine, event).await.map_err(Error::from) }
        },
    ))
    .await
}
