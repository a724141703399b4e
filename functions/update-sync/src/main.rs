//! The `update-sync` API Lambda: PATCH /syncs/{id}: update a sync (If-Match), resolving new references. Required
//! environment: TABLE_NAME, GOOGLE_KEY_SECRET_ID, GOOGLE_ADMIN_EMAIL (PEOPLE_API_BASE_URL and
//! DIRECTORY_API_BASE_URL optional where Google is called). The operation lives in `contact_sync::api`.

use contact_sync::api::{ApiContext, handlers};
use contact_sync::telemetry;
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // A readable start-up failure (e.g. "required environment variable TABLE_NAME is not set").
    let ctx = ApiContext::for_function("update-sync")
        .await
        .map_err(|e| format!("update-sync cannot start: {e}"))?;
    lambda_http::run(service_fn(|req| handlers::update_sync(&ctx, req))).await
}
