//! The scheduler against DynamoDB (moto): it lists every sync page by page and dispatches exactly the enabled ones,
//! with bounded concurrency, and one failed dispatch never stops the others.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use contact_sync::dispatch::{DispatchError, Dispatcher};
use contact_sync::model::{
    CurrentNames, Destination, DestinationKind, DestinationResult, DestinationState, ExecutorEvent,
    Run, RunMode, RunSummary, Source, SyncDefinition, Trigger,
};
use contact_sync::schedule::{ScheduleConfig, ScheduleError, ScheduleSummary, run_schedule};
use contact_sync::store::{DynamoStore, LeaseOutcome, Page, StoreError, SyncStore, create_table};

/// moto's endpoint, which `make test` exports; without it these tests cannot run.
fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests need moto. Run them with `make test` \
             (it starts a private moto server and exports AWS_ENDPOINT_URL and dummy credentials)."
        ),
    }
}

async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    moto_endpoint();
    aws_sdk_dynamodb::Client::new(&contact_sync::aws::load_config().await)
}

/// A fresh table with its own name, so tests never see each other's items.
async fn fresh_store() -> DynamoStore {
    let client = dynamo_client().await;
    let table = format!("scheduler-{}", ulid::Ulid::generate()).to_lowercase();
    create_table(&client, &table).await.expect("create table");
    DynamoStore::new(client, table)
}

fn definition(index: usize, enabled: bool) -> SyncDefinition {
    let now = Utc::now();
    SyncDefinition {
        id: contact_sync::model::new_id(),
        name: format!("sync {index:02}"),
        description: String::new(),
        source: Source {
            user_id: "100000000000000000001".into(),
            user_email: "sales@example.com".into(),
            contact_group: "contactGroups/abc123".into(),
            contact_group_name: "Sales Contacts".into(),
        },
        destinations: vec![Destination {
            kind: DestinationKind::Domain,
            id: "example.com".into(),
            display: "example.com".into(),
        }],
        label_name: "Sales Contacts".into(),
        enabled,
        leaver_policy: Default::default(),
        version: 1,
        created_at: now,
        created_by: "arn:aws:iam::123456789012:user/admin".into(),
        updated_at: now,
        updated_by: "arn:aws:iam::123456789012:user/admin".into(),
        last_run: None,
        current_names: None,
    }
}

/// Stores `total` syncs, every one in `disabled` disabled; returns (enabled ids, disabled ids).
async fn seed(
    store: &DynamoStore,
    total: usize,
    disabled: &[usize],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut on = BTreeSet::new();
    let mut off = BTreeSet::new();
    for i in 0..total {
        let enabled = !disabled.contains(&i);
        let sync = definition(i, enabled);
        store.create_sync(&sync).await.expect("create sync");
        if enabled {
            on.insert(sync.id);
        } else {
            off.insert(sync.id);
        }
    }
    (on, off)
}

/// Records every dispatched event; fails the ones for `failing` sync ids; tracks the most dispatches in flight.
#[derive(Default)]
struct RecordingDispatcher {
    failing: BTreeSet<String>,
    events: Mutex<Vec<ExecutorEvent>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl RecordingDispatcher {
    fn events(&self) -> Vec<ExecutorEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Dispatcher for RecordingDispatcher {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        // Long enough for concurrent dispatches to overlap.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.failing.contains(&event.sync_id) {
            return Err(DispatchError::Failed {
                sync_id: event.sync_id.clone(),
                detail: "injected failure".into(),
            });
        }
        Ok(())
    }
}

/// Delegates to DynamoDB and counts the listing pages the scheduler asks for.
struct CountingStore {
    inner: DynamoStore,
    list_calls: AtomicUsize,
}

