//! Google API data types the rest of the crate works with (People API and Directory API shapes, camelCase).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Person fields a sync copies from the source to each destination (all of them writable).
pub const COPYABLE_PERSON_FIELDS: &[&str] = &[
    "names",
    "emailAddresses",
    "phoneNumbers",
    "organizations",
    "addresses",
    "biographies",
    "urls",
    "birthdays",
    "events",
    "relations",
    "nicknames",
    "userDefined",
];

/// A People API `Person`, with the fields the engine needs typed and every other field kept as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<Membership>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_data: Vec<ClientData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Every other field (names, emailAddresses, ...), as Google sent it.
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
}

impl Person {
    /// The value of a clientData entry.
    pub fn client_data_value(&self, key: &str) -> Option<&str> {
        self.client_data
            .iter()
            .find(|c| c.key == key)
            .map(|c| c.value.as_str())
    }

    /// Whether the contact belongs to the contact group with this resource name.
    pub fn is_member_of(&self, group_resource_name: &str) -> bool {
        self.memberships.iter().any(|m| {
            m.contact_group_membership
                .as_ref()
                .and_then(|g| g.contact_group_resource_name.as_deref())
                == Some(group_resource_name)
        })
    }

    /// True for entries that incremental reads report as deleted.
    pub fn is_deleted(&self) -> bool {
        self.metadata
            .as_ref()
            .and_then(|m| m.get("deleted"))
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// A display name for logs-free uses such as dry-run plans (first name's displayName or unstructuredName).
    pub fn display_name(&self) -> String {
        let name = self.fields.get("names").and_then(|n| n.get(0));
        name.and_then(|n| n.get("displayName").or_else(|| n.get("unstructuredName")))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                let n = name?;
                let given = n
                    .get("givenName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let family = n
                    .get("familyName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let full = format!("{given} {family}").trim().to_owned();
                (!full.is_empty()).then_some(full)
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_group_membership: Option<ContactGroupMembership>,
    /// Domain memberships and field metadata, kept as sent.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Membership {
    pub fn of_group(resource_name: &str) -> Self {
        Membership {
            contact_group_membership: Some(ContactGroupMembership {
                contact_group_resource_name: Some(resource_name.to_owned()),
                contact_group_id: None,
            }),
            other: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactGroupMembership {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_group_resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_group_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientData {
    pub key: String,
    pub value: String,
}

/// A People API `ContactGroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactGroup {
    pub resource_name: String,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub formatted_name: Option<String>,
    /// `USER_CONTACT_GROUP` or `SYSTEM_CONTACT_GROUP`.
    #[serde(default)]
    pub group_type: Option<String>,
    #[serde(default)]
    pub member_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_resource_names: Vec<String>,
}

/// A Directory API `User` (the fields we use).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    pub id: String,
    pub primary_email: String,
    #[serde(default)]
    pub name: Option<UserName>,
    #[serde(default)]
    pub suspended: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub org_unit_path: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl DirectoryUser {
    /// Suspended and archived users receive no contacts and cannot be a source.
    pub fn is_active(&self) -> bool {
        !self.suspended && !self.archived
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub full_name: Option<String>,
}

/// A Directory API `Group`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryGroup {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub direct_members_count: Option<String>,
}

/// A Directory API `Member` of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMember {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// `USER`, `GROUP`, `CUSTOMER` or `EXTERNAL`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// `ACTIVE`, `SUSPENDED` or `ARCHIVED`.
    #[serde(default)]
    pub status: Option<String>,
}

/// A Directory API `OrgUnit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUnit {
    pub org_unit_id: String,
    pub org_unit_path: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_org_unit_id: Option<String>,
}

/// A Directory API `Domains` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    pub domain_name: String,
    #[serde(default)]
    pub is_primary: bool,
    #[serde(default)]
    pub verified: bool,
}

/// Which users a `users.list` call selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserScope {
    /// Every user of the customer (`customer=my_customer`).
    Customer,
    /// Every user of one domain (`domain=...`).
    Domain(String),
}
