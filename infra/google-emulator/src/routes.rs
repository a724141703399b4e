//! The Google API routes the emulator serves, as (HTTP method, path template, discovery method id).
//! The dispatcher matches requests against this table; a conformance test checks every row against the
//! discovery documents (same HTTP method, same `flatPath` or `path`).

/// Every Google API route served: (HTTP method, path template, discovery method id). Templates use the
/// discovery documents' syntax: `{name}` matches one path segment without `/` or `:`, `{+name}` matches
/// the rest of the path including `/`.
pub const ROUTES: &[(&str, &str, &str)] = &[
    // People API: people
    (
        "GET",
        "/v1/people/{peopleId}/connections",
        "people.people.connections.list",
    ),
    ("GET", "/v1/people:batchGet", "people.people.getBatchGet"),
    (
        "POST",
        "/v1/people:createContact",
        "people.people.createContact",
    ),
    (
        "POST",
        "/v1/people:batchCreateContacts",
        "people.people.batchCreateContacts",
    ),
    (
        "POST",
        "/v1/people:batchUpdateContacts",
        "people.people.batchUpdateContacts",
    ),
    (
        "POST",
        "/v1/people:batchDeleteContacts",
        "people.people.batchDeleteContacts",
    ),
    (
        "PATCH",
        "/v1/people/{peopleId}:updateContact",
        "people.people.updateContact",
    ),
    (
        "DELETE",
        "/v1/people/{peopleId}:deleteContact",
        "people.people.deleteContact",
    ),
    ("GET", "/v1/people/{peopleId}", "people.people.get"),
    // People API: contact groups
    ("GET", "/v1/contactGroups", "people.contactGroups.list"),
    ("POST", "/v1/contactGroups", "people.contactGroups.create"),
    (
        "GET",
        "/v1/contactGroups:batchGet",
        "people.contactGroups.batchGet",
    ),
    (
        "GET",
        "/v1/contactGroups/{contactGroupsId}",
        "people.contactGroups.get",
    ),
    (
        "PUT",
        "/v1/contactGroups/{contactGroupsId}",
        "people.contactGroups.update",
    ),
    (
        "DELETE",
        "/v1/contactGroups/{contactGroupsId}",
        "people.contactGroups.delete",
    ),
    (
        "POST",
        "/v1/contactGroups/{contactGroupsId}/members:modify",
        "people.contactGroups.members.modify",
    ),
    // Admin SDK Directory API
    ("GET", "/admin/directory/v1/users", "directory.users.list"),
    (
        "GET",
        "/admin/directory/v1/users/{userKey}",
        "directory.users.get",
    ),
    (
        "PUT",
        "/admin/directory/v1/users/{userKey}",
        "directory.users.update",
    ),
    (
        "PATCH",
        "/admin/directory/v1/users/{userKey}",
        "directory.users.patch",
    ),
    ("GET", "/admin/directory/v1/groups", "directory.groups.list"),
    (
        "GET",
        "/admin/directory/v1/groups/{groupKey}",
        "directory.groups.get",
    ),
    (
        "PUT",
        "/admin/directory/v1/groups/{groupKey}",
        "directory.groups.update",
    ),
    (
        "PATCH",
        "/admin/directory/v1/groups/{groupKey}",
        "directory.groups.patch",
    ),
    (
        "GET",
        "/admin/directory/v1/groups/{groupKey}/members",
        "directory.members.list",
    ),
    (
        "POST",
        "/admin/directory/v1/groups/{groupKey}/members",
        "directory.members.insert",
    ),
    (
        "DELETE",
        "/admin/directory/v1/groups/{groupKey}/members/{memberKey}",
        "directory.members.delete",
    ),
    (
        "GET",
        "/admin/directory/v1/customer/{customerId}/orgunits",
        "directory.orgunits.list",
    ),
    (
        "GET",
        "/admin/directory/v1/customer/{customerId}/orgunits/{+orgUnitPath}",
        "directory.orgunits.get",
    ),
    (
        "PUT",
        "/admin/directory/v1/customer/{customerId}/orgunits/{+orgUnitPath}",
        "directory.orgunits.update",
    ),
    (
        "PATCH",
        "/admin/directory/v1/customer/{customerId}/orgunits/{+orgUnitPath}",
        "directory.orgunits.patch",
    ),
    (
        "GET",
        "/admin/directory/v1/customer/{customer}/domains",
        "directory.domains.list",
    ),
];

/// A request matched to a route: the discovery method id and the percent-decoded path variables.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matched {
    pub method_id: &'static str,
    pub vars: Vec<(&'static str, String)>,
}

