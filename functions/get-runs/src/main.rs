//! The `get-runs` API Lambda: GET /syncs/{id}/runs and GET /syncs/{id}/runs/{run_id}: run history and one run's
//! results. Required environment: TABLE_NAME (PEOPLE_API_BASE_URL and DIRECTORY_API_BASE_URL optional where Google
//! is called). The operation lives in `contact_sync::api`.

use contact_sync::api::{ApiContext, handlers};
use contact_sync::telemetry;
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // A readable start-up failure (e.g. "required environment variable TABLE_NAME is not set").
    let ctx = ApiContext::for_function("get-runs")
        .await
        .map_err(|e| format!("get-runs cannot start: {e}"))?;
    lambda_http::run(service_fn(|req| handlers::get_runs(&ctx, req))).await
}
