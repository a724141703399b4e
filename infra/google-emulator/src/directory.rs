//! Admin SDK Directory API v1: users, groups, members, org units and domains of the customer.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::api::{Call, Query, Reply, decode_opaque, encode_opaque};
use crate::error::ApiError;
use crate::ids;
use crate::query;
use crate::world::{Group, Member, Owner, User, World, domain_of};

/// Directory page tokens: an offset into the ordered result, valid for one set of parameters.
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    o: usize,
    f: u64,
}

/// Serves one page of `items` and the token of the next.
fn paginate<T>(
    items: Vec<T>,
    q: &Query,
    max: usize,
    fingerprint: u64,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let offset = match q.get("pageToken").filter(|t| !t.is_empty()) {
        Some(t) => decode_opaque::<PageToken>(t)
            .filter(|p| p.f == fingerprint)
            .map(|p| p.o)
            .ok_or_else(|| ApiError::directory(400, "Invalid Input: pageToken", "invalid"))?,
        None => 0,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(max).collect();
    let next = offset + page.len();
    let token = (next < total).then(|| {
        encode_opaque(&PageToken {
            o: next,
            f: fingerprint,
        })
    });
    Ok((page, token))
}

/// `maxResults` within 1..=max (Google answers 400 outside the range), `default` when absent.
fn max_results(q: &Query, default: usize, max: usize) -> Result<usize, ApiError> {
    let raw = q.str("maxResults");
    match q.int("maxResults") {
        Ok(None) => Ok(default),
        Ok(Some(n)) if n >= 1 && n as usize <= max => Ok(n as usize),
        Ok(Some(_)) | Err(_) => Err(ApiError::directory_out_of_range(
            "maxResults",
            raw,
            1,
            max as i64,
        )),
    }
}

fn fingerprint(call: &Call<'_>, names: &[&str]) -> u64 {
    let mut parts = vec![call.route.method_id, call.subject];
    for n in names {
        parts.push(n);
        parts.push(call.query.str(n));
    }
    ids::hash64(&parts)
}

/// `customer=my_customer` or the customer's id; any other customer is not this admin's.
fn check_customer(world: &World, customer: &str) -> Result<(), ApiError> {
    if customer == "my_customer" || customer == world.customer_id {
        Ok(())
    } else {
        // [B] Google answers another customer's id with 403 (not this admin's customer) or 400.
        Err(ApiError::directory_not_authorized())
    }
}

/// users.list and groups.list need exactly one of `customer` / `domain` (groups also take `userKey`).
fn check_scope_params(world: &World, q: &Query) -> Result<Option<String>, ApiError> {
    let customer = q.get("customer").filter(|v| !v.is_empty());
    let domain = q.get("domain").filter(|v| !v.is_empty());
    match (customer, domain) {
        (Some(c), None) => {
            check_customer(world, c)?;
            Ok(None)
        }
        (None, Some(d)) => {
            let d = d.to_ascii_lowercase();
            if world.domains.contains(&d) {
                Ok(Some(d))
            } else {
                Err(ApiError::directory_not_authorized())
            }
        }
        _ => Err(ApiError::directory_bad_request("Bad Request")),
    }
}

fn user_json(world: &World, id: &str, public_view: bool) -> Value {
    let Some(u) = world.users.get(id) else {
        return Value::Null;
    };
    let full_name = format!("{} {}", u.given_name, u.family_name);
    let mut out = Map::new();
    out.insert("kind".into(), json!("admin#directory#user"));
    out.insert("id".into(), json!(u.id));
    out.insert(
        "etag".into(),
        json!(ids::directory_etag(&[
            "user",
            &u.id,
            &u.version.to_string()
        ])),
    );
    out.insert("primaryEmail".into(), json!(u.primary_email));
    out.insert(
        "name".into(),
        json!({"givenName": u.given_name, "familyName": u.family_name, "fullName": full_name.trim()}),
    );
    if public_view {
        return Value::Object(out);
    }
    out.insert("isAdmin".into(), json!(u.is_admin));
    out.insert("isDelegatedAdmin".into(), json!(false));
    out.insert("lastLoginTime".into(), json!("1970-01-01T00:00:00.000Z"));
    out.insert("creationTime".into(), json!(u.creation_time));
    out.insert("agreedToTerms".into(), json!(true));
    out.insert("suspended".into(), json!(u.suspended));
    if u.suspended {
        out.insert("suspensionReason".into(), json!("ADMIN"));
    }
    out.insert("archived".into(), json!(u.archived));
    out.insert("changePasswordAtNextLogin".into(), json!(false));
    out.insert("ipWhitelisted".into(), json!(false));
    let mut emails = vec![json!({"address": u.primary_email, "primary": true})];
    emails.extend(u.aliases.iter().map(|a| json!({"address": a})));
    out.insert("emails".into(), Value::Array(emails));
    if !u.aliases.is_empty() {
        out.insert("aliases".into(), json!(u.aliases));
    }
    out.insert("customerId".into(), json!(world.customer_id));
    out.insert("orgUnitPath".into(), json!(world.ou_path(&u.org_unit)));
    out.insert("isMailboxSetup".into(), json!(true));
    out.insert("isEnrolledIn2Sv".into(), json!(false));
    out.insert("isEnforcedIn2Sv".into(), json!(false));
    out.insert("includeInGlobalAddressList".into(), json!(true));
    Value::Object(out)
}

fn group_json(world: &World, id: &str) -> Value {
    let Some(g) = world.groups.get(id) else {
        return Value::Null;
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!("admin#directory#group"));
    out.insert("id".into(), json!(g.id));
    out.insert(
        "etag".into(),
        json!(ids::directory_etag(&[
            "group",
            &g.id,
            &g.version.to_string()
        ])),
    );
    out.insert("email".into(), json!(g.email));
    out.insert("name".into(), json!(g.name));
    out.insert("description".into(), json!(g.description));
    out.insert(
        "directMembersCount".into(),
        json!(g.members.len().to_string()),
    );
    out.insert("adminCreated".into(), json!(true));
    if !g.aliases.is_empty() {
        out.insert("aliases".into(), json!(g.aliases));
    }
    Value::Object(out)
}

fn member_json(world: &World, member: &Member) -> Value {
    let (id, email, kind, status) = match member {
        Member::User(id) => match world.users.get(id) {
            Some(u) => (
                u.id.clone(),
                u.primary_email.clone(),
                "USER",
                if u.archived {
                    "ARCHIVED"
                } else if u.suspended {
                    "SUSPENDED"
                } else {
                    "ACTIVE"
                },
            ),
            None => return Value::Null,
        },
        Member::Group(id) => match world.groups.get(id) {
            Some(g) => (g.id.clone(), g.email.clone(), "GROUP", "ACTIVE"),
            None => return Value::Null,
        },
        Member::External(email) => (
            ids::external_member_id(email),
            email.clone(),
            "EXTERNAL",
            "ACTIVE",
        ),
        Member::Customer => (
            world.customer_id.clone(),
            String::new(),
            "CUSTOMER",
            "ACTIVE",
        ),
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!("admin#directory#member"));
    out.insert(
        "etag".into(),
        json!(ids::directory_etag(&["member", &id, &email])),
    );
    out.insert("id".into(), json!(id));
    if !email.is_empty() {
        out.insert("email".into(), json!(email));
    }
    out.insert("role".into(), json!("MEMBER"));
    out.insert("type".into(), json!(kind));
    out.insert("status".into(), json!(status));
    if kind != "CUSTOMER" {
        out.insert("delivery_settings".into(), json!("ALL_MAIL"));
    }
    Value::Object(out)
}

fn ou_json(world: &World, id: &str) -> Value {
    let Some(ou) = world.org_units.get(id) else {
        return Value::Null;
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!("admin#directory#orgUnit"));
    out.insert(
        "etag".into(),
        json!(ids::directory_etag(&[
            "orgunit",
            &ou.id,
            &ou.version.to_string()
        ])),
    );
    out.insert("name".into(), json!(ou.name));
    out.insert("description".into(), json!(ou.description));
    out.insert("orgUnitPath".into(), json!(world.ou_path(id)));
    out.insert("orgUnitId".into(), json!(ou.id));
    if let Some(parent) = &ou.parent {
        out.insert("parentOrgUnitPath".into(), json!(world.ou_path(parent)));
        out.insert("parentOrgUnitId".into(), json!(parent));
    }
    Value::Object(out)
}

/// A Directory list response: `{kind, etag, <field>: items (omitted when empty), nextPageToken}`.
fn list_body(
    kind: &str,
    etag_parts: &[&str],
    field: &str,
    items: Vec<Value>,
    next: Option<String>,
) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(kind));
    out.insert("etag".into(), json!(ids::directory_etag(etag_parts)));
    if !items.is_empty() {
        out.insert(field.into(), Value::Array(items));
    }
    if let Some(t) = next {
        out.insert("nextPageToken".into(), json!(t));
    }
    Value::Object(out)
}

