//! The sample scenario behind `make demo`, played through the HTTP API of a running local stack: look at the
//! source user's contact groups, search the directory, create a sync and watch its first run, add a contact at
//! the source and fire the daily tick, rename a destination user and run again. Every step is checked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use contact_sync::google::http::{ApiCall, CallKind, build_http_client};
use contact_sync::google::people::GooglePeopleClient;
use contact_sync::google::{
    GoogleError, GoogleHttp, HttpConfig, PeopleApi, Person, RetryPolicy, ServiceAccountKey,
    TokenProvider,
};
use contact_sync::model::{DestinationResult, DestinationStatus, Run, RunStatus, Trigger};
use contact_sync::sync::markers;
use google_emulator::Seed;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::report::{CheckFailed, Reporter};

/// The Directory API scope users.patch needs (the admin's, not the sync's read-only ones).
const DIRECTORY_USER_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user";

/// How long one run may take before the demo gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// Where the scenario plays.
#[derive(Debug, Clone)]
pub struct DemoTarget {
    /// The local gateway, e.g. `http://127.0.0.1:3000`.
    pub api_url: String,
    /// The Google emulator (People and Directory APIs, and its control API under `/emulator/`).
    pub emulator_url: String,
    /// The service-account key the emulator trusts (to act as the source user and as the admin).
    pub key: ServiceAccountKey,
    /// The Workspace admin who renames a user.
    pub admin_email: String,
}

/// The emulator's demo seed, with users.patch's scope also authorised for the one service account the emulator
/// has: the demo plays the Workspace admin renaming a user, which in real life happens in the Admin console.
/// contact-sync itself only ever asks for the read-only scopes.
pub fn demo_seed() -> Seed {
    let mut seed = google_emulator::demo_seed();
    if !seed
        .delegation_scopes
        .iter()
        .any(|s| s == DIRECTORY_USER_SCOPE)
    {
        seed.delegation_scopes.push(DIRECTORY_USER_SCOPE.to_owned());
    }
    seed
}

/// The scenario's cast, matching the emulator's demo seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPlan {
    pub source_user: String,
    pub contact_group: String,
    pub search: String,
    pub sync_name: String,
    /// The org unit destination (a path).
    pub org_unit: String,
    /// The group destination (an email).
    pub group: String,
    /// The contact added at the source before the daily tick: given name, family name, email.
    pub new_contact: (String, String, String),
    /// The destination user renamed before the last run: current and new primary email.
    pub rename: (String, String),
}

