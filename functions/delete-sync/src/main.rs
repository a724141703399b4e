//! The `delete-sync` API Lambda: DELETE /syncs/{id}: delete a sync now, or through a clean-up run that removes its
//! contacts. Required environment: TABLE_NAME, EXECUTOR_FUNCTION_NAME (PEOPLE_API_BASE_URL and
//! DIRECTORY_API_BASE_URL optional where Google is called). The operation lives in `contact_sync::api`.

use contact_sync::api::{ApiContext, handlers};
use contact_sync::telemetry;
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // A readable start-up failure (e.g. "required environment variable TABLE_NAME is not set").
    let ctx = ApiContext::for_function("delete-sync")
        .await
        .map_err(|e| format!("delete-sync cannot start: {e}"))?;
    lambda_http::run(service_fn(|req| handlers::delete_sync(&ctx, req))).await
}
