//! People API v1: the handlers of the contacts and contactGroups methods. Every call acts on the token
//! subject's own address book ([`book`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::api::{Call, Reply, decode_opaque, encode_opaque, timestamp};
use crate::error::ApiError;
use crate::ids;
use crate::person::{self, Mask, READABLE_FIELDS, UPDATABLE_FIELDS};
use crate::world::World;

mod book;

use book::{
    ADDABLE_SYSTEM_GROUPS, Contact, GROUP_FIELDS, SyncKind, Tombstone, contact_resource_name,
    group_resource_name, is_system_group, parse_group_name,
};
pub(crate) use book::{Book, Counters, SyncToken, expire_sync_tokens};

/// Sync tokens expire this long after they were issued.
const SYNC_TOKEN_LIFETIME_DAYS: i64 = 7;

const GROUP_ETAG_MISMATCH: &str = "Request contact group etag is different than the current \
                                   contact group etag. Clear local cache and get the latest contact \
                                   group.";
const DEFAULT_GROUP_FIELDS: &[&str] = &["metadata", "groupType", "memberCount", "name"];
const DEFAULT_READ_GROUP_FIELDS: &[&str] = &["metadata", "groupType", "name"];
/// `people/c123` -> 123; Google's 400 for anything else.
fn parse_contact_name(rn: &str) -> Result<u64, ApiError> {
    rn.strip_prefix("people/c")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "Resource name \"{rn}\" is not a valid contact resource name."
            ))
        })
}

fn sync_token_error() -> ApiError {
    ApiError::failed_precondition(
        "Sync token is expired. Clear local cache and retry call without the sync token.",
    )
    .with_error_info("people.googleapis.com", "EXPIRED_SYNC_TOKEN", [])
}

/// A connections.list / contactGroups.list page token: where the previous page ended, for which request.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageToken {
    /// Change sequence when the first page was served (the next sync token's position).
    a: u64,
    /// Sort key of the last item served: sequence / offset, contact number, name.
    s: u64,
    n: u64,
    k: String,
    /// Fingerprint of the request parameters the token is valid for.
    f: u64,
}

/// The page token of a list request, checked against the request it must belong to.
fn read_page_token(call: &Call<'_>, fingerprint: u64) -> Result<Option<PageToken>, ApiError> {
    match call.query.get("pageToken").filter(|t| !t.is_empty()) {
        Some(t) => decode_opaque::<PageToken>(t)
            .filter(|p| p.f == fingerprint)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_argument("Page token is not valid or does not match the request.")
            }),
        None => Ok(None),
    }
}

fn page_size(call: &Call<'_>, default: i64) -> Result<usize, ApiError> {
    let size = call
        .query
        .int("pageSize")
        .map_err(|v| ApiError::invalid_argument(format!("Invalid pageSize: {v}")))?
        .unwrap_or(0);
    match size {
        0 => Ok(default as usize),
        1..=1000 => Ok(size as usize),
        // [B] Google documents 1..1000; the emulator refuses values outside instead of clamping.
        _ => Err(ApiError::invalid_argument(format!(
            "Invalid pageSize {size}: valid values are between 1 and 1000, inclusive."
        ))
        .with_field_violation("page_size")),
    }
}

