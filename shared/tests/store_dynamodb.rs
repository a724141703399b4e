//! `DynamoStore` against moto: the shared store contract (`contact_sync::store::contract`), plus the item
//! layout, the table schema and corrupt-item handling that only the DynamoDB store has.
//!
//! Run through `make test`, which starts `moto_server` and sets `AWS_ENDPOINT_URL` and test credentials.
//! Every test creates its own table (`test-<ulid>`), so they run in parallel.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingModeSummary, KeyType, ProjectionType, TimeToLiveStatus,
};
use contact_sync::model::{DestinationStatus, new_id};
use contact_sync::store::contract::{definition, destination_state, result, run};
use contact_sync::store::{DynamoStore, LeaseOutcome, StoreError, SyncStore, create_table};

/// A client for moto; fails loudly (never passes silently) when moto is not configured.
async fn moto_client() -> Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.trim().is_empty(),
        "AWS_ENDPOINT_URL is not set: the DynamoDB store tests run against moto. Run them through \
         `make test`, which starts moto_server and sets AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, \
         AWS_SECRET_ACCESS_KEY and AWS_REGION."
    );
    Client::new(&contact_sync::aws::load_config().await)
}

/// A store on a fresh table of its own.
async fn dynamo_store() -> DynamoStore {
    let client = moto_client().await;
    let table = format!("test-{}", new_id().to_lowercase());
    create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("creating table {table}: {e}"));
    DynamoStore::new(client, table)
}

contact_sync::store_contract_tests!(dynamo_store());

async fn raw_item(
    store: &DynamoStore,
    client: &Client,
    pk: &str,
    sk: &str,
) -> HashMap<String, AttributeValue> {
    client
        .get_item()
        .table_name(store.table_name())
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
        .unwrap_or_else(|| panic!("no item {pk}/{sk}"))
}

fn s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v,
        other => panic!("{name} is not a string: {other:?}"),
    }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or_else(|e| panic!("{name}={v}: {e}")),
        other => panic!("{name} is not a number: {other:?}"),
    }
}

#[tokio::test]
async fn items_are_the_model_plus_keys() {
    let store = dynamo_store().await;
    let client = moto_client().await;
    let def = definition("S1", "Sales EMEA");
    store.create_sync(&def).await.expect("create_sync");
    let started = contact_sync::store::contract::at(0);
    store
        .put_run(&run("S1", "R1", started))
        .await
        .expect("put_run");
    store
        .put_result("S1", "R1", &result("u1", DestinationStatus::Failed))
        .await
        .expect("put_result");
    store
        .put_destination_state("S1", &destination_state("u1"))
        .await
        .expect("put_destination_state");
    let until = contact_sync::store::contract::at(600);
    assert_eq!(
        store
            .acquire_lease("S1", "R1", until, started)
            .await
            .expect("acquire_lease"),
        LeaseOutcome::Acquired
    );

    let item = raw_item(&store, &client, "SYNC#S1", "DEF").await;
    assert_eq!(s(&item, "item_type"), "sync");
    assert_eq!(s(&item, "gsi1pk"), "SYNC");
    assert_eq!(s(&item, "gsi1sk"), "sales emea#S1");
    assert_eq!(s(&item, "id"), "S1");
    assert_eq!(s(&item, "name"), "Sales EMEA");
    assert_eq!(number(&item, "version"), 1);
    assert_eq!(s(&item, "created_at"), "2026-01-01T00:00:00Z");
    assert!(matches!(item.get("source"), Some(AttributeValue::M(_))));
    assert!(matches!(item.get("destinations"), Some(AttributeValue::L(l)) if l.len() == 4));
    assert_eq!(s(&item, "lease_run_id"), "R1");
    assert_eq!(number(&item, "lease_until"), until.timestamp_millis());
    assert!(!item.contains_key("ttl"), "definitions never expire");

    let item = raw_item(&store, &client, "SYNC#S1", "RUN#R1").await;
    assert_eq!(s(&item, "item_type"), "run");
    assert_eq!(s(&item, "run_id"), "R1");
    assert_eq!(s(&item, "status"), "running");
    assert_eq!(number(&item, "ttl"), started.timestamp() + 90 * 24 * 3600);
    assert!(!item.contains_key("gsi1pk"), "only definitions are in GSI1");

    let item = raw_item(&store, &client, "SYNC#S1", "RESULT#R1#u1").await;
    assert_eq!(s(&item, "item_type"), "result");
    assert_eq!(s(&item, "run_id"), "R1");
    assert_eq!(s(&item, "user_id"), "u1");
    assert_eq!(s(&item, "status"), "failed");
    assert!(number(&item, "ttl") > started.timestamp());

    let item = raw_item(&store, &client, "SYNC#S1", "DEST#u1").await;
    assert_eq!(s(&item, "item_type"), "dest");
    assert_eq!(s(&item, "email"), "u1@example.com");
    assert!(!item.contains_key("ttl"));

    // An update rewrites the definition's attributes, GSI1's sort key included, and nothing else.
    let v2 = contact_sync::model::SyncDefinition {
        name: "Support".to_owned(),
        version: 2,
        ..def
    };
    store.update_sync(&v2, 1).await.expect("update_sync");
    let item = raw_item(&store, &client, "SYNC#S1", "DEF").await;
    assert_eq!(s(&item, "gsi1sk"), "support#S1");
    assert_eq!(s(&item, "item_type"), "sync");
    assert_eq!(s(&item, "lease_run_id"), "R1");
}

