//! The sync engine: resolve the audience, plan each destination, apply the plan.
//!
//! - [`markers`]: the clientData keys that mark a contact as managed by a sync.
//! - [`normalize`]: the writable, non-empty copyable fields of a contact and their content hash.
//! - [`resolve`]: destinations -> active users by immutable id.
//! - [`plan`]: pure planning of creates, updates and deletes for one user.
//! - [`apply`]: executing plans for one user, strictly sequentially, re-reading after unknown outcomes.
//! - [`run`]: one executor invocation (lease, source, audience, users in parallel, results, continuation).
//! - [`executor`]: building the executor from its environment (Lambda, local stack, tests).

pub mod apply;
pub mod executor;
pub mod markers;
pub mod normalize;
pub mod plan;
pub mod resolve;
pub mod run;

pub use run::{
    Clock, Engine, EngineError, EngineSettings, RunOutcome, RunReport, SystemClock,
    UNDELIVERED_RUN_AFTER_SECS,
};
