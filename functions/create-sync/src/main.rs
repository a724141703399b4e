//! The `create-sync` API Lambda: `POST /syncs`: create a sync, resolving every reference to Google's immutable ids, and
//! start its first run. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("create-sync").await?;
    lambda_http::run(service_fn(|req| handlers::create_sync(&ctx, req))).await
}
