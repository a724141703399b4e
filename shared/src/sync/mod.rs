//! The sync engine: resolve the audience, plan each destination, apply the plan.
//!
//! - [`markers`]: the clientData keys that mark a contact as managed by a sync.
//! - [`normalize`]: the writable, non-empty copyable fields of a contact and their content hash.
//! - [`resolve`]: destinations -> active users by immutable id.
//! - [`plan`]: pure planning of creates, updates and deletes for one user.
//! - [`apply`]: executing plans for one user, strictly sequentially, re-reading after unknown outcomes.
//! - [`decide`]: pure decisions about a run (admission, a held lease, leavers, abandoned runs, the outcome).
//! - [`engine`]: one executor invocation (admit, targets, destinations in parallel, finish or continue).
//! - [`in_process`]: the executor run on tokio instead of Lambda (local stack, benchmarks, tests).

pub mod apply;
pub mod decide;
pub mod engine;
pub mod in_process;
pub mod markers;
pub mod normalize;
pub mod plan;
pub mod resolve;

pub use decide::UNDELIVERED_RUN_AFTER_SECS;
pub use engine::{Engine, EngineError, EngineSettings, RunOutcome, RunReport};
pub use in_process::InProcessDispatcher;
