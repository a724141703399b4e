//! contact-sync's common crate: the domain model, the DynamoDB store, the Google clients, the sync engine and
//! the operations behind each API endpoint. The Lambda binaries in `functions/` are thin wrappers around it.

pub mod api;
pub mod aws;
pub mod config;
pub mod dispatch;
pub mod google;
pub mod model;
pub mod schedule;
pub mod store;
pub mod sync;
pub mod telemetry;
