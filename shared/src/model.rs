//! The domain model: sync definitions, destinations, runs and per-destination results.
//!
//! Everything that names a Google object keeps Google's immutable id next to the last name we saw for it, so
//! renames of users, groups and org units never break a sync.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Generates a new ULID string (sync ids, run ids).
pub fn new_id() -> String {
    ulid::Ulid::generate().to_string()
}

/// What kind of directory object a destination names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    User,
    Group,
    OrgUnit,
    Domain,
}

/// One resolved destination of a sync: an immutable Google id plus the last known human-readable name.
///
/// `display` is the name found when the destination was last resolved by immutable id: on create and update, and by
/// every run (which records names that changed without changing the sync's version); API responses show the newest.
///
/// - `User`: `id` = the user's numeric id, `display` = current primary email.
/// - `Group`: `id` = the group's id, `display` = current group email.
/// - `OrgUnit`: `id` = `orgUnitId` (`id:...`), `display` = current `orgUnitPath`.
/// - `Domain`: `id` = the domain name (domains have no other id), `display` = the domain name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Destination {
    #[serde(rename = "type")]
    pub kind: DestinationKind,
    pub id: String,
    pub display: String,
}

/// The source of a sync: a user (by immutable id) and one of that user's contact groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Source {
    /// The source user's immutable Directory id.
    pub user_id: String,
    /// The source user's primary email when last resolved (on create and update, and by every run).
    pub user_email: String,
    /// The contact group's resource name in the source user's account (`contactGroups/...`), immutable.
    pub contact_group: String,
    /// The contact group's name when last resolved (like `user_email`).
    pub contact_group_name: String,
}

/// What happens to a user who leaves a sync's audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaverPolicy {
    /// Delete the contacts this sync created and its label (the default).
    #[default]
    Remove,
    /// Keep the contacts but drop the sync's markers so they become the user's own.
    KeepUnmanaged,
}

/// A stored sync definition (`SYNC#<id>` / `DEF`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncDefinition {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub source: Source,
    pub destinations: Vec<Destination>,
    /// The label (contact group) created in each destination user's account. Defaults to the source group's name.
    pub label_name: String,
    pub enabled: bool,
    #[serde(default)]
    pub leaver_policy: LeaverPolicy,
    /// Optimistic-concurrency version; starts at 1 and grows by one on every definition update.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// Summary of the most recent finished run, if any. Not part of the versioned definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunSummary>,
    /// The names the executor last found for the source and the destinations, when a run found them different
    /// from what the definition showed. Not part of the versioned definition (recording them leaves `version`
    /// alone); API responses fold them into `source` and `destinations` ([`SyncDefinition::with_current_names`])
    /// instead of returning this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub current_names: Option<CurrentNames>,
}

/// The current directory names of a sync's source and destinations, as one run read them by immutable id.
///
/// The executor records them on the definition ([`SyncStore::set_current_names`](crate::store::SyncStore::set_current_names)) only
/// when they differ from the names the definition shows, so a run that finds nothing renamed writes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentNames {
    /// The source user's primary email.
    pub source_user_email: String,
    /// The source contact group's name.
    pub contact_group_name: String,
    /// Each destination's display name (user or group email, org unit path, domain) by destination id. A
    /// destination the run could not resolve keeps the name it had.
    #[serde(default)]
    pub destinations: BTreeMap<String, String>,
    /// When the run read these names from Google.
    pub refreshed_at: DateTime<Utc>,
}

