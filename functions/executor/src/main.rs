//! The executor Lambda: runs one sync (apply, dry run or clean-up), continuing itself before the deadline. Its
//! configuration and parts come from `contact_sync::lambda`.

use contact_sync::lambda;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let engine = lambda::executor().await?;
    lambda_runtime::run(service_fn(|event| lambda::execute(&engine, event))).await
}
