//! The engine's decisions about a run, as pure functions: no I/O, so each is tested on its own and the engine
//! ([`super::engine`]) only reads, calls one of these, and writes what it decided.
//!
//! - **Admission** ([`admit`]): an executor event starts the run's first invocation, or continues it with the
//!   invocation number it carries. A run that has finished, or whose invocation number was already taken, is a
//!   repeated delivery of the same event (asynchronous invokes are at-least-once): nothing is done.
//! - **A held lease** ([`lease_held`]): another run holds the sync. A run that never started is `skipped`; a run that
//!   already worked (a continuation) was taken over and has `failed`.
//! - **Leavers** ([`leavers`]): users served before (they have destination state) who are neither in the audience
//!   nor merely inactive (suspended, archived). Only a complete audience makes leavers: when a destination could not
//!   be resolved, nobody is a leaver, so a group deleted by mistake or unreadable for a moment never strips contacts.
//! - **Abandoned runs** ([`abandoned`]): another run still `running` that an executor had taken up was interrupted
//!   (timeout or crash: its lease is gone, since the deciding run holds it now); one that no executor ever took up is
//!   given up only once its event can no longer arrive ([`UNDELIVERED_RUN_AFTER_SECS`]).
//! - **The outcome** ([`totals`], [`final_status`]): a run's totals are the sum of its results; it `succeeded` when
//!   no user failed and nothing else went wrong, `failed` when it failed as a whole or no user succeeded or was
//!   removed, else `partially_failed`.
//! - **Renames** ([`names_changed`]): the names a run found are recorded only when they differ from those shown.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::resolve::Audience;
use crate::model::{
    CurrentNames, DestinationResult, DestinationState, DestinationStatus, ExecutorEvent, Run,
    RunStatus, RunSummary, RunTotals, SyncDefinition,
};

/// How old (in seconds) a run that no executor ever took up must be before it is given up as never started. Lambda
/// drops an asynchronous event once it is older than the executor's `MaximumEventAgeInSeconds` (6 hours in
/// `template.yaml`), and the last delivery may then run for the executor's timeout (15 minutes); an hour more is
/// margin. The template tests check the template stays within it.
pub const UNDELIVERED_RUN_AFTER_SECS: i64 = 7 * 60 * 60 + 15 * 60;

/// What an executor event does to the run it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The run has finished; nothing to do.
    AlreadyFinished(RunStatus),
    /// This invocation of the run was already taken by another delivery; nothing to do.
    Duplicate { invocation: u32 },
    /// Start this invocation of the run (1 for a run with no record yet).
    Start { invocation: u32 },
}

/// What `event` does to its run, recorded as `existing` (`None`: not recorded yet, e.g. a scheduled run).
pub fn admit(existing: Option<&Run>, event: &ExecutorEvent) -> Admission {
    let Some(run) = existing else {
        return Admission::Start { invocation: 1 };
    };
    if run.status.is_finished() {
        return Admission::AlreadyFinished(run.status);
    }
    let invocation = event.invocation.unwrap_or(1);
    if run.invocations >= invocation {
        Admission::Duplicate { invocation }
    } else {
        Admission::Start { invocation }
    }
}

/// The status and reason of `run` when another run (`holder`, until `until`) holds the sync's lease.
pub fn lease_held(run: &Run, holder: &str, until: DateTime<Utc>) -> (RunStatus, String) {
    if run.invocations > 0 {
        (
            RunStatus::Failed,
            format!("another run ({holder}) took over this sync before this run could continue"),
        )
    } else {
        (
            RunStatus::Skipped,
            format!(
                "skipped: another run ({holder}) of this sync is in progress (its lease runs until {})",
                until.to_rfc3339()
            ),
        )
    }
}

/// The users who left the audience: served before, now neither in it nor inactive. None when the audience is
/// incomplete.
pub fn leavers<'a>(
    states: &'a BTreeMap<String, DestinationState>,
    audience: &Audience,
) -> Vec<&'a DestinationState> {
    if !audience.is_complete() {
        return Vec::new();
    }
    states
        .values()
        .filter(|s| {
            !audience.users.contains_key(&s.user_id) && !audience.inactive.contains(&s.user_id)
        })
        .collect()
}

