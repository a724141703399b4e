//! What an invocation works on: the source contacts, the audience's users to serve and the leavers to clean up
//! (or, for a clean-up run, everyone served before), and why the audience is incomplete if it is.
//!
//! Every invocation that reads the source resolves the source user, the contact group and every destination by
//! immutable id, so it knows their current names; names that differ from those the definition shows are recorded
//! on it ([`SyncStore::set_current_names`](crate::store::SyncStore::set_current_names), never changing its
//! `version`), for the API to show.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::Engine;
use super::destination::Work;
use crate::google::COPYABLE_PERSON_FIELDS;
use crate::model::{CurrentNames, Destination, DestinationState, SyncDefinition};
use crate::store::StoreError;
use crate::sync::decide;
use crate::sync::plan::SourceContact;
use crate::sync::resolve;

/// How many source group members to ask for (Google Contacts' per-user limit).
const SOURCE_GROUP_MAX_MEMBERS: u32 = 25_000;

/// The source user's primary email and the contact group's name, as a run read them.
struct SourceNames {
    user_email: String,
    contact_group_name: String,
}

/// What one invocation works on.
pub(super) struct Targets {
    /// The source contacts by resource name (none for a clean-up).
    pub sources: BTreeMap<String, SourceContact>,
    /// The users still to do in this run.
    pub work: Vec<Work>,
    /// Why the audience is incomplete (destinations that could not be resolved), if it is.
    pub incomplete: Option<String>,
}

impl Targets {
    /// A clean-up: every user served before and not yet done loses the sync.
    pub fn cleanup(states: BTreeMap<String, DestinationState>, done: &BTreeSet<String>) -> Targets {
        Targets {
            sources: BTreeMap::new(),
            work: states
                .into_values()
                .filter(|s| !done.contains(&s.user_id))
                .map(|state| Work::Remove { state })
                .collect(),
            incomplete: None,
        }
    }
}

impl Engine {
    /// Reads the source, resolves the audience and lists the users not yet `done`: everyone in the audience, then
    /// the leavers. `Err` with the reason when the source cannot be read (the run fails).
    pub(super) async fn targets(
        &self,
        sync: &SyncDefinition,
        states: BTreeMap<String, DestinationState>,
        done: &BTreeSet<String>,
    ) -> Result<Targets, String> {
        // The names the definition shows now (its own, or those an earlier run recorded), so messages use the
        // newest known names and only renames since then are recorded.
        let (shown, _) = sync.clone().with_current_names();
        let read_at = self.clock.now();
        let (sources, source_names) = self.read_source(&shown).await?;
        let audience = resolve::resolve_audience(
            self.directory.as_ref(),
            &shown.destinations,
            &sync.source.user_id,
        )
        .await;
        self.record_current_names(&shown, source_names, &audience.destinations, read_at)
            .await;
        tracing::info!(
            sources = sources.len(),
            users = audience.users.len(),
            inactive = audience.inactive.len(),
            unresolved = audience.errors.len(),
            "source read and audience resolved"
        );
        if !audience.is_complete() {
            tracing::warn!("audience incomplete: nobody is treated as a leaver in this run");
        }
        let leavers: Vec<DestinationState> = decide::leavers(&states, &audience)
            .into_iter()
            .cloned()
            .collect();
        let incomplete = (!audience.errors.is_empty()).then(|| {
            audience
                .errors
                .iter()
                .map(|e| e.error.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        });
        let mut work: Vec<Work> = audience
            .users
            .into_values()
            .filter(|u| !done.contains(&u.id))
            .map(|user| {
                let state = states.get(&user.id).cloned();
                Work::Sync { user, state }
            })
            .collect();
        work.extend(
            leavers
                .into_iter()
                .filter(|s| !done.contains(&s.user_id))
                .map(|state| Work::Remove { state }),
        );
        Ok(Targets {
            sources,
            work,
            incomplete,
        })
    }

    /// Records the names this invocation found for the source and the destinations on the definition, if they
    /// differ from those it shows (so a run that finds nothing renamed writes nothing). Best effort: the names are
    /// for reading only, so a failure to record them is logged and the run goes on.
    async fn record_current_names(
        &self,
        shown: &SyncDefinition,
        source: SourceNames,
        destinations: &[Destination],
        read_at: DateTime<Utc>,
    ) {
        let names = CurrentNames {
            source_user_email: source.user_email,
            contact_group_name: source.contact_group_name,
            destinations: destinations
                .iter()
                .map(|d| (d.id.clone(), d.display.clone()))
                .collect(),
            refreshed_at: read_at,
        };
        if !decide::names_changed(shown, &names) {
            return;
        }
        match self.store.set_current_names(&shown.id, &names).await {
            Ok(()) => tracing::info!(
                source_user_email = %names.source_user_email,
                contact_group_name = %names.contact_group_name,
                "renames recorded on the sync"
            ),
            Err(StoreError::NotFound(_)) => {
                tracing::info!("the sync was deleted meanwhile; renames not recorded");
            }
            Err(e) => tracing::warn!(error = %e, "could not record renames on the sync"),
        }
    }

    /// Reads the source user's group: the normalised contacts by resource name and the current names of the
    /// source user and group, or why the run cannot go on.
    async fn read_source(
        &self,
        sync: &SyncDefinition,
    ) -> Result<(BTreeMap<String, SourceContact>, SourceNames), String> {
        let source = &sync.source;
        let user = self
            .directory
            .get_user(&source.user_id)
            .await
            .map_err(|e| format!("reading the source user {} failed: {e}", source.user_email))?
            .ok_or_else(|| {
                format!(
                    "the source user {} (id {}) no longer exists",
                    source.user_email, source.user_id
                )
            })?;
        if user.suspended || user.archived {
            let state = if user.suspended {
                "suspended"
            } else {
                "archived"
            };
            return Err(format!(
                "the source user {} (id {}) is {state}",
                user.primary_email, user.id
            ));
        }
        let group = match self
            .people
            .get_contact_group(
                &user.primary_email,
                &source.contact_group,
                SOURCE_GROUP_MAX_MEMBERS,
            )
            .await
        {
            Ok(group) => group,
            Err(e) if e.is_not_found() => {
                return Err(format!(
                    "the source contact group {:?} ({}) no longer exists in {}'s contacts",
                    source.contact_group_name, source.contact_group, user.primary_email
                ));
            }
            Err(e) => return Err(format!("reading the source contact group failed: {e}")),
        };
        let names = SourceNames {
            user_email: user.primary_email.clone(),
            contact_group_name: group.name.clone(),
        };
        if group.member_resource_names.is_empty() {
            return Ok((BTreeMap::new(), names));
        }
        let people = self
            .people
            .batch_get_people(
                &user.primary_email,
                &group.member_resource_names,
                &COPYABLE_PERSON_FIELDS.join(","),
            )
            .await
            .map_err(|e| format!("reading the source contacts failed: {e}"))?;
        let contacts = people
            .iter()
            .filter(|p| !p.is_deleted())
            .filter_map(SourceContact::from_person)
            .map(|c| (c.resource_name.clone(), c))
            .collect();
        Ok((contacts, names))
    }
}
