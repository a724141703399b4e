//! Applying plans to one destination user: ensure the label, read the user's contacts once, plan, write in batches.
//!
//! One user's writes are strictly sequential (Google's rule for mutations of one user). A write whose outcome is
//! unknown, or one refused because an etag is stale or a contact vanished meanwhile, is never repeated blindly: the
//! user's contacts are read again and a new plan is made, a bounded number of times. The markers make this safe: a
//! contact created by a call whose answer was lost is found on the re-read and not created again.

use std::collections::BTreeMap;

use super::plan::{self, Plan, SourceContact};
use crate::google::{COPYABLE_PERSON_FIELDS, GoogleError, PeopleApi, Person, limits};
use crate::model::{LeaverPolicy, PlannedChanges};

/// The Google group type of user-created contact groups.
const USER_CONTACT_GROUP: &str = "USER_CONTACT_GROUP";

/// Why one destination user could not be brought in line.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Google(#[from] GoogleError),
    /// Writes kept failing with unknown outcomes or stale etags.
    #[error("the contacts did not settle after {attempts} read-plan-write attempts")]
    NotConverged { attempts: u32 },
    #[error("the label {name:?} could not be created or found")]
    LabelUnavailable { name: String },
}

/// What was done (or, for dry runs, would be done) to one user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserOutcome {
    pub created: u32,
    pub updated: u32,
    pub deleted: u32,
    pub unchanged: u32,
    /// The label's resource name in the user's account, if it exists (after this run).
    pub label: Option<String>,
    /// Dry runs: the planned changes.
    pub planned: Option<PlannedChanges>,
}

/// What a destination user should end up with.
#[derive(Debug, Clone, Copy)]
pub struct SyncTarget<'a> {
    pub sync_id: &'a str,
    /// The label's name (the definition's `label_name`).
    pub label_name: &'a str,
    /// The label's resource name stored for this user, if any.
    pub stored_label: Option<&'a str>,
    pub sources: &'a BTreeMap<String, SourceContact>,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Read-plan-write attempts before giving up.
    pub max_attempts: u32,
}

/// Removing a sync from a user.
#[derive(Debug, Clone, Copy)]
pub struct RemovalTarget<'a> {
    pub sync_id: &'a str,
    pub label_name: &'a str,
    pub stored_label: Option<&'a str>,
    pub policy: LeaverPolicy,
    pub dry_run: bool,
    pub max_attempts: u32,
}

/// The personFields read from a destination user: what planning compares and what updates need.
pub fn destination_person_fields() -> String {
    let mut fields: Vec<&str> = COPYABLE_PERSON_FIELDS.to_vec();
    fields.extend(["clientData", "memberships", "metadata"]);
    fields.join(",")
}

/// The personFields read when removing a sync from a user (markers, labels, names for dry-run plans).
const REMOVAL_PERSON_FIELDS: &str = "names,clientData,memberships,metadata";

