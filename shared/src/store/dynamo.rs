//! The DynamoDB implementation of [`SyncStore`]: one table, `pk`/`sk` plus one sparse GSI.
//!
//! # Table schema (template.yaml declares exactly this; [`create_table`] creates it for tests and locally)
//!
//! ```yaml
//! Table:
//!   Type: AWS::DynamoDB::Table
//!   Properties:
//!     BillingMode: PAY_PER_REQUEST
//!     AttributeDefinitions:
//!       - { AttributeName: pk, AttributeType: S }
//!       - { AttributeName: sk, AttributeType: S }
//!       - { AttributeName: gsi1pk, AttributeType: S }
//!       - { AttributeName: gsi1sk, AttributeType: S }
//!     KeySchema:
//!       - { AttributeName: pk, KeyType: HASH }
//!       - { AttributeName: sk, KeyType: RANGE }
//!     GlobalSecondaryIndexes:
//!       - IndexName: GSI1
//!         KeySchema:
//!           - { AttributeName: gsi1pk, KeyType: HASH }
//!           - { AttributeName: gsi1sk, KeyType: RANGE }
//!         Projection: { ProjectionType: ALL }
//!     TimeToLiveSpecification: { AttributeName: ttl, Enabled: true }
//! ```
//!
//! IAM actions the store uses: `dynamodb:GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`, `Query`,
//! `BatchWriteItem` on the table, and `Query` on `<table arn>/index/GSI1`.
//!
//! # Items
//!
//! Every item is the model struct's fields as top-level attributes (serde_dynamo: strings, numbers, maps,
//! lists; times as RFC 3339 strings), plus its keys and an `item_type`, so items read well in the console.
//!
//! | item | `pk` | `sk` | extra attributes |
//! |---|---|---|---|
//! | definition ([`SyncDefinition`]) | `SYNC#<id>` | `DEF` | `item_type="sync"`, `gsi1pk="SYNC"`, `gsi1sk=<lowercased name>#<id>`, lease: `lease_run_id` (S), `lease_until` (N, epoch millis) |
//! | run ([`Run`]) | `SYNC#<id>` | `RUN#<run id>` | `item_type="run"`, `ttl` (N, epoch seconds, started_at + 90 days) |
//! | result ([`DestinationResult`]) | `SYNC#<id>` | `RESULT#<run id>#<user id>` | `item_type="result"`, `run_id`, `ttl` (finished_at + 90 days) |
//! | destination state ([`DestinationState`]) | `SYNC#<id>` | `DEST#<user id>` | `item_type="dest"` |
//!
//! Only definitions carry `gsi1pk`, so GSI1 lists definitions and nothing else (never a scan). The run lease
//! lives on the definition item and is changed only by `UpdateItem`s that never touch the definition's own
//! attributes; definition updates `SET` only the definition's attributes, so neither overwrites the other. The
//! same holds for `last_run` and `current_names`, which the executor sets with `UpdateItem`s of their own and
//! definition updates leave alone (neither changes `version`).
//!
//! A lease is unexpired while `lease_until > now`; at `lease_until == now` another run may take it.
//!
//! Each executor invocation of a run claims its number with one conditional `UpdateItem` of the run item's
//! `invocations` (condition: the item exists, `status = "running"`, `invocations` = the number before), so two
//! deliveries of the same executor event never both process the run ([`SyncStore::claim_invocation`]).
//!
//! Reads of single items and partitions are strongly consistent. `list_syncs` reads GSI1, which DynamoDB
//! keeps eventually consistent: a definition created or renamed a moment ago may be missing from (or out of
//! place in) a listing for a short while; `get_sync` always sees it.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, GlobalSecondaryIndex,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus, WriteRequest,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::{
    self, CURRENT_NAMES, DEF_SK, DEST_PREFIX, GSI1, GSI1PK, GSI1PK_SYNC, GSI1SK, ITEM_TYPE,
    LAST_RUN, LEASE_RUN_ID, LEASE_UNTIL, PK, PageKey, RUN_INVOCATIONS, RUN_PREFIX,
    RUN_RETENTION_SECS, RUN_STATUS, SK, TTL, TYPE_DEST, TYPE_RESULT, TYPE_RUN, TYPE_SYNC,
    decode_run_token, decode_sync_token, encode_token,
};
use super::{LeaseOutcome, Page, StoreError, SyncStore};
use crate::model::{
    CurrentNames, DestinationResult, DestinationState, Run, RunStatus, RunSummary, SyncDefinition,
};