impl DemoPlan {
    /// The demo seed's scenario: salesuser's "Sales Contacts" to everyone in /Accounting (sub-OUs included) and
    /// the accounting@ group (whose members, nested group included, overlap the org unit: nobody gets doubles).
    pub fn sample() -> Self {
        DemoPlan {
            source_user: "salesuser@example.com".to_owned(),
            contact_group: "Sales Contacts".to_owned(),
            search: "Accounting".to_owned(),
            sync_name: "Sales contacts for Accounting".to_owned(),
            org_unit: "/Accounting".to_owned(),
            group: "accounting@example.com".to_owned(),
            new_contact: (
                "Nora".to_owned(),
                "Newcomer".to_owned(),
                "nora.newcomer@customer.example".to_owned(),
            ),
            rename: (
                "ben@example.com".to_owned(),
                "benjamin.brooks@example.com".to_owned(),
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Check(#[from] CheckFailed),
    #[error("{what}: {detail}")]
    Http { what: String, detail: String },
    #[error("{what}: {source}")]
    Google {
        what: String,
        source: Box<GoogleError>,
    },
    #[error("{what} did not finish within {timeout:?}")]
    Timeout { what: String, timeout: Duration },
}

/// What the scenario established, for callers that want to look further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub sync_id: String,
    /// Destination users at the end (primary emails).
    pub destination_users: Vec<String>,
    /// Contacts each destination user holds from the sync at the end.
    pub contacts_per_user: usize,
    /// Checks that passed.
    pub checks: usize,
}

/// `GET /syncs/{id}/runs/{run_id}`.
#[derive(Debug, Clone, Deserialize)]
struct RunDetail {
    #[serde(flatten)]
    run: Run,
    results: Vec<DestinationResult>,
}

#[derive(Debug, Clone, Deserialize)]
struct RunList {
    items: Vec<Run>,
}

#[derive(Debug, Clone, Deserialize)]
struct ContactGroupList {
    user_email: String,
    contact_groups: Vec<ContactGroupSummary>,
}

#[derive(Debug, Clone, Deserialize)]
struct ContactGroupSummary {
    resource_name: String,
    name: String,
    member_count: u32,
}

#[derive(Debug, Clone, Deserialize)]
struct SearchResults {
    results: Vec<SearchEntry>,
}

#[derive(Debug, Clone, Deserialize)]
struct SearchEntry {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    display: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct CreatedSync {
    id: String,
    version: u64,
    #[serde(default)]
    run_id: Option<String>,
}

/// The HTTP API and the emulator, as the scenario calls them.
struct Clients {
    http: reqwest::Client,
    api_url: String,
    emulator_url: String,
    google: GoogleHttp,
    people: GooglePeopleClient,
    admin_email: String,
}

impl Clients {
    fn new(target: &DemoTarget) -> Result<Self, DemoError> {
        let google_error = |source| DemoError::Google {
            what: "setting up the Google clients".to_owned(),
            source: Box::new(source),
        };
        let client = build_http_client(&HttpConfig::default()).map_err(google_error)?;
        let tokens = TokenProvider::new(target.key.clone(), client.clone(), RetryPolicy::fast())
            .map_err(google_error)?;
        let google = GoogleHttp::new(client.clone(), Arc::new(tokens), RetryPolicy::fast());
        let people =
            GooglePeopleClient::new(google.clone(), &target.emulator_url).map_err(google_error)?;
        Ok(Clients {
            http: client,
            api_url: target.api_url.trim_end_matches('/').to_owned(),
            emulator_url: target.emulator_url.trim_end_matches('/').to_owned(),
            google,
            people,
            admin_email: target.admin_email.clone(),
        })
    }

    /// Calls the HTTP API; returns the status and the JSON body (`null` when empty).
    async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), DemoError> {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.api_url));
        if let Some(body) = body {
            request = request.json(body);
        }
        send_json(request, &what).await
    }

    /// Calls the API and requires `expected`, decoding the body as `T`.
    async fn api_expect<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> Result<T, DemoError> {
        let what = format!("{method} {path}");
        let (status, value) = self.api(method, path, body).await?;
        if status != expected {
            return Err(DemoError::Http {
                what,
                detail: format!("expected {expected}, got {status}: {value}"),
            });
        }
        serde_json::from_value(value).map_err(|e| DemoError::Http {
            what,
            detail: format!("unexpected response: {e}"),
        })
    }

    /// Every contact in `email`'s account, as the emulator's control API lists them.
    async fn emulator_contacts(&self, email: &str) -> Result<Vec<Person>, DemoError> {
        let path = format!("/emulator/users/{}/contacts", urlencoding::encode(email));
        let what = format!("GET {path} (emulator)");
        let (status, value) =
            send_json(self.http.get(format!("{}{path}", self.emulator_url)), &what).await?;
        if !status.is_success() {
            return Err(DemoError::Http {
                what,
                detail: format!("{status}: {value}"),
            });
        }
        serde_json::from_value(value).map_err(|e| DemoError::Http {
            what,
            detail: format!("unexpected response: {e}"),
        })
    }

    /// Renames a user through the Directory API's users.patch, as the admin.
    async fn rename_user(&self, user_key: &str, new_email: &str) -> Result<Value, DemoError> {
        let url = format!(
            "{}/admin/directory/v1/users/{}",
            self.emulator_url,
            urlencoding::encode(user_key)
        );
        let url = url::Url::parse(&url).map_err(|e| DemoError::Http {
            what: "users.patch".to_owned(),
            detail: e.to_string(),
        })?;
        let call = ApiCall {
            method_id: "directory.users.patch",
            http_method: Method::PATCH,
            url,
            query: Vec::new(),
            body: Some(json!({ "primaryEmail": new_email })),
            kind: CallKind::Write,
            subject: &self.admin_email,
            scopes: &[DIRECTORY_USER_SCOPE],
        };
        self.google
            .execute(&call)
            .await
            .map_err(|source| DemoError::Google {
                what: format!(
                    "renaming {user_key} to {new_email} (users.patch as {})",
                    self.admin_email
                ),
                source: Box::new(source),
            })
    }
}

async fn send_json(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<(StatusCode, Value), DemoError> {
    let response = request
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| DemoError::Http {
            what: what.to_owned(),
            detail: e.to_string(),
        })?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| DemoError::Http {
        what: what.to_owned(),
        detail: e.to_string(),
    })?;
    if bytes.is_empty() {
        return Ok((status, Value::Null));
    }
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok((status, value))
}

