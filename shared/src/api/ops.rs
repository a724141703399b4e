//! The operations behind each endpoint. They take parsed requests and return typed results or an `ApiError`;
//! HTTP (paths, headers, status codes) is the handlers' business.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use serde::Serialize;
use utoipa::ToSchema;

use super::context::ApiContext;
use super::error::ApiError;
use super::references::{
    USER_CONTACT_GROUP, kind_name, parse_org_unit_key, reject_duplicates, resolve_contact_group,
    resolve_destinations, resolve_source_user, resolve_user,
};
use super::request::{
    CreateSyncRequest, DestinationRef, MAX_DESTINATIONS, MAX_LABEL_CHARS, MAX_NAME_CHARS,
    StartRunRequest, UpdateSyncRequest, validate_description, validate_destination_refs,
    validate_text,
};
use crate::google::{DirectoryGroup, DirectoryUser, OrgUnit};
use crate::model::{
    Destination, DestinationKind, DestinationResult, ExecutorEvent, Run, RunMode, RunStatus,
    Source, SyncDefinition, Trigger, new_id,
};

/// Default and largest page sizes of the listings.
pub const DEFAULT_PAGE_LIMIT: u32 = 25;
pub const MAX_PAGE_LIMIT: u32 = 100;

/// Shortest and longest directory search text, in characters.
pub const MIN_SEARCH_CHARS: usize = 2;
pub const MAX_SEARCH_CHARS: usize = 100;
/// Most results of each type a directory search returns.
pub const SEARCH_RESULTS_PER_TYPE: u32 = 20;

/// A run the API created but no executor has picked up yet blocks another start for this long; after that it is
/// presumed lost (e.g. the invoke went to the dead-letter queue) and a new run may start.
const RUN_PICKUP_GRACE_MINUTES: i64 = 5;

/// The stored sync, and the run it started (`POST /syncs`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CreatedSync {
    #[serde(flatten)]
    pub sync: SyncDefinition,
    /// The run started because `run_immediately` was true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// A sync as `GET /syncs/{id}` and `GET /syncs` return it: the stored definition with the newest names known
/// for its source and destinations.
///
/// Every run resolves the source user, the contact group and each destination by immutable id and records the
/// names it finds when they changed, without changing `version` (the ETag): `source.user_email`,
/// `source.contact_group_name` and each destination's `display` are therefore as of the last run that resolved
/// them (or the last create or update, if later).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SyncView {
    #[serde(flatten)]
    pub sync: SyncDefinition,
    /// When a run read the names shown, if a run found any of them changed since the sync was created or last
    /// updated. Absent: the names are as resolved on the last create or update (`updated_at`), and no run has
    /// found them renamed since. Runs that find nothing renamed leave this as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names_refreshed_at: Option<DateTime<Utc>>,
}

impl From<SyncDefinition> for SyncView {
    fn from(sync: SyncDefinition) -> Self {
        let (sync, names_refreshed_at) = sync.with_current_names();
        SyncView {
            sync,
            names_refreshed_at,
        }
    }
}

/// One page of syncs, ordered by name (`GET /syncs`). Each sync carries its last finished run in `last_run`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SyncList {
    /// The syncs, with the newest known names as in `GET /syncs/{id}`.
    pub items: Vec<SyncView>,
    /// Pass as `next_token` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One page of a sync's runs, newest first (`GET /syncs/{id}/runs`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunList {
    pub items: Vec<Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One run with its per-destination results (`GET /syncs/{id}/runs/{run_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: Run,
    /// One entry per destination user, ordered by user id.
    pub results: Vec<DestinationResult>,
}

/// What `DELETE /syncs/{id}` did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome {
    /// The definition and its state are gone; synced contacts stay where they are.
    Deleted,
    /// A clean-up run was started; it removes the synced contacts and labels, then the definition.
    CleanupStarted(Run),
}

/// One directory object matching a search, ready to be used as a destination (`type` + `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DirectoryEntry {
    #[serde(rename = "type")]
    pub kind: DestinationKind,
    /// The immutable id (for domains, the domain name); valid as a destination `value`.
    pub id: String,
    /// Email (users, groups), path (org units) or domain name.
    pub display: String,
    /// The human name, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The result of `GET /directory/search`: users, then groups, org units and domains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DirectorySearchResults {
    pub results: Vec<DirectoryEntry>,
}

/// One of a user's own contact groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContactGroupSummary {
    /// `contactGroups/...`: what `contact_group` may be set to.
    pub resource_name: String,
    pub name: String,
    pub member_count: u32,
}

/// The result of `GET /users/{user}/contact-groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContactGroupList {
    pub user_id: String,
    pub user_email: String,
    /// The user's own contact groups (system groups such as "My Contacts" are left out), by name.
    pub contact_groups: Vec<ContactGroupSummary>,
}

/// Checks an id from the path before it reaches the store: ids are ULIDs, so anything else cannot exist.
fn check_id(what: &str, id: &str) -> Result<(), ApiError> {
    let plausible =
        !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric());
    if plausible {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("there is no {what} {id:?}")))
    }
}

async fn load_sync(ctx: &ApiContext, sync_id: &str) -> Result<SyncView, ApiError> {
    check_id("sync", sync_id)?;
    ctx.store
        .get_sync(sync_id)
        .await?
        .map(SyncView::from)
        .ok_or_else(|| ApiError::not_found(format!("there is no sync {sync_id}")))
}