/// Handles one People API call as the token subject.
pub(crate) fn handle(world: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let user_id = call.subject;
    let now = timestamp(call.now);
    let World {
        books,
        counters,
        sync_tokens,
        users,
        ..
    } = world;
    let book = books.entry(user_id.to_string()).or_default();
    let q = call.query;
    let body = &call.body;
    let value = match call.route.method_id {
        "people.people.get" => {
            let mask = person::read_mask_param(
                q.get("personFields"),
                q.get("requestMask.includeField"),
                true,
                "people/get",
            )?;
            let id = call.route.var("peopleId");
            get_person(book, users, user_id, id, &mask)?
        }
        "people.people.getBatchGet" => {
            let names = batch_get_names(call)?;
            let mask = person::read_mask_param(
                q.get("personFields"),
                q.get("requestMask.includeField"),
                true,
                "people/getBatchGet",
            )?;
            let responses: Vec<Value> = names
                .iter()
                .map(|rn| {
                    let id = rn.strip_prefix("people/").unwrap_or("");
                    match get_person(book, users, user_id, id, &mask) {
                        Ok(p) => json!({
                            "httpStatusCode": 200,
                            "person": p,
                            "requestedResourceName": rn,
                            "status": {},
                        }),
                        Err(e) => json!({
                            "httpStatusCode": e.code,
                            "requestedResourceName": rn,
                            "status": {"code": grpc_code(e.status), "message": e.message},
                        }),
                    }
                })
                .collect();
            json!({ "responses": responses })
        }
        "people.people.connections.list" => list_connections(book, counters, sync_tokens, call)?,
        "people.people.createContact" => {
            // Every check before the write: a refused request changes nothing.
            let mask = person::read_mask_param(q.get("personFields"), None, false, "")?;
            book.check_capacity(1, call.max_contacts_per_user)?;
            let num = book.create_contact(counters, user_id, body, &[], &now)?;
            book.render_contact(book.contact(num)?, &mask, false)
        }
        "people.people.updateContact" => {
            let rn = format!("people/{}", call.route.var("peopleId"));
            let num = parse_contact_name(&rn)?;
            if let Some(given) = body.get("resourceName").and_then(Value::as_str)
                && !given.is_empty()
                && given != rn
            {
                return Err(ApiError::invalid_argument(
                    "person.resourceName does not match the resource name of the request.",
                ));
            }
            let mask = person::parse_mask(
                q.get("updatePersonFields"),
                "updatePersonFields",
                UPDATABLE_FIELDS,
                true,
                "people/updateContact",
            )?;
            let read = person::read_mask_param(q.get("personFields"), None, false, "")?;
            let update = book.prepare_update(num, body, &mask)?;
            book.apply_update(counters, user_id, num, update, &now);
            book.render_contact(book.contact(num)?, &read, false)
        }
        "people.people.deleteContact" => {
            let num = parse_contact_name(&format!("people/{}", call.route.var("peopleId")))?;
            book.contact(num)?;
            book.delete_contact(counters, user_id, num, &now);
            json!({})
        }
        "people.people.batchCreateContacts" => batch_create(book, counters, call, &now)?,
        "people.people.batchUpdateContacts" => batch_update(book, counters, call, &now)?,
        "people.people.batchDeleteContacts" => batch_delete(book, counters, call, &now)?,
        "people.contactGroups.list" => list_groups(book, counters, sync_tokens, call)?,
        "people.contactGroups.get" => {
            let id = call.route.var("contactGroupsId");
            let fields = group_fields(q.get("groupFields"), DEFAULT_GROUP_FIELDS)?;
            let max = max_members(call)?;
            book.render_group(user_id, id, &fields, max)
                .ok_or_else(ApiError::entity_not_found)?
        }
        "people.contactGroups.batchGet" => {
            let names = batch_get_names(call)?;
            let fields = group_fields(q.get("groupFields"), DEFAULT_GROUP_FIELDS)?;
            let max = max_members(call)?;
            let responses: Vec<Value> = names
                .iter()
                .map(|rn| {
                    let group = parse_group_name(rn)
                        .ok()
                        .and_then(|id| book.render_group(user_id, id, &fields, max));
                    match group {
                        Some(g) => {
                            json!({"requestedResourceName": rn, "contactGroup": g, "status": {}})
                        }
                        None => json!({
                            "requestedResourceName": rn,
                            "status": {"code": 5, "message": "Requested entity was not found."},
                        }),
                    }
                })
                .collect();
            json!({ "responses": responses })
        }
        "people.contactGroups.create" => {
            let group = body.get("contactGroup").cloned().unwrap_or(json!({}));
            let name = group.get("name").and_then(Value::as_str).unwrap_or("");
            let client_data = group
                .get("clientData")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let fields = group_fields(
                body.get("readGroupFields").and_then(Value::as_str),
                DEFAULT_READ_GROUP_FIELDS,
            )?;
            let id = book.create_group(counters, user_id, name, client_data, &now)?;
            book.render_group(user_id, &id, &fields, 0)
                .ok_or_else(ApiError::entity_not_found)?
        }
        "people.contactGroups.update" => update_group(book, counters, call, &now)?,
        "people.contactGroups.delete" => delete_group(book, counters, call, &now)?,
        "people.contactGroups.members.modify" => {
            let id = call.route.var("contactGroupsId").to_string();
            modify_members(book, counters, user_id, &id, body, &now)?
        }
        other => {
            return Err(ApiError::new(
                501,
                format!("Method {other} is not implemented."),
            ));
        }
    };
    Ok(Reply::Json(value))
}