impl SyncDefinition {
    /// The definition with the newest names known for its source and destinations, and when a run read them.
    ///
    /// The definition's own names are as of its last create or update, which resolved new references and kept
    /// the newest known names of the others. Recorded [`CurrentNames`] read after that replace the source user's
    /// email, the contact group's name and each destination's `display` they have a name for, and their
    /// `refreshed_at` is returned; older ones are ignored (`None`: the names are the definition's own). Either way
    /// `current_names` is taken out, and nothing else changes (not the `version`).
    pub fn with_current_names(mut self) -> (SyncDefinition, Option<DateTime<Utc>>) {
        let Some(names) = self
            .current_names
            .take()
            .filter(|names| names.refreshed_at > self.updated_at)
        else {
            return (self, None);
        };
        self.source.user_email = names.source_user_email;
        self.source.contact_group_name = names.contact_group_name;
        for destination in &mut self.destinations {
            if let Some(display) = names.destinations.get(&destination.id) {
                destination.display.clone_from(display);
            }
        }
        (self, Some(names.refreshed_at))
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Create,
    Schedule,
    Manual,
    /// The clean-up run started by `DELETE /syncs/{id}?remove_contacts=true`.
    Delete,
}

impl Trigger {
    /// The trigger's name as the API shows it; a run's `requested_by` when nobody else is named.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Create => "create",
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Delete => "delete",
        }
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Make every destination match the source.
    #[default]
    Apply,
    /// Plan only: record what would be created, updated and deleted; write nothing to Google.
    DryRun,
    /// Remove this sync's contacts and labels from every destination, then delete the definition.
    Cleanup,
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Queued or in progress (possibly across several invocations).
    Running,
    /// Every destination succeeded.
    Succeeded,
    /// Some destinations failed; the others were synced.
    PartiallyFailed,
    /// The run as a whole failed (e.g. the source user or group is gone); `error` says why.
    Failed,
    /// Not run because another run of the same sync held the lease.
    Skipped,
}

impl RunStatus {
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Running)
    }
}

/// Counts over all destinations of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct RunTotals {
    pub users: u32,
    pub succeeded_users: u32,
    pub failed_users: u32,
    pub removed_users: u32,
    pub created: u32,
    pub updated: u32,
    pub deleted: u32,
    pub unchanged: u32,
}

/// One run of a sync (`SYNC#<id>` / `RUN#<run id>`). Per-destination results are stored as separate items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    pub sync_id: String,
    pub run_id: String,
    pub trigger: Trigger,
    pub mode: RunMode,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub totals: RunTotals,
    /// Why the run failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many executor invocations this run has taken (continuations after a deadline add one each).
    #[serde(default)]
    pub invocations: u32,
    /// Who asked for the run (`scheduler`, or the API caller's identity).
    #[serde(default)]
    pub requested_by: String,
}

impl Run {
    /// A run that has just started (`running`, no invocation yet, nothing counted).
    pub fn new(
        sync_id: &str,
        run_id: &str,
        trigger: Trigger,
        mode: RunMode,
        requested_by: &str,
        started_at: DateTime<Utc>,
    ) -> Run {
        Run {
            sync_id: sync_id.to_owned(),
            run_id: run_id.to_owned(),
            trigger,
            mode,
            status: RunStatus::Running,
            started_at,
            finished_at: None,
            totals: RunTotals::default(),
            error: None,
            invocations: 0,
            requested_by: requested_by.to_owned(),
        }
    }
}

/// The short form of a run kept on the definition for listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunSummary {
    pub run_id: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub totals: RunTotals,
}

impl From<&Run> for RunSummary {
    fn from(run: &Run) -> Self {
        RunSummary {
            run_id: run.run_id.clone(),
            status: run.status,
            started_at: run.started_at,
            finished_at: run.finished_at,
            totals: run.totals,
        }
    }
}

/// The outcome for one destination user in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DestinationStatus {
    Succeeded,
    Failed,
    /// The user left the audience and this sync's contacts were removed (or released).
    Removed,
}

/// What a dry run would do to one contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlannedChange {
    /// The source contact's resource name (creates, updates) or the destination contact's (deletes).
    pub resource_name: String,
    /// The contact's display name, for reading the plan. Stored only for dry runs.
    #[serde(default)]
    pub display_name: String,
}

/// The planned changes for one destination, recorded by dry runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct PlannedChanges {
    pub creates: Vec<PlannedChange>,
    pub updates: Vec<PlannedChange>,
    pub deletes: Vec<PlannedChange>,
}