/// `POST /syncs`: validates, resolves every reference to an immutable id, stores the sync and (by default)
/// starts its first run.
pub async fn create_sync(
    ctx: &ApiContext,
    caller: &str,
    req: CreateSyncRequest,
) -> Result<CreatedSync, ApiError> {
    let name = validate_text("name", &req.name, MAX_NAME_CHARS)?;
    let description = validate_description(
        "description",
        req.description.as_deref().unwrap_or_default(),
    )?;
    let label = req
        .label_name
        .as_deref()
        .map(|l| validate_text("label_name", l, MAX_LABEL_CHARS))
        .transpose()?;
    validate_destination_refs("destinations", &req.destinations, 1)?;

    let user = resolve_source_user(ctx.directory.as_ref(), "source_user", &req.source_user).await?;
    let group = resolve_contact_group(
        ctx.people.as_ref(),
        &user.primary_email,
        "contact_group",
        &req.contact_group,
    )
    .await?;
    let destinations =
        resolve_destinations(ctx.directory.as_ref(), "destinations", &req.destinations).await?;

    let now = ctx.now();
    let sync = SyncDefinition {
        id: new_id(),
        name,
        description,
        source: Source {
            user_id: user.id,
            user_email: user.primary_email,
            contact_group: group.resource_name,
            contact_group_name: group.name.clone(),
        },
        destinations,
        label_name: label.unwrap_or(group.name),
        enabled: req.enabled.unwrap_or(true),
        leaver_policy: req.leaver_policy.unwrap_or_default(),
        version: 1,
        created_at: now,
        created_by: caller.to_owned(),
        updated_at: now,
        updated_by: caller.to_owned(),
        last_run: None,
        current_names: None,
    };
    ctx.store.create_sync(&sync).await?;
    tracing::info!(sync_id = %sync.id, caller, "sync created");

    let run_id = if req.run_immediately.unwrap_or(true) {
        // The sync exists whatever happens to its first run: a failed dispatch is recorded on the run.
        let run = new_run(ctx, &sync.id, Trigger::Create, RunMode::Apply, caller).await?;
        if let Err(e) = dispatch_run(ctx, &run).await {
            tracing::error!(sync_id = %sync.id, run_id = %run.run_id, error = %e, "first run could not start");
        }
        Some(run.run_id)
    } else {
        None
    };
    Ok(CreatedSync { sync, run_id })
}

/// `GET /syncs`.
pub async fn list_syncs(
    ctx: &ApiContext,
    limit: u32,
    next_token: Option<&str>,
) -> Result<SyncList, ApiError> {
    let page = ctx
        .store
        .list_syncs(limit.clamp(1, MAX_PAGE_LIMIT), next_token)
        .await?;
    Ok(SyncList {
        items: page.items.into_iter().map(SyncView::from).collect(),
        next_token: page.next_token,
    })
}

/// `GET /syncs/{id}`: the stored sync. The source and the destinations carry their immutable ids and the newest
/// email, path or name known for them: found by the last run, or resolved on the last create or update if that
/// came later (see [`SyncView`]). Reads the store only.
pub async fn get_sync(ctx: &ApiContext, sync_id: &str) -> Result<SyncView, ApiError> {
    load_sync(ctx, sync_id).await
}

