//! The markers that make a destination contact "managed": clientData entries, invisible to users.
//!
//! - `contact-sync.sync-id`: the sync that owns the contact,
//! - `contact-sync.source`: the source contact's resource name in the source user's account,
//! - `contact-sync.hash`: the content hash of the normalised source fields when the contact was last written.
//!
//! A contact without our sync id is never touched, whatever its name, email or labels.

use crate::google::{ClientData, Person};

/// Prefix shared by every key this product writes into `clientData`.
pub const KEY_PREFIX: &str = "contact-sync.";
/// The owning sync's id.
pub const SYNC_ID_KEY: &str = "contact-sync.sync-id";
/// The source contact's resource name.
pub const SOURCE_KEY: &str = "contact-sync.source";
/// The content hash of the source fields last written.
pub const HASH_KEY: &str = "contact-sync.hash";

/// The markers carried by one managed contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    pub sync_id: String,
    pub source: String,
    pub hash: String,
}

impl Markers {
    /// The clientData entries for these markers, in a fixed order.
    pub fn to_client_data(&self) -> Vec<ClientData> {
        vec![
            ClientData {
                key: SYNC_ID_KEY.to_owned(),
                value: self.sync_id.clone(),
            },
            ClientData {
                key: SOURCE_KEY.to_owned(),
                value: self.source.clone(),
            },
            ClientData {
                key: HASH_KEY.to_owned(),
                value: self.hash.clone(),
            },
        ]
    }
}

/// Whether this contact carries `sync_id`'s marker (i.e. this sync owns it).
pub fn is_managed_by(person: &Person, sync_id: &str) -> bool {
    person.client_data_value(SYNC_ID_KEY) == Some(sync_id)
}

/// The source resource name recorded on a managed contact, if any.
pub fn source_of(person: &Person) -> Option<&str> {
    person
        .client_data_value(SOURCE_KEY)
        .filter(|s| !s.is_empty())
}

/// The content hash recorded on a managed contact, if any.
pub fn hash_of(person: &Person) -> Option<&str> {
    person.client_data_value(HASH_KEY).filter(|s| !s.is_empty())
}

/// The contact's clientData entries that are not ours (written by other applications), kept on every update.
pub fn foreign_client_data(person: &Person) -> Vec<ClientData> {
    person
        .client_data
        .iter()
        .filter(|c| !c.key.starts_with(KEY_PREFIX))
        .cloned()
        .collect()
}

/// `markers` followed by the contact's foreign clientData entries.
pub fn client_data_with(person: &Person, markers: &Markers) -> Vec<ClientData> {
    let mut all = markers.to_client_data();
    all.extend(foreign_client_data(person));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person_with(entries: &[(&str, &str)]) -> Person {
        Person {
            client_data: entries
                .iter()
                .map(|(k, v)| ClientData {
                    key: (*k).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
            ..Person::default()
        }
    }

    #[test]
    fn recognises_its_own_sync_only() {
        let p = person_with(&[
            (SYNC_ID_KEY, "A"),
            (SOURCE_KEY, "people/c1"),
            (HASH_KEY, "h"),
        ]);
        assert!(is_managed_by(&p, "A"));
        assert!(!is_managed_by(&p, "B"));
        assert_eq!(source_of(&p), Some("people/c1"));
        assert_eq!(hash_of(&p), Some("h"));
        assert!(!is_managed_by(&Person::default(), "A"));
    }

    #[test]
    fn keeps_foreign_client_data_and_replaces_ours() {
        let p = person_with(&[(SYNC_ID_KEY, "old"), ("other.app", "x"), (HASH_KEY, "old")]);
        let markers = Markers {
            sync_id: "A".into(),
            source: "people/c1".into(),
            hash: "h1".into(),
        };
        let data = client_data_with(&p, &markers);
        let keys: Vec<&str> = data.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, vec![SYNC_ID_KEY, SOURCE_KEY, HASH_KEY, "other.app"]);
        assert_eq!(foreign_client_data(&p).len(), 1);
    }
}