/// people:batchCreateContacts: all or nothing; an empty readMask skips the read-back.
fn batch_create(
    book: &mut Book,
    counters: &mut Counters,
    call: &Call<'_>,
    now: &str,
) -> Result<Value, ApiError> {
    let body = &call.body;
    let user_id = call.subject;
    let contacts = body
        .get("contacts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    check_batch_size(contacts.len(), 200, "contacts")?;
    let read = batch_read_mask(body)?;
    let mut prepared = Vec::with_capacity(contacts.len());
    for c in &contacts {
        let p = c.get("contactPerson").cloned().unwrap_or(json!({}));
        prepared.push(book.prepare_create(&p)?);
    }
    book.check_capacity(prepared.len(), call.max_contacts_per_user)?;
    book.check_storage(0, prepared.iter().map(|p| p.size).sum())?;
    let nums: Vec<u64> = prepared
        .into_iter()
        .map(|p| book.insert_contact(counters, user_id, p, now))
        .collect();
    let Some(mask) = read else {
        return Ok(json!({}));
    };
    let created: Vec<Value> = nums
        .iter()
        .filter_map(|n| book.contacts.get(n))
        .map(|c| {
            json!({
                "httpStatusCode": 200,
                "person": book.render_contact(c, &mask, false),
                "status": {},
            })
        })
        .collect();
    Ok(json!({ "createdPeople": created }))
}

/// people:batchUpdateContacts: every etag must be current; all or nothing.
fn batch_update(
    book: &mut Book,
    counters: &mut Counters,
    call: &Call<'_>,
    now: &str,
) -> Result<Value, ApiError> {
    let body = &call.body;
    let user_id = call.subject;
    let contacts = body
        .get("contacts")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    check_batch_size(contacts.len(), 200, "contacts")?;
    let mask = person::parse_mask(
        body.get("updateMask").and_then(Value::as_str),
        "updateMask",
        UPDATABLE_FIELDS,
        true,
        "people/batchUpdateContacts",
    )?;
    let read = batch_read_mask(body)?;
    let mut prepared = Vec::with_capacity(contacts.len());
    for (rn, p) in &contacts {
        let num = parse_contact_name(rn)?;
        prepared.push((rn.clone(), num, book.prepare_update(num, p, &mask)?));
    }
    let freed = prepared
        .iter()
        .filter_map(|(_, num, _)| book.contacts.get(num))
        .map(|c| c.size)
        .sum();
    book.check_storage(freed, prepared.iter().map(|(_, _, u)| u.size).sum())?;
    let mut updated = Vec::with_capacity(prepared.len());
    for (rn, num, update) in prepared {
        book.apply_update(counters, user_id, num, update, now);
        updated.push((rn, num));
    }
    let Some(mask) = read else {
        return Ok(json!({}));
    };
    let mut result = Map::new();
    for (rn, num) in updated {
        if let Some(c) = book.contacts.get(&num) {
            result.insert(
                rn.clone(),
                json!({
                    "httpStatusCode": 200,
                    "person": book.render_contact(c, &mask, false),
                    "requestedResourceName": rn,
                    "status": {},
                }),
            );
        }
    }
    Ok(json!({ "updateResult": result }))
}

/// people:batchDeleteContacts: all or nothing.
fn batch_delete(
    book: &mut Book,
    counters: &mut Counters,
    call: &Call<'_>,
    now: &str,
) -> Result<Value, ApiError> {
    let user_id = call.subject;
    let names: Vec<String> = call
        .body
        .get("resourceNames")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    check_batch_size(names.len(), 500, "resourceNames")?;
    let mut nums = Vec::with_capacity(names.len());
    for rn in &names {
        let num = parse_contact_name(rn)?;
        // [B] Google refuses the whole batch when a contact does not exist.
        book.contact(num)?;
        nums.push(num);
    }
    for num in nums {
        book.delete_contact(counters, user_id, num, now);
    }
    Ok(json!({}))
}

/// contactGroups.update: rename (unique among the user's groups) and clientData, etag-checked.
fn update_group(
    book: &mut Book,
    counters: &mut Counters,
    call: &Call<'_>,
    now: &str,
) -> Result<Value, ApiError> {
    let body = &call.body;
    let user_id = call.subject;
    let id = call.route.var("contactGroupsId").to_string();
    let group = body.get("contactGroup").cloned().unwrap_or(json!({}));
    if is_system_group(&id) {
        return Err(ApiError::invalid_argument(
            "System contact groups cannot be updated.",
        ));
    }
    let current = book
        .groups
        .get(&id)
        .ok_or_else(ApiError::entity_not_found)?;
    if let Some(rn) = group.get("resourceName").and_then(Value::as_str)
        && !rn.is_empty()
        && rn != group_resource_name(&id)
    {
        return Err(ApiError::invalid_argument(
            "contactGroup.resourceName does not match the resource name of the request.",
        ));
    }
    if let Some(etag) = group.get("etag").and_then(Value::as_str)
        && !etag.is_empty()
        && etag != current.etag
    {
        return Err(ApiError::failed_precondition(GROUP_ETAG_MISMATCH));
    }
    let update_fields = group_mask(
        body.get("updateGroupFields").and_then(Value::as_str),
        &["name"],
        &["clientData", "name"],
        "updateGroupFields",
    )?;
    let read_fields = group_fields(
        body.get("readGroupFields").and_then(Value::as_str),
        DEFAULT_READ_GROUP_FIELDS,
    )?;
    let new_name = group
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if update_fields.contains(&"name") {
        if new_name.is_empty() {
            return Err(ApiError::invalid_argument(
                "Contact group name must not be empty.",
            ));
        }
        if book.group_name_taken(&new_name, Some(&id)) {
            return Err(ApiError::already_exists(
                "Contact group name already exists.",
            ));
        }
    }
    if let Some(g) = book.groups.get_mut(&id) {
        if update_fields.contains(&"name") {
            g.name = new_name;
        }
        if update_fields.contains(&"clientData") {
            g.client_data = group
                .get("clientData")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
        }
    }
    book.touch_group(counters, user_id, &id, now);
    book.render_group(user_id, &id, &read_fields, 0)
        .ok_or_else(ApiError::entity_not_found)
}

/// contactGroups.delete: the label goes; its contacts too with `deleteContacts=true`.
fn delete_group(
    book: &mut Book,
    counters: &mut Counters,
    call: &Call<'_>,
    now: &str,
) -> Result<Value, ApiError> {
    let q = call.query;
    let user_id = call.subject;
    let id = call.route.var("contactGroupsId").to_string();
    if is_system_group(&id) {
        return Err(ApiError::invalid_argument(
            "System contact groups cannot be deleted.",
        ));
    }
    if !book.groups.contains_key(&id) {
        return Err(ApiError::entity_not_found());
    }
    let members: Vec<u64> = book.members_of(&id).iter().map(|c| c.num).collect();
    for num in members {
        if q.flag("deleteContacts") {
            book.delete_contact(counters, user_id, num, now);
        } else {
            if let Some(c) = book.contacts.get_mut(&num) {
                c.groups.remove(&id);
            }
            book.bump_contact(counters, user_id, num, now);
        }
    }
    book.groups.remove(&id);
    let seq = counters.tick();
    book.group_tombstones.push(Tombstone {
        etag: ids::people_etag(&["group", user_id, &id, &seq.to_string()]),
        key: id,
        seq,
        update_time: now.to_string(),
    });
    Ok(json!({}))
}

/// The repeated `resourceNames` of a batchGet: at least one, at most 200.
fn batch_get_names<'a>(call: &Call<'a>) -> Result<Vec<&'a str>, ApiError> {
    let names = call.query.all("resourceNames");
    if names.is_empty() {
        return Err(ApiError::invalid_argument(
            "Must specify at least one resource name.",
        ));
    }
    if names.len() > 200 {
        return Err(ApiError::invalid_argument(format!(
            "Too many resource names: {}. The maximum is 200.",
            names.len()
        )));
    }
    Ok(names)
}