fn sort_ascending(q: &Query) -> bool {
    !q.str("sortOrder").eq_ignore_ascii_case("DESCENDING")
}

fn user_id_of(world: &World, key: &str) -> Result<String, ApiError> {
    world
        .find_user(key)
        .map(|u| u.id.clone())
        .ok_or_else(|| ApiError::directory_not_found("userKey"))
}

fn group_id_of(world: &World, key: &str) -> Result<String, ApiError> {
    world
        .find_group(key)
        .map(|g| g.id.clone())
        .ok_or_else(|| ApiError::directory_not_found("groupKey"))
}

fn ou_not_found() -> ApiError {
    ApiError::directory(404, "Org unit not found", "notFound")
}

/// Whether a Directory method may be called by a non-administrator (users.list / users.get with
/// `viewType=domain_public`).
pub(crate) fn allowed_for_non_admin(method_id: &str, q: &Query) -> bool {
    matches!(method_id, "directory.users.list" | "directory.users.get")
        && q.str("viewType") == "domain_public"
}

/// Handles one Directory API call (the caller is already known to be an administrator, or to use the
/// domain-public view).
pub(crate) fn handle(world: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let q = call.query;
    let public_view = q.str("viewType") == "domain_public";
    let value = match call.route.method_id {
        "directory.users.list" => list_users(world, call, public_view)?,
        "directory.users.get" => {
            let id = user_id_of(world, call.route.var("userKey"))?;
            user_json(world, &id, public_view)
        }
        "directory.users.update" | "directory.users.patch" => {
            let id = user_id_of(world, call.route.var("userKey"))?;
            patch_user(world, &id, &call.body)?;
            user_json(world, &id, false)
        }
        "directory.groups.list" => list_groups(world, call)?,
        "directory.groups.get" => {
            let id = group_id_of(world, call.route.var("groupKey"))?;
            group_json(world, &id)
        }
        "directory.groups.update" | "directory.groups.patch" => {
            let id = group_id_of(world, call.route.var("groupKey"))?;
            patch_group(world, &id, &call.body)?;
            group_json(world, &id)
        }
        "directory.members.list" => list_members(world, call)?,
        "directory.members.insert" => {
            let id = group_id_of(world, call.route.var("groupKey"))?;
            insert_member(world, &id, &call.body)?
        }
        "directory.members.delete" => {
            let id = group_id_of(world, call.route.var("groupKey"))?;
            let key = call.route.var("memberKey");
            let position = world.groups.get(&id).and_then(|g| {
                g.members.iter().position(|m| match m {
                    Member::User(uid) => {
                        uid == key || world.users.get(uid).is_some_and(|u| u.has_address(key))
                    }
                    Member::Group(gid) => {
                        gid == key || world.groups.get(gid).is_some_and(|g| g.has_address(key))
                    }
                    Member::External(email) => email.eq_ignore_ascii_case(key),
                    Member::Customer => key == world.customer_id,
                })
            });
            let position = position.ok_or_else(|| ApiError::directory_not_found("memberKey"))?;
            if let Some(g) = world.groups.get_mut(&id) {
                g.members.remove(position);
                g.version += 1;
            }
            return Ok(Reply::NoContent);
        }
        "directory.orgunits.list" => list_org_units(world, call)?,
        "directory.orgunits.get" => {
            check_customer(world, call.route.var("customerId"))?;
            let id = world
                .find_ou(call.route.var("orgUnitPath"))
                .ok_or_else(ou_not_found)?;
            ou_json(world, &id)
        }
        "directory.orgunits.update" | "directory.orgunits.patch" => {
            check_customer(world, call.route.var("customerId"))?;
            let id = world
                .find_ou(call.route.var("orgUnitPath"))
                .ok_or_else(ou_not_found)?;
            patch_org_unit(world, &id, &call.body)?;
            ou_json(world, &id)
        }
        "directory.domains.list" => {
            check_customer(world, call.route.var("customer"))?;
            let domains: Vec<Value> = world
                .domains
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    json!({
                        "kind": "admin#directory#domain",
                        "etag": ids::directory_etag(&["domain", d]),
                        "domainName": d,
                        "isPrimary": i == 0,
                        "verified": true,
                        "creationTime": "1673254800000",
                    })
                })
                .collect();
            json!({
                "kind": "admin#directory#domains",
                "etag": ids::directory_etag(&["domains", &world.customer_id]),
                "domains": domains,
            })
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

fn list_users(world: &World, call: &Call<'_>, public_view: bool) -> Result<Value, ApiError> {
    let q = call.query;
    let domain = check_scope_params(world, q)?;
    let max = max_results(q, 100, 500)?;
    let filter = query::UserFilter::compile(world, &query::parse(q.str("query"))?)?;
    let show_deleted = q.flag("showDeleted");
    let mut users: Vec<&User> = world
        .users
        .values()
        // Nobody is ever deleted in the emulator: showDeleted=true lists nobody.
        .filter(|_| !show_deleted)
        .filter(|u| {
            domain
                .as_deref()
                .is_none_or(|d| domain_of(&u.primary_email) == d)
        })
        .filter(|u| filter.matches(world, u))
        .collect();
    let order = q.str("orderBy").to_ascii_lowercase();
    users.sort_by_key(|u| {
        let key = match order.as_str() {
            "givenname" => format!("{} {}", u.given_name, u.family_name),
            "familyname" => format!("{} {}", u.family_name, u.given_name),
            _ => String::new(),
        };
        (key.to_lowercase(), u.primary_email.to_lowercase())
    });
    if !sort_ascending(q) {
        users.reverse();
    }
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let fp = fingerprint(
        call,
        &[
            "customer",
            "domain",
            "query",
            "orderBy",
            "sortOrder",
            "showDeleted",
        ],
    );
    let (page, next) = paginate(ids, q, max, fp)?;
    let users = page
        .iter()
        .map(|id| user_json(world, id, public_view))
        .collect();
    Ok(list_body(
        "admin#directory#users",
        &["users", &world.customer_id],
        "users",
        users,
        next,
    ))
}

/// A new primary address for `owner` must be in one of the customer's domains and not be somebody
/// else's address (its own aliases are fine).
fn check_new_address(
    world: &World,
    email: &str,
    owner: &Owner,
    field: &str,
) -> Result<(), ApiError> {
    if !email.contains('@') || !world.domains.contains(&domain_of(email)) {
        return Err(ApiError::directory(
            400,
            format!("Invalid Input: {field}"),
            "invalid",
        ));
    }
    match world.owner_of(email) {
        Some(other) if other != *owner => Err(ApiError::directory(
            409,
            "Entity already exists.",
            "duplicate",
        )),
        _ => Ok(()),
    }
}

/// A rename: the new address becomes primary, the old one an alias (as Google does).
fn rename_address(primary: &mut String, aliases: &mut Vec<String>, new: &str) {
    if new.eq_ignore_ascii_case(primary) {
        return;
    }
    let old = std::mem::replace(primary, new.to_string());
    aliases.retain(|a| !a.eq_ignore_ascii_case(new));
    if !aliases.iter().any(|a| a.eq_ignore_ascii_case(&old)) {
        aliases.push(old);
    }
}

/// users.update / users.patch (both have patch semantics): rename, names, org unit, suspension.
fn patch_user(world: &mut World, id: &str, body: &Value) -> Result<(), ApiError> {
    let new_email = body
        .get("primaryEmail")
        .and_then(Value::as_str)
        .map(str::trim);
    if let Some(email) = new_email {
        check_new_address(
            world,
            email,
            &Owner::User(id.to_string()),
            "primary_user_email",
        )?;
    }
    let new_ou =
        match body.get("orgUnitPath").and_then(Value::as_str) {
            Some(path) => Some(world.find_ou_by_path(path).ok_or_else(|| {
                ApiError::directory(400, "Invalid Input: INVALID_OU_ID", "invalid")
            })?),
            None => None,
        };
    let Some(user) = world.users.get_mut(id) else {
        return Err(ApiError::directory_not_found("userKey"));
    };
    if let Some(email) = new_email {
        rename_address(&mut user.primary_email, &mut user.aliases, email);
    }
    if let Some(name) = body.get("name") {
        if let Some(g) = name.get("givenName").and_then(Value::as_str) {
            user.given_name = g.to_string();
        }
        if let Some(f) = name.get("familyName").and_then(Value::as_str) {
            user.family_name = f.to_string();
        }
    }
    if let Some(ou) = new_ou {
        user.org_unit = ou;
    }
    if let Some(s) = body.get("suspended").and_then(Value::as_bool) {
        user.suspended = s;
    }
    if let Some(a) = body.get("archived").and_then(Value::as_bool) {
        user.archived = a;
    }
    user.version += 1;
    Ok(())
}

fn list_groups(world: &World, call: &Call<'_>) -> Result<Value, ApiError> {
    let q = call.query;
    let user_key = q.get("userKey").filter(|v| !v.is_empty());
    let domain = match user_key {
        Some(_) if q.get("customer").is_some_and(|c| !c.is_empty()) => {
            return Err(ApiError::directory_bad_request("Bad Request"));
        }
        Some(_) if q.get("domain").is_none_or(str::is_empty) => None,
        _ => check_scope_params(world, q)?,
    };
    let member_of = match user_key {
        Some(key) => Some(match world.resolve_member(key) {
            Some(m @ (Member::User(_) | Member::Group(_))) => m,
            _ => return Err(ApiError::directory_not_found("userKey")),
        }),
        None => None,
    };
    let max = max_results(q, 200, 200)?;
    let clauses = query::parse(q.str("query"))?;
    query::check_group_query(&clauses)?;
    let mut groups: Vec<&Group> = world
        .groups
        .values()
        .filter(|g| domain.as_deref().is_none_or(|d| domain_of(&g.email) == d))
        .filter(|g| member_of.as_ref().is_none_or(|m| g.members.contains(m)))
        .filter(|g| query::group_matches(g, &clauses))
        .collect();
    groups.sort_by_key(|g| g.email.to_lowercase());
    if !sort_ascending(q) {
        groups.reverse();
    }
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let fp = fingerprint(
        call,
        &[
            "customer",
            "domain",
            "userKey",
            "query",
            "orderBy",
            "sortOrder",
        ],
    );
    let (page, next) = paginate(ids, q, max, fp)?;
    let groups = page.iter().map(|id| group_json(world, id)).collect();
    Ok(list_body(
        "admin#directory#groups",
        &["groups", &world.customer_id],
        "groups",
        groups,
        next,
    ))
}

/// groups.update / groups.patch: rename (the old address becomes an alias), name, description.
fn patch_group(world: &mut World, id: &str, body: &Value) -> Result<(), ApiError> {
    let new_email = body.get("email").and_then(Value::as_str).map(str::trim);
    if let Some(email) = new_email {
        check_new_address(world, email, &Owner::Group(id.to_string()), "email")?;
    }
    let Some(group) = world.groups.get_mut(id) else {
        return Err(ApiError::directory_not_found("groupKey"));
    };
    if let Some(email) = new_email {
        rename_address(&mut group.email, &mut group.aliases, email);
    }
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        group.name = name.to_string();
    }
    if let Some(d) = body.get("description").and_then(Value::as_str) {
        group.description = d.to_string();
    }
    group.version += 1;
    Ok(())
}

