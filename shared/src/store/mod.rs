//! Persistence of sync definitions, runs, per-destination results and state, and the run lease.
//!
//! One DynamoDB table (docs/architecture.md, "Data model"): `pk = SYNC#<id>` with `sk` = `DEF` | `RUN#<run id>` |
//! `RESULT#<run id>#<user id>` | `DEST#<user id>`, and a sparse GSI1 (`gsi1pk = "SYNC"`, `gsi1sk = <name>#<id>`)
//! on definitions only. The exact item layout and table schema are documented in [`dynamo`].
//!
//! [`DynamoStore`] is the implementation the Lambdas use; [`MemoryStore`] is for unit tests of other modules.
//! Both pass the same behavioural checks in [`contract`].

#[doc(hidden)]
pub mod contract;
pub mod dynamo;
mod keys;
pub mod memory;

pub use dynamo::{DynamoStore, create_table};
pub use memory::MemoryStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{
    CurrentNames, DestinationResult, DestinationState, Run, RunSummary, SyncDefinition,
};

/// Store failures, typed so the API can map them to HTTP statuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item does not exist (e.g. updating a deleted sync).
    #[error("not found: {0}")]
    NotFound(String),
    /// A conditional write failed: the version moved on, or the item already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A pagination token we did not issue, or one that was tampered with.
    #[error("invalid pagination token")]
    InvalidToken,
    /// DynamoDB or the network failed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// A stored item could not be decoded.
    #[error("corrupt item {key}: {detail}")]
    Corrupt { key: String, detail: String },
}

/// The largest page `list_syncs` and `list_runs` return; larger limits are clamped to it (and 0 to 1).
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// One page of a listing; `next_token` is opaque to callers and absent on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// The outcome of trying to take a sync's run lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The lease is ours until the given time.
    Acquired,
    /// Another run holds an unexpired lease.
    Held {
        run_id: String,
        until: DateTime<Utc>,
    },
    /// The sync does not exist (deleted).
    SyncMissing,
}

#[async_trait]
pub trait SyncStore: Send + Sync {
    // ---- definitions -------------------------------------------------------------------------------------
    /// Stores a new definition; `Conflict` if the id exists.
    async fn create_sync(&self, sync: &SyncDefinition) -> Result<(), StoreError>;
    async fn get_sync(&self, sync_id: &str) -> Result<Option<SyncDefinition>, StoreError>;
    /// Replaces the definition's fields if the stored version equals `expected_version`; the stored version
    /// becomes `sync.version` (the caller sets it to `expected_version + 1`). The lease, `last_run` and
    /// `current_names` are left as they are. `NotFound` if missing, `Conflict` if the version moved on.
    async fn update_sync(
        &self,
        sync: &SyncDefinition,
        expected_version: u64,
    ) -> Result<(), StoreError>;
    /// Deletes the definition and every item under it (runs, results, destination state).
    async fn delete_sync(&self, sync_id: &str) -> Result<(), StoreError>;
    /// Definitions ordered by name then id, through GSI1 (never a scan).
    async fn list_syncs(
        &self,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<SyncDefinition>, StoreError>;
    /// Records the last finished run's summary on the definition without touching its version.
    async fn set_last_run(&self, sync_id: &str, summary: &RunSummary) -> Result<(), StoreError>;
    /// Records the names a run found for the source and destinations on the definition, replacing any recorded
    /// before, without touching its version or its other fields. One conditional write; `NotFound` if the sync
    /// does not exist (deleted).
    async fn set_current_names(
        &self,
        sync_id: &str,
        names: &CurrentNames,
    ) -> Result<(), StoreError>;

    // ---- run lease ---------------------------------------------------------------------------------------
    /// Takes the lease for `run_id` until `until` if it is free, expired, or already held by `run_id`
    /// (renewal). One conditional write.
    async fn acquire_lease(
        &self,
        sync_id: &str,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<LeaseOutcome, StoreError>;
    /// Releases the lease if `run_id` holds it (no error otherwise).
    async fn release_lease(&self, sync_id: &str, run_id: &str) -> Result<(), StoreError>;
    /// The current lease holder, if the lease is unexpired at `now`.
    async fn current_lease(
        &self,
        sync_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;

    // ---- runs and results --------------------------------------------------------------------------------
    /// Creates or replaces a run record (with a TTL on old runs).
    async fn put_run(&self, run: &Run) -> Result<(), StoreError>;
    async fn get_run(&self, sync_id: &str, run_id: &str) -> Result<Option<Run>, StoreError>;
    /// Claims invocation `expected` of a run for the caller, in one conditional write on the run item: sets the
    /// run's `invocations` to `expected` if the run exists, is `running` and has recorded exactly `expected - 1`
    /// invocations. `Ok(false)` (and nothing written) otherwise: another delivery of the same executor event
    /// claimed it first, the run finished, or it does not exist. Claiming invocation 0 never succeeds.
    async fn claim_invocation(
        &self,
        sync_id: &str,
        run_id: &str,
        expected: u32,
    ) -> Result<bool, StoreError>;
    /// Runs newest first.
    async fn list_runs(
        &self,
        sync_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<Run>, StoreError>;
    /// Records one destination's result in a run (replacing an earlier one for the same user).
    async fn put_result(
        &self,
        sync_id: &str,
        run_id: &str,
        result: &DestinationResult,
    ) -> Result<(), StoreError>;
    /// Every destination result of a run, ordered by user id.
    async fn list_results(
        &self,
        sync_id: &str,
        run_id: &str,
    ) -> Result<Vec<DestinationResult>, StoreError>;

    // ---- per-destination state ---------------------------------------------------------------------------
    async fn list_destination_states(
        &self,
        sync_id: &str,
    ) -> Result<Vec<DestinationState>, StoreError>;
    async fn put_destination_state(
        &self,
        sync_id: &str,
        state: &DestinationState,
    ) -> Result<(), StoreError>;
    async fn delete_destination_state(
        &self,
        sync_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError>;
}
