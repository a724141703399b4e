//! The `search-directory` API Lambda: `GET /directory/search?q=`: users, groups, org units and domains matching q. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("search-directory").await?;
    lambda_http::run(service_fn(|req| handlers::search_directory(&ctx, req))).await
}