/// Brings one user's managed contacts in line with the source.
pub async fn sync_user(
    people: &dyn PeopleApi,
    user: &str,
    target: &SyncTarget<'_>,
) -> Result<UserOutcome, ApplyError> {
    let label = ensure_label(
        people,
        user,
        target.stored_label,
        target.label_name,
        !target.dry_run,
        target.max_attempts,
    )
    .await?;
    let fields = destination_person_fields();
    let mut outcome = UserOutcome {
        label: label.clone(),
        ..UserOutcome::default()
    };
    for attempt in 1..=target.max_attempts {
        let contacts = people.list_connections(user, &fields).await?;
        let plan = plan::plan(target.sync_id, label.as_deref(), target.sources, &contacts);
        // The listing (every contact of the user, ~20 KB each) is not needed while the writes go out: freeing it
        // here bounds an executor's memory by the plans in flight rather than whole address books.
        drop(contacts);
        outcome.unchanged = plan.unchanged;
        if target.dry_run {
            outcome.created = count(plan.creates.len());
            outcome.updated = count(plan.updates.len());
            outcome.deleted = count(plan.deletes.len());
            outcome.planned = Some(plan.changes);
            return Ok(outcome);
        }
        tracing::debug!(
            attempt,
            creates = plan.creates.len(),
            updates = plan.updates.len(),
            deletes = plan.deletes.len(),
            unchanged = plan.unchanged,
            "planned"
        );
        match write(people, user, &plan, &mut outcome).await {
            Ok(()) => return Ok(outcome),
            Err(e) if needs_replan(&e) => {
                tracing::warn!(attempt, error = %e, "write outcome unknown or stale; re-reading");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApplyError::NotConverged {
        attempts: target.max_attempts,
    })
}

/// Removes a sync from one user (a leaver, or a clean-up run): deletes its managed contacts (or releases them
/// under [`LeaverPolicy::KeepUnmanaged`]), then deletes its label unless contacts that are not the sync's are in it
/// (the user's own, or another sync's): the label is then kept, since the user relies on it.
pub async fn remove_user(
    people: &dyn PeopleApi,
    user: &str,
    target: &RemovalTarget<'_>,
) -> Result<UserOutcome, ApplyError> {
    let RemovalTarget {
        sync_id,
        label_name,
        stored_label,
        policy,
        dry_run,
        max_attempts,
    } = *target;
    let mut outcome = UserOutcome::default();
    // Without a stored label (e.g. a crash before the user's state was saved) look for ours by name.
    let label = match stored_label {
        Some(l) => Some(l.to_owned()),
        None => find_label(people, user, label_name).await?,
    };
    for attempt in 1..=max_attempts {
        let contacts = people.list_connections(user, REMOVAL_PERSON_FIELDS).await?;
        let removal = plan::plan_removal(sync_id, label.as_deref(), &contacts);
        if dry_run {
            outcome.deleted = count(removal.deletes.len());
            outcome.planned = Some(PlannedChanges {
                deletes: removal.changes,
                ..PlannedChanges::default()
            });
            return Ok(outcome);
        }
        let result = match policy {
            LeaverPolicy::Remove => delete_all(people, user, &removal.deletes, &mut outcome).await,
            LeaverPolicy::KeepUnmanaged => {
                let releases = plan::plan_release(sync_id, &contacts);
                update_all(
                    people,
                    user,
                    &releases,
                    plan::RELEASE_UPDATE_MASK,
                    &mut outcome,
                )
                .await
            }
        };
        match result {
            Ok(()) => {
                let keep_label =
                    policy == LeaverPolicy::KeepUnmanaged || removal.label_has_other_contacts;
                if let (Some(label), false) = (&label, keep_label) {
                    match people.delete_contact_group(user, label, false).await {
                        Ok(()) => {}
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                } else if label.is_some() {
                    tracing::info!("label kept: it holds contacts that are not this sync's");
                }
                return Ok(outcome);
            }
            Err(e) if needs_replan(&e) => {
                tracing::warn!(attempt, error = %e, "write outcome unknown or stale; re-reading");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApplyError::NotConverged {
        attempts: max_attempts,
    })
}

/// The label's resource name: the stored one if it still exists, else one with the label's name, else (when
/// `create`) a new one; a concurrent or earlier create (409, or an unknown outcome) is resolved by name, and a
/// create whose outcome was unknown but which did not happen is sent again (at most `attempts` creates).
async fn ensure_label(
    people: &dyn PeopleApi,
    user: &str,
    stored: Option<&str>,
    name: &str,
    create: bool,
    attempts: u32,
) -> Result<Option<String>, ApplyError> {
    if let Some(stored) = stored {
        match people.get_contact_group(user, stored, 0).await {
            Ok(group) => return Ok(Some(group.resource_name)),
            Err(e) if e.is_not_found() => {
                tracing::info!("stored label is gone; looking it up by name");
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(found) = find_label(people, user, name).await? {
        return Ok(Some(found));
    }
    if !create {
        return Ok(None);
    }
    // Creating a group is safe to repeat: Google refuses a duplicate name with 409, which is resolved by name.
    for _ in 0..attempts.max(1) {
        match people.create_contact_group(user, name).await {
            Ok(group) => return Ok(Some(group.resource_name)),
            Err(e) if e.is_conflict() || e.is_outcome_unknown() => {
                if let Some(found) = find_label(people, user, name).await? {
                    return Ok(Some(found));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApplyError::LabelUnavailable {
        name: name.to_owned(),
    })
}

async fn find_label(
    people: &dyn PeopleApi,
    user: &str,
    name: &str,
) -> Result<Option<String>, GoogleError> {
    let groups = people.list_contact_groups(user).await?;
    Ok(groups
        .into_iter()
        .find(|g| {
            g.name == name
                && g.group_type.as_deref().unwrap_or(USER_CONTACT_GROUP) == USER_CONTACT_GROUP
        })
        .map(|g| g.resource_name))
}

/// Sends a plan: deletes first (frees room under the per-user contact limit), then updates, then creates; each in
/// calls of Google's maximum size, counting what was confirmed.
async fn write(
    people: &dyn PeopleApi,
    user: &str,
    plan: &Plan<'_>,
    outcome: &mut UserOutcome,
) -> Result<(), GoogleError> {
    delete_all(people, user, &plan.deletes, outcome).await?;
    update_all(
        people,
        user,
        &plan.updates,
        &plan::full_update_mask(),
        outcome,
    )
    .await?;
    for chunk in plan.creates.chunks(limits::BATCH_CREATE_CONTACTS) {
        let batch: Vec<Person> = chunk
            .iter()
            .map(|source| plan.new_contact(source))
            .collect();
        people.batch_create_contacts(user, &batch).await?;
        outcome.created += count(chunk.len());
    }
    Ok(())
}

async fn delete_all(
    people: &dyn PeopleApi,
    user: &str,
    names: &[String],
    outcome: &mut UserOutcome,
) -> Result<(), GoogleError> {
    for chunk in names.chunks(limits::BATCH_DELETE_CONTACTS) {
        people.batch_delete_contacts(user, chunk).await?;
        outcome.deleted += count(chunk.len());
    }
    Ok(())
}

async fn update_all(
    people: &dyn PeopleApi,
    user: &str,
    updates: &BTreeMap<String, Person>,
    mask: &str,
    outcome: &mut UserOutcome,
) -> Result<(), GoogleError> {
    let entries: Vec<(&String, &Person)> = updates.iter().collect();
    for chunk in entries.chunks(limits::BATCH_UPDATE_CONTACTS) {
        let batch: BTreeMap<String, Person> = chunk
            .iter()
            .map(|(name, person)| ((*name).clone(), (*person).clone()))
            .collect();
        people.batch_update_contacts(user, &batch, mask).await?;
        outcome.updated += count(batch.len());
    }
    Ok(())
}

/// Errors after which the right move is to re-read the user's contacts and plan again.
fn needs_replan(e: &GoogleError) -> bool {
    e.is_outcome_unknown() || e.is_stale_etag() || e.is_not_found()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    //! Unknown outcomes and stale etags, against a small in-memory People API (unit tests only; the end-to-end
    //! tests run the same paths against the emulator).

    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::google::ContactGroup;
    use crate::sync::markers;

    const USER: &str = "ann@example.com";
    const SYNC: &str = "S1";

    #[derive(Default)]
    struct State {
        contacts: BTreeMap<String, Person>,
        groups: Vec<ContactGroup>,
        next: u32,
        /// Apply the next create, then answer "outcome unknown".
        lose_next_create_answer: bool,
        /// Refuse the next update as stale without applying it.
        stale_next_update: bool,
        creates: u32,
        lists: u32,
    }

    #[derive(Default)]
    struct FakePeople(Mutex<State>);

    impl FakePeople {
        fn state(&self) -> std::sync::MutexGuard<'_, State> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    fn unsupported(method: &str) -> GoogleError {
        GoogleError::Decode {
            method: method.to_owned(),
            detail: "not supported by the fake".to_owned(),
        }
    }

    #[async_trait]
    impl PeopleApi for FakePeople {
        async fn list_contact_groups(&self, _: &str) -> Result<Vec<ContactGroup>, GoogleError> {
            Ok(self.state().groups.clone())
        }
        async fn get_contact_group(
            &self,
            _: &str,
            name: &str,
            _: u32,
        ) -> Result<ContactGroup, GoogleError> {
            self.state()
                .groups
                .iter()
                .find(|g| g.resource_name == name)
                .cloned()
                .ok_or_else(|| GoogleError::Api {
                    method: "people.contactGroups.get".into(),
                    status: 404,
                    status_text: "NOT_FOUND".into(),
                    reason: None,
                    message: "not found".into(),
                })
        }
        async fn create_contact_group(
            &self,
            _: &str,
            name: &str,
        ) -> Result<ContactGroup, GoogleError> {
            let mut state = self.state();
            let group = ContactGroup {
                resource_name: format!("contactGroups/g{}", state.groups.len()),
                name: name.to_owned(),
                group_type: Some(USER_CONTACT_GROUP.to_owned()),
                ..ContactGroup::default()
            };
            state.groups.push(group.clone());
            Ok(group)
        }
        async fn delete_contact_group(&self, _: &str, _: &str, _: bool) -> Result<(), GoogleError> {
            Err(unsupported("people.contactGroups.delete"))
        }
        async fn modify_contact_group_members(
            &self,
            _: &str,
            _: &str,
            _: &[String],
            _: &[String],
        ) -> Result<(), GoogleError> {
            Err(unsupported("people.contactGroups.members.modify"))
        }
        async fn batch_get_people(
            &self,
            _: &str,
            _: &[String],
            _: &str,
        ) -> Result<Vec<Person>, GoogleError> {
            Err(unsupported("people.people.getBatchGet"))
        }
        async fn list_connections(&self, _: &str, _: &str) -> Result<Vec<Person>, GoogleError> {
            let mut state = self.state();
            state.lists += 1;
            Ok(state.contacts.values().cloned().collect())
        }
        async fn batch_create_contacts(
            &self,
            _: &str,
            contacts: &[Person],
        ) -> Result<(), GoogleError> {
            let mut state = self.state();
            state.creates += 1;
            for person in contacts {
                state.next += 1;
                let name = format!("people/c{}", state.next);
                let stored = Person {
                    resource_name: Some(name.clone()),
                    etag: Some(format!("e{}", state.next)),
                    ..person.clone()
                };
                state.contacts.insert(name, stored);
            }
            if std::mem::take(&mut state.lose_next_create_answer) {
                return Err(GoogleError::OutcomeUnknown {
                    method: "people.batchCreateContacts".into(),
                    detail: "HTTP 503 after sending".into(),
                });
            }
            Ok(())
        }
        async fn batch_update_contacts(
            &self,
            _: &str,
            contacts: &BTreeMap<String, Person>,
            _: &str,
        ) -> Result<(), GoogleError> {
            let mut state = self.state();
            if std::mem::take(&mut state.stale_next_update) {
                return Err(GoogleError::Api {
                    method: "people.batchUpdateContacts".into(),
                    status: 400,
                    status_text: "FAILED_PRECONDITION".into(),
                    reason: None,
                    message: "Request person.etag is different than the current person.etag."
                        .into(),
                });
            }
            for (name, person) in contacts {
                let current = state.contacts.get(name).and_then(|p| p.etag.clone());
                if current != person.etag {
                    return Err(unsupported("etag mismatch the engine should never send"));
                }
                state.next += 1;
                let stored = Person {
                    etag: Some(format!("e{}", state.next)),
                    ..person.clone()
                };
                state.contacts.insert(name.clone(), stored);
            }
            Ok(())
        }
        async fn batch_delete_contacts(
            &self,
            _: &str,
            names: &[String],
        ) -> Result<(), GoogleError> {
            let mut state = self.state();
            for name in names {
                state.contacts.remove(name);
            }
            Ok(())
        }
    }

    fn sources(names: &[&str]) -> BTreeMap<String, SourceContact> {
        names
            .iter()
            .filter_map(|n| {
                let person: Person = serde_json::from_value(json!({
                    "resourceName": format!("people/{n}"),
                    "names": [{"givenName": n}]
                }))
                .ok()?;
                SourceContact::from_person(&person)
            })
            .map(|s| (s.resource_name.clone(), s))
            .collect()
    }

    fn target<'a>(sources: &'a BTreeMap<String, SourceContact>) -> SyncTarget<'a> {
        SyncTarget {
            sync_id: SYNC,
            label_name: "Partners",
            stored_label: None,
            sources,
            dry_run: false,
            max_attempts: 5,
        }
    }

    fn managed_sources(people: &FakePeople) -> Vec<String> {
        let mut list: Vec<String> = people
            .state()
            .contacts
            .values()
            .filter(|p| markers::is_managed_by(p, SYNC))
            .filter_map(|p| markers::source_of(p).map(str::to_owned))
            .collect();
        list.sort();
        list
    }

    #[tokio::test]
    async fn a_create_with_an_unknown_outcome_is_never_repeated_blindly() {
        let people = FakePeople::default();
        people.state().lose_next_create_answer = true;
        let src = sources(&["a", "b"]);
        let outcome = sync_user(&people, USER, &target(&src))
            .await
            .expect("synced");
        assert_eq!(managed_sources(&people), vec!["people/a", "people/b"]);
        assert_eq!(people.state().creates, 1, "the create was sent again");
        assert_eq!(
            people.state().lists,
            2,
            "no re-read after the unknown outcome"
        );
        assert_eq!(outcome.unchanged, 2);
    }

    #[tokio::test]
    async fn a_stale_etag_leads_to_a_re_read_and_a_fresh_update() {
        let people = FakePeople::default();
        let src = sources(&["a"]);
        sync_user(&people, USER, &target(&src))
            .await
            .expect("first");
        let edited = sources(&["a"])
            .into_values()
            .map(|mut s| {
                s.fields.insert("nicknames".into(), json!([{"value": "x"}]));
                s.hash = crate::sync::normalize::content_hash(&s.fields);
                (s.resource_name.clone(), s)
            })
            .collect();
        people.state().stale_next_update = true;
        let label = people.state().groups[0].resource_name.clone();
        let t = SyncTarget {
            stored_label: Some(&label),
            ..target(&edited)
        };
        let outcome = sync_user(&people, USER, &t).await.expect("second");
        assert_eq!(outcome.updated, 1);
        let stored: Vec<Person> = people.state().contacts.values().cloned().collect();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].fields["nicknames"], json!([{"value": "x"}]));
    }

    #[tokio::test]
    async fn writes_that_never_settle_give_up_after_the_attempts() {
        struct Flaky(FakePeople);
        let people = Flaky(FakePeople::default());
        // Every create answer is lost and nothing is created: the engine must stop after max_attempts.
        #[async_trait]
        impl PeopleApi for Flaky {
            async fn list_contact_groups(&self, u: &str) -> Result<Vec<ContactGroup>, GoogleError> {
                self.0.list_contact_groups(u).await
            }
            async fn get_contact_group(
                &self,
                u: &str,
                n: &str,
                m: u32,
            ) -> Result<ContactGroup, GoogleError> {
                self.0.get_contact_group(u, n, m).await
            }
            async fn create_contact_group(
                &self,
                u: &str,
                n: &str,
            ) -> Result<ContactGroup, GoogleError> {
                self.0.create_contact_group(u, n).await
            }
            async fn delete_contact_group(
                &self,
                u: &str,
                n: &str,
                d: bool,
            ) -> Result<(), GoogleError> {
                self.0.delete_contact_group(u, n, d).await
            }
            async fn modify_contact_group_members(
                &self,
                u: &str,
                n: &str,
                a: &[String],
                r: &[String],
            ) -> Result<(), GoogleError> {
                self.0.modify_contact_group_members(u, n, a, r).await
            }
            async fn batch_get_people(
                &self,
                u: &str,
                n: &[String],
                f: &str,
            ) -> Result<Vec<Person>, GoogleError> {
                self.0.batch_get_people(u, n, f).await
            }
            async fn list_connections(&self, u: &str, f: &str) -> Result<Vec<Person>, GoogleError> {
                self.0.list_connections(u, f).await
            }
            async fn batch_create_contacts(
                &self,
                _: &str,
                _: &[Person],
            ) -> Result<(), GoogleError> {
                self.0.state().creates += 1;
                Err(GoogleError::OutcomeUnknown {
                    method: "people.batchCreateContacts".into(),
                    detail: "timeout".into(),
                })
            }
            async fn batch_update_contacts(
                &self,
                u: &str,
                c: &BTreeMap<String, Person>,
                m: &str,
            ) -> Result<(), GoogleError> {
                self.0.batch_update_contacts(u, c, m).await
            }
            async fn batch_delete_contacts(
                &self,
                u: &str,
                n: &[String],
            ) -> Result<(), GoogleError> {
                self.0.batch_delete_contacts(u, n).await
            }
        }
        let src = sources(&["a"]);
        let err = sync_user(&people, USER, &target(&src))
            .await
            .expect_err("gave up");
        assert!(
            matches!(err, ApplyError::NotConverged { attempts: 5 }),
            "{err}"
        );
        assert_eq!(people.0.state().creates, 5);
    }

    #[tokio::test]
    async fn a_dry_run_reads_and_plans_but_writes_nothing() {
        let people = FakePeople::default();
        let src = sources(&["a", "b"]);
        let t = SyncTarget {
            dry_run: true,
            ..target(&src)
        };
        let outcome = sync_user(&people, USER, &t).await.expect("planned");
        assert_eq!(outcome.created, 2);
        assert_eq!(outcome.planned.map(|p| p.creates.len()), Some(2));
        assert!(people.state().groups.is_empty() && people.state().contacts.is_empty());
    }
}
