//! An in-memory [`SyncStore`], **for unit tests of other modules only** (the API operations, the executor,
//! the scheduler). It mirrors the DynamoDB store's semantics — conditional failures, lease rules, ordering and
//! paging tokens — and is checked against the same contract tests, but keeps nothing across processes.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::keys::{
    self, DEF_SK, DEST_PREFIX, PageKey, RUN_PREFIX, decode_run_token, decode_sync_token,
    encode_token,
};
use super::{LeaseOutcome, Page, StoreError, SyncStore};
use crate::model::{
    CurrentNames, DestinationResult, DestinationState, Run, RunStatus, RunSummary, SyncDefinition,
};

/// A run lease, kept with the millisecond precision the DynamoDB store stores.
#[derive(Debug, Clone)]
struct Lease {
    run_id: String,
    until_millis: i64,
}

#[derive(Debug, Clone)]
enum Item {
    Def {
        def: Box<SyncDefinition>,
        lease: Option<Lease>,
    },
    Run(Run),
    Result(DestinationResult),
    Dest(DestinationState),
}

/// Items by partition key, then sort key: the same layout and ordering as the DynamoDB table.
type Table = BTreeMap<String, BTreeMap<String, Item>>;

/// In-memory store for unit tests (see the module docs).
#[derive(Debug, Default)]
pub struct MemoryStore {
    table: Mutex<Table>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A test that panicked while holding the lock cannot leave a half-written item: every mutation
        // below is a single map operation, so the data is still consistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn corrupt(pk: &str, sk: &str, expected: &str) -> StoreError {
    StoreError::Corrupt {
        key: format!("{pk}/{sk}"),
        detail: format!("expected a {expected} item"),
    }
}

/// A stored definition and its lease, both writable.
type DefinitionMut<'a> = (&'a mut SyncDefinition, &'a mut Option<Lease>);

fn definition_mut<'a>(
    table: &'a mut Table,
    sync_id: &str,
) -> Result<Option<DefinitionMut<'a>>, StoreError> {
    let pk = keys::sync_pk(sync_id);
    match table.get_mut(&pk).and_then(|items| items.get_mut(DEF_SK)) {
        None => Ok(None),
        Some(Item::Def { def, lease }) => Ok(Some((&mut **def, lease))),
        Some(_) => Err(corrupt(&pk, DEF_SK, "definition")),
    }
}

fn put(table: &mut Table, sync_id: &str, sk: String, item: Item) {
    table
        .entry(keys::sync_pk(sync_id))
        .or_default()
        .insert(sk, item);
}

#[async_trait]
impl SyncStore for MemoryStore {
    async fn create_sync(&self, sync: &SyncDefinition) -> Result<(), StoreError> {
        let mut table = self.table();
        let items = table.entry(keys::sync_pk(&sync.id)).or_default();
        if items.contains_key(DEF_SK) {
            return Err(StoreError::Conflict(format!(
                "sync {} already exists",
                sync.id
            )));
        }
        items.insert(
            DEF_SK.to_owned(),
            Item::Def {
                def: Box::new(sync.clone()),
                lease: None,
            },
        );
        Ok(())
    }

    async fn get_sync(&self, sync_id: &str) -> Result<Option<SyncDefinition>, StoreError> {
        let mut table = self.table();
        Ok(definition_mut(&mut table, sync_id)?.map(|(def, _)| def.clone()))
    }

    async fn update_sync(
        &self,
        sync: &SyncDefinition,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let mut table = self.table();
        let Some((stored, _lease)) = definition_mut(&mut table, &sync.id)? else {
            return Err(StoreError::NotFound(format!("sync {}", sync.id)));
        };
        if stored.version != expected_version {
            return Err(StoreError::Conflict(format!(
                "sync {} is at version {}, not {expected_version}",
                sync.id, stored.version
            )));
        }
        let last_run = stored.last_run.take();
        let current_names = stored.current_names.take();
        *stored = SyncDefinition {
            last_run,
            current_names,
            ..sync.clone()
        };
        Ok(())
    }

    async fn delete_sync(&self, sync_id: &str) -> Result<(), StoreError> {
        let mut table = self.table();
        match table.remove(&keys::sync_pk(sync_id)) {
            Some(items) if items.contains_key(DEF_SK) => Ok(()),
            _ => Err(StoreError::NotFound(format!("sync {sync_id}"))),
        }
    }