/// One destination user's contacts from this sync: source resource name -> display names seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Received {
    /// The user's primary email in this run.
    email: String,
    /// Contacts the user has that this sync does not manage (never touched).
    own: usize,
    /// How many contacts carry this sync's marker.
    managed: usize,
    /// Distinct sources among them.
    sources: BTreeSet<String>,
    names: BTreeSet<String>,
}

impl Received {
    fn from_contacts(email: &str, contacts: &[Person], sync_id: &str) -> Self {
        let mut received = Received {
            email: email.to_owned(),
            ..Received::default()
        };
        for person in contacts
            .iter()
            .filter(|p| markers::is_managed_by(p, sync_id))
        {
            received.managed += 1;
            if let Some(source) = markers::source_of(person) {
                received.sources.insert(source.to_owned());
            }
            received.names.insert(person.display_name());
        }
        received.own = contacts.len() - received.managed;
        received
    }

    fn has_duplicates(&self) -> bool {
        self.managed != self.sources.len()
    }
}

/// Plays the whole scenario; stops at the first failed check.
pub async fn run(
    target: &DemoTarget,
    plan: &DemoPlan,
    out: &mut Reporter,
) -> Result<DemoSummary, DemoError> {
    let clients = Clients::new(target)?;

    // 1. The source user's contact groups.
    out.step(&format!("{}'s contact groups", plan.source_user));
    let path = format!(
        "/users/{}/contact-groups",
        urlencoding::encode(&plan.source_user)
    );
    let groups: ContactGroupList = clients
        .api_expect(Method::GET, &path, None, StatusCode::OK)
        .await?;
    out.info(format!("GET /users/{}/contact-groups", plan.source_user));
    let rows: Vec<Vec<String>> = groups
        .contact_groups
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                g.resource_name.clone(),
                g.member_count.to_string(),
            ]
        })
        .collect();
    out.table(&["contact group", "resource name", "members"], &rows);
    let source_group = groups
        .contact_groups
        .iter()
        .find(|g| g.name == plan.contact_group);
    out.check(
        source_group.is_some_and(|g| g.member_count > 0),
        format!(
            "{} has a non-empty \"{}\" group",
            groups.user_email, plan.contact_group
        ),
    )?;
    let source_count = source_group.map_or(0, |g| g.member_count as usize);
    let source_group_resource = source_group
        .map(|g| g.resource_name.clone())
        .unwrap_or_default();

    // 2. The directory search box.
    out.step(&format!("Search the directory for \"{}\"", plan.search));
    let path = format!("/directory/search?q={}", urlencoding::encode(&plan.search));
    let found: SearchResults = clients
        .api_expect(Method::GET, &path, None, StatusCode::OK)
        .await?;
    out.info(format!("GET {path}"));
    let rows: Vec<Vec<String>> = found
        .results
        .iter()
        .map(|r| {
            vec![
                r.kind.clone(),
                r.display.clone(),
                r.name.clone().unwrap_or_default(),
                r.id.clone(),
            ]
        })
        .collect();
    out.table(&["type", "email / path", "name", "immutable id"], &rows);
    let has = |kind: &str, display: &str| {
        found
            .results
            .iter()
            .any(|r| r.kind == kind && r.display.eq_ignore_ascii_case(display))
    };
    out.check(
        has("org_unit", &plan.org_unit) && has("group", &plan.group),
        format!(
            "the org unit {} and the group {} are found",
            plan.org_unit, plan.group
        ),
    )?;

    // 3. Create the sync, running immediately.
    out.step(&format!("Create the sync \"{}\"", plan.sync_name));
    let body = json!({
        "name": plan.sync_name,
        "description": "Everyone in Accounting gets the sales team's shared contacts.",
        "source_user": plan.source_user,
        "contact_group": plan.contact_group,
        "destinations": [
            {"type": "org_unit", "value": plan.org_unit},
            {"type": "group", "value": plan.group},
        ],
        "run_immediately": true,
    });
    out.info(format!(
        "POST /syncs  source {} / \"{}\" → org unit {} + group {}",
        plan.source_user, plan.contact_group, plan.org_unit, plan.group
    ));
    let created: CreatedSync = clients
        .api_expect(Method::POST, "/syncs", Some(&body), StatusCode::CREATED)
        .await?;
    out.check(
        created.version == 1,
        format!("created sync {} (version 1)", created.id),
    )?;
    let sync_id = created.id.clone();
    let Some(first_run_id) = created.run_id.clone() else {
        return Err(CheckFailed("the create response names the run it started".to_owned()).into());
    };
    out.check(true, format!("run {first_run_id} started immediately"))?;

    let first = wait_for_run(&clients, out, &sync_id, &first_run_id).await?;
    out.check_eq(
        first.run.status,
        RunStatus::Succeeded,
        "the first run succeeded",
    )?;
    out.check(
        !first.results.is_empty(),
        format!("{} destination users were synced", first.results.len()),
    )?;
    let received = show_destinations(&clients, out, &sync_id, &first.results, true).await?;
    check_every_user(out, &received, source_count)?;
    let own_before: BTreeMap<String, usize> =
        received.iter().map(|(id, r)| (id.clone(), r.own)).collect();

    // 4. A new contact at the source, then the daily tick.
    out.step("Add a contact at the source, then fire the daily tick");
    let (given, family, email) = &plan.new_contact;
    add_source_contact(
        &clients,
        &plan.source_user,
        &source_group_resource,
        given,
        family,
        email,
    )
    .await?;
    out.info(format!(
        "People API as {}: created {given} {family} <{email}> in \"{}\"",
        plan.source_user, plan.contact_group
    ));
    let (status, summary) = clients.api(Method::POST, "/local/schedule", None).await?;
    out.info(format!("POST /local/schedule → {summary}"));
    out.check(
        status == StatusCode::OK && summary["dispatched"].as_u64().unwrap_or(0) >= 1,
        "the scheduler dispatched the sync's daily run",
    )?;
    let scheduled_run_id =
        wait_for_new_run(&clients, &sync_id, &first_run_id, Trigger::Schedule).await?;
    let scheduled = wait_for_run(&clients, out, &sync_id, &scheduled_run_id).await?;
    out.check_eq(
        scheduled.run.status,
        RunStatus::Succeeded,
        "the scheduled run succeeded",
    )?;
    let received = show_destinations(&clients, out, &sync_id, &scheduled.results, false).await?;
    let new_name = format!("{given} {family}");
    out.check(
        received.values().all(|r| r.names.contains(&new_name)),
        format!("{new_name} arrived at every destination user"),
    )?;
    check_every_user(out, &received, source_count + 1)?;

    // 5. Rename a destination user, run again.
    out.step("Rename a destination user, then run again");
    let (old_email, new_email) = &plan.rename;
    let Some(renamed) = scheduled
        .results
        .iter()
        .find(|r| &r.email == old_email && r.status == DestinationStatus::Succeeded)
        .cloned()
    else {
        return Err(CheckFailed(format!("{old_email} is a destination user")).into());
    };
    clients.rename_user(&renamed.email, new_email).await?;
    out.info(format!(
        "Directory API as {}: users.patch {} → {new_email}",
        clients.admin_email, renamed.email
    ));
    let run_path = format!("/syncs/{sync_id}/runs");
    let manual: Run = clients
        .api_expect(
            Method::POST,
            &run_path,
            Some(&json!({"dry_run": false})),
            StatusCode::ACCEPTED,
        )
        .await?;
    out.info(format!("POST {run_path} → run {}", manual.run_id));
    let third = wait_for_run(&clients, out, &sync_id, &manual.run_id).await?;
    out.check_eq(
        third.run.status,
        RunStatus::Succeeded,
        "the run after the rename succeeded",
    )?;
    let received = show_destinations(&clients, out, &sync_id, &third.results, false).await?;
    let renamed_result = third.results.iter().find(|r| r.user_id == renamed.user_id);
    out.check(
        renamed_result
            .is_some_and(|r| &r.email == new_email && r.status == DestinationStatus::Succeeded),
        format!("the renamed user is still served, as {new_email}"),
    )?;
    out.check_eq(
        third.results.len(),
        scheduled.results.len(),
        "the same destination users as before",
    )?;
    out.check_eq(third.run.totals.created, 0, "nothing was created again")?;
    check_every_user(out, &received, source_count + 1)?;
    let own_after: BTreeMap<String, usize> =
        received.iter().map(|(id, r)| (id.clone(), r.own)).collect();
    let with_own: Vec<String> = received
        .values()
        .filter(|r| r.own > 0)
        .map(|r| format!("{} keeps {}", r.email, r.own))
        .collect();
    out.check(
        own_after == own_before,
        format!(
            "the users' own contacts were never touched ({})",
            if with_own.is_empty() {
                "none had any".to_owned()
            } else {
                with_own.join(", ")
            }
        ),
    )?;

    Ok(DemoSummary {
        sync_id,
        destination_users: received.values().map(|r| r.email.clone()).collect(),
        contacts_per_user: source_count + 1,
        checks: out.passed(),
    })
}