impl Matched {
    pub fn var(&self, name: &str) -> &str {
        self.vars
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// Why a request matched no route.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NoMatch {
    /// No template has this path.
    Path,
    /// The path exists, but not with this HTTP method.
    Method,
}

/// Finds the route for an HTTP method and a raw (still percent-encoded) path.
pub(crate) fn match_route(method: &str, raw_path: &str) -> Result<Matched, NoMatch> {
    let mut path_matched = false;
    for (m, template, id) in ROUTES {
        if let Some(vars) = match_template(template, raw_path) {
            if m.eq_ignore_ascii_case(method) {
                let mut decoded = Vec::with_capacity(vars.len());
                for (name, raw) in vars {
                    let value = urlencoding::decode(raw).map_err(|_| NoMatch::Path)?;
                    decoded.push((name, value.into_owned()));
                }
                return Ok(Matched {
                    method_id: id,
                    vars: decoded,
                });
            }
            path_matched = true;
        }
    }
    Err(if path_matched {
        NoMatch::Method
    } else {
        NoMatch::Path
    })
}

/// Matches a path against one template; returns the raw variable values.
fn match_template<'p>(
    template: &'static str,
    path: &'p str,
) -> Option<Vec<(&'static str, &'p str)>> {
    let mut vars = Vec::new();
    if match_from(template, path, &mut vars) {
        Some(vars)
    } else {
        None
    }
}

fn match_from<'p>(
    template: &'static str,
    path: &'p str,
    vars: &mut Vec<(&'static str, &'p str)>,
) -> bool {
    match template.find('{') {
        None => template == path,
        Some(open) => {
            let (literal, rest) = template.split_at(open);
            let Some(path_rest) = path.strip_prefix(literal) else {
                return false;
            };
            let Some(close) = rest.find('}') else {
                return false;
            };
            let name = &rest[1..close];
            let after = &rest[close + 1..];
            let (reserved, name) = match name.strip_prefix('+') {
                Some(n) => (true, n),
                None => (false, name),
            };
            // Candidate ends of the variable, longest first for `{+x}`, the only one for `{x}`.
            let limit = if reserved {
                path_rest.len()
            } else {
                path_rest.find(['/', ':']).unwrap_or(path_rest.len())
            };
            let mut end = limit;
            loop {
                if end == 0 {
                    return false;
                }
                if path_rest.is_char_boundary(end) {
                    vars.push((name, &path_rest[..end]));
                    if match_from(after, &path_rest[end..], vars) {
                        return true;
                    }
                    vars.pop();
                }
                if !reserved {
                    return false;
                }
                end -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_methods_and_segments_are_told_apart() {
        let m = match_route("GET", "/v1/people:batchGet").expect("batchGet");
        assert_eq!(m.method_id, "people.people.getBatchGet");
        let m = match_route("PATCH", "/v1/people/c123:updateContact").expect("update");
        assert_eq!(m.method_id, "people.people.updateContact");
        assert_eq!(m.var("peopleId"), "c123");
        let m = match_route("GET", "/v1/people/c123").expect("get");
        assert_eq!(m.method_id, "people.people.get");
        let m = match_route("GET", "/v1/people/me/connections").expect("connections");
        assert_eq!(m.method_id, "people.people.connections.list");
        let m = match_route("POST", "/v1/contactGroups/abc/members:modify").expect("modify");
        assert_eq!(m.method_id, "people.contactGroups.members.modify");
        assert_eq!(
            match_route("DELETE", "/v1/people:batchGet"),
            Err(NoMatch::Method)
        );
        assert_eq!(match_route("GET", "/v1/nothing"), Err(NoMatch::Path));
    }

    #[test]
    fn reserved_variables_take_slashes_and_values_are_decoded() {
        let m = match_route(
            "GET",
            "/admin/directory/v1/customer/my_customer/orgunits/Accounting/Payables",
        )
        .expect("orgunit get");
        assert_eq!(m.method_id, "directory.orgunits.get");
        assert_eq!(m.var("orgUnitPath"), "Accounting/Payables");
        let m = match_route("GET", "/admin/directory/v1/users/ana%40example.com").expect("user");
        assert_eq!(m.var("userKey"), "ana@example.com");
        let m = match_route(
            "DELETE",
            "/admin/directory/v1/groups/g%40example.com/members/ana@example.com",
        )
        .expect("member delete");
        assert_eq!(m.var("groupKey"), "g@example.com");
        assert_eq!(m.var("memberKey"), "ana@example.com");
    }
}