#[async_trait]
impl SyncStore for CountingStore {
    async fn create_sync(&self, sync: &SyncDefinition) -> Result<(), StoreError> {
        self.inner.create_sync(sync).await
    }
    async fn get_sync(&self, sync_id: &str) -> Result<Option<SyncDefinition>, StoreError> {
        self.inner.get_sync(sync_id).await
    }
    async fn update_sync(
        &self,
        sync: &SyncDefinition,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.inner.update_sync(sync, expected_version).await
    }
    async fn delete_sync(&self, sync_id: &str) -> Result<(), StoreError> {
        self.inner.delete_sync(sync_id).await
    }
    async fn list_syncs(
        &self,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<SyncDefinition>, StoreError> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.list_syncs(limit, next_token).await
    }
    async fn set_last_run(&self, sync_id: &str, summary: &RunSummary) -> Result<(), StoreError> {
        self.inner.set_last_run(sync_id, summary).await
    }
    async fn set_current_names(
        &self,
        sync_id: &str,
        names: &CurrentNames,
    ) -> Result<(), StoreError> {
        self.inner.set_current_names(sync_id, names).await
    }
    async fn acquire_lease(
        &self,
        sync_id: &str,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<LeaseOutcome, StoreError> {
        self.inner.acquire_lease(sync_id, run_id, until, now).await
    }
    async fn release_lease(&self, sync_id: &str, run_id: &str) -> Result<(), StoreError> {
        self.inner.release_lease(sync_id, run_id).await
    }
    async fn current_lease(
        &self,
        sync_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        self.inner.current_lease(sync_id, now).await
    }
    async fn put_run(&self, run: &Run) -> Result<(), StoreError> {
        self.inner.put_run(run).await
    }
    async fn get_run(&self, sync_id: &str, run_id: &str) -> Result<Option<Run>, StoreError> {
        self.inner.get_run(sync_id, run_id).await
    }
    async fn claim_invocation(
        &self,
        sync_id: &str,
        run_id: &str,
        expected: u32,
    ) -> Result<bool, StoreError> {
        self.inner.claim_invocation(sync_id, run_id, expected).await
    }
    async fn list_runs(
        &self,
        sync_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<Run>, StoreError> {
        self.inner.list_runs(sync_id, limit, next_token).await
    }
    async fn put_result(
        &self,
        sync_id: &str,
        run_id: &str,
        result: &DestinationResult,
    ) -> Result<(), StoreError> {
        self.inner.put_result(sync_id, run_id, result).await
    }
    async fn list_results(
        &self,
        sync_id: &str,
        run_id: &str,
    ) -> Result<Vec<DestinationResult>, StoreError> {
        self.inner.list_results(sync_id, run_id).await
    }
    async fn list_destination_states(
        &self,
        sync_id: &str,
    ) -> Result<Vec<DestinationState>, StoreError> {
        self.inner.list_destination_states(sync_id).await
    }
    async fn put_destination_state(
        &self,
        sync_id: &str,
        state: &DestinationState,
    ) -> Result<(), StoreError> {
        self.inner.put_destination_state(sync_id, state).await
    }
    async fn delete_destination_state(
        &self,
        sync_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        self.inner.delete_destination_state(sync_id, user_id).await
    }
}

#[tokio::test]
async fn dispatches_exactly_the_enabled_syncs_across_pages() {
    let store = fresh_store().await;
    let (enabled, _) = seed(&store, 7, &[1, 5]).await;
    let store = CountingStore {
        inner: store,
        list_calls: AtomicUsize::new(0),
    };
    let dispatcher = Arc::new(RecordingDispatcher::default());
    let config = ScheduleConfig {
        concurrency: 2,
        page_size: 3,
    };

    let summary = run_schedule(&store, dispatcher.clone(), config)
        .await
        .expect("schedule");

    assert_eq!(
        summary,
        ScheduleSummary {
            dispatched: 5,
            skipped: 2,
            failed: 0
        }
    );
    assert!(
        store.list_calls.load(Ordering::SeqCst) >= 3,
        "7 syncs in pages of 3 take at least 3 listing calls"
    );
    let events = dispatcher.events();
    let dispatched: BTreeSet<String> = events.iter().map(|e| e.sync_id.clone()).collect();
    assert_eq!(events.len(), 5, "one dispatch per enabled sync");
    assert_eq!(dispatched, enabled);
    for event in &events {
        assert_eq!(event.trigger, Trigger::Schedule);
        assert_eq!(event.mode, RunMode::Apply);
        assert_eq!(event.run_id, None);
        assert_eq!(event.requested_by.as_deref(), Some("scheduler"));
    }
    let max = dispatcher.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&max),
        "at most 2 dispatches in flight, saw {max}"
    );
}

#[tokio::test]
async fn a_failed_dispatch_is_counted_and_does_not_stop_the_others() {
    let store = fresh_store().await;
    let (enabled, _) = seed(&store, 7, &[0, 6]).await;
    let failing: BTreeSet<String> = enabled.iter().take(2).cloned().collect();
    let dispatcher = Arc::new(RecordingDispatcher {
        failing: failing.clone(),
        ..Default::default()
    });

    let summary = run_schedule(
        &store,
        dispatcher.clone(),
        ScheduleConfig {
            concurrency: 3,
            page_size: 3,
        },
    )
    .await
    .expect("schedule");

    assert_eq!(
        summary,
        ScheduleSummary {
            dispatched: 3,
            skipped: 2,
            failed: 2
        }
    );
    let attempted: BTreeSet<String> = dispatcher.events().into_iter().map(|e| e.sync_id).collect();
    assert_eq!(
        attempted, enabled,
        "every enabled sync was attempted despite the failures"
    );
}

#[tokio::test]
async fn an_empty_table_dispatches_nothing() {
    let store = fresh_store().await;
    let dispatcher = Arc::new(RecordingDispatcher::default());
    let summary = run_schedule(&store, dispatcher.clone(), ScheduleConfig::default())
        .await
        .expect("schedule");
    assert_eq!(summary, ScheduleSummary::default());
    assert!(dispatcher.events().is_empty());
}

#[tokio::test]
async fn a_listing_failure_is_an_error_and_dispatches_nothing() {
    let client = dynamo_client().await;
    let store = DynamoStore::new(client, format!("missing-{}", ulid::Ulid::generate()));
    let dispatcher = Arc::new(RecordingDispatcher::default());
    let result = run_schedule(&store, dispatcher.clone(), ScheduleConfig::default()).await;
    assert!(
        matches!(result, Err(ScheduleError::List(_))),
        "got {result:?}"
    );
    assert!(dispatcher.events().is_empty());
}
