//! The `get-sync` API Lambda: `GET /syncs/{id}`: one sync with its ETag. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("get-sync").await?;
    lambda_http::run(service_fn(|req| handlers::get_sync(&ctx, req))).await
}