type Item = HashMap<String, AttributeValue>;

/// BatchWriteItem takes at most this many requests.
const BATCH_WRITE_MAX: usize = 25;
/// Attempts at a batch whose items DynamoDB keeps returning as unprocessed (throttling).
const BATCH_WRITE_ATTEMPTS: u32 = 10;
/// How long [`create_table`] waits for the table and its index to become ACTIVE.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// [`SyncStore`] on one DynamoDB table (layout in the module docs).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// Sets one attribute of an existing definition that is not part of its versioned fields (`last_run`,
    /// `current_names`): no version check, `NotFound` when the sync is gone.
    async fn set_definition_attribute(
        &self,
        sync_id: &str,
        attribute: &str,
        value: AttributeValue,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.def_key(sync_id)))
            .update_expression("SET #attr = :value")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#attr", attribute)
            .expression_attribute_values(":value", value)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if update_condition_failure(&e).is_some() => {
                Err(StoreError::NotFound(format!("sync {sync_id}")))
            }
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// The table this store reads and writes.
    pub fn table_name(&self) -> &str {
        &self.table
    }
}

// ---- encoding helpers ------------------------------------------------------------------------------------

/// A string attribute value.
fn string_value(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value (DynamoDB carries numbers as their decimal text).
fn number_value(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn table_key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PK.to_owned(), string_value(pk)),
        (SK.to_owned(), string_value(sk)),
    ])
}

fn describe_key(pk: &str, sk: &str) -> String {
    format!("{pk}/{sk}")
}

fn item_key(item: &Item) -> String {
    let part = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        _ => "?".to_owned(),
    };
    describe_key(&part(PK), &part(SK))
}

/// The model value as item attributes, plus the given key and marker attributes.
fn encode<T: Serialize>(
    value: &T,
    pk: String,
    sk: String,
    item_type: &str,
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| {
        StoreError::Backend(format!("cannot encode {}: {e}", describe_key(&pk, &sk)))
    })?;
    item.insert(PK.to_owned(), string_value(pk));
    item.insert(SK.to_owned(), string_value(sk));
    item.insert(ITEM_TYPE.to_owned(), string_value(item_type));
    Ok(item)
}

/// Decodes a stored item into its model struct; key, marker and lease attributes are ignored.
fn decode<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let key = item_key(&item);
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        key,
        detail: e.to_string(),
    })
}

/// The string attribute `name` of a stored item, which must have it.
fn required_string(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Corrupt {
            key: item_key(item),
            detail: format!("attribute {name} is missing or not a string"),
        }),
    }
}

/// The key attributes of an item, for a page token.
fn page_key(item: &Item, names: &[&str]) -> Result<PageKey, StoreError> {
    names
        .iter()
        .map(|name| Ok(((*name).to_owned(), required_string(item, name)?)))
        .collect()
}

/// DynamoDB's `LastEvaluatedKey`, whose attributes in this table are all strings.
fn last_key_to_page_key(key: &Item) -> Result<PageKey, StoreError> {
    key.iter()
        .map(|(name, value)| match value {
            AttributeValue::S(v) => Ok((name.clone(), v.clone())),
            other => Err(StoreError::Backend(format!(
                "unexpected LastEvaluatedKey attribute {name}: {other:?}"
            ))),
        })
        .collect()
}

fn page_key_to_item(key: PageKey) -> Item {
    key.into_iter().map(|(k, v)| (k, string_value(v))).collect()
}

fn ttl_after(time: DateTime<Utc>) -> AttributeValue {
    number_value(time.timestamp().saturating_add(RUN_RETENTION_SECS))
}

fn millis_to_time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        key: item_key(item),
        detail,
    };
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| corrupt(format!("{name} is not epoch milliseconds: {v}"))),
        _ => Err(corrupt(format!(
            "attribute {name} is missing or not a number"
        ))),
    }
}

fn backend<E, R>(what: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Backend(format!("{what}: {}", DisplayErrorContext(err)))
}

fn build_error(err: BuildError) -> StoreError {
    StoreError::Backend(format!("building a DynamoDB request: {err}"))
}

/// For a failed conditional `UpdateItem`: `Some(old item)` if the condition failed (`None` inside when the
/// item does not exist), `None` for any other error.
fn update_condition_failure<R>(err: &SdkError<UpdateItemError, R>) -> Option<Option<Item>> {
    match err.as_service_error() {
        Some(UpdateItemError::ConditionalCheckFailedException(e)) => {
            Some(e.item().filter(|item| !item.is_empty()).cloned())
        }
        _ => None,
    }
}

