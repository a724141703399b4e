//! The OpenAPI 3.1 document of the API, generated from the request and response types. `docs/openapi.json` is
//! this document; a test regenerates it and fails when the checked-in copy drifts.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, ErrorDetail};
use super::ops::{
    ContactGroupList, ContactGroupSummary, CreatedSync, DirectoryEntry, DirectorySearchResults,
    RunDetail, RunList, SyncList, SyncView,
};
use super::request::{CreateSyncRequest, DestinationRef, StartRunRequest, UpdateSyncRequest};
use crate::model::{
    Destination, DestinationKind, DestinationResult, DestinationStatus, LeaverPolicy,
    PlannedChange, PlannedChanges, Run, RunMode, RunStatus, RunSummary, RunTotals, Source,
    SyncDefinition, Trigger,
};

/// The security scheme's name.
const SIGV4: &str = "sigv4";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "contact-sync API",
        description = "Manage contact syncs: copy one Google Workspace user's contact group into the contacts \
            of users, groups, org units or whole domains, daily and on demand. Every request is signed with \
            AWS Signature Version 4 (IAM). Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        create_sync,
        list_syncs,
        get_sync,
        update_sync,
        delete_sync,
        start_run,
        list_runs,
        get_run,
        search_directory,
        list_contact_groups
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        CreateSyncRequest,
        UpdateSyncRequest,
        StartRunRequest,
        DestinationRef,
        CreatedSync,
        SyncList,
        SyncView,
        SyncDefinition,
        Source,
        Destination,
        DestinationKind,
        LeaverPolicy,
        RunSummary,
        Run,
        RunList,
        RunDetail,
        RunMode,
        RunStatus,
        RunTotals,
        Trigger,
        DestinationResult,
        DestinationStatus,
        PlannedChange,
        PlannedChanges,
        DirectorySearchResults,
        DirectoryEntry,
        ContactGroupList,
        ContactGroupSummary
    )),
    modifiers(&SigV4, &EveryRouteResponses),
    security(("sigv4" = [])),
    tags(
        (name = "syncs", description = "Sync definitions"),
        (name = "runs", description = "Starting runs and reading their results"),
        (name = "directory", description = "Finding sources and destinations")
    )
)]
pub struct ApiDoc;

/// Declares the AWS SigV4 security scheme.
struct SigV4;

impl Modify for SigV4 {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SIGV4,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "AWS Signature Version 4 (the HTTP API uses IAM authorization): sign each request for the \
                 service `execute-api` in the stack's region with credentials allowed to call execute-api:Invoke \
                 on the API, e.g. `awscurl --service execute-api` or an AWS SDK's SigV4 signer. The signer also \
                 sends `X-Amz-Date` (and `X-Amz-Security-Token` for temporary credentials). Unsigned or \
                 unauthorised requests get 403 from API Gateway before reaching the API.",
            ))),
        );
    }
}

/// The answers every route can give, whatever it does: API Gateway's 403 for a request that is not signed or not
/// allowed (before any function runs), and 500 for a fault of this service. A route may word them its own way.
struct EveryRouteResponses;

impl Modify for EveryRouteResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let forbidden = ResponseBuilder::new()
            .description("Not signed or not allowed (from API Gateway)")
            .build();
        let fault = ResponseBuilder::new()
            .description(
                "A fault of this service, never caused by the request (e.g. a stored item that cannot be read)",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("403".to_owned())
                    .or_insert_with(|| forbidden.clone().into());
                responses
                    .entry("500".to_owned())
                    .or_insert_with(|| fault.clone().into());
            }
        }
    }
}

/// The document, as pretty-printed JSON with a trailing newline (the form checked in as `docs/openapi.json`).
pub fn openapi_json() -> String {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(mut json) => {
            json.push('\n');
            json
        }
        // Serialising plain data structures cannot fail; keep the signature honest anyway.
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}

// ---- operations (documentation only: the handlers in `handlers` serve them) ---------------------------------------

