//! Turning what the caller typed (emails, aliases, ids, paths, names) into Google's immutable ids, through the
//! Directory and People APIs. A reference that does not exist is a 422 naming the field it came from.

use std::collections::HashMap;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::error::ApiError;
use super::request::{DestinationRef, validate_reference};
use crate::google::{
    ContactGroup, DirectoryApi, DirectoryGroup, DirectoryUser, GoogleError, PeopleApi,
};
use crate::model::{Destination, DestinationKind};

/// Directory look-ups in flight at once while resolving one request's destinations.
const RESOLVE_CONCURRENCY: usize = 8;

/// The contact group type of a user's own groups (the only kind a sync can copy).
pub const USER_CONTACT_GROUP: &str = "USER_CONTACT_GROUP";

/// How a user or group was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryKey {
    /// A primary email or an alias.
    Email(String),
    /// Google's immutable id.
    Id(String),
}

impl DirectoryKey {
    pub fn as_str(&self) -> &str {
        match self {
            DirectoryKey::Email(s) | DirectoryKey::Id(s) => s,
        }
    }
}

/// How an org unit was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgUnitKey {
    /// `/Sales/EMEA` (a missing leading slash is added; a trailing one dropped).
    Path(String),
    /// `id:03ph8a2z...`.
    Id(String),
}

impl OrgUnitKey {
    pub fn as_str(&self) -> &str {
        match self {
            OrgUnitKey::Path(s) | OrgUnitKey::Id(s) => s,
        }
    }
}

/// Whether `value` looks like an email address (`local@domain.tld`, no spaces).
pub fn looks_like_email(value: &str) -> bool {
    let mut parts = value.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && looks_like_domain(domain)
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
}

/// Whether `value` looks like a domain name (`example.com`).
pub fn looks_like_domain(value: &str) -> bool {
    value.contains('.')
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A user is named by email/alias or by the numeric immutable id.
pub fn parse_user_key(value: &str) -> Option<DirectoryKey> {
    if looks_like_email(value) {
        Some(DirectoryKey::Email(value.to_owned()))
    } else if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
        Some(DirectoryKey::Id(value.to_owned()))
    } else {
        None
    }
}

/// A group is named by email/alias or by its id (letters and digits).
pub fn parse_group_key(value: &str) -> Option<DirectoryKey> {
    if looks_like_email(value) {
        Some(DirectoryKey::Email(value.to_owned()))
    } else if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric()) {
        Some(DirectoryKey::Id(value.to_owned()))
    } else {
        None
    }
}

/// An org unit is named by `id:...` or by its path.
pub fn parse_org_unit_key(value: &str) -> Option<OrgUnitKey> {
    if let Some(id) = value.strip_prefix("id:") {
        return (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
            .then(|| OrgUnitKey::Id(value.to_owned()));
    }
    if value.contains("//") || value.chars().any(char::is_control) {
        return None;
    }
    let trimmed = value.trim_end_matches('/');
    let path = if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    };
    Some(OrgUnitKey::Path(path))
}