/// Why `run` is to be recorded as failed by run `current_run_id` at `now`, or `None` while it may still be worked
/// on: it is another run still `running`, and either an executor took it up (it was interrupted) or its event can
/// no longer arrive.
pub fn abandoned(run: &Run, current_run_id: &str, now: DateTime<Utc>) -> Option<String> {
    if run.run_id == current_run_id || run.status != RunStatus::Running {
        return None;
    }
    if run.invocations > 0 {
        return Some(format!(
            "interrupted: the executor stopped before finishing (timeout or crash); superseded by run \
             {current_run_id}"
        ));
    }
    let undelivered_before = now - chrono::Duration::seconds(UNDELIVERED_RUN_AFTER_SECS);
    (run.started_at < undelivered_before).then(|| {
        format!(
            "never started: no executor took this run up within {} hours (its event was lost or expired; the \
             executor's dead-letter queue holds undelivered events); superseded by run {current_run_id}",
            UNDELIVERED_RUN_AFTER_SECS / 3600
        )
    })
}

/// Sums the results of a run.
pub fn totals(results: &[DestinationResult]) -> RunTotals {
    let mut t = RunTotals::default();
    for r in results {
        t.users += 1;
        match r.status {
            DestinationStatus::Succeeded => t.succeeded_users += 1,
            DestinationStatus::Failed => t.failed_users += 1,
            DestinationStatus::Removed => t.removed_users += 1,
        }
        t.created += r.created;
        t.updated += r.updated;
        t.deleted += r.deleted;
        t.unchanged += r.unchanged;
    }
    t
}

/// A finished run's status from its totals, whether something besides the users went wrong (`error`, e.g. a
/// destination that could not be resolved), and whether the run failed as a whole.
pub fn final_status(totals: &RunTotals, error: Option<&str>, run_failed: bool) -> RunStatus {
    if run_failed {
        RunStatus::Failed
    } else if totals.failed_users == 0 && error.is_none() {
        RunStatus::Succeeded
    } else if totals.succeeded_users + totals.removed_users == 0 {
        RunStatus::Failed
    } else {
        RunStatus::PartiallyFailed
    }
}

/// Whether `names` differ from what `shown` shows for the source or any of its destinations.
pub fn names_changed(shown: &SyncDefinition, names: &CurrentNames) -> bool {
    shown.source.user_email != names.source_user_email
        || shown.source.contact_group_name != names.contact_group_name
        || shown
            .destinations
            .iter()
            .any(|d| names.destinations.get(&d.id) != Some(&d.display))
}