/// The numeric google.rpc.Code of a status string (for `status` objects inside batch responses).
fn grpc_code(status: &str) -> i32 {
    match status {
        "INVALID_ARGUMENT" => 3,
        "NOT_FOUND" => 5,
        "ALREADY_EXISTS" => 6,
        "PERMISSION_DENIED" => 7,
        "RESOURCE_EXHAUSTED" => 8,
        "FAILED_PRECONDITION" => 9,
        "UNAVAILABLE" => 14,
        "UNAUTHENTICATED" => 16,
        _ => 13,
    }
}

fn check_batch_size(n: usize, max: usize, field: &str) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::invalid_argument(format!(
            "Request must set at least one of {field}."
        ))
        .with_field_violation(field));
    }
    if n > max {
        return Err(ApiError::invalid_argument(format!(
            "Too many {field} in the request: {n}. The maximum is {max}."
        ))
        .with_field_violation(field));
    }
    Ok(())
}

/// A batch method's `readMask`: empty means "skip the post-mutate read" (no data returned).
fn batch_read_mask(body: &Value) -> Result<Option<Mask>, ApiError> {
    match body.get("readMask").and_then(Value::as_str).map(str::trim) {
        None | Some("") => Ok(None),
        Some(m) => {
            person::parse_mask(Some(m), "readMask", READABLE_FIELDS, true, "people").map(Some)
        }
    }
}