    async fn list_syncs(
        &self,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<SyncDefinition>, StoreError> {
        let after = next_token
            .map(decode_sync_token)
            .transpose()?
            .map(|key| key[keys::GSI1SK].clone());
        let table = self.table();
        let mut defs: Vec<(String, &SyncDefinition)> = table
            .values()
            .filter_map(|items| match items.get(DEF_SK) {
                Some(Item::Def { def, .. }) => Some((keys::gsi1sk(&def.name, &def.id), &**def)),
                _ => None,
            })
            .filter(|(sort_key, _)| after.as_ref().is_none_or(|after| sort_key > after))
            .collect();
        defs.sort_by(|a, b| a.0.cmp(&b.0));
        let limit = keys::page_limit(limit) as usize;
        let more = defs.len() > limit;
        defs.truncate(limit);
        let next_token = match defs.last() {
            Some((_, def)) if more => Some(encode_token(&keys::sync_page_key(&def.id, &def.name))?),
            _ => None,
        };
        Ok(Page {
            items: defs.into_iter().map(|(_, def)| def.clone()).collect(),
            next_token,
        })
    }

    async fn set_last_run(&self, sync_id: &str, summary: &RunSummary) -> Result<(), StoreError> {
        let mut table = self.table();
        match definition_mut(&mut table, sync_id)? {
            Some((def, _)) => {
                def.last_run = Some(summary.clone());
                Ok(())
            }
            None => Err(StoreError::NotFound(format!("sync {sync_id}"))),
        }
    }

    async fn set_current_names(
        &self,
        sync_id: &str,
        names: &CurrentNames,
    ) -> Result<(), StoreError> {
        let mut table = self.table();
        match definition_mut(&mut table, sync_id)? {
            Some((def, _)) => {
                def.current_names = Some(names.clone());
                Ok(())
            }
            None => Err(StoreError::NotFound(format!("sync {sync_id}"))),
        }
    }

    async fn acquire_lease(
        &self,
        sync_id: &str,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<LeaseOutcome, StoreError> {
        let mut table = self.table();
        let Some((_, lease)) = definition_mut(&mut table, sync_id)? else {
            return Ok(LeaseOutcome::SyncMissing);
        };
        if let Some(held) = lease.as_ref()
            && held.until_millis > now.timestamp_millis()
            && held.run_id != run_id
        {
            return Ok(LeaseOutcome::Held {
                run_id: held.run_id.clone(),
                until: millis_to_time(held.until_millis)?,
            });
        }
        *lease = Some(Lease {
            run_id: run_id.to_owned(),
            until_millis: until.timestamp_millis(),
        });
        Ok(LeaseOutcome::Acquired)
    }

    async fn release_lease(&self, sync_id: &str, run_id: &str) -> Result<(), StoreError> {
        let mut table = self.table();
        if let Some((_, lease)) = definition_mut(&mut table, sync_id)?
            && lease.as_ref().is_some_and(|held| held.run_id == run_id)
        {
            *lease = None;
        }
        Ok(())
    }

    async fn current_lease(
        &self,
        sync_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let mut table = self.table();
        Ok(definition_mut(&mut table, sync_id)?
            .and_then(|(_, lease)| lease.clone())
            .filter(|held| held.until_millis > now.timestamp_millis())
            .map(|held| held.run_id))
    }

    async fn put_run(&self, run: &Run) -> Result<(), StoreError> {
        let mut table = self.table();
        put(
            &mut table,
            &run.sync_id,
            keys::run_sk(&run.run_id),
            Item::Run(run.clone()),
        );
        Ok(())
    }

    async fn get_run(&self, sync_id: &str, run_id: &str) -> Result<Option<Run>, StoreError> {
        let table = self.table();
        let pk = keys::sync_pk(sync_id);
        let sk = keys::run_sk(run_id);
        match table.get(&pk).and_then(|items| items.get(&sk)) {
            None => Ok(None),
            Some(Item::Run(run)) => Ok(Some(run.clone())),
            Some(_) => Err(corrupt(&pk, &sk, "run")),
        }
    }

    async fn claim_invocation(
        &self,
        sync_id: &str,
        run_id: &str,
        expected: u32,
    ) -> Result<bool, StoreError> {
        let Some(previous) = expected.checked_sub(1) else {
            return Ok(false);
        };
        let mut table = self.table();
        let pk = keys::sync_pk(sync_id);
        let sk = keys::run_sk(run_id);
        match table.get_mut(&pk).and_then(|items| items.get_mut(&sk)) {
            Some(Item::Run(run))
                if run.status == RunStatus::Running && run.invocations == previous =>
            {
                run.invocations = expected;
                Ok(true)
            }
            Some(Item::Run(_)) | None => Ok(false),
            Some(_) => Err(corrupt(&pk, &sk, "run")),
        }
    }

    async fn list_runs(
        &self,
        sync_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<Run>, StoreError> {
        let before = next_token
            .map(|token| decode_run_token(token, sync_id))
            .transpose()?
            .map(|key: PageKey| key[keys::SK].clone());
        let table = self.table();
        let limit = keys::page_limit(limit) as usize;
        let mut runs = Vec::new();
        let mut more = false;
        if let Some(items) = table.get(&keys::sync_pk(sync_id)) {
            let newest_first = items
                .iter()
                .rev()
                .filter(|(sk, _)| sk.starts_with(RUN_PREFIX))
                .filter(|(sk, _)| before.as_ref().is_none_or(|before| *sk < before));
            for (sk, item) in newest_first {
                if runs.len() == limit {
                    more = true;
                    break;
                }
                match item {
                    Item::Run(run) => runs.push(run.clone()),
                    _ => return Err(corrupt(&keys::sync_pk(sync_id), sk, "run")),
                }
            }
        }
        let next_token = match runs.last() {
            Some(run) if more => Some(encode_token(&keys::run_page_key(sync_id, &run.run_id))?),
            _ => None,
        };
        Ok(Page {
            items: runs,
            next_token,
        })
    }

    async fn put_result(
        &self,
        sync_id: &str,
        run_id: &str,
        result: &DestinationResult,
    ) -> Result<(), StoreError> {
        let mut table = self.table();
        put(
            &mut table,
            sync_id,
            keys::result_sk(run_id, &result.user_id),
            Item::Result(result.clone()),
        );
        Ok(())
    }

    async fn list_results(
        &self,
        sync_id: &str,
        run_id: &str,
    ) -> Result<Vec<DestinationResult>, StoreError> {
        let pk = keys::sync_pk(sync_id);
        let prefix = keys::result_prefix(run_id);
        let table = self.table();
        let Some(items) = table.get(&pk) else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .filter(|(sk, _)| sk.starts_with(&prefix))
            .map(|(sk, item)| match item {
                Item::Result(result) => Ok(result.clone()),
                _ => Err(corrupt(&pk, sk, "result")),
            })
            .collect()
    }

    async fn list_destination_states(
        &self,
        sync_id: &str,
    ) -> Result<Vec<DestinationState>, StoreError> {
        let pk = keys::sync_pk(sync_id);
        let table = self.table();
        let Some(items) = table.get(&pk) else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .filter(|(sk, _)| sk.starts_with(DEST_PREFIX))
            .map(|(sk, item)| match item {
                Item::Dest(state) => Ok(state.clone()),
                _ => Err(corrupt(&pk, sk, "destination state")),
            })
            .collect()
    }

    async fn put_destination_state(
        &self,
        sync_id: &str,
        state: &DestinationState,
    ) -> Result<(), StoreError> {
        let mut table = self.table();
        put(
            &mut table,
            sync_id,
            keys::dest_sk(&state.user_id),
            Item::Dest(state.clone()),
        );
        Ok(())
    }

    async fn delete_destination_state(
        &self,
        sync_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        let mut table = self.table();
        if let Some(items) = table.get_mut(&keys::sync_pk(sync_id)) {
            items.remove(&keys::dest_sk(user_id));
            if items.is_empty() {
                table.remove(&keys::sync_pk(sync_id));
            }
        }
        Ok(())
    }
}

fn millis_to_time(millis: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Backend(format!("lease time {millis} ms is out of range")))
}

#[cfg(test)]
mod tests {
    crate::store_contract_tests!(async { super::MemoryStore::new() });
}
