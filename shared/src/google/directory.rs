//! The Admin SDK Directory API client (read-only), impersonating the configured admin with
//! [`DIRECTORY_SCOPES`]; paths and parameters as in admin.directory_v1.json.

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;

use super::http::{ApiCall, CallKind, GoogleHttp, checked_base_url, join_url, pagination_guard};
use super::{
    DIRECTORY_SCOPES, DirectoryApi, DirectoryGroup, DirectoryUser, Domain, GoogleError,
    GroupMember, OrgUnit, UserScope, limits,
};

/// The customer alias of the admin's own account.
const MY_CUSTOMER: &str = "my_customer";

/// [`DirectoryApi`] over HTTP.
#[derive(Debug, Clone)]
pub struct GoogleDirectoryClient {
    http: GoogleHttp,
    base_url: String,
    admin_email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsersPage {
    #[serde(default)]
    users: Vec<DirectoryUser>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupsPage {
    #[serde(default)]
    groups: Vec<DirectoryGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MembersPage {
    #[serde(default)]
    members: Vec<GroupMember>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUnitsResponse {
    #[serde(default)]
    organization_units: Vec<OrgUnit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DomainsResponse {
    #[serde(default)]
    domains: Vec<Domain>,
}

/// The `{+orgUnitPath}` of orgunits.get: `id:...` as is, or a path without its leading `/` with each segment
/// percent-encoded. `None` for the root (`/`), which has no such path.
pub fn org_unit_path_param(path_or_id: &str) -> Option<String> {
    let trimmed = path_or_id.trim();
    if let Some(id) = trimmed.strip_prefix("id:") {
        return Some(format!("id:{}", urlencoding::encode(id)));
    }
    let segments: Vec<String> = trimmed
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| urlencoding::encode(s).into_owned())
        .collect();
    (!segments.is_empty()).then(|| segments.join("/"))
}

impl GoogleDirectoryClient {
    /// `base_url` is the host root (`https://admin.googleapis.com` or the emulator's); every call impersonates
    /// `admin_email`.
    pub fn new(http: GoogleHttp, base_url: &str, admin_email: &str) -> Result<Self, GoogleError> {
        if admin_email.trim().is_empty() {
            return Err(GoogleError::Transport {
                method: "client setup".to_owned(),
                detail:
                    "the Directory API needs an admin email to impersonate (GOOGLE_ADMIN_EMAIL)"
                        .to_owned(),
            });
        }
        Ok(GoogleDirectoryClient {
            http,
            base_url: checked_base_url(base_url)?,
            admin_email: admin_email.trim().to_owned(),
        })
    }

    pub fn http(&self) -> &GoogleHttp {
        &self.http
    }

    pub fn admin_email(&self) -> &str {
        &self.admin_email
    }

    /// A GET of `{base}/admin/directory/v1/{path}` (`path` already encoded).
    fn get(
        &self,
        method_id: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<ApiCall<'_>, GoogleError> {
        Ok(ApiCall {
            method_id,
            http_method: Method::GET,
            url: join_url(
                &self.base_url,
                method_id,
                &format!("admin/directory/v1/{path}"),
            )?,
            query,
            body: None,
            kind: CallKind::Read,
            subject: &self.admin_email,
            scopes: DIRECTORY_SCOPES,
        })
    }

    /// A GET whose 404 means "no such resource".
    async fn get_optional<T: serde::de::DeserializeOwned>(
        &self,
        method_id: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<Option<T>, GoogleError> {
        let call = self.get(method_id, path, query)?;
        match self.http.execute(&call).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of users.list.
    async fn users_page(
        &self,
        scope: &UserScope,
        query: Option<&str>,
        max_results: u32,
        page_token: Option<&str>,
    ) -> Result<UsersPage, GoogleError> {
        let mut params = vec![
            match scope {
                UserScope::Customer => ("customer", MY_CUSTOMER.to_owned()),
                UserScope::Domain(d) => ("domain", d.clone()),
            },
            ("maxResults", max_results.to_string()),
            ("projection", "basic".to_owned()),
        ];
        if let Some(q) = query.map(str::trim).filter(|q| !q.is_empty()) {
            params.push(("query", q.to_owned()));
        }
        if let Some(t) = page_token {
            params.push(("pageToken", t.to_owned()));
        }
        let call = self.get("directory.users.list", "users", params)?;
        self.http.execute(&call).await
    }
}

#[async_trait]
impl DirectoryApi for GoogleDirectoryClient {
    async fn get_user(&self, user_key: &str) -> Result<Option<DirectoryUser>, GoogleError> {
        let path = format!("users/{}", urlencoding::encode(user_key.trim()));
        self.get_optional(
            "directory.users.get",
            &path,
            vec![("projection", "basic".to_owned())],
        )
        .await
    }

    async fn list_users(
        &self,
        scope: &UserScope,
        query: Option<&str>,
    ) -> Result<Vec<DirectoryUser>, GoogleError> {
        let mut users = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let page = self
                .users_page(scope, query, limits::USERS_PAGE_SIZE, page_token.as_deref())
                .await?;
            users.extend(page.users);
            match pagination_guard(
                "directory.users.list",
                page_token.as_deref(),
                page.next_page_token,
            )? {
                Some(next) => page_token = Some(next),
                None => return Ok(users),
            }
        }
    }

    async fn search_users(&self, query: &str, max: u32) -> Result<Vec<DirectoryUser>, GoogleError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let page = self
            .users_page(
                &UserScope::Customer,
                Some(query),
                max.min(limits::USERS_PAGE_SIZE),
                None,
            )
            .await?;
        let mut users = page.users;
        users.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        Ok(users)
    }

    async fn get_group(&self, group_key: &str) -> Result<Option<DirectoryGroup>, GoogleError> {
        let path = format!("groups/{}", urlencoding::encode(group_key.trim()));
        self.get_optional("directory.groups.get", &path, Vec::new())
            .await
    }

    async fn search_groups(
        &self,
        query: &str,
        max: u32,
    ) -> Result<Vec<DirectoryGroup>, GoogleError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut params = vec![
            ("customer", MY_CUSTOMER.to_owned()),
            ("maxResults", max.min(limits::GROUPS_PAGE_SIZE).to_string()),
        ];
        if !query.trim().is_empty() {
            params.push(("query", query.trim().to_owned()));
        }
        let call = self.get("directory.groups.list", "groups", params)?;
        let page: GroupsPage = self.http.execute(&call).await?;
        let mut groups = page.groups;
        groups.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        Ok(groups)
    }

    async fn list_group_members(
        &self,
        group_key: &str,
        derived: bool,
    ) -> Result<Vec<GroupMember>, GoogleError> {
        const METHOD: &str = "directory.members.list";
        let path = format!("groups/{}/members", urlencoding::encode(group_key.trim()));
        let mut members = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut params = vec![
                ("includeDerivedMembership", derived.to_string()),
                ("maxResults", limits::MEMBERS_PAGE_SIZE.to_string()),
            ];
            if let Some(t) = &page_token {
                params.push(("pageToken", t.clone()));
            }
            let call = self.get(METHOD, &path, params)?;
            let page: MembersPage = self.http.execute(&call).await?;
            members.extend(page.members);
            match pagination_guard(METHOD, page_token.as_deref(), page.next_page_token)? {
                Some(next) => page_token = Some(next),
                None => return Ok(members),
            }
        }
    }

    async fn list_org_units(&self) -> Result<Vec<OrgUnit>, GoogleError> {
        let call = self.get(
            "directory.orgunits.list",
            &format!("customer/{MY_CUSTOMER}/orgunits"),
            vec![("type", "all".to_owned())],
        )?;
        let answer: OrgUnitsResponse = self.http.execute(&call).await?;
        Ok(answer.organization_units)
    }

    async fn get_org_unit(&self, path_or_id: &str) -> Result<Option<OrgUnit>, GoogleError> {
        match org_unit_path_param(path_or_id) {
            Some(param) => {
                self.get_optional(
                    "directory.orgunits.get",
                    &format!("customer/{MY_CUSTOMER}/orgunits/{param}"),
                    Vec::new(),
                )
                .await
            }
            None => {
                // The root has no `{+orgUnitPath}`: list with the root included and pick it.
                let call = self.get(
                    "directory.orgunits.list",
                    &format!("customer/{MY_CUSTOMER}/orgunits"),
                    vec![("type", "allIncludingParent".to_owned())],
                )?;
                let answer: OrgUnitsResponse = self.http.execute(&call).await?;
                Ok(answer
                    .organization_units
                    .into_iter()
                    .find(|ou| ou.org_unit_path == "/"))
            }
        }
    }

    async fn list_domains(&self) -> Result<Vec<Domain>, GoogleError> {
        let call = self.get(
            "directory.domains.list",
            &format!("customer/{MY_CUSTOMER}/domains"),
            Vec::new(),
        )?;
        let answer: DomainsResponse = self.http.execute(&call).await?;
        Ok(answer.domains)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::testing::{Recorded, TestServer, http_for, reply_json, token_reply};

    async fn directory_server<F>(api: F) -> (TestServer, GoogleDirectoryClient)
    where
        F: Fn(&Recorded) -> (u16, String) + Send + Sync + 'static,
    {
        let server = TestServer::start(move |req| {
            if req.path == "/token" {
                token_reply()
            } else {
                let (status, body) = api(req);
                reply_json(status, &body)
            }
        })
        .await;
        let client =
            GoogleDirectoryClient::new(http_for(&server), &server.base_url(), "admin@example.com")
                .expect("client");
        (server, client)
    }

    const NOT_FOUND: &str = r#"{"error":{"code":404,"message":"Resource Not Found: userKey","errors":[{"message":"Resource Not Found: userKey","domain":"global","reason":"notFound"}]}}"#;

    #[tokio::test]
    async fn gets_encode_keys_and_map_404_to_none() {
        let (server, client) = directory_server(|req| {
            if req.path.ends_with("missing%40example.com") {
                (404, NOT_FOUND.to_owned())
            } else if req.path.starts_with("/admin/directory/v1/users/") {
                (200, r#"{"kind":"admin#directory#user","id":"1001","primaryEmail":"a+b@example.com","suspended":false,"aliases":["old@example.com"]}"#.to_owned())
            } else if req.path.starts_with("/admin/directory/v1/groups/") {
                (200, r#"{"id":"g1","email":"team@example.com","name":"Team","directMembersCount":"3"}"#.to_owned())
            } else {
                (200, r#"{"orgUnitId":"id:ou1","orgUnitPath":"/Sales/East Coast","name":"East Coast"}"#.to_owned())
            }
        })
        .await;
        let user = client
            .get_user("a+b@example.com")
            .await
            .expect("get")
            .expect("found");
        assert_eq!(user.id, "1001");
        assert_eq!(user.aliases, vec!["old@example.com"]);
        assert_eq!(
            client.get_user("missing@example.com").await.expect("get"),
            None
        );
        let group = client
            .get_group("team@example.com")
            .await
            .expect("get")
            .expect("found");
        assert_eq!(group.direct_members_count.as_deref(), Some("3"));
        let ou = client
            .get_org_unit("/Sales/East Coast")
            .await
            .expect("get")
            .expect("found");
        assert_eq!(ou.org_unit_id, "id:ou1");
        client.get_org_unit("id:ou1").await.expect("get");
        let api = server.api_requests();
        assert_eq!(api[0].path, "/admin/directory/v1/users/a%2Bb%40example.com");
        assert_eq!(api[0].query_values("projection"), vec!["basic"]);
        assert_eq!(api[2].path, "/admin/directory/v1/groups/team%40example.com");
        assert_eq!(
            api[3].path,
            "/admin/directory/v1/customer/my_customer/orgunits/Sales/East%20Coast"
        );
        assert_eq!(
            api[4].path,
            "/admin/directory/v1/customer/my_customer/orgunits/id:ou1"
        );
    }

    #[tokio::test]
    async fn lists_page_through_and_carry_googles_parameters() {
        let (server, client) = directory_server(|req| {
            let token = req.query_values("pageToken");
            let body = match (req.path.as_str(), token.first().map(String::as_str)) {
                ("/admin/directory/v1/users", None) => r#"{"users":[{"id":"1","primaryEmail":"a@example.com"}],"nextPageToken":"u2"}"#,
                ("/admin/directory/v1/users", Some(_)) => r#"{"users":[{"id":"2","primaryEmail":"b@example.com","suspended":true}]}"#,
                ("/admin/directory/v1/groups/g1/members", None) => r#"{"members":[{"id":"1","email":"a@example.com","type":"USER","status":"ACTIVE"}],"nextPageToken":"m2"}"#,
                ("/admin/directory/v1/groups/g1/members", Some(_)) => r#"{"members":[{"id":"9","type":"CUSTOMER"}]}"#,
                ("/admin/directory/v1/groups", _) => r#"{"groups":[{"id":"g1","email":"team@example.com"},{"id":"g2","email":"x@example.com"}]}"#,
                ("/admin/directory/v1/customer/my_customer/orgunits", _) => r#"{"organizationUnits":[{"orgUnitId":"id:1","orgUnitPath":"/Sales","parentOrgUnitId":"id:0"}]}"#,
                _ => r#"{"domains":[{"domainName":"example.com","isPrimary":true,"verified":true}]}"#,
            };
            (200, body.to_owned())
        })
        .await;
        let users = client
            .list_users(
                &UserScope::Domain("example.com".to_owned()),
                Some("orgUnitPath='/Sales'"),
            )
            .await
            .expect("users");
        assert_eq!(users.len(), 2);
        assert!(!users[1].is_active());
        let members = client
            .list_group_members("g1", true)
            .await
            .expect("members");
        assert_eq!(members.len(), 2);
        let groups = client
            .search_groups("email:team*", 1)
            .await
            .expect("groups");
        assert_eq!(groups.len(), 1, "truncated to max");
        let found = client.search_users("", 3).await.expect("users");
        assert_eq!(found.len(), 1);
        assert_eq!(client.list_org_units().await.expect("ous").len(), 1);
        assert!(client.list_domains().await.expect("domains")[0].is_primary);

        let api = server.api_requests();
        assert_eq!(api[0].query_values("domain"), vec!["example.com"]);
        assert_eq!(api[0].query_values("query"), vec!["orgUnitPath='/Sales'"]);
        assert_eq!(api[0].query_values("maxResults"), vec!["500"]);
        assert_eq!(api[1].query_values("pageToken"), vec!["u2"]);
        assert_eq!(
            api[2].query_values("includeDerivedMembership"),
            vec!["true"]
        );
        assert_eq!(api[2].query_values("maxResults"), vec!["200"]);
        assert_eq!(api[3].query_values("pageToken"), vec!["m2"]);
        assert_eq!(api[4].query_values("customer"), vec!["my_customer"]);
        assert_eq!(api[4].query_values("maxResults"), vec!["1"]);
        assert_eq!(api[5].query_values("customer"), vec!["my_customer"]);
        assert_eq!(api[5].query_values("maxResults"), vec!["3"]);
        assert!(api[5].query_values("query").is_empty());
        assert_eq!(api[6].query_values("type"), vec!["all"]);
        assert_eq!(
            api[7].path,
            "/admin/directory/v1/customer/my_customer/domains"
        );
        assert_eq!(api.len(), 8);
    }

    #[test]
    fn org_unit_paths_drop_the_leading_slash_and_encode_segments() {
        assert_eq!(org_unit_path_param("/Sales").as_deref(), Some("Sales"));
        assert_eq!(
            org_unit_path_param("/Sales/East Coast").as_deref(),
            Some("Sales/East%20Coast")
        );
        assert_eq!(
            org_unit_path_param("/R&D/Lab #1").as_deref(),
            Some("R%26D/Lab%20%231")
        );
        assert_eq!(
            org_unit_path_param("id:03ph8a2z1xyz").as_deref(),
            Some("id:03ph8a2z1xyz")
        );
        assert_eq!(org_unit_path_param("/"), None);
        assert_eq!(org_unit_path_param(""), None);
    }
}
