//! The `start-run` API Lambda: `POST /syncs/{id}/runs`: start a run (or dry run) now. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("start-run").await?;
    lambda_http::run(service_fn(|req| handlers::start_run(&ctx, req))).await
}