/// `PATCH /syncs/{id}` with `If-Match: "<version>"`.
pub async fn update_sync(
    ctx: &ApiContext,
    caller: &str,
    sync_id: &str,
    if_match: Option<&str>,
    req: UpdateSyncRequest,
) -> Result<SyncDefinition, ApiError> {
    let if_match = if_match.ok_or_else(|| ApiError::PreconditionRequired {
        message: "updates need If-Match with the sync's ETag (from GET /syncs/{id}), e.g. If-Match: \"3\"".to_owned(),
    })?;
    // The newest known names, as GET shows them: removals may name destinations by them, and the new version
    // keeps them (a later run records only what changes after it).
    let current = load_sync(ctx, sync_id).await?.sync;
    check_version(if_match, &current)?;
    if req.is_empty() {
        return Ok(current);
    }

    let mut next = current.clone();
    if let Some(name) = &req.name {
        next.name = validate_text("name", name, MAX_NAME_CHARS)?;
    }
    if let Some(description) = &req.description {
        next.description = validate_description("description", description)?;
    }
    if let Some(label) = &req.label_name {
        next.label_name = validate_text("label_name", label, MAX_LABEL_CHARS)?;
    }
    if let Some(enabled) = req.enabled {
        next.enabled = enabled;
    }
    if let Some(policy) = req.leaver_policy {
        next.leaver_policy = policy;
    }
    next.destinations = updated_destinations(ctx, &current.destinations, &req).await?;
    if let Some(group) = &req.contact_group {
        let user = current_source_user(ctx, &current.source).await?;
        let group = resolve_contact_group(
            ctx.people.as_ref(),
            &user.primary_email,
            "contact_group",
            group,
        )
        .await?;
        next.source = Source {
            user_id: user.id,
            user_email: user.primary_email,
            contact_group: group.resource_name,
            contact_group_name: group.name,
        };
    }

    next.version = current.version + 1;
    next.updated_at = ctx.now();
    next.updated_by = caller.to_owned();
    match ctx.store.update_sync(&next, current.version).await {
        Ok(()) => {
            tracing::info!(sync_id, version = next.version, caller, "sync updated");
            Ok(next)
        }
        Err(crate::store::StoreError::Conflict(_)) => Err(version_moved_on(sync_id)),
        Err(crate::store::StoreError::NotFound(_)) => {
            Err(ApiError::not_found(format!("there is no sync {sync_id}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The source user as the directory knows it now (by immutable id).
async fn current_source_user(ctx: &ApiContext, source: &Source) -> Result<DirectoryUser, ApiError> {
    match resolve_user(ctx.directory.as_ref(), "contact_group", &source.user_id).await {
        Ok(user) => Ok(user),
        Err(ApiError::Unprocessable { .. }) => Err(ApiError::invalid(
            "source_user_missing",
            "contact_group",
            format!(
                "the sync's source user {} no longer exists; create a new sync with another source user",
                source.user_email
            ),
        )),
        Err(e) => Err(e),
    }
}

/// The destinations after a PATCH: replaced, or with removals then additions applied.
async fn updated_destinations(
    ctx: &ApiContext,
    current: &[Destination],
    req: &UpdateSyncRequest,
) -> Result<Vec<Destination>, ApiError> {
    if let Some(replacement) = &req.destinations {
        if req.add_destinations.is_some() || req.remove_destinations.is_some() {
            return Err(ApiError::invalid(
                "conflicting_fields",
                "destinations",
                "send either destinations (replaces them all) or add_destinations/remove_destinations, not both",
            ));
        }
        validate_destination_refs("destinations", replacement, 1)?;
        return resolve_destinations(ctx.directory.as_ref(), "destinations", replacement).await;
    }
    let mut destinations = current.to_vec();
    if let Some(remove) = &req.remove_destinations {
        validate_destination_refs("remove_destinations", remove, 0)?;
        for (i, r) in remove.iter().enumerate() {
            let field = format!("remove_destinations[{i}].value");
            let index = destinations
                .iter()
                .position(|d| names_destination(r, d))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "not_a_destination",
                        &field,
                        format!(
                            "{field}: the sync has no {} destination {}",
                            kind_name(r.kind),
                            r.value.trim()
                        ),
                    )
                })?;
            destinations.remove(index);
        }
    }
    if let Some(add) = &req.add_destinations {
        validate_destination_refs("add_destinations", add, 0)?;
        let added = resolve_destinations(ctx.directory.as_ref(), "add_destinations", add).await?;
        reject_duplicates("add_destinations", &added, 0, &destinations)?;
        destinations.extend(added);
    }
    let field = if req.add_destinations.is_some() {
        "add_destinations"
    } else {
        "remove_destinations"
    };
    if destinations.is_empty() {
        return Err(ApiError::invalid(
            "too_few",
            field,
            "a sync needs at least one destination; delete the sync instead",
        ));
    }
    if destinations.len() > MAX_DESTINATIONS {
        return Err(ApiError::invalid(
            "too_many",
            field,
            format!("a sync may have at most {MAX_DESTINATIONS} destinations"),
        ));
    }
    Ok(destinations)
}

/// Whether a removal reference names a stored destination: by immutable id, or by its email, path or name.
fn names_destination(r: &DestinationRef, d: &Destination) -> bool {
    if r.kind != d.kind {
        return false;
    }
    let value = r.value.trim();
    if value == d.id || value.eq_ignore_ascii_case(&d.display) {
        return true;
    }
    d.kind == DestinationKind::OrgUnit
        && parse_org_unit_key(value)
            .is_some_and(|key| key.as_str().eq_ignore_ascii_case(&d.display))
}

/// Parses `If-Match` (`"3"`, `W/"3"` or `3`) and compares it with the stored version.
fn check_version(if_match: &str, sync: &SyncDefinition) -> Result<(), ApiError> {
    let matches = if_match
        .split(',')
        .map(str::trim)
        .map(|tag| tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"'))
        .any(|tag| tag.parse::<u64>().ok() == Some(sync.version));
    if matches {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed {
            message: format!(
                "If-Match {if_match} does not match the sync's current version \"{}\"; GET the sync and retry \
                 your change on top of it",
                sync.version
            ),
        })
    }
}

fn version_moved_on(sync_id: &str) -> ApiError {
    ApiError::PreconditionFailed {
        message: format!(
            "sync {sync_id} was changed by someone else meanwhile; GET it and retry your change"
        ),
    }
}

/// `DELETE /syncs/{id}?remove_contacts=...` (optionally with `If-Match`).
pub async fn delete_sync(
    ctx: &ApiContext,
    caller: &str,
    sync_id: &str,
    remove_contacts: bool,
    if_match: Option<&str>,
) -> Result<DeleteOutcome, ApiError> {
    let mut sync = load_sync(ctx, sync_id).await?.sync;
    if let Some(if_match) = if_match {
        check_version(if_match, &sync)?;
    }
    if !remove_contacts {
        match ctx.store.delete_sync(sync_id).await {
            Ok(()) | Err(crate::store::StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(sync_id, caller, "sync deleted, synced contacts kept");
        return Ok(DeleteOutcome::Deleted);
    }

    ensure_no_run_in_progress(ctx, sync_id).await?;
    if sync.enabled {
        // The schedule must not start new runs of a sync that is being removed.
        let expected = sync.version;
        sync.enabled = false;
        sync.version += 1;
        sync.updated_at = ctx.now();
        sync.updated_by = caller.to_owned();
        match ctx.store.update_sync(&sync, expected).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Conflict(_)) => return Err(version_moved_on(sync_id)),
            Err(e) => return Err(e.into()),
        }
    }
    let run = new_run(ctx, sync_id, Trigger::Delete, RunMode::Cleanup, caller).await?;
    dispatch_run(ctx, &run).await?;
    tracing::info!(sync_id, run_id = %run.run_id, caller, "clean-up run started");
    Ok(DeleteOutcome::CleanupStarted(run))
}

/// `POST /syncs/{id}/runs`: starts a run now (409 while another one is in progress).
pub async fn start_run(
    ctx: &ApiContext,
    caller: &str,
    sync_id: &str,
    req: StartRunRequest,
) -> Result<Run, ApiError> {
    load_sync(ctx, sync_id).await?;
    ensure_no_run_in_progress(ctx, sync_id).await?;
    let mode = if req.dry_run.unwrap_or(false) {
        RunMode::DryRun
    } else {
        RunMode::Apply
    };
    let run = new_run(ctx, sync_id, Trigger::Manual, mode, caller).await?;
    dispatch_run(ctx, &run).await?;
    tracing::info!(sync_id, run_id = %run.run_id, caller, "run started");
    Ok(run)
}

/// 409 when a run holds the sync's lease, or when a run the API started has not been picked up yet.
async fn ensure_no_run_in_progress(ctx: &ApiContext, sync_id: &str) -> Result<(), ApiError> {
    let now = ctx.now();
    let busy = match ctx.store.current_lease(sync_id, now).await? {
        Some(run_id) => Some(run_id),
        None => {
            let latest = ctx.store.list_runs(sync_id, 1, None).await?;
            latest
                .items
                .into_iter()
                .find(|run| awaiting_pickup(run, now))
                .map(|run| run.run_id)
        }
    };
    match busy {
        Some(run_id) => Err(ApiError::Conflict {
            code: "run_in_progress",
            message: format!(
                "run {run_id} of sync {sync_id} is in progress; wait for it to finish \
                 (GET /syncs/{sync_id}/runs/{run_id}) and retry"
            ),
        }),
        None => Ok(()),
    }
}

/// A run recorded as started that no executor has taken up yet (and is not presumed lost).
fn awaiting_pickup(run: &Run, now: DateTime<Utc>) -> bool {
    run.status == RunStatus::Running
        && run.invocations == 0
        && now.signed_duration_since(run.started_at) < Duration::minutes(RUN_PICKUP_GRACE_MINUTES)
}

/// Records a new run as `running`, so that it is visible before the executor starts.
async fn new_run(
    ctx: &ApiContext,
    sync_id: &str,
    trigger: Trigger,
    mode: RunMode,
    caller: &str,
) -> Result<Run, ApiError> {
    let run = Run::new(sync_id, &new_id(), trigger, mode, caller, ctx.now());
    ctx.store.put_run(&run).await?;
    Ok(run)
}

/// Hands a recorded run to the executor. If that fails the run is marked failed, so it never looks stuck.
async fn dispatch_run(ctx: &ApiContext, run: &Run) -> Result<(), ApiError> {
    let Err(e) = ctx
        .dispatcher
        .dispatch(&ExecutorEvent::for_run(run, None))
        .await
    else {
        return Ok(());
    };
    let failed = Run {
        status: RunStatus::Failed,
        finished_at: Some(ctx.now()),
        error: Some(format!("the run could not be started: {e}")),
        ..run.clone()
    };
    if let Err(store_error) = ctx.store.put_run(&failed).await {
        tracing::error!(run_id = %run.run_id, error = %store_error, "could not record the failed dispatch");
    }
    Err(e.into())
}

/// `GET /syncs/{id}/runs`.
pub async fn list_runs(
    ctx: &ApiContext,
    sync_id: &str,
    limit: u32,
    next_token: Option<&str>,
) -> Result<RunList, ApiError> {
    load_sync(ctx, sync_id).await?;
    let page = ctx
        .store
        .list_runs(sync_id, limit.clamp(1, MAX_PAGE_LIMIT), next_token)
        .await?;
    Ok(RunList {
        items: page.items,
        next_token: page.next_token,
    })
}

/// `GET /syncs/{id}/runs/{run_id}`.
pub async fn get_run(ctx: &ApiContext, sync_id: &str, run_id: &str) -> Result<RunDetail, ApiError> {
    check_id("sync", sync_id)?;
    check_id("run", run_id)?;
    let run = ctx
        .store
        .get_run(sync_id, run_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("sync {sync_id} has no run {run_id}")))?;
    let results = ctx.store.list_results(sync_id, run_id).await?;
    Ok(RunDetail { run, results })
}

/// Checks the search text: 2 to 100 characters after trimming.
pub fn validate_search_text(q: Option<&str>) -> Result<String, ApiError> {
    let q = q.map(str::trim).unwrap_or_default();
    let chars = q.chars().count();
    if chars < MIN_SEARCH_CHARS {
        return Err(ApiError::bad_request(
            "search_too_short",
            "q",
            format!("q needs at least {MIN_SEARCH_CHARS} characters"),
        ));
    }
    if chars > MAX_SEARCH_CHARS || q.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_search",
            "q",
            format!("q must be at most {MAX_SEARCH_CHARS} characters without control characters"),
        ));
    }
    Ok(q.to_owned())
}

