//! The Admin SDK search language of users.list and groups.list: space-separated clauses, ANDed.
//! `field:value`, `field=value`, `field:prefix*`, quoted values with `\'` escapes, and bare words.

use crate::error::ApiError;
use crate::world::{Group, User, World};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Clause {
    Field {
        field: String,
        exact: bool,
        value: String,
    },
    Bare(String),
}

fn invalid_query() -> ApiError {
    ApiError::directory(400, "Invalid Input: query", "invalid")
}

/// Splits a query into clauses.
pub(crate) fn parse(query: &str) -> Result<Vec<Clause>, ApiError> {
    let mut tokens: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = query.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                } else if c == q {
                    quote = None;
                } else {
                    current.push(c);
                }
            }
            None => {
                if c.is_whitespace() {
                    if !current.is_empty() {
                        tokens.push(std::mem::take(&mut current));
                    }
                } else if c == '\'' || c == '"' {
                    quote = Some(c);
                } else {
                    current.push(c);
                }
            }
        }
    }
    if quote.is_some() {
        return Err(invalid_query());
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    let mut clauses = Vec::new();
    for t in tokens {
        match t.find([':', '=']) {
            Some(i) => {
                let field = t[..i].to_string();
                let exact = t[i..].starts_with('=');
                let value = t[i + 1..].to_string();
                if field.is_empty() {
                    return Err(invalid_query());
                }
                clauses.push(Clause::Field {
                    field,
                    exact,
                    value,
                });
            }
            None => clauses.push(Clause::Bare(t)),
        }
    }
    Ok(clauses)
}

/// `:` with a trailing `*` is a prefix match; otherwise the value must equal the whole field or (for `:`)
/// one of its words. Case-insensitive.
fn text_matches(candidate: &str, value: &str, exact: bool) -> bool {
    let candidate = candidate.to_lowercase();
    let value = value.to_lowercase();
    if let Some(prefix) = value.strip_suffix('*')
        && !exact
    {
        return candidate.starts_with(prefix)
            || candidate.split_whitespace().any(|w| w.starts_with(prefix));
    }
    if exact {
        return candidate == value;
    }
    candidate == value || candidate.split_whitespace().any(|w| w == value)
}

fn email_matches(addresses: &[&str], value: &str, exact: bool) -> bool {
    let value = value.to_lowercase();
    addresses.iter().any(|a| {
        let a = a.to_lowercase();
        match value.strip_suffix('*') {
            Some(prefix) if !exact => a.starts_with(prefix),
            _ => a == value,
        }
    })
}

fn bool_value(value: &str) -> Result<bool, ApiError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid_query()),
    }
}

fn bare_matches(words: &[&str], emails: &[&str], value: &str) -> bool {
    let value = value.trim_end_matches('*').to_lowercase();
    words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .any(|w| w.to_lowercase().starts_with(&value))
        || emails.iter().any(|e| e.to_lowercase().starts_with(&value))
}

/// One condition on a user, resolved once per request.
enum UserCondition {
    Bare(String),
    Email(String, bool),
    GivenName(String, bool),
    FamilyName(String, bool),
    Name(String, bool),
    Suspended(bool),
    Archived(bool),
    Admin(bool),
    /// The org unit (id) whose users and sub-units' users match; None when no such org unit exists.
    OrgUnit(Option<String>),
}

/// A users.list query, validated and with its org unit paths resolved.
pub(crate) struct UserFilter(Vec<UserCondition>);