fn group_mask(
    value: Option<&str>,
    default: &[&'static str],
    allowed: &[&'static str],
    param: &str,
) -> Result<Vec<&'static str>, ApiError> {
    let value = value.unwrap_or("").trim();
    if value.is_empty() {
        return Ok(default.to_vec());
    }
    value
        .split(',')
        .map(|f| {
            let f = f.trim();
            allowed.iter().find(|a| **a == f).copied().ok_or_else(|| {
                ApiError::invalid_argument(format!("Invalid {param} mask path: \"{f}\"."))
            })
        })
        .collect()
}

fn group_fields(
    value: Option<&str>,
    default: &[&'static str],
) -> Result<Vec<&'static str>, ApiError> {
    group_mask(value, default, GROUP_FIELDS, "groupFields")
}

fn max_members(call: &Call<'_>) -> Result<usize, ApiError> {
    let v = call
        .query
        .int("maxMembers")
        .map_err(|v| ApiError::invalid_argument(format!("Invalid maxMembers: {v}")))?
        .unwrap_or(0);
    usize::try_from(v).map_err(|_| ApiError::invalid_argument("maxMembers must not be negative."))
}

/// people.get / batchGet of one resource: a contact of the subject, or the subject's own profile.
fn get_person(
    book: &Book,
    users: &BTreeMap<String, crate::world::User>,
    user_id: &str,
    id: &str,
    mask: &[&str],
) -> Result<Value, ApiError> {
    if id == "me" || id == user_id {
        let user = users.get(user_id).ok_or_else(ApiError::entity_not_found)?;
        return Ok(profile(user, mask));
    }
    if id.starts_with('c') {
        let num = parse_contact_name(&format!("people/{id}"))?;
        return Ok(book.render_contact(book.contact(num)?, mask, false));
    }
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
        let user = users.get(id).ok_or_else(ApiError::entity_not_found)?;
        return Ok(profile(user, mask));
    }
    Err(ApiError::invalid_argument(format!(
        "Resource name \"people/{id}\" is not a valid person resource name."
    )))
}