/// Whether run `a` started after run `b` (ULID run ids break ties in start time).
pub fn started_later(a: &RunSummary, b: &RunSummary) -> bool {
    (a.started_at, &a.run_id) > (b.started_at, &b.run_id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;

    use super::*;
    use crate::model::{Destination, DestinationKind};
    use crate::model::{RunMode, Trigger};
    use crate::sync::resolve::{DestinationError, DestinationUser};

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_767_225_600 + secs, 0)
            .single()
            .unwrap_or_default()
    }

    fn run(run_id: &str, status: RunStatus, invocations: u32, started_at: i64) -> Run {
        Run {
            status,
            invocations,
            ..Run::new(
                "S1",
                run_id,
                Trigger::Manual,
                RunMode::Apply,
                "ops",
                at(started_at),
            )
        }
    }

    fn event(invocation: Option<u32>) -> ExecutorEvent {
        ExecutorEvent {
            invocation,
            ..ExecutorEvent::for_run(&run("R1", RunStatus::Running, 0, 0), None)
        }
    }

    #[test]
    fn an_unrecorded_run_starts_at_its_first_invocation() {
        assert_eq!(
            admit(None, &event(Some(4))),
            Admission::Start { invocation: 1 }
        );
    }

    #[test]
    fn a_recorded_run_starts_the_invocation_its_event_carries_once() {
        let recorded = run("R1", RunStatus::Running, 0, 0);
        assert_eq!(
            admit(Some(&recorded), &event(None)),
            Admission::Start { invocation: 1 }
        );
        let after_one = run("R1", RunStatus::Running, 1, 0);
        assert_eq!(
            admit(Some(&after_one), &event(None)),
            Admission::Duplicate { invocation: 1 },
            "a second delivery of the first event"
        );
        assert_eq!(
            admit(Some(&after_one), &event(Some(2))),
            Admission::Start { invocation: 2 },
            "the continuation"
        );
        let after_two = run("R1", RunStatus::Running, 2, 0);
        assert_eq!(
            admit(Some(&after_two), &event(Some(2))),
            Admission::Duplicate { invocation: 2 }
        );
    }

    #[test]
    fn a_finished_run_is_never_started_again() {
        for status in [
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::PartiallyFailed,
            RunStatus::Skipped,
        ] {
            let finished = run("R1", status, 1, 0);
            assert_eq!(
                admit(Some(&finished), &event(Some(2))),
                Admission::AlreadyFinished(status)
            );
        }
    }

    #[test]
    fn a_held_lease_skips_a_new_run_and_fails_a_continuation() {
        let until = at(900);
        let (status, reason) = lease_held(&run("R2", RunStatus::Running, 0, 0), "R1", until);
        assert_eq!(status, RunStatus::Skipped);
        assert!(
            reason.contains("R1") && reason.contains(&until.to_rfc3339()),
            "{reason}"
        );
        let (status, reason) = lease_held(&run("R2", RunStatus::Running, 1, 0), "R1", until);
        assert_eq!(status, RunStatus::Failed);
        assert!(reason.contains("took over"), "{reason}");
    }

    fn state(user_id: &str) -> DestinationState {
        DestinationState {
            user_id: user_id.to_owned(),
            email: format!("{user_id}@example.com"),
            label_resource_name: None,
            last_run_id: None,
            last_status: None,
            last_error: None,
            updated_at: at(0),
        }
    }

    fn audience(users: &[&str], inactive: &[&str], errors: usize) -> Audience {
        Audience {
            users: users
                .iter()
                .map(|id| {
                    (
                        (*id).to_owned(),
                        DestinationUser {
                            id: (*id).to_owned(),
                            email: format!("{id}@example.com"),
                        },
                    )
                })
                .collect(),
            inactive: inactive
                .iter()
                .map(|id| (*id).to_owned())
                .collect::<BTreeSet<_>>(),
            errors: (0..errors)
                .map(|i| DestinationError {
                    destination: Destination {
                        kind: DestinationKind::Group,
                        id: format!("g{i}"),
                        display: format!("g{i}@example.com"),
                    },
                    error: "unreadable".to_owned(),
                })
                .collect(),
            destinations: Vec::new(),
        }
    }

    #[test]
    fn leavers_are_served_users_neither_in_the_audience_nor_inactive() {
        let states: BTreeMap<String, DestinationState> = ["u1", "u2", "u3", "u4"]
            .into_iter()
            .map(|id| (id.to_owned(), state(id)))
            .collect();
        let found = leavers(&states, &audience(&["u1", "u5"], &["u2"], 0));
        let ids: Vec<&str> = found.iter().map(|s| s.user_id.as_str()).collect();
        assert_eq!(ids, ["u3", "u4"]);
    }

    #[test]
    fn an_incomplete_audience_makes_no_leavers() {
        let states: BTreeMap<String, DestinationState> =
            [("u1".to_owned(), state("u1"))].into_iter().collect();
        assert!(leavers(&states, &audience(&[], &[], 1)).is_empty());
        assert_eq!(leavers(&states, &audience(&[], &[], 0)).len(), 1);
    }

    #[test]
    fn runs_taken_up_and_left_running_were_interrupted() {
        let now = at(3600);
        let reason = abandoned(&run("R1", RunStatus::Running, 2, 0), "R2", now).expect("abandoned");
        assert!(
            reason.starts_with("interrupted") && reason.contains("R2"),
            "{reason}"
        );
        assert_eq!(
            abandoned(&run("R2", RunStatus::Running, 1, 0), "R2", now),
            None,
            "itself"
        );
        assert_eq!(
            abandoned(&run("R1", RunStatus::Succeeded, 1, 0), "R2", now),
            None,
            "finished"
        );
    }

    #[test]
    fn a_run_never_taken_up_is_given_up_only_once_its_event_cannot_arrive() {
        let started = 0;
        let pending = run("R1", RunStatus::Running, 0, started);
        let just_before = at(started + UNDELIVERED_RUN_AFTER_SECS);
        assert_eq!(abandoned(&pending, "R2", just_before), None);
        let after = at(started + UNDELIVERED_RUN_AFTER_SECS + 1);
        let reason = abandoned(&pending, "R2", after).expect("given up");
        assert!(reason.starts_with("never started"), "{reason}");
    }

    fn result(status: DestinationStatus, created: u32) -> DestinationResult {
        DestinationResult {
            user_id: "u".to_owned(),
            email: "u@example.com".to_owned(),
            status,
            created,
            updated: 1,
            deleted: 2,
            unchanged: 3,
            error: None,
            planned: None,
            finished_at: at(0),
        }
    }

    #[test]
    fn totals_sum_every_result() {
        let t = totals(&[
            result(DestinationStatus::Succeeded, 5),
            result(DestinationStatus::Failed, 0),
            result(DestinationStatus::Removed, 0),
        ]);
        assert_eq!(
            (t.users, t.succeeded_users, t.failed_users, t.removed_users),
            (3, 1, 1, 1)
        );
        assert_eq!((t.created, t.updated, t.deleted, t.unchanged), (5, 3, 6, 9));
    }

    #[test]
    fn the_final_status_follows_the_users_and_the_run() {
        let with = |succeeded, failed, removed| RunTotals {
            users: succeeded + failed + removed,
            succeeded_users: succeeded,
            failed_users: failed,
            removed_users: removed,
            ..RunTotals::default()
        };
        assert_eq!(
            final_status(&with(3, 0, 0), None, false),
            RunStatus::Succeeded
        );
        assert_eq!(
            final_status(&with(0, 0, 0), None, false),
            RunStatus::Succeeded
        );
        assert_eq!(
            final_status(&with(3, 0, 0), Some("a group is gone"), false),
            RunStatus::PartiallyFailed
        );
        assert_eq!(
            final_status(&with(2, 1, 0), None, false),
            RunStatus::PartiallyFailed
        );
        assert_eq!(
            final_status(&with(0, 1, 1), None, false),
            RunStatus::PartiallyFailed
        );
        assert_eq!(final_status(&with(0, 2, 0), None, false), RunStatus::Failed);
        assert_eq!(final_status(&with(3, 0, 0), None, true), RunStatus::Failed);
    }

    fn found(sync: &SyncDefinition) -> CurrentNames {
        CurrentNames {
            source_user_email: sync.source.user_email.clone(),
            contact_group_name: sync.source.contact_group_name.clone(),
            destinations: sync
                .destinations
                .iter()
                .map(|d| (d.id.clone(), d.display.clone()))
                .collect(),
            refreshed_at: sync.updated_at,
        }
    }

    #[test]
    fn only_a_different_name_is_a_change() {
        let sync = crate::store::contract::definition("S1", "Sales");
        let same = found(&sync);
        assert!(!names_changed(&sync, &same));

        let mut renamed = same.clone();
        renamed.source_user_email = "owner2@example.com".to_owned();
        assert!(names_changed(&sync, &renamed));
        let mut renamed = same.clone();
        renamed.contact_group_name = "Suppliers".to_owned();
        assert!(names_changed(&sync, &renamed));
        let mut renamed = same.clone();
        renamed
            .destinations
            .insert("id:03ph8a2z2".to_owned(), "/Sales/Europe".to_owned());
        assert!(names_changed(&sync, &renamed));
        let mut missing = same;
        missing.destinations.remove("03ph8a2z1");
        assert!(names_changed(&sync, &missing));
    }

    #[test]
    fn runs_are_ordered_by_start_then_id() {
        let summary =
            |run_id: &str, secs| RunSummary::from(&run(run_id, RunStatus::Failed, 1, secs));
        assert!(started_later(&summary("A", 10), &summary("B", 5)));
        assert!(started_later(&summary("B", 5), &summary("A", 5)));
        assert!(!started_later(&summary("A", 5), &summary("A", 5)));
    }
}