/// A value for Google's user and group search syntax: `*` dropped (we add our own), quoted when it has spaces,
/// quotes or the operators `:` and `=`, with `\` and `'` escaped.
pub fn search_term(q: &str) -> String {
    let cleaned: String = q.chars().filter(|c| *c != '*').collect();
    if cleaned
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '\\' | ':' | '='))
    {
        format!("'{}'", cleaned.replace('\\', "\\\\").replace('\'', "\\'"))
    } else {
        cleaned
    }
}

/// `GET /directory/search?q=`: users by email (aliases included), given or family name prefix; groups by email
/// or name prefix; org units whose path or name contains `q`; domains whose name contains `q`.
pub async fn search_directory(
    ctx: &ApiContext,
    q: Option<&str>,
) -> Result<DirectorySearchResults, ApiError> {
    let q = validate_search_text(q)?;
    let term = search_term(&q);
    let directory = ctx.directory.as_ref();
    let max = SEARCH_RESULTS_PER_TYPE;

    let user_queries = [
        format!("email:{term}*"),
        format!("givenName:{term}*"),
        format!("familyName:{term}*"),
    ];
    let group_queries = [format!("email:{term}*"), format!("name:{term}*")];
    let (users, groups, org_units, domains) = futures::join!(
        join_all(
            user_queries
                .iter()
                .map(|query| directory.search_users(query, max))
        ),
        join_all(
            group_queries
                .iter()
                .map(|query| directory.search_groups(query, max))
        ),
        directory.list_org_units(),
        directory.list_domains(),
    );

    let mut unique_users: BTreeMap<String, DirectoryUser> = BTreeMap::new();
    for user in users
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        unique_users.entry(user.id.clone()).or_insert(user);
    }
    let mut unique_groups: BTreeMap<String, DirectoryGroup> = BTreeMap::new();
    for group in groups
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        unique_groups.entry(group.id.clone()).or_insert(group);
    }
    let needle = q.to_lowercase();

    let mut user_entries: Vec<DirectoryEntry> = unique_users
        .into_values()
        .map(|u| DirectoryEntry {
            kind: DestinationKind::User,
            name: u.name.as_ref().and_then(user_display_name),
            id: u.id,
            display: u.primary_email,
        })
        .collect();
    user_entries.sort_by(|a, b| a.display.cmp(&b.display));
    user_entries.truncate(max as usize);

    let mut group_entries: Vec<DirectoryEntry> = unique_groups
        .into_values()
        .map(|g| DirectoryEntry {
            kind: DestinationKind::Group,
            id: g.id,
            display: g.email,
            name: g.name.filter(|n| !n.is_empty()),
        })
        .collect();
    group_entries.sort_by(|a, b| a.display.cmp(&b.display));
    group_entries.truncate(max as usize);

    let mut ou_entries: Vec<DirectoryEntry> = org_units?
        .into_iter()
        .filter(|ou| org_unit_matches(ou, &needle))
        .map(|ou| DirectoryEntry {
            kind: DestinationKind::OrgUnit,
            id: ou.org_unit_id,
            display: ou.org_unit_path,
            name: ou.name.filter(|n| !n.is_empty()),
        })
        .collect();
    ou_entries.sort_by(|a, b| a.display.cmp(&b.display));
    ou_entries.truncate(max as usize);

    let mut domain_entries: Vec<DirectoryEntry> = domains?
        .into_iter()
        .filter(|d| d.domain_name.to_lowercase().contains(&needle))
        .map(|d| DirectoryEntry {
            kind: DestinationKind::Domain,
            id: d.domain_name.clone(),
            display: d.domain_name,
            name: None,
        })
        .collect();
    domain_entries.sort_by(|a, b| a.display.cmp(&b.display));
    domain_entries.truncate(max as usize);

    let mut results = user_entries;
    results.extend(group_entries);
    results.extend(ou_entries);
    results.extend(domain_entries);
    Ok(DirectorySearchResults { results })
}