impl UserFilter {
    pub fn compile(world: &World, clauses: &[Clause]) -> Result<UserFilter, ApiError> {
        let mut out = Vec::with_capacity(clauses.len());
        for clause in clauses {
            out.push(match clause {
                Clause::Bare(v) => UserCondition::Bare(v.clone()),
                Clause::Field {
                    field,
                    exact,
                    value,
                } => match field.to_ascii_lowercase().as_str() {
                    "email" => UserCondition::Email(value.clone(), *exact),
                    "givenname" => UserCondition::GivenName(value.clone(), *exact),
                    "familyname" => UserCondition::FamilyName(value.clone(), *exact),
                    "name" => UserCondition::Name(value.clone(), *exact),
                    "issuspended" => UserCondition::Suspended(bool_value(value)?),
                    "isarchived" => UserCondition::Archived(bool_value(value)?),
                    "isadmin" => UserCondition::Admin(bool_value(value)?),
                    "orgunitpath" => UserCondition::OrgUnit(world.find_ou_by_path(value)),
                    _ => return Err(invalid_query()),
                },
            });
        }
        Ok(UserFilter(out))
    }

    /// Whether a user satisfies every condition.
    pub fn matches(&self, world: &World, user: &User) -> bool {
        let mut addresses = vec![user.primary_email.as_str()];
        addresses.extend(user.aliases.iter().map(String::as_str));
        self.0.iter().all(|condition| match condition {
            UserCondition::Bare(v) => {
                bare_matches(&[&user.given_name, &user.family_name], &addresses, v)
            }
            UserCondition::Email(v, exact) => email_matches(&addresses, v, *exact),
            UserCondition::GivenName(v, exact) => text_matches(&user.given_name, v, *exact),
            UserCondition::FamilyName(v, exact) => text_matches(&user.family_name, v, *exact),
            UserCondition::Name(v, exact) => text_matches(
                &format!("{} {}", user.given_name, user.family_name),
                v,
                *exact,
            ),
            UserCondition::Suspended(b) => user.suspended == *b,
            UserCondition::Archived(b) => user.archived == *b,
            UserCondition::Admin(b) => user.is_admin == *b,
            UserCondition::OrgUnit(ou) => ou
                .as_deref()
                .is_some_and(|ou| world.ou_within(&user.org_unit, ou)),
        })
    }
}

/// Checks a groups.list query: only `email`, `name` and bare words are known.
pub(crate) fn check_group_query(clauses: &[Clause]) -> Result<(), ApiError> {
    for clause in clauses {
        if let Clause::Field { field, .. } = clause
            && !matches!(field.to_ascii_lowercase().as_str(), "email" | "name")
        {
            return Err(invalid_query());
        }
    }
    Ok(())
}

/// Whether a group satisfies every clause (checked by [`check_group_query`]).
pub(crate) fn group_matches(group: &Group, clauses: &[Clause]) -> bool {
    let mut addresses = vec![group.email.as_str()];
    addresses.extend(group.aliases.iter().map(String::as_str));
    clauses.iter().all(|clause| match clause {
        Clause::Bare(v) => bare_matches(&[&group.name], &addresses, v),
        Clause::Field {
            field,
            exact,
            value,
        } => {
            if field.eq_ignore_ascii_case("email") {
                email_matches(&addresses, value, *exact)
            } else {
                text_matches(&group.name, value, *exact)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_quotes_and_escapes() {
        let c = parse(r"email:ana* orgUnitPath='/Sales and \'Marketing\'' isSuspended=false bob")
            .expect("parses");
        assert_eq!(
            c,
            vec![
                Clause::Field {
                    field: "email".into(),
                    exact: false,
                    value: "ana*".into()
                },
                Clause::Field {
                    field: "orgUnitPath".into(),
                    exact: true,
                    value: "/Sales and 'Marketing'".into()
                },
                Clause::Field {
                    field: "isSuspended".into(),
                    exact: true,
                    value: "false".into()
                },
                Clause::Bare("bob".into()),
            ]
        );
        assert!(parse("name:'unterminated").is_err());
    }

    #[test]
    fn text_matching() {
        assert!(text_matches("Ana Lima", "ana", false));
        assert!(text_matches("Ana Lima", "li*", false));
        assert!(!text_matches("Ana Lima", "ana", true));
        assert!(text_matches("Ana Lima", "ana lima", true));
        assert!(email_matches(
            &["ana@example.com"],
            "ANA@example.com",
            false
        ));
        assert!(!email_matches(&["ana@example.com"], "an", false));
    }
}
