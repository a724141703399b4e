//! The `delete-sync` API Lambda: `DELETE /syncs/{id}`: delete a sync now, or through a clean-up run that removes its
//! contacts. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("delete-sync").await?;
    lambda_http::run(service_fn(|req| handlers::delete_sync(&ctx, req))).await
}
