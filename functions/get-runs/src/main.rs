//! The `get-runs` API Lambda: `GET /syncs/{id}/runs` and `GET /syncs/{id}/runs/{run_id}`: run history and one run's
//! results. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("get-runs").await?;
    lambda_http::run(service_fn(|req| handlers::get_runs(&ctx, req))).await
}