/// Polls a run until it finishes, showing progress; prints its timing.
async fn wait_for_run(
    clients: &Clients,
    out: &mut Reporter,
    sync_id: &str,
    run_id: &str,
) -> Result<RunDetail, DemoError> {
    let path = format!("/syncs/{sync_id}/runs/{run_id}");
    let started = Instant::now();
    let mut tick = 0usize;
    loop {
        let (status, value) = clients.api(Method::GET, &path, None).await?;
        // The executor records the run when it starts; until then the run is not found.
        if status == StatusCode::OK {
            let detail: RunDetail = serde_json::from_value(value).map_err(|e| DemoError::Http {
                what: format!("GET {path}"),
                detail: format!("unexpected response: {e}"),
            })?;
            if detail.run.status.is_finished() {
                let totals = detail.run.totals;
                out.info(format!(
                    "run {run_id} ({}) finished in {:.1} s: {} users, {} created, {} updated, {} unchanged, {} deleted",
                    trigger_name(detail.run.trigger),
                    started.elapsed().as_secs_f64(),
                    totals.users,
                    totals.created,
                    totals.updated,
                    totals.unchanged,
                    totals.deleted,
                ));
                return Ok(detail);
            }
            out.progress(&format!(
                "{}run {run_id} running · {:.1} s · {} destination users done",
                spin(out, tick),
                started.elapsed().as_secs_f64(),
                detail.results.len()
            ));
        } else if status == StatusCode::NOT_FOUND {
            out.progress(&format!(
                "{}run {run_id} queued · {:.1} s",
                spin(out, tick),
                started.elapsed().as_secs_f64()
            ));
        } else {
            return Err(DemoError::Http {
                what: format!("GET {path}"),
                detail: format!("{status}: {value}"),
            });
        }
        if started.elapsed() > RUN_TIMEOUT {
            return Err(DemoError::Timeout {
                what: format!("run {run_id}"),
                timeout: RUN_TIMEOUT,
            });
        }
        tick += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// A spinner frame (and a space) on a terminal, nothing elsewhere.
fn spin(out: &Reporter, tick: usize) -> String {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    if out.is_terminal() {
        format!("{} ", FRAMES[tick % FRAMES.len()])
    } else {
        String::new()
    }
}

/// Waits until the sync has a run with `trigger` other than `previous` and returns its id.
async fn wait_for_new_run(
    clients: &Clients,
    sync_id: &str,
    previous: &str,
    trigger: Trigger,
) -> Result<String, DemoError> {
    let path = format!("/syncs/{sync_id}/runs?limit=10");
    let started = Instant::now();
    loop {
        let runs: RunList = clients
            .api_expect(Method::GET, &path, None, StatusCode::OK)
            .await?;
        if let Some(run) = runs
            .items
            .iter()
            .find(|r| r.trigger == trigger && r.run_id != previous)
        {
            return Ok(run.run_id.clone());
        }
        if started.elapsed() > RUN_TIMEOUT {
            return Err(DemoError::Timeout {
                what: format!("a {} run of sync {sync_id}", trigger_name(trigger)),
                timeout: RUN_TIMEOUT,
            });
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn trigger_name(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Create => "create",
        Trigger::Schedule => "schedule",
        Trigger::Manual => "manual",
        Trigger::Delete => "delete",
    }
}

/// Prints each destination user's result and what they hold from the sync (read back from the emulator), by
/// user id. `list_names`: also list the synced contacts' names.
async fn show_destinations(
    clients: &Clients,
    out: &mut Reporter,
    sync_id: &str,
    results: &[DestinationResult],
    list_names: bool,
) -> Result<BTreeMap<String, Received>, DemoError> {
    let mut received = BTreeMap::new();
    let mut sorted: Vec<&DestinationResult> = results.iter().collect();
    sorted.sort_by(|a, b| a.email.cmp(&b.email));
    let mut rows = Vec::new();
    for result in sorted {
        let contacts = clients.emulator_contacts(&result.email).await?;
        let mine = Received::from_contacts(&result.email, &contacts, sync_id);
        rows.push(vec![
            result.email.clone(),
            format!("{:?}", result.status).to_lowercase(),
            result.created.to_string(),
            result.updated.to_string(),
            result.unchanged.to_string(),
            mine.managed.to_string(),
            mine.own.to_string(),
        ]);
        received.insert(result.user_id.clone(), mine);
    }
    out.table(
        &[
            "destination user",
            "result",
            "created",
            "updated",
            "unchanged",
            "synced contacts",
            "own contacts",
        ],
        &rows,
    );
    if list_names {
        let names: BTreeSet<&str> = received
            .values()
            .flat_map(|r| r.names.iter().map(String::as_str))
            .collect();
        out.info("each of them received:");
        for line in wrap(&names.into_iter().collect::<Vec<_>>(), 100) {
            out.info(format!("  {line}"));
        }
    }
    Ok(received)
}

/// Joins words with ", " into lines of at most `width` characters.
fn wrap(words: &[&str], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in words {
        if !line.is_empty() && line.chars().count() + word.chars().count() + 2 > width {
            line.push(',');
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Every destination user holds exactly `expected` contacts from the sync, each source once.
fn check_every_user(
    out: &mut Reporter,
    received: &BTreeMap<String, Received>,
    expected: usize,
) -> Result<(), CheckFailed> {
    let wrong: Vec<String> = received
        .iter()
        .filter(|(_, r)| r.managed != expected)
        .map(|(_, r)| format!("{} has {}", r.email, r.managed))
        .collect();
    out.check(
        wrong.is_empty(),
        if wrong.is_empty() {
            format!("every destination user holds all {expected} contacts")
        } else {
            format!(
                "every destination user holds all {expected} contacts: {}",
                wrong.join(", ")
            )
        },
    )?;
    let doubled: Vec<&str> = received
        .values()
        .filter(|r| r.has_duplicates())
        .map(|r| r.email.as_str())
        .collect();
    out.check(
        doubled.is_empty(),
        if doubled.is_empty() {
            "no duplicates".to_owned()
        } else {
            format!("no duplicates (doubled at {doubled:?})")
        },
    )
}

/// Creates a contact in the source user's account and adds it to the source group, through the People API.
async fn add_source_contact(
    clients: &Clients,
    user: &str,
    group_resource: &str,
    given: &str,
    family: &str,
    email: &str,
) -> Result<(), DemoError> {
    let google = |what: &str| {
        let what = what.to_owned();
        move |source| DemoError::Google {
            what,
            source: Box::new(source),
        }
    };
    let mut person = Person::default();
    person.fields.insert(
        "names".to_owned(),
        json!([{ "givenName": given, "familyName": family }]),
    );
    person.fields.insert(
        "emailAddresses".to_owned(),
        json!([{ "value": email, "type": "work" }]),
    );
    clients
        .people
        .batch_create_contacts(user, &[person])
        .await
        .map_err(google("people.batchCreateContacts"))?;
    let connections = clients
        .people
        .list_connections(user, "names,emailAddresses")
        .await
        .map_err(google("people.connections.list"))?;
    let created = connections.iter().find(|p| {
        p.fields
            .get("emailAddresses")
            .and_then(Value::as_array)
            .is_some_and(|addresses| {
                addresses
                    .iter()
                    .any(|a| a.get("value").and_then(Value::as_str) == Some(email))
            })
    });
    let Some(resource_name) = created.and_then(|p| p.resource_name.clone()) else {
        return Err(CheckFailed(format!(
            "the new contact {email} is in {user}'s connections"
        ))
        .into());
    };
    clients
        .people
        .modify_contact_group_members(user, group_resource, &[resource_name], &[])
        .await
        .map_err(google("contactGroups.members.modify"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_wrap_at_the_width() {
        let lines = wrap(&["Ann Lee", "Bo Chen", "Cy Diaz"], 18);
        assert_eq!(lines, vec!["Ann Lee, Bo Chen,", "Cy Diaz"]);
        assert!(wrap(&[], 10).is_empty());
    }

    #[test]
    fn the_demo_seed_lets_the_admin_rename_users() {
        let seed = demo_seed();
        assert!(
            seed.delegation_scopes
                .iter()
                .any(|s| s == DIRECTORY_USER_SCOPE)
        );
        let plan = DemoPlan::sample();
        assert!(seed.users.iter().any(|u| u.email == plan.source_user));
        assert!(seed.users.iter().any(|u| u.email == plan.rename.0));
        assert!(seed.groups.iter().any(|g| g.email == plan.group));
        assert!(seed.org_units.contains(&plan.org_unit));
    }
}
