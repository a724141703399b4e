//! contact-sync's common crate: the domain model, the DynamoDB store, the Google clients, the sync engine and
//! the operations behind each API endpoint. The Lambda binaries in `functions/` are thin wrappers around it:
//! [`config`] reads their environment, [`wiring`] builds their parts, [`lambda`] starts them.

pub mod api;
pub mod aws;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod google;
pub mod lambda;
pub mod model;
pub mod schedule;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod wiring;