#[utoipa::path(
    post,
    path = "/syncs",
    operation_id = "createSync",
    tag = "syncs",
    summary = "Create a sync",
    description = "Resolves the source user, the contact group and every destination to Google's immutable ids, \
        stores the sync and, unless `run_immediately` is false, starts its first run (its id is `run_id`).",
    request_body = CreateSyncRequest,
    responses(
        (status = 201, description = "Created", body = CreatedSync, headers(
            ("Location" = String, description = "`/syncs/{id}`"),
            ("ETag" = String, description = "The version, for `If-Match` on updates (`\"1\"`)")
        )),
        (status = 400, description = "Malformed JSON, a wrong type, or an unknown or missing field (`field` names it)", body = ErrorBody),
        (status = 403, description = "The request is not signed, or the signer may not call the API (from API Gateway)"),
        (status = 413, description = "The body is larger than 256 KiB", body = ErrorBody),
        (status = 422, description = "A limit is exceeded, a destination is repeated, or a reference does not exist (`field` names it)", body = ErrorBody),
        (status = 502, description = "Google refused the request (e.g. delegation not granted)", body = ErrorBody),
        (status = 503, description = "Google, DynamoDB or the key is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn create_sync() {}

#[utoipa::path(
    get,
    path = "/syncs",
    operation_id = "listSyncs",
    tag = "syncs",
    summary = "List syncs",
    description = "Syncs ordered by name, each with its last finished run in `last_run` and the newest known names \
        of its source and destinations, as in `GET /syncs/{id}`.",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 25)", minimum = 1, maximum = 100),
        ("next_token" = Option<String>, Query, description = "`next_token` of the previous page")
    ),
    responses(
        (status = 200, description = "One page", body = SyncList),
        (status = 400, description = "`limit` out of range or `next_token` not issued by this API", body = ErrorBody),
        (status = 503, description = "DynamoDB is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn list_syncs() {}

#[utoipa::path(
    get,
    path = "/syncs/{id}",
    operation_id = "getSync",
    tag = "syncs",
    summary = "Get a sync",
    description = "The sync, its destinations with their immutable ids and current emails, org unit paths and \
        domain names, and its source user's current email and contact group's current name. Names are as of the \
        last run: every run resolves the source and each destination by id and records the names it finds when \
        they changed (`names_refreshed_at` says when), without changing the version (the ETag); a create or update \
        resolves them too. A sync that has not run since its last create or update shows the names resolved then.",
    params(("id" = String, Path, description = "The sync id")),
    responses(
        (status = 200, description = "The sync", body = SyncView, headers(
            ("ETag" = String, description = "The version, for `If-Match` on updates")
        )),
        (status = 404, description = "No such sync", body = ErrorBody),
        (status = 503, description = "DynamoDB is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn get_sync() {}

#[utoipa::path(
    patch,
    path = "/syncs/{id}",
    operation_id = "updateSync",
    tag = "syncs",
    summary = "Update a sync",
    description = "Absent fields keep their value. New references are resolved like on create. Needs `If-Match` \
        with the ETag of the version the change is based on.",
    params(
        ("id" = String, Path, description = "The sync id"),
        ("If-Match" = String, Header, description = "The sync's ETag, e.g. `\"3\"`")
    ),
    request_body = UpdateSyncRequest,
    responses(
        (status = 200, description = "The updated sync", body = SyncDefinition, headers(
            ("ETag" = String, description = "The new version")
        )),
        (status = 400, description = "Malformed JSON, a wrong type, or an unknown field", body = ErrorBody),
        (status = 404, description = "No such sync", body = ErrorBody),
        (status = 412, description = "`If-Match` is not the current version", body = ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = ErrorBody),
        (status = 422, description = "Invalid values or unknown references (`field` names it)", body = ErrorBody),
        (status = 428, description = "`If-Match` is missing", body = ErrorBody),
        (status = 502, description = "Google refused the request", body = ErrorBody),
        (status = 503, description = "Google or DynamoDB is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn update_sync() {}

#[utoipa::path(
    delete,
    path = "/syncs/{id}",
    operation_id = "deleteSync",
    tag = "syncs",
    summary = "Delete a sync",
    description = "With `remove_contacts=true`, disables the sync and starts a clean-up run that removes the \
        synced contacts and labels from every destination and then deletes the sync (202). Otherwise the sync \
        and its history are deleted now and the synced contacts stay where they are (204).",
    params(
        ("id" = String, Path, description = "The sync id"),
        ("remove_contacts" = Option<bool>, Query, description = "Remove the synced contacts first (default false)"),
        ("If-Match" = Option<String>, Header, description = "Only delete this version")
    ),
    responses(
        (status = 202, description = "Clean-up run started", body = Run, headers(
            ("Location" = String, description = "`/syncs/{id}/runs/{run_id}`")
        )),
        (status = 204, description = "Deleted"),
        (status = 400, description = "`remove_contacts` is not true or false", body = ErrorBody),
        (status = 404, description = "No such sync", body = ErrorBody),
        (status = 409, description = "A run is in progress (only with `remove_contacts=true`)", body = ErrorBody),
        (status = 412, description = "`If-Match` is not the current version", body = ErrorBody),
        (status = 503, description = "DynamoDB or the executor is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn delete_sync() {}

#[utoipa::path(
    post,
    path = "/syncs/{id}/runs",
    operation_id = "startRun",
    tag = "runs",
    summary = "Start a run now",
    params(("id" = String, Path, description = "The sync id")),
    request_body(content = Option<StartRunRequest>, description = "Optional; `{\"dry_run\": true}` plans without writing"),
    responses(
        (status = 202, description = "The run was recorded as `running` and handed to the executor", body = Run, headers(
            ("Location" = String, description = "`/syncs/{id}/runs/{run_id}`")
        )),
        (status = 400, description = "Malformed JSON or an unknown field", body = ErrorBody),
        (status = 404, description = "No such sync", body = ErrorBody),
        (status = 409, description = "A run of this sync is in progress", body = ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = ErrorBody),
        (status = 503, description = "DynamoDB or the executor is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn start_run() {}

#[utoipa::path(
    get,
    path = "/syncs/{id}/runs",
    operation_id = "listRuns",
    tag = "runs",
    summary = "List a sync's runs, newest first",
    params(
        ("id" = String, Path, description = "The sync id"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 25)", minimum = 1, maximum = 100),
        ("next_token" = Option<String>, Query, description = "`next_token` of the previous page")
    ),
    responses(
        (status = 200, description = "One page", body = RunList),
        (status = 400, description = "`limit` out of range or `next_token` not issued by this API", body = ErrorBody),
        (status = 404, description = "No such sync", body = ErrorBody),
        (status = 503, description = "DynamoDB is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn list_runs() {}

#[utoipa::path(
    get,
    path = "/syncs/{id}/runs/{run_id}",
    operation_id = "getRun",
    tag = "runs",
    summary = "Get one run with its per-destination results",
    params(
        ("id" = String, Path, description = "The sync id"),
        ("run_id" = String, Path, description = "The run id")
    ),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 503, description = "DynamoDB is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn get_run() {}

#[utoipa::path(
    get,
    path = "/directory/search",
    operation_id = "searchDirectory",
    tag = "directory",
    summary = "Search users, groups, org units and domains",
    description = "Users whose email (or alias), given or family name starts with `q`; groups whose email or \
        name starts with `q`; org units whose path or name contains `q`; domains whose name contains `q`. At \
        most 20 of each type. Each result's `type` and `id` can be used as a destination.",
    params(("q" = String, Query, description = "2 to 100 characters", min_length = 2, max_length = 100)),
    responses(
        (status = 200, description = "Matches, users first", body = DirectorySearchResults),
        (status = 400, description = "`q` is missing, shorter than 2 or longer than 100 characters", body = ErrorBody),
        (status = 502, description = "Google refused the request", body = ErrorBody),
        (status = 503, description = "Google is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn search_directory() {}

#[utoipa::path(
    get,
    path = "/users/{user}/contact-groups",
    operation_id = "listContactGroups",
    tag = "directory",
    summary = "List a user's own contact groups",
    params(("user" = String, Path, description = "Primary email, alias or immutable id of the user")),
    responses(
        (status = 200, description = "The user's contact groups", body = ContactGroupList),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "The user is suspended or archived", body = ErrorBody),
        (status = 502, description = "Google refused the request", body = ErrorBody),
        (status = 503, description = "Google is unavailable; retry later", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn list_contact_groups() {}