/// A contact group resource name: `contactGroups/<id>`.
pub fn is_contact_group_resource_name(value: &str) -> bool {
    value.strip_prefix("contactGroups/").is_some_and(|id| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

/// Google's answer to a look-up of something that does not exist: 404, or 400 for a key it cannot parse.
fn is_missing(e: &GoogleError) -> bool {
    matches!(e.http_status(), Some(400 | 404))
}

fn unknown(field: &str, message: String) -> ApiError {
    ApiError::invalid("unknown_reference", field, message)
}

/// users.get by email, alias or id. A user that does not exist is a 422 on `field`.
pub async fn resolve_user(
    directory: &dyn DirectoryApi,
    field: &str,
    value: &str,
) -> Result<DirectoryUser, ApiError> {
    let value = validate_reference(field, value)?;
    let key = parse_user_key(&value).ok_or_else(|| {
        ApiError::invalid(
            "invalid_reference",
            field,
            format!("{field}: {value:?} is neither an email address nor a numeric user id"),
        )
    })?;
    match directory.get_user(key.as_str()).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(unknown(field, format!("{field}: there is no user {value}"))),
        Err(e) if is_missing(&e) => {
            Err(unknown(field, format!("{field}: there is no user {value}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Like `resolve_user`, and the user must be active: a suspended or archived user cannot be a source.
pub async fn resolve_source_user(
    directory: &dyn DirectoryApi,
    field: &str,
    value: &str,
) -> Result<DirectoryUser, ApiError> {
    let user = resolve_user(directory, field, value).await?;
    if !user.is_active() {
        return Err(ApiError::invalid(
            "inactive_user",
            field,
            format!("{field}: {} is suspended or archived", user.primary_email),
        ));
    }
    Ok(user)
}

/// Finds one of `user_email`'s own contact groups by resource name or by name (exact, then ignoring case).
pub async fn resolve_contact_group(
    people: &dyn PeopleApi,
    user_email: &str,
    field: &str,
    value: &str,
) -> Result<ContactGroup, ApiError> {
    let value = validate_reference(field, value)?;
    let group = if is_contact_group_resource_name(&value) {
        match people.get_contact_group(user_email, &value, 0).await {
            Ok(group) => group,
            Err(e) if is_missing(&e) => {
                return Err(unknown(
                    field,
                    format!("{field}: {user_email} has no contact group {value}"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        let groups = people.list_contact_groups(user_email).await?;
        find_group_by_name(&groups, &value)
            .map_err(|message| unknown(field, format!("{field}: {message}")))?
    };
    if group
        .group_type
        .as_deref()
        .is_some_and(|t| t != USER_CONTACT_GROUP)
    {
        return Err(ApiError::invalid(
            "system_contact_group",
            field,
            format!(
                "{field}: {value} is a system contact group; choose one of {user_email}'s own contact groups"
            ),
        ));
    }
    Ok(group)
}

/// Picks the user contact group named `name`: an exact match, else the only case-insensitive match.
pub fn find_group_by_name(groups: &[ContactGroup], name: &str) -> Result<ContactGroup, String> {
    let own = || {
        groups.iter().filter(|g| {
            g.group_type
                .as_deref()
                .is_none_or(|t| t == USER_CONTACT_GROUP)
        })
    };
    let exact: Vec<_> = own().filter(|g| g.name == name).collect();
    let candidates = if exact.is_empty() {
        own()
            .filter(|g| g.name.to_lowercase() == name.to_lowercase())
            .collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!("there is no contact group named {name:?}")),
        several => Err(format!(
            "{} contact groups are named {name:?}; use the resource name ({})",
            several.len(),
            several
                .iter()
                .map(|g| g.resource_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Resolves destination references to destinations with immutable ids, in order, with bounded concurrency.
/// `list` is the field name the references came from (e.g. `add_destinations`); errors name
/// `list[i].value`. Two references to the same object (e.g. an email and an alias of one user) are a 422.
pub async fn resolve_destinations(
    directory: &dyn DirectoryApi,
    list: &str,
    refs: &[DestinationRef],
) -> Result<Vec<Destination>, ApiError> {
    let domains = if refs.iter().any(|r| r.kind == DestinationKind::Domain) {
        directory.list_domains().await?
    } else {
        Vec::new()
    };
    let domains = &domains;
    // The look-ups are collected first so that the stream holds no closure (keeps the future `Send` for any
    // lifetime, as Lambda's runtime requires).
    let lookups: Vec<_> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| resolve_destination(directory, domains, format!("{list}[{i}].value"), r))
        .collect();
    let resolved: Vec<Destination> = stream::iter(lookups)
        .buffered(RESOLVE_CONCURRENCY)
        .try_collect()
        .await?;
    reject_duplicates(list, &resolved, 0, &[])?;
    Ok(resolved)
}

/// Fails if two of `resolved` name the same object, or one names an object already in `existing`.
/// `offset` is the index of `resolved[0]` within `list`.
pub fn reject_duplicates(
    list: &str,
    resolved: &[Destination],
    offset: usize,
    existing: &[Destination],
) -> Result<(), ApiError> {
    let mut seen: HashMap<(DestinationKind, &str), Option<usize>> = existing
        .iter()
        .map(|d| ((d.kind, d.id.as_str()), None))
        .collect();
    for (i, d) in resolved.iter().enumerate() {
        let index = offset + i;
        if let Some(first) = seen.insert((d.kind, d.id.as_str()), Some(index)) {
            let message = match first {
                Some(first) => format!(
                    "{list}[{index}] names the same {} as {list}[{first}] ({})",
                    kind_name(d.kind),
                    d.display
                ),
                None => format!(
                    "{list}[{index}]: the sync already has the {} {}",
                    kind_name(d.kind),
                    d.display
                ),
            };
            return Err(ApiError::invalid(
                "duplicate_destination",
                format!("{list}[{index}].value"),
                message,
            ));
        }
    }
    Ok(())
}

pub fn kind_name(kind: DestinationKind) -> &'static str {
    match kind {
        DestinationKind::User => "user",
        DestinationKind::Group => "group",
        DestinationKind::OrgUnit => "org unit",
        DestinationKind::Domain => "domain",
    }
}

async fn resolve_destination(
    directory: &dyn DirectoryApi,
    domains: &[crate::google::Domain],
    field: String,
    r: &DestinationRef,
) -> Result<Destination, ApiError> {
    let field = field.as_str();
    let value = validate_reference(field, &r.value)?;
    match r.kind {
        DestinationKind::User => {
            let user = resolve_user(directory, field, &value).await?;
            Ok(Destination {
                kind: DestinationKind::User,
                id: user.id,
                display: user.primary_email,
            })
        }
        DestinationKind::Group => {
            let group = resolve_group(directory, field, &value).await?;
            Ok(Destination {
                kind: DestinationKind::Group,
                id: group.id,
                display: group.email,
            })
        }
        DestinationKind::OrgUnit => {
            let key = parse_org_unit_key(&value).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_reference",
                    field,
                    format!(
                        "{field}: {value:?} is neither an org unit path (/Sales) nor an id (id:...)"
                    ),
                )
            })?;
            let missing = || unknown(field, format!("{field}: there is no org unit {value}"));
            match directory.get_org_unit(key.as_str()).await {
                Ok(Some(ou)) => Ok(Destination {
                    kind: DestinationKind::OrgUnit,
                    id: ou.org_unit_id,
                    display: ou.org_unit_path,
                }),
                Ok(None) => Err(missing()),
                Err(e) if is_missing(&e) => Err(missing()),
                Err(e) => Err(e.into()),
            }
        }
        DestinationKind::Domain => {
            let wanted = value.to_lowercase();
            let domain = domains
                .iter()
                .find(|d| d.domain_name.to_lowercase() == wanted)
                .ok_or_else(|| {
                    unknown(
                        field,
                        format!(
                            "{field}: {value} is not a domain of this Google Workspace account"
                        ),
                    )
                })?;
            Ok(Destination {
                kind: DestinationKind::Domain,
                id: domain.domain_name.clone(),
                display: domain.domain_name.clone(),
            })
        }
    }
}

async fn resolve_group(
    directory: &dyn DirectoryApi,
    field: &str,
    value: &str,
) -> Result<DirectoryGroup, ApiError> {
    let key = parse_group_key(value).ok_or_else(|| {
        ApiError::invalid(
            "invalid_reference",
            field,
            format!("{field}: {value:?} is neither a group email address nor a group id"),
        )
    })?;
    let missing = || unknown(field, format!("{field}: there is no group {value}"));
    match directory.get_group(key.as_str()).await {
        Ok(Some(group)) => Ok(group),
        Ok(None) => Err(missing()),
        Err(e) if is_missing(&e) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testing::{FakeDirectory, FakePeople};

    fn dest(kind: DestinationKind, value: &str) -> DestinationRef {
        DestinationRef {
            kind,
            value: value.to_owned(),
        }
    }

    #[test]
    fn parses_user_and_group_keys() {
        assert_eq!(
            parse_user_key("ann@example.com"),
            Some(DirectoryKey::Email("ann@example.com".into()))
        );
        assert_eq!(
            parse_user_key("1234567890"),
            Some(DirectoryKey::Id("1234567890".into()))
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "a b@example.com",
            "a@b@c.com",
            "12a",
            "../x",
        ] {
            assert_eq!(parse_user_key(bad), None, "{bad}");
        }
        assert_eq!(
            parse_group_key("03ph8a2z1abc"),
            Some(DirectoryKey::Id("03ph8a2z1abc".into()))
        );
        assert_eq!(
            parse_group_key("team@example.com"),
            Some(DirectoryKey::Email("team@example.com".into()))
        );
        assert_eq!(parse_group_key("team/x"), None);
    }

    #[test]
    fn parses_org_unit_keys() {
        assert_eq!(
            parse_org_unit_key("/Sales/EMEA/"),
            Some(OrgUnitKey::Path("/Sales/EMEA".into()))
        );
        assert_eq!(
            parse_org_unit_key("Sales"),
            Some(OrgUnitKey::Path("/Sales".into()))
        );
        assert_eq!(parse_org_unit_key("/"), Some(OrgUnitKey::Path("/".into())));
        assert_eq!(
            parse_org_unit_key("id:03ph8a2z"),
            Some(OrgUnitKey::Id("id:03ph8a2z".into()))
        );
        assert_eq!(parse_org_unit_key("id:"), None);
        assert_eq!(parse_org_unit_key("/a//b"), None);
    }

    #[test]
    fn recognises_contact_group_resource_names_and_domains() {
        assert!(is_contact_group_resource_name("contactGroups/3a8f2c"));
        assert!(!is_contact_group_resource_name("contactGroups/"));
        assert!(!is_contact_group_resource_name("contactGroups/a/b"));
        assert!(!is_contact_group_resource_name("Team"));
        assert!(looks_like_domain("example.co.uk"));
        assert!(!looks_like_domain("example"));
        assert!(!looks_like_domain("-x.com"));
    }

    #[test]
    fn finds_groups_by_name_exactly_then_ignoring_case() {
        let g = |rn: &str, name: &str, t: &str| ContactGroup {
            resource_name: rn.into(),
            name: name.into(),
            group_type: Some(t.into()),
            ..ContactGroup::default()
        };
        let groups = [
            g("contactGroups/1", "Team", USER_CONTACT_GROUP),
            g("contactGroups/2", "team", USER_CONTACT_GROUP),
            g("contactGroups/3", "Vendors", USER_CONTACT_GROUP),
            g(
                "contactGroups/myContacts",
                "myContacts",
                "SYSTEM_CONTACT_GROUP",
            ),
        ];
        assert_eq!(
            find_group_by_name(&groups, "Team")
                .expect("exact")
                .resource_name,
            "contactGroups/1"
        );
        assert_eq!(
            find_group_by_name(&groups, "vendors")
                .expect("case")
                .resource_name,
            "contactGroups/3"
        );
        assert!(
            find_group_by_name(&groups, "TEAM")
                .expect_err("ambiguous")
                .contains("2 contact groups")
        );
        assert!(find_group_by_name(&groups, "myContacts").is_err());
        assert!(find_group_by_name(&groups, "Nobody").is_err());
    }

    #[tokio::test]
    async fn resolves_every_destination_type_to_immutable_ids() {
        let directory = FakeDirectory::demo();
        let refs = [
            dest(DestinationKind::User, "bob.alias@example.com"),
            dest(DestinationKind::Group, "sales@example.com"),
            dest(DestinationKind::OrgUnit, "/Sales"),
            dest(DestinationKind::Domain, "EXAMPLE.com"),
        ];
        let resolved = resolve_destinations(&directory, "destinations", &refs)
            .await
            .expect("resolves");
        let ids: Vec<_> = resolved
            .iter()
            .map(|d| (d.kind, d.id.as_str(), d.display.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                (DestinationKind::User, "200", "bob@example.com"),
                (DestinationKind::Group, "g-sales", "sales@example.com"),
                (DestinationKind::OrgUnit, "id:ou-sales", "/Sales"),
                (DestinationKind::Domain, "example.com", "example.com"),
            ]
        );
    }

    #[tokio::test]
    async fn unknown_references_name_their_field() {
        let directory = FakeDirectory::demo();
        let cases = [
            (DestinationKind::User, "nobody@example.com"),
            (DestinationKind::Group, "nogroup@example.com"),
            (DestinationKind::OrgUnit, "/Nowhere"),
            (DestinationKind::Domain, "other.org"),
        ];
        for (kind, value) in cases {
            let refs = [
                dest(DestinationKind::User, "ann@example.com"),
                dest(kind, value),
            ];
            let e = resolve_destinations(&directory, "destinations", &refs)
                .await
                .expect_err("unknown");
            assert_eq!(
                (e.status().as_u16(), e.code()),
                (422, "unknown_reference"),
                "{value}"
            );
            assert_eq!(e.field(), Some("destinations[1].value"));
        }
        let e = resolve_destinations(
            &directory,
            "destinations",
            &[dest(DestinationKind::User, "not an email")],
        )
        .await
        .expect_err("malformed");
        assert_eq!(e.code(), "invalid_reference");
    }

    #[tokio::test]
    async fn an_email_and_an_alias_of_one_user_are_duplicates() {
        let directory = FakeDirectory::demo();
        let refs = [
            dest(DestinationKind::User, "bob@example.com"),
            dest(DestinationKind::User, "200"),
        ];
        let e = resolve_destinations(&directory, "destinations", &refs)
            .await
            .expect_err("duplicate");
        assert_eq!(
            (e.code(), e.field()),
            ("duplicate_destination", Some("destinations[1].value"))
        );
    }

    #[tokio::test]
    async fn google_failures_during_resolution_are_not_blamed_on_the_caller() {
        let directory = FakeDirectory::demo();
        directory.fail_with(GoogleError::Api {
            method: "directory.users.get".into(),
            status: 500,
            status_text: "INTERNAL".into(),
            reason: None,
            message: "backend error".into(),
        });
        let e = resolve_user(&directory, "source_user", "ann@example.com")
            .await
            .expect_err("fails");
        assert_eq!(e.status(), 502);
    }

    #[tokio::test]
    async fn source_users_must_be_active() {
        let directory = FakeDirectory::demo();
        let e = resolve_source_user(&directory, "source_user", "sue@example.com")
            .await
            .expect_err("suspended");
        assert_eq!(
            (e.code(), e.field()),
            ("inactive_user", Some("source_user"))
        );
        assert_eq!(
            resolve_source_user(&directory, "source_user", "100")
                .await
                .expect("by id")
                .primary_email,
            "ann@example.com"
        );
    }

    #[tokio::test]
    async fn contact_groups_resolve_by_resource_name_or_name() {
        let people = FakePeople::demo();
        let by_name =
            resolve_contact_group(&people, "ann@example.com", "contact_group", "Customers")
                .await
                .expect("by name");
        assert_eq!(by_name.resource_name, "contactGroups/customers");
        let by_rn = resolve_contact_group(
            &people,
            "ann@example.com",
            "contact_group",
            "contactGroups/customers",
        )
        .await
        .expect("by resource name");
        assert_eq!(by_rn.name, "Customers");
        for missing in ["contactGroups/nope", "Nope"] {
            let e = resolve_contact_group(&people, "ann@example.com", "contact_group", missing)
                .await
                .expect_err("missing");
            assert_eq!(
                (e.code(), e.field()),
                ("unknown_reference", Some("contact_group"))
            );
        }
        let e = resolve_contact_group(
            &people,
            "ann@example.com",
            "contact_group",
            "contactGroups/myContacts",
        )
        .await
        .expect_err("system");
        assert_eq!(e.code(), "system_contact_group");
    }
}