/// A domain user's profile as the People API shows it.
fn profile(user: &crate::world::User, mask: &[&str]) -> Value {
    let source = json!({"type": "DOMAIN_PROFILE", "id": user.id});
    let etag = ids::people_etag(&["profile", &user.id, &user.version.to_string()]);
    let mut out = Map::new();
    out.insert("resourceName".into(), json!(format!("people/{}", user.id)));
    out.insert("etag".into(), json!(etag));
    if mask.contains(&"metadata") {
        out.insert(
            "metadata".into(),
            json!({"sources": [{"type": "DOMAIN_PROFILE", "id": user.id, "etag": etag}], "objectType": "PERSON"}),
        );
    }
    if mask.contains(&"names") {
        let display = format!("{} {}", user.given_name, user.family_name);
        out.insert(
            "names".into(),
            json!([{
                "metadata": {"primary": true, "source": source},
                "displayName": display.trim(),
                "displayNameLastFirst": format!("{}, {}", user.family_name, user.given_name),
                "givenName": user.given_name,
                "familyName": user.family_name,
                "unstructuredName": display.trim(),
            }]),
        );
    }
    if mask.contains(&"emailAddresses") {
        out.insert(
            "emailAddresses".into(),
            json!([{"metadata": {"primary": true, "verified": true, "source": source}, "value": user.primary_email}]),
        );
    }
    Value::Object(out)
}

fn issue_sync_token(
    sync_tokens: &mut HashMap<String, SyncToken>,
    counters: &mut Counters,
    user_id: &str,
    kind: SyncKind,
    seq: u64,
    now: DateTime<Utc>,
) -> String {
    let n = counters.next();
    let token = format!(
        "^{}",
        ids::opaque(&[user_id, "sync", &seq.to_string(), &n.to_string()])
    );
    sync_tokens.insert(
        token.clone(),
        SyncToken {
            user_id: user_id.to_string(),
            kind,
            seq,
            issued: now,
            expired: false,
        },
    );
    token
}

/// The change position the request's `syncToken` stands for (None without one); EXPIRED_SYNC_TOKEN
/// when it is unknown, issued to somebody else or for another list, older than 7 days, or expired by
/// the control knob.
fn sync_position(
    sync_tokens: &HashMap<String, SyncToken>,
    call: &Call<'_>,
    kind: SyncKind,
) -> Result<Option<u64>, ApiError> {
    let token = call.query.str("syncToken");
    if token.is_empty() {
        return Ok(None);
    }
    match sync_tokens.get(token) {
        Some(t)
            if t.user_id == call.subject
                && t.kind == kind
                && !t.expired
                && call.now - t.issued < Duration::days(SYNC_TOKEN_LIFETIME_DAYS) =>
        {
            Ok(Some(t.seq))
        }
        _ => Err(sync_token_error()),
    }
}

/// One entry of a connections listing: a live contact or a deletion.
enum Entry<'a> {
    Live(&'a Contact),
    Deleted(&'a Tombstone<u64>),
}

impl Entry<'_> {
    fn seq(&self) -> u64 {
        match self {
            Entry::Live(c) => c.seq,
            Entry::Deleted(t) => t.seq,
        }
    }
    fn num(&self) -> u64 {
        match self {
            Entry::Live(c) => c.num,
            Entry::Deleted(t) => t.key,
        }
    }
    fn name_key(&self, field: &str) -> String {
        match self {
            Entry::Live(c) => c
                .fields
                .get("names")
                .and_then(|n| n.get(0))
                .and_then(|n| n.get(field))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase(),
            Entry::Deleted(..) => String::new(),
        }
    }
}