/// One destination user's result in one run (`SYNC#<id>` / `RESULT#<run id>#<user id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DestinationResult {
    pub user_id: String,
    pub email: String,
    pub status: DestinationStatus,
    pub created: u32,
    pub updated: u32,
    pub deleted: u32,
    pub unchanged: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Dry runs only: what would change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<PlannedChanges>,
    pub finished_at: DateTime<Utc>,
}

/// What the executor remembers about one destination user between runs (`SYNC#<id>` / `DEST#<user id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DestinationState {
    pub user_id: String,
    /// The user's primary email when last synced.
    pub email: String,
    /// The label's resource name in that user's account, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<DestinationStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The event the executor Lambda receives (from the API, the scheduler, or its own continuation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutorEvent {
    pub sync_id: String,
    /// Continue (or start) this run; absent = start a new run with a fresh id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub trigger: Trigger,
    #[serde(default)]
    pub mode: RunMode,
    /// Who asked (recorded on the run). Defaults to the trigger's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// Which invocation of the run this event starts: the executor's own continuations carry 2, 3, ...; absent
    /// means the first. The executor claims the number on the run record once, so a repeated delivery of the same
    /// event (asynchronous Lambda invokes are at-least-once) does nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation: Option<u32>,
}

impl ExecutorEvent {
    /// The event that starts (`invocation` `None`) or continues (`Some(n)`, the run's n-th invocation) a recorded run.
    pub fn for_run(run: &Run, invocation: Option<u32>) -> ExecutorEvent {
        ExecutorEvent {
            sync_id: run.sync_id.clone(),
            run_id: Some(run.run_id.clone()),
            trigger: run.trigger,
            mode: run.mode,
            requested_by: Some(run.requested_by.clone()),
            invocation,
        }
    }

    /// The event of a scheduled run of `sync_id`: the executor records the run under a new id.
    pub fn scheduled(sync_id: &str, requested_by: &str) -> ExecutorEvent {
        ExecutorEvent {
            sync_id: sync_id.to_owned(),
            run_id: None,
            trigger: Trigger::Schedule,
            mode: RunMode::Apply,
            requested_by: Some(requested_by.to_owned()),
            invocation: None,
        }
    }

