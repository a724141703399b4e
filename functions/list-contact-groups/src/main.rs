//! The `list-contact-groups` API Lambda: `GET /users/{user}/contact-groups`: a user's own contact groups. Its configuration and parts come from `contact_sync::lambda`.

use contact_sync::{api::handlers, lambda};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = lambda::api_context("list-contact-groups").await?;
    lambda_http::run(service_fn(|req| handlers::list_contact_groups(&ctx, req))).await
}