#[tokio::test]
async fn create_table_declares_the_template_schema() {
    let store = dynamo_store().await;
    let client = moto_client().await;
    let table = store.table_name();
    // Re-running against an existing table is fine (the local stack does it on every start).
    create_table(&client, table)
        .await
        .expect("create_table again");

    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("DescribeTable");
    let desc = described.table().expect("table description");
    let keys: Vec<(&str, KeyType)> = desc
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(keys, [("pk", KeyType::Hash), ("sk", KeyType::Range)]);
    assert_eq!(
        desc.billing_mode_summary()
            .and_then(BillingModeSummary::billing_mode),
        Some(&aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    );
    let gsis = desc.global_secondary_indexes();
    assert_eq!(gsis.len(), 1);
    assert_eq!(gsis[0].index_name(), Some("GSI1"));
    let gsi_keys: Vec<(&str, KeyType)> = gsis[0]
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(
        gsi_keys,
        [("gsi1pk", KeyType::Hash), ("gsi1sk", KeyType::Range)]
    );
    assert_eq!(
        gsis[0].projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .expect("DescribeTimeToLive");
    let ttl = ttl.time_to_live_description().expect("TTL description");
    assert_eq!(ttl.attribute_name(), Some("ttl"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn malformed_items_are_reported_not_panicked_on() {
    let store = dynamo_store().await;
    let client = moto_client().await;
    let put = |sk: &str, extra: Vec<(&str, AttributeValue)>| {
        let mut request = client
            .put_item()
            .table_name(store.table_name())
            .item("pk", AttributeValue::S("SYNC#BAD".to_owned()))
            .item("sk", AttributeValue::S(sk.to_owned()));
        for (name, value) in extra {
            request = request.item(name, value);
        }
        request.send()
    };
    put(
        "DEF",
        vec![
            ("gsi1pk", AttributeValue::S("SYNC".to_owned())),
            ("gsi1sk", AttributeValue::S("bad#BAD".to_owned())),
            ("id", AttributeValue::S("BAD".to_owned())),
            ("name", AttributeValue::N("42".to_owned())),
            ("lease_run_id", AttributeValue::S("R1".to_owned())),
            // Beyond any representable time (a string would be nicer, but moto fails comparing it to a number).
            (
                "lease_until",
                AttributeValue::N("99999999999999999999999".to_owned()),
            ),
        ],
    )
    .await
    .expect("PutItem DEF");
    put(
        "RUN#R1",
        vec![("status", AttributeValue::S("exploded".to_owned()))],
    )
    .await
    .expect("PutItem RUN");

    let corrupt_at = |err: Result<_, StoreError>, want: &str| match err {
        Err(StoreError::Corrupt { key, detail }) => {
            assert_eq!(key, want, "detail: {detail}");
        }
        other => panic!("expected Corrupt at {want}, got {other:?}"),
    };
    corrupt_at(store.get_sync("BAD").await.map(|_| ()), "SYNC#BAD/DEF");
    corrupt_at(store.list_syncs(10, None).await.map(|_| ()), "SYNC#BAD/DEF");
    corrupt_at(
        store
            .current_lease("BAD", contact_sync::store::contract::at(0))
            .await
            .map(|_| ()),
        "SYNC#BAD/DEF",
    );
    corrupt_at(
        store
            .acquire_lease(
                "BAD",
                "R2",
                contact_sync::store::contract::at(60),
                contact_sync::store::contract::at(0),
            )
            .await
            .map(|_| ()),
        "SYNC#BAD/DEF",
    );
    corrupt_at(
        store.get_run("BAD", "R1").await.map(|_| ()),
        "SYNC#BAD/RUN#R1",
    );
    corrupt_at(
        store.list_runs("BAD", 10, None).await.map(|_| ()),
        "SYNC#BAD/RUN#R1",
    );

    // A corrupt sync can still be deleted.
    store.delete_sync("BAD").await.expect("delete_sync");
    assert!(
        store
            .list_syncs(10, None)
            .await
            .expect("list_syncs")
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn backend_errors_carry_the_sdk_message() {
    let client = moto_client().await;
    let store = DynamoStore::new(client, format!("missing-{}", new_id().to_lowercase()));
    match store.get_sync("S1").await {
        Err(StoreError::Backend(message)) => {
            assert!(
                message.contains("GetItem") && message.contains("ResourceNotFound"),
                "{message}"
            );
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}
