//! The `update-sync` API Lambda: `PATCH /syncs/{id}` with `If-Match`: update a sync, resolving new references. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("update-sync").await?;
    lambda_http::run(service_fn(|req| handlers::update_sync(&ctx, req))).await
}