fn list_members(world: &World, call: &Call<'_>) -> Result<Value, ApiError> {
    let q = call.query;
    let id = group_id_of(world, call.route.var("groupKey"))?;
    let max = max_results(q, 200, 200)?;
    let roles: Vec<String> = q
        .str("roles")
        .split(',')
        .map(|r| r.trim().to_ascii_uppercase())
        .filter(|r| !r.is_empty())
        .collect();
    let mut members: Vec<Member> = world
        .groups
        .get(&id)
        .map(|g| g.members.clone())
        .unwrap_or_default();
    if q.flag("includeDerivedMembership") {
        // Direct members, then every user reachable through nested groups, each once.
        let mut seen_groups = BTreeSet::from([id.clone()]);
        let mut queue: Vec<String> = members
            .iter()
            .filter_map(|m| match m {
                Member::Group(g) => Some(g.clone()),
                _ => None,
            })
            .collect();
        while let Some(gid) = queue.pop() {
            if !seen_groups.insert(gid.clone()) {
                continue;
            }
            for m in world
                .groups
                .get(&gid)
                .map(|g| g.members.as_slice())
                .unwrap_or_default()
            {
                match m {
                    Member::Group(nested) => queue.push(nested.clone()),
                    Member::User(_) if !members.contains(m) => members.push(m.clone()),
                    _ => {}
                }
            }
        }
    }
    if !roles.is_empty() && !roles.iter().any(|r| r == "MEMBER") {
        members.clear();
    }
    let fp = fingerprint(call, &["includeDerivedMembership", "roles"]);
    let (page, next) = paginate(members, q, max, fp)?;
    let members = page.iter().map(|m| member_json(world, m)).collect();
    Ok(list_body(
        "admin#directory#members",
        &["members", &id],
        "members",
        members,
        next,
    ))
}