fn list_connections(
    book: &Book,
    counters: &mut Counters,
    sync_tokens: &mut HashMap<String, SyncToken>,
    call: &Call<'_>,
) -> Result<Value, ApiError> {
    let q = call.query;
    let user_id = call.subject;
    if call.route.var("peopleId") != "me" {
        return Err(ApiError::invalid_argument(
            "Only people/me is valid for connections.",
        ));
    }
    let mask = person::read_mask_param(
        q.get("personFields"),
        q.get("requestMask.includeField"),
        true,
        "people.connections/list",
    )?;
    let size = page_size(call, 100)?;
    let sort = q.get("sortOrder").unwrap_or("LAST_MODIFIED_ASCENDING");
    let fingerprint = ids::hash64(&["connections", user_id, sort, q.str("syncToken")]);
    let since = sync_position(sync_tokens, call, SyncKind::Connections)?;
    let page = read_page_token(call, fingerprint)?;
    let as_of = page.as_ref().map(|p| p.a).unwrap_or(counters.seq);

    let mut entries: Vec<Entry<'_>> = book
        .contacts
        .values()
        .filter(|c| since.is_none_or(|s| c.seq > s))
        .map(Entry::Live)
        .collect();
    if let Some(s) = since {
        entries.extend(
            book.contact_tombstones
                .iter()
                .filter(|t| t.seq > s)
                .map(Entry::Deleted),
        );
    }
    let name_field = match sort {
        "FIRST_NAME_ASCENDING" => Some("givenName"),
        "LAST_NAME_ASCENDING" => Some("familyName"),
        _ => None,
    };
    let descending = sort == "LAST_MODIFIED_DESCENDING";
    let total = entries.len();
    // Keyset pagination: a page starts after the last key served, so concurrent writes never make a
    // page skip an entry (a contact modified mid-listing may be served twice).
    type Key = (String, u64, u64);
    let key = |e: &Entry<'_>| -> Key {
        match name_field {
            Some(f) => (e.name_key(f), 0, e.num()),
            None => (String::new(), e.seq(), e.num()),
        }
    };
    entries.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        if descending { kb.cmp(&ka) } else { ka.cmp(&kb) }
    });
    if let Some(p) = &page {
        let after: Key = (p.k.clone(), p.s, p.n);
        entries.retain(|e| {
            let k = key(e);
            if descending { k < after } else { k > after }
        });
    }
    let more = entries.len() > size;
    entries.truncate(size);
    let items: Vec<Value> = entries
        .iter()
        .map(|e| match e {
            Entry::Live(c) => book.render_contact(c, &mask, true),
            Entry::Deleted(t) => json!({
                "resourceName": contact_resource_name(t.key),
                "etag": t.etag,
                "metadata": {"deleted": true, "sources": [{"type": "CONTACT", "id": format!("{:x}", t.key), "etag": t.etag, "updateTime": t.update_time}]},
            }),
        })
        .collect();
    let mut out = Map::new();
    if !items.is_empty() {
        out.insert("connections".into(), Value::Array(items));
    }
    if more {
        let (k, s, n) = entries.last().map(&key).unwrap_or_default();
        let token = PageToken {
            a: as_of,
            s,
            n,
            k,
            f: fingerprint,
        };
        out.insert("nextPageToken".into(), json!(encode_opaque(&token)));
    } else if q.flag("requestSyncToken") {
        let token = issue_sync_token(
            sync_tokens,
            counters,
            user_id,
            SyncKind::Connections,
            as_of,
            call.now,
        );
        out.insert("nextSyncToken".into(), json!(token));
    }
    out.insert("totalPeople".into(), json!(total));
    out.insert("totalItems".into(), json!(total));
    Ok(Value::Object(out))
}

