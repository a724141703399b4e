//! The `list-syncs` API Lambda: `GET /syncs`: one page of syncs with their last run. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("list-syncs").await?;
    lambda_http::run(service_fn(|req| handlers::list_syncs(&ctx, req))).await
}