    /// Who asked for the run: the event's `requested_by`, else the trigger's name.
    pub fn requester(&self) -> &str {
        self.requested_by
            .as_deref()
            .unwrap_or_else(|| self.trigger.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executor_event_parses_the_documented_shape() {
        let ev: ExecutorEvent = serde_json::from_str(
            r#"{"sync_id":"01J","run_id":"01K","trigger":"schedule","mode":"dry_run"}"#,
        )
        .expect("valid event");
        assert_eq!(ev.trigger, Trigger::Schedule);
        assert_eq!(ev.mode, RunMode::DryRun);
        assert_eq!(ev.run_id.as_deref(), Some("01K"));
    }

    #[test]
    fn executor_event_defaults_to_apply_and_rejects_unknown_fields() {
        let ev: ExecutorEvent =
            serde_json::from_str(r#"{"sync_id":"01J","trigger":"manual"}"#).expect("valid event");
        assert_eq!(ev.mode, RunMode::Apply);
        assert!(
            serde_json::from_str::<ExecutorEvent>(r#"{"sync_id":"a","trigger":"manual","x":1}"#)
                .is_err()
        );
    }

    #[test]
    fn executor_event_carries_an_optional_invocation() {
        let ev: ExecutorEvent = serde_json::from_str(
            r#"{"sync_id":"01J","run_id":"01K","trigger":"manual","invocation":3}"#,
        )
        .expect("valid event");
        assert_eq!(ev.invocation, Some(3));
        let first: ExecutorEvent =
            serde_json::from_str(r#"{"sync_id":"01J","run_id":"01K","trigger":"manual"}"#)
                .expect("an event without an invocation (the first, or from before the field)");
        assert_eq!(first.invocation, None);
        let json = serde_json::to_value(&first).expect("serialise");
        assert!(json.get("invocation").is_none(), "{json}");
    }

    fn definition() -> SyncDefinition {
        let at = |secs: i64| DateTime::from_timestamp(1_767_225_600 + secs, 0).unwrap_or_default();
        SyncDefinition {
            id: "S1".into(),
            name: "Partners".into(),
            description: String::new(),
            source: Source {
                user_id: "u1".into(),
                user_email: "sam@example.com".into(),
                contact_group: "contactGroups/abc".into(),
                contact_group_name: "Partners".into(),
            },
            destinations: vec![
                Destination {
                    kind: DestinationKind::User,
                    id: "u2".into(),
                    display: "bob@example.com".into(),
                },
                Destination {
                    kind: DestinationKind::OrgUnit,
                    id: "id:ou1".into(),
                    display: "/Sales".into(),
                },
            ],
            label_name: "Partners".into(),
            enabled: true,
            leaver_policy: LeaverPolicy::Remove,
            version: 3,
            created_at: at(0),
            created_by: "admin".into(),
            updated_at: at(100),
            updated_by: "admin".into(),
            last_run: None,
            current_names: None,
        }
    }

    fn names(refreshed_at: DateTime<Utc>) -> CurrentNames {
        CurrentNames {
            source_user_email: "samuel@example.com".into(),
            contact_group_name: "Suppliers".into(),
            destinations: BTreeMap::from([
                ("u2".to_owned(), "robert@example.com".to_owned()),
                ("gone".to_owned(), "old@example.com".to_owned()),
            ]),
            refreshed_at,
        }
    }

    #[test]
    fn newer_current_names_replace_the_shown_names_only() {
        let def = definition();
        let read = def.updated_at + chrono::Duration::seconds(1);
        let with_names = SyncDefinition {
            current_names: Some(names(read)),
            ..def.clone()
        };
        let (shown, refreshed_at) = with_names.with_current_names();
        assert_eq!(refreshed_at, Some(read));
        assert_eq!(shown.source.user_email, "samuel@example.com");
        assert_eq!(shown.source.contact_group_name, "Suppliers");
        assert_eq!(shown.source.user_id, def.source.user_id);
        assert_eq!(shown.destinations[0].display, "robert@example.com");
        assert_eq!(shown.destinations[0].id, "u2");
        assert_eq!(
            shown.destinations[1], def.destinations[1],
            "no name recorded for it"
        );
        assert_eq!(shown.current_names, None);
        assert_eq!(
            (shown.version, shown.updated_at, &shown.label_name),
            (def.version, def.updated_at, &def.label_name)
        );
    }

    #[test]
    fn current_names_older_than_the_definition_are_ignored() {
        let def = definition();
        for read in [
            def.updated_at,
            def.updated_at - chrono::Duration::seconds(1),
        ] {
            let stale = SyncDefinition {
                current_names: Some(names(read)),
                ..def.clone()
            };
            assert_eq!(stale.with_current_names(), (def.clone(), None));
        }
        assert_eq!(def.clone().with_current_names(), (def, None));
    }

    #[test]
    fn current_names_are_optional_in_stored_definitions() {
        let mut json = serde_json::to_value(definition()).expect("serialise");
        assert!(json.get("current_names").is_none(), "{json}");
        json["current_names"] = serde_json::json!({
            "source_user_email": "samuel@example.com",
            "contact_group_name": "Suppliers",
            "refreshed_at": "2026-01-01T00:10:00Z"
        });
        let def: SyncDefinition = serde_json::from_value(json).expect("deserialise");
        let names = def.current_names.expect("names");
        assert!(names.destinations.is_empty());
        assert_eq!(names.source_user_email, "samuel@example.com");
    }

    #[test]
    fn destination_serialises_kind_as_type() {
        let d = Destination {
            kind: DestinationKind::OrgUnit,
            id: "id:03ph".into(),
            display: "/Sales".into(),
        };
        let v = serde_json::to_value(&d).expect("serialise");
        assert_eq!(v["type"], "org_unit");
    }
}