/// The serde field names of a struct, straight from its `Deserialize` impl, so definition updates can
/// `REMOVE` optional attributes the new value no longer has (and stay right when the model gains fields).
fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Deserializer, Visitor};

    struct FieldNames(Option<&'static [&'static str]>);

    impl<'de> Deserializer<'de> for &mut FieldNames {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(fields);
            Err(de::Error::custom("field names captured"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    let mut names = FieldNames(None);
    // The error is the capture's own way of stopping; only the captured names matter.
    let _ = T::deserialize(&mut names);
    names.0.unwrap_or(&[])
}

/// `UpdateItem` pieces that replace a definition's own attributes, leaving `id` (the key), `last_run`,
/// `current_names` and the lease alone.
struct DefinitionUpdate {
    expression: String,
    names: HashMap<String, String>,
    values: Item,
}

fn definition_update(sync: &SyncDefinition) -> Result<DefinitionUpdate, StoreError> {
    let pk = keys::sync_pk(&sync.id);
    let mut attrs: Item = serde_dynamo::to_item(sync).map_err(|e| {
        StoreError::Backend(format!("cannot encode {}: {e}", describe_key(&pk, DEF_SK)))
    })?;
    let untouched = ["id", LAST_RUN, CURRENT_NAMES];
    attrs.retain(|name, _| !untouched.contains(&name.as_str()));
    attrs.insert(
        GSI1SK.to_owned(),
        string_value(keys::gsi1sk(&sync.name, &sync.id)),
    );

    let mut names = HashMap::new();
    let mut values = Item::new();
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    let mut sorted: Vec<(String, AttributeValue)> = attrs.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in sorted.into_iter().enumerate() {
        sets.push(format!("#s{i} = :s{i}"));
        names.insert(format!("#s{i}"), name);
        values.insert(format!(":s{i}"), value);
    }
    let absent: Vec<&str> = struct_fields::<SyncDefinition>()
        .iter()
        .copied()
        .filter(|field| !untouched.contains(field) && !names.values().any(|n| n == field))
        .collect();
    for (i, field) in absent.into_iter().enumerate() {
        removes.push(format!("#r{i}"));
        names.insert(format!("#r{i}"), field.to_owned());
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    Ok(DefinitionUpdate {
        expression,
        names,
        values,
    })
}

impl DynamoStore {
    fn def_key(&self, sync_id: &str) -> Item {
        table_key(keys::sync_pk(sync_id), DEF_SK.to_owned())
    }

    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        Ok(out.item.filter(|item| !item.is_empty()))
    }

    async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend("PutItem", e))?;
        Ok(())
    }

    /// Every item of a partition (whose sort key starts with `prefix`, if given), in sort-key order, all pages.
    async fn query_all(
        &self,
        pk: &str,
        prefix: Option<&str>,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", string_value(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            query = match prefix {
                Some(prefix) => query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":prefix", string_value(prefix)),
                None => query.key_condition_expression("#pk = :pk"),
            };
            if let Some(projection) = projection {
                // Projections name the key attributes through `#pk` / `#sk`.
                query = query
                    .projection_expression(projection)
                    .expression_attribute_names("#sk", SK);
            }
            let out = query.send().await.map_err(|e| backend("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// BatchWriteItem in chunks of 25, retrying unprocessed items with exponential backoff and jitter.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut requests = requests;
        while !requests.is_empty() {
            let rest = requests.split_off(requests.len().min(BATCH_WRITE_MAX));
            let mut pending = std::mem::replace(&mut requests, rest);
            let mut attempt = 0;
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| backend("BatchWriteItem", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                attempt += 1;
                if attempt >= BATCH_WRITE_ATTEMPTS {
                    return Err(StoreError::Backend(format!(
                        "BatchWriteItem: {} items still unprocessed after {attempt} attempts",
                        pending.len()
                    )));
                }
                let cap_ms = (50u64 << attempt.min(6)).min(3_000);
                let delay_ms = rand::random_range(cap_ms / 2..=cap_ms);
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
        }
        Ok(())
    }

    /// Queries one page, fetching one item beyond `limit` to know whether another page exists, so the last
    /// page carries no token. `key_names` are the attributes of the page key to hand back as the token.
    async fn query_page(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: u32,
        start: Option<PageKey>,
        key_names: &[&str],
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let limit = keys::page_limit(limit);
        let out = query
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.map(page_key_to_item))
            .send()
            .await
            .map_err(|e| backend("Query", e))?;
        let mut items = out.items.unwrap_or_default();
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            match items.last() {
                Some(last) => Some(page_key(last, key_names)?),
                None => None,
            }
        } else {
            // Fewer items than asked for, but DynamoDB stopped early (1 MB per query): carry on from there.
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => Some(last_key_to_page_key(&key)?),
                _ => None,
            }
        };
        let token = next.as_ref().map(encode_token).transpose()?;
        Ok((items, token))
    }
}

