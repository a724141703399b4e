//! The seed document: the directory (customer, domains, org units, users, groups), each user's contacts and
//! contact groups, and the scopes the service account is authorised for (domain-wide delegation).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The scopes authorised for the service account when the seed does not say: contacts plus the five
/// Directory read-only scopes contact sync needs.
pub const DEFAULT_DELEGATION_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/contacts",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
    "https://www.googleapis.com/auth/admin.directory.orgunit.readonly",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
];

fn default_customer_id() -> String {
    "C01234567".to_string()
}

fn default_org_unit() -> String {
    "/".to_string()
}

fn default_delegation_scopes() -> Vec<String> {
    DEFAULT_DELEGATION_SCOPES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The whole seed document. Unknown fields anywhere are rejected, naming the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default = "default_customer_id")]
    pub customer_id: String,
    /// The customer's domains, primary first. Default: the domains of the users' addresses.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Org unit paths (`/Sales`, `/Accounting/Payables`); a sub-OU's parent must be listed too.
    #[serde(default)]
    pub org_units: Vec<String>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
    /// Per user (primary email): contact groups with their member contacts (People API Person JSON).
    #[serde(default)]
    pub contact_groups: BTreeMap<String, Vec<SeedContactGroup>>,
    /// Per user (primary email): contacts outside any contact group (People API Person JSON).
    #[serde(default)]
    pub contacts: BTreeMap<String, Vec<Value>>,
    /// Scopes authorised for the service account's client id.
    #[serde(default = "default_delegation_scopes")]
    pub delegation_scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    #[serde(default = "default_org_unit")]
    pub org_unit: String,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub suspended: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGroup {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Users or groups by email (external addresses become EXTERNAL members; the customer id a CUSTOMER
    /// member).
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedContactGroup {
    pub name: String,
    #[serde(default)]
    pub contacts: Vec<Value>,
}

/// Why a seed document was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeedError {
    /// Not JSON, a wrong type, or an unknown field (serde's message names it).
    #[error("invalid seed document: {0}")]
    Parse(String),
    #[error("duplicate address {0}: every user, group and alias address must be unique")]
    DuplicateAddress(String),
    #[error("{what} {email}: domain {domain} is not one of the seed's domains")]
    UnknownDomain {
        what: &'static str,
        email: String,
        domain: String,
    },
    #[error("org_units: {0:?} is not a valid org unit path (it must start with '/')")]
    BadOrgUnitPath(String),
    #[error("org_units: {path} has parent {parent}, which is not listed")]
    MissingParentOrgUnit { path: String, parent: String },
    #[error("users: {email} has org_unit {org_unit}, which is not listed in org_units")]
    UnknownOrgUnit { email: String, org_unit: String },
    #[error("groups: {group} has member {member}, which is no user or group of the seed")]
    UnknownMember { group: String, member: String },
    #[error("{section}: {email} is not a user of the seed")]
    UnknownUser {
        section: &'static str,
        email: String,
    },
    #[error("contact_groups: {email} has two contact groups named {name}")]
    DuplicateContactGroup { email: String, name: String },
    #[error("{section}: contact #{index} of {email}: {message}")]
    BadContact {
        section: &'static str,
        email: String,
        index: usize,
        message: String,
    },
    #[error("delegation_scopes: {0:?} is not a Google OAuth scope URL")]
    BadScope(String),
}

impl Seed {
    /// Parses a seed document, refusing unknown fields.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        serde_json::from_str(text).map_err(|e| SeedError::Parse(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_named() {
        let err = Seed::from_json(r#"{"users": [], "colour": 1}"#).expect_err("unknown field");
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
        let err = Seed::from_json(
            r#"{"users": [{"email": "a@x.com", "given_name": "A", "family_name": "B", "admin": true}]}"#,
        )
        .expect_err("unknown nested field");
        assert!(err.to_string().contains("unknown field `admin`"), "{err}");
    }

    #[test]
    fn defaults_apply() {
        let seed = Seed::from_json(
            r#"{"users": [{"email": "a@x.com", "given_name": "A", "family_name": "B"}]}"#,
        )
        .expect("valid");
        assert_eq!(seed.customer_id, "C01234567");
        assert_eq!(seed.users[0].org_unit, "/");
        assert_eq!(seed.delegation_scopes.len(), 6);
    }
}