fn list_groups(
    book: &Book,
    counters: &mut Counters,
    sync_tokens: &mut HashMap<String, SyncToken>,
    call: &Call<'_>,
) -> Result<Value, ApiError> {
    let q = call.query;
    let user_id = call.subject;
    let size = page_size(call, 30)?;
    let fields = group_fields(q.get("groupFields"), DEFAULT_GROUP_FIELDS)?;
    let fingerprint = ids::hash64(&["groups", user_id, q.str("syncToken")]);
    let since = sync_position(sync_tokens, call, SyncKind::ContactGroups)?;
    let page = read_page_token(call, fingerprint)?;
    let as_of = page.as_ref().map(|p| p.a).unwrap_or(counters.seq);
    let offset = page.as_ref().map(|p| p.s as usize).unwrap_or(0);
    let mut items: Vec<Value> = Vec::new();
    for id in book.group_ids() {
        let changed = match since {
            None => true,
            Some(s) => book.groups.get(&id).is_some_and(|g| g.seq > s),
        };
        if changed && let Some(g) = book.render_group(user_id, &id, &fields, 0) {
            items.push(g);
        }
    }
    if let Some(s) = since {
        for t in book.group_tombstones.iter().filter(|t| t.seq > s) {
            items.push(json!({
                "resourceName": group_resource_name(&t.key),
                "etag": t.etag,
                "metadata": {"deleted": true, "updateTime": t.update_time},
            }));
        }
    }
    let total = items.len();
    let page_items: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
    let next = offset + page_items.len();
    let mut out = Map::new();
    if !page_items.is_empty() {
        out.insert("contactGroups".into(), Value::Array(page_items));
    }
    out.insert("totalItems".into(), json!(total));
    if next < total {
        let token = PageToken {
            a: as_of,
            s: next as u64,
            n: 0,
            k: String::new(),
            f: fingerprint,
        };
        out.insert("nextPageToken".into(), json!(encode_opaque(&token)));
    } else {
        let token = issue_sync_token(
            sync_tokens,
            counters,
            user_id,
            SyncKind::ContactGroups,
            as_of,
            call.now,
        );
        out.insert("nextSyncToken".into(), json!(token));
    }
    Ok(Value::Object(out))
}

fn modify_members(
    book: &mut Book,
    counters: &mut Counters,
    user_id: &str,
    id: &str,
    body: &Value,
    now: &str,
) -> Result<Value, ApiError> {
    let names = |field: &str| -> Vec<String> {
        body.get(field)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let add = names("resourceNamesToAdd");
    let remove = names("resourceNamesToRemove");
    if add.len() + remove.len() > 1000 {
        return Err(ApiError::invalid_argument(format!(
            "Too many resource names: {}. resourceNamesToAdd and resourceNamesToRemove may hold at \
             most 1000 names together.",
            add.len() + remove.len()
        )));
    }
    if is_system_group(id) {
        if !add.is_empty() && !ADDABLE_SYSTEM_GROUPS.contains(&id) {
            return Err(ApiError::invalid_argument(format!(
                "Cannot add contacts to system contact group \"contactGroups/{id}\"; only \
                 contactGroups/myContacts and contactGroups/starred take new members."
            )));
        }
    } else if !book.groups.contains_key(id) {
        return Err(ApiError::entity_not_found());
    }
    let mut not_found = Vec::new();
    let mut last_group = Vec::new();
    let mut changed = false;
    for rn in &add {
        match parse_contact_name(rn)
            .ok()
            .filter(|n| book.contacts.contains_key(n))
        {
            None => not_found.push(rn.clone()),
            Some(num) => {
                let inserted = book
                    .contacts
                    .get_mut(&num)
                    .is_some_and(|c| c.groups.insert(id.to_string()));
                if inserted {
                    book.bump_contact(counters, user_id, num, now);
                    changed = true;
                }
            }
        }
    }
    for rn in &remove {
        match parse_contact_name(rn)
            .ok()
            .filter(|n| book.contacts.contains_key(n))
        {
            None => not_found.push(rn.clone()),
            Some(num) => {
                let Some(c) = book.contacts.get_mut(&num) else {
                    continue;
                };
                if !c.groups.contains(id) {
                    continue;
                }
                if c.groups.len() == 1 {
                    last_group.push(rn.clone());
                    continue;
                }
                c.groups.remove(id);
                book.bump_contact(counters, user_id, num, now);
                changed = true;
            }
        }
    }
    if changed {
        book.touch_group(counters, user_id, id, now);
        book.system_update_time = now.to_string();
    }
    let mut out = Map::new();
    if !not_found.is_empty() {
        out.insert("notFoundResourceNames".into(), json!(not_found));
    }
    if !last_group.is_empty() {
        out.insert(
            "canNotRemoveLastContactGroupResourceNames".into(),
            json!(last_group),
        );
    }
    Ok(Value::Object(out))
}