fn insert_member(world: &mut World, group_id: &str, body: &Value) -> Result<Value, ApiError> {
    let key = body
        .get("email")
        .or_else(|| body.get("id"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::directory(400, "Missing required field: member", "required"))?;
    let member = if let Some(u) = world.users.get(key) {
        Member::User(u.id.clone())
    } else if let Some(g) = world.groups.get(key) {
        Member::Group(g.id.clone())
    } else {
        world
            .resolve_member(key)
            .ok_or_else(|| ApiError::directory_not_found("memberKey"))?
    };
    if member == Member::Group(group_id.to_string()) {
        return Err(ApiError::directory(
            400,
            "Invalid Input: a group cannot be a member of itself",
            "invalid",
        ));
    }
    let Some(group) = world.groups.get_mut(group_id) else {
        return Err(ApiError::directory_not_found("groupKey"));
    };
    if group.members.contains(&member) {
        return Err(ApiError::directory(
            409,
            "Member already exists.",
            "duplicate",
        ));
    }
    group.members.push(member.clone());
    group.version += 1;
    Ok(member_json(world, &member))
}

fn list_org_units(world: &World, call: &Call<'_>) -> Result<Value, ApiError> {
    let q = call.query;
    check_customer(world, call.route.var("customerId"))?;
    let base = match q.get("orgUnitPath").filter(|p| !p.is_empty()) {
        Some(p) => world.find_ou(p).ok_or_else(ou_not_found)?,
        None => world.root_ou.clone(),
    };
    let kind = q.get("type").unwrap_or("children").to_ascii_lowercase();
    if !matches!(kind.as_str(), "children" | "all" | "allincludingparent") {
        return Err(ApiError::directory(
            400,
            format!("Invalid value '{}' for type", q.str("type")),
            "invalid",
        ));
    }
    let mut ids: Vec<String> = world
        .org_units
        .values()
        .filter(|ou| match kind.as_str() {
            "children" => ou.parent.as_deref() == Some(base.as_str()),
            "all" => ou.id != base && world.ou_within(&ou.id, &base),
            _ => world.ou_within(&ou.id, &base),
        })
        .map(|ou| ou.id.clone())
        .collect();
    ids.sort_by_key(|id| world.ou_path(id).to_lowercase());
    let units = ids.iter().map(|id| ou_json(world, id)).collect();
    Ok(list_body(
        "admin#directory#orgUnits",
        &["orgunits", &world.customer_id],
        "organizationUnits",
        units,
        None,
    ))
}

/// orgunits.update / orgunits.patch: rename (keeps orgUnitId; paths below follow), move, description.
fn patch_org_unit(world: &mut World, id: &str, body: &Value) -> Result<(), ApiError> {
    let is_root = world
        .org_units
        .get(id)
        .is_some_and(|ou| ou.parent.is_none());
    let parent_key = body
        .get("parentOrgUnitId")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .or_else(|| {
            body.get("parentOrgUnitPath")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        });
    let new_parent = match parent_key {
        Some(key) if !is_root => {
            let parent = world.find_ou(key).ok_or_else(|| {
                ApiError::directory(400, "Invalid Input: parent_org_unit", "invalid")
            })?;
            if world.ou_within(&parent, id) {
                return Err(ApiError::directory(
                    400,
                    "Invalid Input: an org unit cannot move below itself",
                    "invalid",
                ));
            }
            Some(parent)
        }
        _ => None,
    };
    let new_name = body
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if new_name.is_some_and(|n| n.contains('/')) {
        return Err(ApiError::directory(400, "Invalid Input: name", "invalid"));
    }
    let Some(current) = world.org_units.get(id) else {
        return Err(ou_not_found());
    };
    let parent = new_parent.clone().or_else(|| current.parent.clone());
    let name = new_name.unwrap_or(&current.name).to_string();
    if !is_root {
        let clash = world
            .org_units
            .values()
            .any(|ou| ou.id != id && ou.parent == parent && ou.name.eq_ignore_ascii_case(&name));
        if clash {
            return Err(ApiError::directory(
                409,
                "Entity already exists.",
                "duplicate",
            ));
        }
    }
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(ou) = world.org_units.get_mut(id) {
        ou.name = name;
        if new_parent.is_some() {
            ou.parent = new_parent;
        }
        if let Some(d) = description {
            ou.description = d;
        }
        ou.version += 1;
    }
    Ok(())
}
