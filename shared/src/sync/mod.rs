//! The sync engine: resolve the audience, plan each destination, apply the plan.
//!
//! - [`markers`]: the clientData keys that mark a contact as managed by a sync.
//! - [`normalize`]: the writable, non-empty copyable fields of a contact and their content hash.
//! - [`resolve`]: destinations -> active users by immutable id.
//! - [`plan`]: pure planning of creates, updates and deletes for one user.
//! - [`apply`]: executing plans for one user, strictly sequentially, re-reading after unknown outcomes.
//! - [`run`]: one executor invocation (lease, source, audience, users in parallel, results, continuation).
//! - [`in_process`]: the executor run on tokio instead of Lambda (local stack, benchmarks, tests).

pub mod apply;
pub mod in_process;
pub mod markers;
pub mod normalize;
pub mod plan;
pub mod resolve;
pub mod run;

pub use in_process::InProcessDispatcher;
pub use run::{
    Engine, EngineError, EngineSettings, RunOutcome, RunReport, UNDELIVERED_RUN_AFTER_SECS,
};