#[async_trait]
impl SyncStore for DynamoStore {
    async fn create_sync(&self, sync: &SyncDefinition) -> Result<(), StoreError> {
        let mut item = encode(sync, keys::sync_pk(&sync.id), DEF_SK.to_owned(), TYPE_SYNC)?;
        item.insert(GSI1PK.to_owned(), string_value(GSI1PK_SYNC));
        item.insert(
            GSI1SK.to_owned(),
            string_value(keys::gsi1sk(&sync.name, &sync.id)),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(StoreError::Conflict(format!(
                    "sync {} already exists",
                    sync.id
                )))
            }
            Err(e) => Err(backend("PutItem", e)),
        }
    }

    async fn get_sync(&self, sync_id: &str) -> Result<Option<SyncDefinition>, StoreError> {
        self.get_item(self.def_key(sync_id))
            .await?
            .map(decode)
            .transpose()
    }

    async fn update_sync(
        &self,
        sync: &SyncDefinition,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let update = definition_update(sync)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.def_key(&sync.id)))
            .update_expression(update.expression)
            .set_expression_attribute_names(Some(update.names))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#version", "version")
            .set_expression_attribute_values(Some(update.values))
            .expression_attribute_values(":expected", number_value(expected_version))
            .condition_expression("attribute_exists(#pk) AND #version = :expected")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match update_condition_failure(&e) {
                Some(None) => Err(StoreError::NotFound(format!("sync {}", sync.id))),
                Some(Some(old)) => {
                    let stored = match old.get("version") {
                        Some(AttributeValue::N(v)) => v.clone(),
                        _ => "unknown".to_owned(),
                    };
                    Err(StoreError::Conflict(format!(
                        "sync {} is at version {stored}, not {expected_version}",
                        sync.id
                    )))
                }
                None => Err(backend("UpdateItem", e)),
            },
        }
    }

    async fn delete_sync(&self, sync_id: &str) -> Result<(), StoreError> {
        let pk = keys::sync_pk(sync_id);
        let items = self.query_all(&pk, None, Some("#pk, #sk")).await?;
        let mut found_definition = false;
        let mut requests = Vec::new();
        for item in &items {
            let sk = required_string(item, SK)?;
            if sk == DEF_SK {
                found_definition = true;
                continue;
            }
            let delete = DeleteRequest::builder()
                .set_key(Some(table_key(pk.clone(), sk)))
                .build()
                .map_err(build_error)?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        self.batch_write(requests).await?;
        if !found_definition {
            return Err(StoreError::NotFound(format!("sync {sync_id}")));
        }
        // The definition goes last: if anything above fails, the sync is still there to delete again.
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.def_key(sync_id)))
            .send()
            .await
            .map_err(|e| backend("DeleteItem", e))?;
        Ok(())
    }

    async fn list_syncs(
        &self,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<SyncDefinition>, StoreError> {
        let start = next_token.map(decode_sync_token).transpose()?;
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#g = :g")
            .expression_attribute_names("#g", GSI1PK)
            .expression_attribute_values(":g", string_value(GSI1PK_SYNC));
        let (items, next_token) = self
            .query_page(query, limit, start, &[PK, SK, GSI1PK, GSI1SK])
            .await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<Result<_, _>>()?,
            next_token,
        })
    }

    async fn set_last_run(&self, sync_id: &str, summary: &RunSummary) -> Result<(), StoreError> {
        let value: AttributeValue = serde_dynamo::to_attribute_value(summary)
            .map_err(|e| StoreError::Backend(format!("cannot encode a run summary: {e}")))?;
        self.set_definition_attribute(sync_id, LAST_RUN, value)
            .await
    }

    async fn set_current_names(
        &self,
        sync_id: &str,
        names: &CurrentNames,
    ) -> Result<(), StoreError> {
        let value: AttributeValue = serde_dynamo::to_attribute_value(names)
            .map_err(|e| StoreError::Backend(format!("cannot encode current names: {e}")))?;
        self.set_definition_attribute(sync_id, CURRENT_NAMES, value)
            .await
    }

    async fn acquire_lease(
        &self,
        sync_id: &str,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<LeaseOutcome, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.def_key(sync_id)))
            .update_expression("SET #run = :run, #until = :until")
            .condition_expression(
                "attribute_exists(#pk) AND \
                 (attribute_not_exists(#until) OR #until <= :now OR #run = :run)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#run", LEASE_RUN_ID)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_values(":run", string_value(run_id))
            .expression_attribute_values(":until", number_value(until.timestamp_millis()))
            .expression_attribute_values(":now", number_value(now.timestamp_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(LeaseOutcome::Acquired),
            Err(e) => match update_condition_failure(&e) {
                Some(None) => Ok(LeaseOutcome::SyncMissing),
                Some(Some(old)) => Ok(LeaseOutcome::Held {
                    run_id: required_string(&old, LEASE_RUN_ID)?,
                    until: millis_to_time(&old, LEASE_UNTIL)?,
                }),
                None => Err(backend("UpdateItem", e)),
            },
        }
    }

    async fn release_lease(&self, sync_id: &str, run_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.def_key(sync_id)))
            .update_expression("REMOVE #run, #until")
            .condition_expression("#run = :run")
            .expression_attribute_names("#run", LEASE_RUN_ID)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_values(":run", string_value(run_id))
            .send()
            .await;
        match result {
            // Not ours (taken over after expiry, or already released), or the sync is gone: nothing to do.
            Ok(_) => Ok(()),
            Err(e) if update_condition_failure(&e).is_some() => Ok(()),
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }

    async fn current_lease(
        &self,
        sync_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let Some(item) = self.get_item(self.def_key(sync_id)).await? else {
            return Ok(None);
        };
        if !item.contains_key(LEASE_UNTIL) {
            return Ok(None);
        }
        let until = millis_to_time(&item, LEASE_UNTIL)?;
        if until > now {
            Ok(Some(required_string(&item, LEASE_RUN_ID)?))
        } else {
            Ok(None)
        }
    }

    async fn put_run(&self, run: &Run) -> Result<(), StoreError> {
        let mut item = encode(
            run,
            keys::sync_pk(&run.sync_id),
            keys::run_sk(&run.run_id),
            TYPE_RUN,
        )?;
        item.insert(TTL.to_owned(), ttl_after(run.started_at));
        self.put_item(item).await
    }

    async fn get_run(&self, sync_id: &str, run_id: &str) -> Result<Option<Run>, StoreError> {
        self.get_item(table_key(keys::sync_pk(sync_id), keys::run_sk(run_id)))
            .await?
            .map(decode)
            .transpose()
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
        let running: AttributeValue = serde_dynamo::to_attribute_value(RunStatus::Running)
            .map_err(|e| StoreError::Backend(format!("cannot encode a run status: {e}")))?;
        // A run written before `invocations` was always stored counts as none.
        let previous_matches = if previous == 0 {
            "(#inv = :previous OR attribute_not_exists(#inv))"
        } else {
            "#inv = :previous"
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(table_key(
                keys::sync_pk(sync_id),
                keys::run_sk(run_id),
            )))
            .update_expression("SET #inv = :expected")
            .condition_expression(format!(
                "attribute_exists(#pk) AND #status = :running AND {previous_matches}"
            ))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", RUN_STATUS)
            .expression_attribute_names("#inv", RUN_INVOCATIONS)
            .expression_attribute_values(":expected", number_value(expected))
            .expression_attribute_values(":previous", number_value(previous))
            .expression_attribute_values(":running", running)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if update_condition_failure(&e).is_some() => Ok(false),
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }

    async fn list_runs(
        &self,
        sync_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<Page<Run>, StoreError> {
        let start = next_token
            .map(|token| decode_run_token(token, sync_id))
            .transpose()?;
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", string_value(keys::sync_pk(sync_id)))
            .expression_attribute_values(":prefix", string_value(RUN_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true);
        let (items, next_token) = self.query_page(query, limit, start, &[PK, SK]).await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<Result<_, _>>()?,
            next_token,
        })
    }

    async fn put_result(
        &self,
        sync_id: &str,
        run_id: &str,
        result: &DestinationResult,
    ) -> Result<(), StoreError> {
        let mut item = encode(
            result,
            keys::sync_pk(sync_id),
            keys::result_sk(run_id, &result.user_id),
            TYPE_RESULT,
        )?;
        item.insert("run_id".to_owned(), string_value(run_id));
        item.insert(TTL.to_owned(), ttl_after(result.finished_at));
        self.put_item(item).await
    }

    async fn list_results(
        &self,
        sync_id: &str,
        run_id: &str,
    ) -> Result<Vec<DestinationResult>, StoreError> {
        self.query_all(
            &keys::sync_pk(sync_id),
            Some(&keys::result_prefix(run_id)),
            None,
        )
        .await?
        .into_iter()
        .map(decode)
        .collect()
    }

    async fn list_destination_states(
        &self,
        sync_id: &str,
    ) -> Result<Vec<DestinationState>, StoreError> {
        self.query_all(&keys::sync_pk(sync_id), Some(DEST_PREFIX), None)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn put_destination_state(
        &self,
        sync_id: &str,
        state: &DestinationState,
    ) -> Result<(), StoreError> {
        let item = encode(
            state,
            keys::sync_pk(sync_id),
            keys::dest_sk(&state.user_id),
            TYPE_DEST,
        )?;
        self.put_item(item).await
    }

    async fn delete_destination_state(
        &self,
        sync_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(table_key(
                keys::sync_pk(sync_id),
                keys::dest_sk(user_id),
            )))
            .send()
            .await
            .map_err(|e| backend("DeleteItem", e))?;
        Ok(())
    }
}