fn org_unit_matches(ou: &OrgUnit, needle: &str) -> bool {
    ou.org_unit_path.to_lowercase().contains(needle)
        || ou
            .name
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(needle))
}

fn user_display_name(name: &crate::google::UserName) -> Option<String> {
    name.full_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            let joined = [name.given_name.as_deref(), name.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.trim().is_empty()).then(|| joined.trim().to_owned())
        })
}

/// `GET /users/{user}/contact-groups`: the user's own contact groups, by name.
pub async fn list_contact_groups(
    ctx: &ApiContext,
    user: &str,
) -> Result<ContactGroupList, ApiError> {
    let user = match resolve_user(ctx.directory.as_ref(), "user", user).await {
        Ok(user) => user,
        Err(ApiError::Unprocessable { message, .. }) => return Err(ApiError::not_found(message)),
        Err(e) => return Err(e),
    };
    if !user.is_active() {
        return Err(ApiError::invalid(
            "inactive_user",
            "user",
            format!(
                "{} is suspended or archived, so its contacts cannot be read",
                user.primary_email
            ),
        ));
    }
    let groups = ctx.people.list_contact_groups(&user.primary_email).await?;
    let mut contact_groups: Vec<ContactGroupSummary> = groups
        .into_iter()
        .filter(|g| g.group_type.as_deref() == Some(USER_CONTACT_GROUP))
        .map(|g| ContactGroupSummary {
            name: if g.name.is_empty() {
                g.formatted_name.clone().unwrap_or_default()
            } else {
                g.name.clone()
            },
            resource_name: g.resource_name,
            member_count: g.member_count.unwrap_or(0),
        })
        .collect();
    contact_groups.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.resource_name.cmp(&b.resource_name))
    });
    Ok(ContactGroupList {
        user_id: user.id,
        user_email: user.primary_email,
        contact_groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testing::Fixture;
    use crate::model::DestinationKind as K;
    use crate::store::SyncStore;

    fn dest(kind: K, value: &str) -> DestinationRef {
        DestinationRef {
            kind,
            value: value.to_owned(),
        }
    }

    fn create_request() -> CreateSyncRequest {
        CreateSyncRequest {
            name: "Customers for sales".into(),
            description: Some("shared customer contacts".into()),
            source_user: "ann@example.com".into(),
            contact_group: "Customers".into(),
            destinations: vec![
                dest(K::User, "bob.alias@example.com"),
                dest(K::OrgUnit, "/Sales/EMEA"),
            ],
            run_immediately: None,
            enabled: None,
            label_name: None,
            leaver_policy: None,
        }
    }

    #[tokio::test]
    async fn create_stores_ids_and_starts_the_first_run() {
        let f = Fixture::new();
        let created = create_sync(&f.ctx, "arn:aws:iam::1:user/admin", create_request())
            .await
            .expect("created");
        let sync = &created.sync;
        assert_eq!((sync.version, sync.enabled), (1, true));
        assert_eq!(sync.source.user_id, "100");
        assert_eq!(sync.source.contact_group, "contactGroups/customers");
        assert_eq!(sync.label_name, "Customers");
        assert_eq!(sync.created_by, "arn:aws:iam::1:user/admin");
        assert_eq!(
            sync.destinations
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>(),
            ["200", "id:ou-emea"]
        );
        assert_eq!(
            f.store.get_sync(&sync.id).await.expect("read").as_ref(),
            Some(sync)
        );

        let run_id = created.run_id.expect("run started");
        let events = f.dispatcher.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].run_id.as_deref(), Some(run_id.as_str()));
        assert_eq!(
            (events[0].trigger, events[0].mode),
            (Trigger::Create, RunMode::Apply)
        );
        let run = f
            .store
            .get_run(&sync.id, &run_id)
            .await
            .expect("read")
            .expect("run recorded");
        assert_eq!(run.status, RunStatus::Running);
    }

    #[tokio::test]
    async fn create_without_running_dispatches_nothing() {
        let f = Fixture::new();
        let req = CreateSyncRequest {
            run_immediately: Some(false),
            ..create_request()
        };
        let created = create_sync(&f.ctx, "local", req).await.expect("created");
        assert_eq!(created.run_id, None);
        assert!(f.dispatcher.events().is_empty());
    }

    #[tokio::test]
    async fn a_failed_first_dispatch_keeps_the_sync_and_marks_the_run_failed() {
        let f = Fixture::new();
        *f.dispatcher.fail.lock().expect("lock") = true;
        let created = create_sync(&f.ctx, "local", create_request())
            .await
            .expect("created");
        let run_id = created.run_id.expect("run recorded");
        let run = f
            .store
            .get_run(&created.sync.id, &run_id)
            .await
            .expect("read")
            .expect("run");
        assert_eq!(run.status, RunStatus::Failed);
        assert!(
            run.error
                .unwrap_or_default()
                .contains("could not be started")
        );
    }

    #[tokio::test]
    async fn create_rejects_bad_input_before_storing_anything() {
        let f = Fixture::new();
        let cases = [
            (
                CreateSyncRequest {
                    name: " ".into(),
                    ..create_request()
                },
                "name",
            ),
            (
                CreateSyncRequest {
                    source_user: "sue@example.com".into(),
                    ..create_request()
                },
                "source_user",
            ),
            (
                CreateSyncRequest {
                    source_user: "nobody@example.com".into(),
                    ..create_request()
                },
                "source_user",
            ),
            (
                CreateSyncRequest {
                    contact_group: "Nope".into(),
                    ..create_request()
                },
                "contact_group",
            ),
            (
                CreateSyncRequest {
                    destinations: vec![
                        dest(K::User, "bob@example.com"),
                        dest(K::Group, "none@example.com"),
                    ],
                    ..create_request()
                },
                "destinations[1].value",
            ),
        ];
        for (req, field) in cases {
            let e = create_sync(&f.ctx, "local", req)
                .await
                .expect_err("rejected");
            assert_eq!((e.status().as_u16(), e.field()), (422, Some(field)), "{e}");
        }
        assert!(
            f.store
                .list_syncs(10, None)
                .await
                .expect("list")
                .items
                .is_empty()
        );
        assert!(f.dispatcher.events().is_empty());
    }

    #[tokio::test]
    async fn google_outages_during_create_are_503_not_500() {
        let f = Fixture::new();
        f.directory.fail_with(crate::google::GoogleError::Api {
            method: "directory.users.get".into(),
            status: 429,
            status_text: "RESOURCE_EXHAUSTED".into(),
            reason: Some("rateLimitExceeded".into()),
            message: "slow down".into(),
        });
        let e = create_sync(&f.ctx, "local", create_request())
            .await
            .expect_err("unavailable");
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (503, "google_rate_limited")
        );
    }

    async fn stored(f: &Fixture) -> SyncDefinition {
        let req = CreateSyncRequest {
            run_immediately: Some(false),
            ..create_request()
        };
        create_sync(&f.ctx, "creator", req)
            .await
            .expect("created")
            .sync
    }

    #[tokio::test]
    async fn update_needs_the_current_version() {
        let f = Fixture::new();
        let sync = stored(&f).await;
        let rename = UpdateSyncRequest {
            name: Some("Renamed".into()),
            ..UpdateSyncRequest::default()
        };
        let e = update_sync(&f.ctx, "editor", &sync.id, None, rename.clone())
            .await
            .expect_err("428");
        assert_eq!(e.status(), 428);
        let e = update_sync(&f.ctx, "editor", &sync.id, Some("\"7\""), rename.clone())
            .await
            .expect_err("412");
        assert_eq!(e.status(), 412);
        let updated = update_sync(&f.ctx, "editor", &sync.id, Some("\"1\""), rename.clone())
            .await
            .expect("ok");
        assert_eq!(
            (
                updated.name.as_str(),
                updated.version,
                updated.updated_by.as_str()
            ),
            ("Renamed", 2, "editor")
        );
        assert_eq!(updated.created_by, "creator");
        let e = update_sync(&f.ctx, "editor", &sync.id, Some("W/\"1\""), rename)
            .await
            .expect_err("stale");
        assert_eq!(e.status(), 412);
        let e = update_sync(
            &f.ctx,
            "editor",
            "01NOPE",
            Some("\"1\""),
            UpdateSyncRequest::default(),
        )
        .await
        .expect_err("404");
        assert_eq!(e.status(), 404);
    }

    #[tokio::test]
    async fn update_adds_and_removes_destinations() {
        let f = Fixture::new();
        let sync = stored(&f).await;
        let req = UpdateSyncRequest {
            add_destinations: Some(vec![
                dest(K::Group, "sales@example.com"),
                dest(K::Domain, "example.org"),
            ]),
            remove_destinations: Some(vec![dest(K::OrgUnit, "Sales/EMEA")]),
            ..UpdateSyncRequest::default()
        };
        let updated = update_sync(&f.ctx, "editor", &sync.id, Some("\"1\""), req)
            .await
            .expect("updated");
        let ids: Vec<_> = updated.destinations.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["200", "g-sales", "example.org"]);

        let again = UpdateSyncRequest {
            add_destinations: Some(vec![dest(K::User, "200")]),
            ..UpdateSyncRequest::default()
        };
        let e = update_sync(&f.ctx, "editor", &sync.id, Some("\"2\""), again)
            .await
            .expect_err("duplicate");
        assert_eq!(
            (e.code(), e.field()),
            ("duplicate_destination", Some("add_destinations[0].value"))
        );

        let missing = UpdateSyncRequest {
            remove_destinations: Some(vec![dest(K::User, "ann@example.com")]),
            ..UpdateSyncRequest::default()
        };
        let e = update_sync(&f.ctx, "editor", &sync.id, Some("\"2\""), missing)
            .await
            .expect_err("not there");
        assert_eq!(
            (e.code(), e.field()),
            ("not_a_destination", Some("remove_destinations[0].value"))
        );

        let everything = UpdateSyncRequest {
            remove_destinations: Some(vec![
                dest(K::User, "bob@example.com"),
                dest(K::Group, "g-sales"),
                dest(K::Domain, "example.org"),
            ]),
            ..UpdateSyncRequest::default()
        };
        let e = update_sync(&f.ctx, "editor", &sync.id, Some("\"2\""), everything)
            .await
            .expect_err("empty");
        assert_eq!(e.code(), "too_few");
    }

    #[tokio::test]
    async fn reads_show_the_names_runs_found_and_updates_keep_them() {
        let f = Fixture::new();
        let sync = stored(&f).await;
        let view = get_sync(&f.ctx, &sync.id).await.expect("get");
        assert_eq!(
            (&view.sync, view.names_refreshed_at),
            (&sync, None),
            "no run yet: the names create resolved"
        );

        // A run finds the source user, the contact group, a user and an org unit renamed.
        f.clock.advance(Duration::minutes(5));
        let names = crate::model::CurrentNames {
            source_user_email: "annie@example.com".into(),
            contact_group_name: "Clients".into(),
            destinations: BTreeMap::from([
                ("200".to_owned(), "robert@example.com".to_owned()),
                ("id:ou-emea".to_owned(), "/Sales/Europe".to_owned()),
            ]),
            refreshed_at: f.ctx.now(),
        };
        f.store
            .set_current_names(&sync.id, &names)
            .await
            .expect("record names");
        let view = get_sync(&f.ctx, &sync.id).await.expect("get");
        assert_eq!(view.names_refreshed_at, Some(names.refreshed_at));
        assert_eq!(view.sync.source.user_email, "annie@example.com");
        assert_eq!(view.sync.source.contact_group_name, "Clients");
        let shown: Vec<(&str, &str)> = view
            .sync
            .destinations
            .iter()
            .map(|d| (d.id.as_str(), d.display.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("200", "robert@example.com"),
                ("id:ou-emea", "/Sales/Europe")
            ]
        );
        assert_eq!(
            (view.sync.version, &view.sync.updated_at),
            (1, &sync.updated_at)
        );
        let json = serde_json::to_value(&view).expect("json");
        assert!(json.get("current_names").is_none(), "{json}");
        assert_eq!(json["source"]["user_email"], "annie@example.com");
        assert!(json["names_refreshed_at"].is_string(), "{json}");
        let listed = list_syncs(&f.ctx, 10, None).await.expect("list");
        assert_eq!(listed.items, vec![view]);

        // An update starts from those names: a removal may use a new name, and the new version keeps them.
        f.clock.advance(Duration::minutes(1));
        let req = UpdateSyncRequest {
            remove_destinations: Some(vec![dest(K::User, "Robert@example.com")]),
            ..UpdateSyncRequest::default()
        };
        let updated = update_sync(&f.ctx, "editor", &sync.id, Some("\"1\""), req)
            .await
            .expect("updated");
        assert_eq!(updated.version, 2);
        assert_eq!(updated.source.user_email, "annie@example.com");
        assert_eq!(updated.source.contact_group_name, "Clients");
        assert_eq!(updated.destinations.len(), 1);
        assert_eq!(updated.destinations[0].display, "/Sales/Europe");
        let view = get_sync(&f.ctx, &sync.id).await.expect("get");
        assert_eq!(
            (&view.sync, view.names_refreshed_at),
            (&updated, None),
            "the update's names are the newest"
        );
        let stored = f
            .store
            .get_sync(&sync.id)
            .await
            .expect("read")
            .expect("sync");
        assert_eq!(
            stored.current_names,
            Some(names),
            "updates leave the recorded names alone"
        );
    }

    #[tokio::test]
    async fn update_changes_the_contact_group_of_the_same_source_user() {
        let f = Fixture::new();
        let sync = stored(&f).await;
        let req = UpdateSyncRequest {
            contact_group: Some("contactGroups/vendors".into()),
            enabled: Some(false),
            ..UpdateSyncRequest::default()
        };
        let updated = update_sync(&f.ctx, "editor", &sync.id, Some("\"1\""), req)
            .await
            .expect("updated");
        assert_eq!(updated.source.contact_group_name, "Vendors");
        assert!(!updated.enabled);
        assert_eq!(
            updated.label_name, "Customers",
            "the label only changes when asked"
        );
    }

    #[tokio::test]
    async fn start_run_is_refused_while_a_run_is_in_progress() {
        let f = Fixture::new();
        let sync = stored(&f).await;
        let run = start_run(
            &f.ctx,
            "op",
            &sync.id,
            StartRunRequest {
                dry_run: Some(true),
            },
        )
        .await
        .expect("202");
        assert_eq!(
            (run.mode, run.trigger, run.status),
            (RunMode::DryRun, Trigger::Manual, RunStatus::Running)
        );

        // Not picked up yet: still counts as in progress.
        let e = start_run(&f.ctx, "op", &sync.id, StartRunRequest::default())
            .await
            .expect_err("409");
        assert_eq!((e.status().as_u16(), e.code()), (409, "run_in_progress"));

        // The executor took the lease.
        let until = f.ctx.now() + Duration::minutes(15);
        f.store
            .acquire_lease(&sync.id, &run.run_id, until, f.ctx.now())
            .await
            .expect("lease");
        f.store
            .put_run(&Run {
                invocations: 1,
                ..run.clone()
            })
            .await
            .expect("put");
        f.clock.advance(Duration::minutes(10));
        let e = start_run(&f.ctx, "op", &sync.id, StartRunRequest::default())
            .await
            .expect_err("409");
        assert!(e.to_string().contains(&run.run_id));

        // The lease expired (the executor died): a new run may start.
        f.clock.advance(Duration::minutes(10));
        start_run(&f.ctx, "op", &sync.id, StartRunRequest::default())
            .await
            .expect("202");
        assert_eq!(f.dispatcher.events().len(), 2);
    }

    #[tokio::test]
    async fn a_run_never_picked_up_stops_blocking_after_the_grace_period() {
        let f = Fixture::new();
        let sync = stored(&f).await;
        start_run(&f.ctx, "op", &sync.id, StartRunRequest::default())
            .await
            .expect("202");
        f.clock
            .advance(Duration::minutes(RUN_PICKUP_GRACE_MINUTES + 1));
        start_run(&f.ctx, "op", &sync.id, StartRunRequest::default())
            .await
            .expect("202");
    }

    #[tokio::test]
    async fn a_failed_dispatch_of_a_manual_run_is_a_503_and_the_run_is_failed() {
        let f = Fixture::new();
        let sync = stored(&f).await;
        *f.dispatcher.fail.lock().expect("lock") = true;
        let e = start_run(&f.ctx, "op", &sync.id, StartRunRequest::default())
            .await
            .expect_err("503");
        assert_eq!(e.status(), 503);
        let runs = list_runs(&f.ctx, &sync.id, 10, None).await.expect("runs");
        assert_eq!(runs.items[0].status, RunStatus::Failed);
        *f.dispatcher.fail.lock().expect("lock") = false;
        start_run(&f.ctx, "op", &sync.id, StartRunRequest::default())
            .await
            .expect("a failed run does not block");
    }

    #[tokio::test]
    async fn delete_with_or_without_removing_contacts() {
        let f = Fixture::new();
        let keep = stored(&f).await;
        assert_eq!(
            delete_sync(&f.ctx, "op", &keep.id, false, None)
                .await
                .expect("deleted"),
            DeleteOutcome::Deleted
        );
        assert!(f.store.get_sync(&keep.id).await.expect("read").is_none());
        assert!(f.dispatcher.events().is_empty());

        let clean = stored(&f).await;
        let e = delete_sync(&f.ctx, "op", &clean.id, true, Some("\"9\""))
            .await
            .expect_err("412");
        assert_eq!(e.status(), 412);
        let DeleteOutcome::CleanupStarted(run) =
            delete_sync(&f.ctx, "op", &clean.id, true, Some("\"1\""))
                .await
                .expect("202")
        else {
            panic!("expected a clean-up run");
        };
        assert_eq!((run.trigger, run.mode), (Trigger::Delete, RunMode::Cleanup));
        let events = f.dispatcher.events();
        assert_eq!((events.len(), events[0].mode), (1, RunMode::Cleanup));
        let still_there = f
            .store
            .get_sync(&clean.id)
            .await
            .expect("read")
            .expect("kept until clean-up ends");
        assert!(
            !still_there.enabled,
            "the schedule must not run a sync being removed"
        );

        let e = delete_sync(&f.ctx, "op", &clean.id, true, None)
            .await
            .expect_err("409");
        assert_eq!(e.status(), 409);
        assert_eq!(
            delete_sync(&f.ctx, "op", "01NOPE", false, None)
                .await
                .expect_err("404")
                .status(),
            404
        );
    }

    #[tokio::test]
    async fn runs_are_listed_and_read_with_their_results() {
        let f = Fixture::new();
        let sync = stored(&f).await;
        let run = start_run(&f.ctx, "op", &sync.id, StartRunRequest::default())
            .await
            .expect("202");
        let result = DestinationResult {
            user_id: "200".into(),
            email: "bob@example.com".into(),
            status: crate::model::DestinationStatus::Succeeded,
            created: 3,
            updated: 0,
            deleted: 0,
            unchanged: 0,
            error: None,
            planned: None,
            finished_at: f.ctx.now(),
        };
        f.store
            .put_result(&sync.id, &run.run_id, &result)
            .await
            .expect("put");
        let detail = get_run(&f.ctx, &sync.id, &run.run_id).await.expect("run");
        assert_eq!(detail.results, [result]);
        assert_eq!(
            list_runs(&f.ctx, &sync.id, 25, None)
                .await
                .expect("runs")
                .items
                .len(),
            1
        );
        assert_eq!(
            get_run(&f.ctx, &sync.id, "01NOPE")
                .await
                .expect_err("404")
                .status(),
            404
        );
        assert_eq!(
            get_run(&f.ctx, &sync.id, "../x")
                .await
                .expect_err("404")
                .status(),
            404
        );
        assert_eq!(
            list_runs(&f.ctx, "01NOPE", 25, None)
                .await
                .expect_err("404")
                .status(),
            404
        );
    }

    #[tokio::test]
    async fn list_pages_through_every_sync() {
        let f = Fixture::new();
        for _ in 0..5 {
            stored(&f).await;
        }
        let first = list_syncs(&f.ctx, 2, None).await.expect("page 1");
        assert_eq!(first.items.len(), 2);
        let second = list_syncs(&f.ctx, 2, first.next_token.as_deref())
            .await
            .expect("page 2");
        let third = list_syncs(&f.ctx, 2, second.next_token.as_deref())
            .await
            .expect("page 3");
        assert_eq!((third.items.len(), third.next_token), (1, None));
        let e = list_syncs(&f.ctx, 2, Some("garbage"))
            .await
            .expect_err("400");
        assert_eq!((e.status().as_u16(), e.field()), (400, Some("next_token")));
    }

    #[tokio::test]
    async fn search_finds_every_type() {
        let f = Fixture::new();
        let e = search_directory(&f.ctx, Some(" a "))
            .await
            .expect_err("too short");
        assert_eq!((e.status().as_u16(), e.field()), (400, Some("q")));
        let found = search_directory(&f.ctx, Some("bob.al"))
            .await
            .expect("alias");
        assert_eq!(
            found
                .results
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
            ["200"]
        );
        let found = search_directory(&f.ctx, Some("sal")).await.expect("sales");
        let kinds: Vec<_> = found
            .results
            .iter()
            .map(|r| (r.kind, r.id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (K::Group, "g-sales"),
                (K::OrgUnit, "id:ou-sales"),
                (K::OrgUnit, "id:ou-emea")
            ]
        );
        let found = search_directory(&f.ctx, Some("Lee"))
            .await
            .expect("family name");
        assert_eq!(found.results[0].name.as_deref(), Some("Ann Lee"));
        let found = search_directory(&f.ctx, Some("EXAMPLE.O"))
            .await
            .expect("domain");
        assert_eq!(
            found.results.iter().map(|r| r.kind).collect::<Vec<_>>(),
            [K::Domain]
        );
    }

    #[test]
    fn search_terms_are_quoted_when_needed() {
        assert_eq!(search_term("ann"), "ann");
        assert_eq!(search_term("an*n"), "ann");
        assert_eq!(search_term("Mary Ann"), "'Mary Ann'");
        assert_eq!(search_term("o'neil"), "'o\\'neil'");
        assert_eq!(search_term("a:b=c"), "'a:b=c'");
    }

    #[tokio::test]
    async fn contact_groups_are_the_users_own() {
        let f = Fixture::new();
        let list = list_contact_groups(&f.ctx, "100").await.expect("groups");
        assert_eq!(list.user_email, "ann@example.com");
        let names: Vec<_> = list
            .contact_groups
            .iter()
            .map(|g| (g.name.as_str(), g.member_count))
            .collect();
        assert_eq!(names, [("Customers", 3), ("Vendors", 1)]);
        assert_eq!(
            list_contact_groups(&f.ctx, "nobody@example.com")
                .await
                .expect_err("404")
                .status(),
            404
        );
        assert_eq!(
            list_contact_groups(&f.ctx, "sue@example.com")
                .await
                .expect_err("422")
                .status(),
            422
        );
    }
}