// ---- table creation --------------------------------------------------------------------------------------

/// The table-schema definition of a string key attribute.
fn string_key_definition(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

/// Creates the table with the schema in the module docs (PAY_PER_REQUEST), waits until it and GSI1 are
/// ACTIVE, and enables TTL on `ttl`. For tests and the local stack; in AWS, template.yaml owns the table.
/// An existing table of that name is accepted as is (waited for, TTL enabled), so this is safe to re-run.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let gsi1 = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key_element(GSI1PK, KeyType::Hash)?)
        .key_schema(key_element(GSI1SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_error)?;
    let created = client
        .create_table()
        .table_name(table)
        .attribute_definitions(string_key_definition(PK)?)
        .attribute_definitions(string_key_definition(SK)?)
        .attribute_definitions(string_key_definition(GSI1PK)?)
        .attribute_definitions(string_key_definition(GSI1SK)?)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi1)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => return Err(backend(&format!("CreateTable {table}"), e)),
    }
    wait_until_active(client, table).await?;
    enable_ttl(client, table).await
}

async fn wait_until_active(client: &Client, table: &str) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| backend(&format!("DescribeTable {table}"), e))?;
        let active = out.table().is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes()
                    .iter()
                    .all(|index| index.index_status() == Some(&IndexStatus::Active))
        });
        if active {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Backend(format!(
                "table {table} not ACTIVE after {}s",
                TABLE_ACTIVE_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), StoreError> {
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| backend(&format!("DescribeTimeToLive {table}"), e))?;
    let already = current.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(TTL)
            && matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if already {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(TTL)
        .enabled(true)
        .build()
        .map_err(build_error)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| backend(&format!("UpdateTimeToLive {table}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_updates_set_every_field_but_the_id_last_run_and_current_names() {
        let mut sync = crate::store::contract::definition("S1", "Sales");
        sync.last_run = Some(RunSummary {
            run_id: "R1".to_owned(),
            status: crate::model::RunStatus::Succeeded,
            started_at: crate::store::contract::at(0),
            finished_at: None,
            totals: Default::default(),
        });
        sync.current_names = Some(CurrentNames {
            source_user_email: "sam@example.com".to_owned(),
            contact_group_name: "Partners".to_owned(),
            destinations: Default::default(),
            refreshed_at: crate::store::contract::at(5),
        });
        let update = definition_update(&sync).expect("definition_update");
        let mut set: Vec<&str> = update.names.values().map(String::as_str).collect();
        set.sort_unstable();
        let mut expected: Vec<&str> = struct_fields::<SyncDefinition>()
            .iter()
            .copied()
            .filter(|f| !["id", LAST_RUN, CURRENT_NAMES].contains(f))
            .chain([GSI1SK])
            .collect();
        expected.sort_unstable();
        assert_eq!(set, expected);
        assert!(
            !update.expression.contains("REMOVE"),
            "{}",
            update.expression
        );
        assert_eq!(update.values.len(), update.names.len());
    }

    #[test]
    fn struct_fields_lists_every_definition_field() {
        let fields = struct_fields::<SyncDefinition>();
        for expected in [
            "id",
            "name",
            "description",
            "version",
            "last_run",
            "leaver_policy",
            CURRENT_NAMES,
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing from {fields:?}"
            );
        }
    }
}
