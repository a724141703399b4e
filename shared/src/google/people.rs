//! The People API client: one impersonated user per call (scope `contacts`), paths and bodies as in
//! people.v1.json.
//!
//! Read masks of the batch mutations: the body carries `"readMask": ""`. Google documents the field as
//! required, and "if read mask is left empty, the post-mutate-get is skipped and no data will be returned";
//! in proto3 JSON an empty FieldMask string is the same as an absent one, so both Google and the emulator
//! accept it. It saves a critical read per written contact.
//!
//! Multi-call methods stop at the first failing call: the calls before it have taken effect. A write error
//! (including [`GoogleError::OutcomeUnknown`]) therefore means "re-read before planning again".

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::http::{ApiCall, CallKind, GoogleHttp, checked_base_url, join_url, pagination_guard};
use super::{ContactGroup, GoogleError, PeopleApi, Person, SCOPE_CONTACTS, limits};

const PEOPLE_SCOPES: &[&str] = &[SCOPE_CONTACTS];

/// [`PeopleApi`] over HTTP.
#[derive(Debug, Clone)]
pub struct GooglePeopleClient {
    http: GoogleHttp,
    base_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListContactGroupsResponse {
    #[serde(default)]
    contact_groups: Vec<ContactGroup>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetPeopleResponse {
    #[serde(default)]
    responses: Vec<PersonResponse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonResponse {
    #[serde(default)]
    person: Option<Person>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListConnectionsResponse {
    #[serde(default)]
    connections: Vec<Person>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModifyMembersResponse {
    #[serde(default)]
    not_found_resource_names: Vec<String>,
    #[serde(default)]
    can_not_remove_last_contact_group_resource_names: Vec<String>,
}

impl GooglePeopleClient {
    /// `base_url` is the host root (`https://people.googleapis.com` or the emulator's).
    pub fn new(http: GoogleHttp, base_url: &str) -> Result<Self, GoogleError> {
        Ok(GooglePeopleClient {
            http,
            base_url: checked_base_url(base_url)?,
        })
    }

    pub fn http(&self) -> &GoogleHttp {
        &self.http
    }

    /// A read of `{base}/v1/{path}` (`path` already encoded).
    fn read<'a>(
        &self,
        user: &'a str,
        method_id: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<ApiCall<'a>, GoogleError> {
        Ok(ApiCall {
            method_id,
            http_method: Method::GET,
            url: join_url(&self.base_url, method_id, &format!("v1/{path}"))?,
            query,
            body: None,
            kind: CallKind::Read,
            subject: user,
            scopes: PEOPLE_SCOPES,
        })
    }

    /// A mutation of `{base}/v1/{path}` (`path` already encoded).
    fn write<'a>(
        &self,
        user: &'a str,
        method_id: &'static str,
        http_method: Method,
        path: &str,
        query: Vec<(&'static str, String)>,
        body: Option<Value>,
    ) -> Result<ApiCall<'a>, GoogleError> {
        Ok(ApiCall {
            method_id,
            http_method,
            url: join_url(&self.base_url, method_id, &format!("v1/{path}"))?,
            query,
            body,
            kind: CallKind::Write,
            subject: user,
            scopes: PEOPLE_SCOPES,
        })
    }
}

/// A resource name such as `contactGroups/abc` as an encoded path (each segment percent-encoded).
fn resource_path(resource_name: &str) -> String {
    resource_name
        .split('/')
        .map(|s| urlencoding::encode(s).into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Splits adds and removes into calls of at most `limit` names in total.
fn modify_chunks<'a>(
    add: &'a [String],
    remove: &'a [String],
    limit: usize,
) -> Vec<(&'a [String], &'a [String])> {
    let mut chunks = Vec::new();
    let (mut add, mut remove) = (add, remove);
    while !add.is_empty() || !remove.is_empty() {
        let take_add = add.len().min(limit);
        let take_remove = remove.len().min(limit - take_add);
        chunks.push((&add[..take_add], &remove[..take_remove]));
        add = &add[take_add..];
        remove = &remove[take_remove..];
    }
    chunks
}

/// The person as a create body: without the fields only Google sets.
fn creatable(person: &Person) -> Person {
    Person {
        resource_name: None,
        etag: None,
        metadata: None,
        ..person.clone()
    }
}

#[async_trait]
impl PeopleApi for GooglePeopleClient {
    async fn list_contact_groups(&self, user: &str) -> Result<Vec<ContactGroup>, GoogleError> {
        const METHOD: &str = "people.contactGroups.list";
        let mut groups = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![("pageSize", limits::CONTACT_GROUPS_PAGE_SIZE.to_string())];
            if let Some(t) = &page_token {
                query.push(("pageToken", t.clone()));
            }
            let call = self.read(user, METHOD, "contactGroups", query)?;
            let page: ListContactGroupsResponse = self.http.execute(&call).await?;
            groups.extend(page.contact_groups);
            match pagination_guard(METHOD, page_token.as_deref(), page.next_page_token)? {
                Some(next) => page_token = Some(next),
                None => return Ok(groups),
            }
        }
    }

    async fn get_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        max_members: u32,
    ) -> Result<ContactGroup, GoogleError> {
        let call = self.read(
            user,
            "people.contactGroups.get",
            &resource_path(resource_name),
            vec![("maxMembers", max_members.to_string())],
        )?;
        self.http.execute(&call).await
    }

    async fn create_contact_group(
        &self,
        user: &str,
        name: &str,
    ) -> Result<ContactGroup, GoogleError> {
        let call = self.write(
            user,
            "people.contactGroups.create",
            Method::POST,
            "contactGroups",
            Vec::new(),
            Some(json!({ "contactGroup": { "name": name } })),
        )?;
        self.http.execute(&call).await
    }

    async fn delete_contact_group(
        &self,
        user: &str,
        resource_name: &str,
        delete_contacts: bool,
    ) -> Result<(), GoogleError> {
        let call = self.write(
            user,
            "people.contactGroups.delete",
            Method::DELETE,
            &resource_path(resource_name),
            vec![("deleteContacts", delete_contacts.to_string())],
            None,
        )?;
        let _: IgnoredAny = self.http.execute(&call).await?;
        Ok(())
    }

    async fn modify_contact_group_members(
        &self,
        user: &str,
        resource_name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), GoogleError> {
        let path = format!("{}/members:modify", resource_path(resource_name));
        for (add, remove) in modify_chunks(add, remove, limits::MODIFY_MEMBERS) {
            let call = self.write(
                user,
                "people.contactGroups.members.modify",
                Method::POST,
                &path,
                Vec::new(),
                Some(json!({ "resourceNamesToAdd": add, "resourceNamesToRemove": remove })),
            )?;
            let answer: ModifyMembersResponse = self.http.execute(&call).await?;
            if !answer.not_found_resource_names.is_empty()
                || !answer
                    .can_not_remove_last_contact_group_resource_names
                    .is_empty()
            {
                tracing::info!(
                    not_found = answer.not_found_resource_names.len(),
                    last_group = answer
                        .can_not_remove_last_contact_group_resource_names
                        .len(),
                    "members:modify skipped some contacts"
                );
            }
        }
        Ok(())
    }

    async fn batch_get_people(
        &self,
        user: &str,
        resource_names: &[String],
        person_fields: &str,
    ) -> Result<Vec<Person>, GoogleError> {
        let mut people = Vec::with_capacity(resource_names.len());
        for chunk in resource_names.chunks(limits::BATCH_GET_PEOPLE) {
            let mut query: Vec<(&'static str, String)> = chunk
                .iter()
                .map(|rn| ("resourceNames", rn.clone()))
                .collect();
            query.push(("personFields", person_fields.to_owned()));
            let call = self.read(user, "people.people.getBatchGet", "people:batchGet", query)?;
            let answer: GetPeopleResponse = self.http.execute(&call).await?;
            let before = people.len();
            people.extend(answer.responses.into_iter().filter_map(|r| r.person));
            let missing = chunk.len().saturating_sub(people.len() - before);
            if missing > 0 {
                tracing::debug!(missing, "batchGet: some resource names returned no person");
            }
        }
        Ok(people)
    }

    async fn list_connections(
        &self,
        user: &str,
        person_fields: &str,
    ) -> Result<Vec<Person>, GoogleError> {
        const METHOD: &str = "people.people.connections.list";
        let mut people = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![
                ("personFields", person_fields.to_owned()),
                ("pageSize", limits::CONNECTIONS_PAGE_SIZE.to_string()),
            ];
            if let Some(t) = &page_token {
                query.push(("pageToken", t.clone()));
            }
            let call = self.read(user, METHOD, "people/me/connections", query)?;
            let page: ListConnectionsResponse = self.http.execute(&call).await?;
            people.extend(page.connections);
            match pagination_guard(METHOD, page_token.as_deref(), page.next_page_token)? {
                Some(next) => page_token = Some(next),
                None => return Ok(people),
            }
        }
    }

    async fn batch_create_contacts(
        &self,
        user: &str,
        contacts: &[Person],
    ) -> Result<(), GoogleError> {
        for chunk in contacts.chunks(limits::BATCH_CREATE_CONTACTS) {
            let wrapped: Vec<Value> = chunk
                .iter()
                .map(|p| json!({ "contactPerson": creatable(p) }))
                .collect();
            let call = self.write(
                user,
                "people.people.batchCreateContacts",
                Method::POST,
                "people:batchCreateContacts",
                Vec::new(),
                Some(json!({ "contacts": wrapped, "readMask": "" })),
            )?;
            let _: IgnoredAny = self.http.execute(&call).await?;
        }
        Ok(())
    }

    async fn batch_update_contacts(
        &self,
        user: &str,
        contacts: &BTreeMap<String, Person>,
        update_mask: &str,
    ) -> Result<(), GoogleError> {
        let entries: Vec<(&String, &Person)> = contacts.iter().collect();
        for chunk in entries.chunks(limits::BATCH_UPDATE_CONTACTS) {
            let map: BTreeMap<&String, &Person> = chunk.iter().copied().collect();
            let call = self.write(
                user,
                "people.people.batchUpdateContacts",
                Method::POST,
                "people:batchUpdateContacts",
                Vec::new(),
                Some(json!({ "contacts": map, "updateMask": update_mask, "readMask": "" })),
            )?;
            let _: IgnoredAny = self.http.execute(&call).await?;
        }
        Ok(())
    }

    async fn batch_delete_contacts(
        &self,
        user: &str,
        resource_names: &[String],
    ) -> Result<(), GoogleError> {
        for chunk in resource_names.chunks(limits::BATCH_DELETE_CONTACTS) {
            let call = self.write(
                user,
                "people.people.batchDeleteContacts",
                Method::POST,
                "people:batchDeleteContacts",
                Vec::new(),
                Some(json!({ "resourceNames": chunk })),
            )?;
            let _: IgnoredAny = self.http.execute(&call).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::testing::{Recorded, TestServer, http_for, reply_json, token_reply};

    async fn people_server<F>(api: F) -> (TestServer, GooglePeopleClient)
    where
        F: Fn(&Recorded) -> String + Send + Sync + 'static,
    {
        let server = TestServer::start(move |req| {
            if req.path == "/token" {
                token_reply()
            } else {
                reply_json(200, &api(req))
            }
        })
        .await;
        let client = GooglePeopleClient::new(http_for(&server), &format!("{}/", server.base_url()))
            .expect("client");
        (server, client)
    }

    fn person(i: usize) -> Person {
        serde_json::from_value(json!({"names": [{"givenName": format!("P{i}")}]})).expect("person")
    }

    #[tokio::test]
    async fn contact_groups_are_listed_over_all_pages() {
        let (server, client) = people_server(|req| {
            if req.query_values("pageToken").is_empty() {
                r#"{"contactGroups":[{"resourceName":"contactGroups/a","name":"A","groupType":"USER_CONTACT_GROUP"}],"nextPageToken":"p2","totalItems":2}"#.to_owned()
            } else {
                r#"{"contactGroups":[{"resourceName":"contactGroups/myContacts","name":"myContacts","groupType":"SYSTEM_CONTACT_GROUP"}],"totalItems":2}"#.to_owned()
            }
        })
        .await;
        let groups = client
            .list_contact_groups("ann@example.com")
            .await
            .expect("groups");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].resource_name, "contactGroups/a");
        let api = server.api_requests();
        assert_eq!(api.len(), 2);
        assert_eq!(api[0].path, "/v1/contactGroups");
        assert_eq!(api[0].query_values("pageSize"), vec!["1000"]);
        assert_eq!(api[1].query_values("pageToken"), vec!["p2"]);
    }

    #[tokio::test]
    async fn group_get_create_delete_and_modify_use_googles_shapes() {
        let (server, client) = people_server(|req| match (req.method.as_str(), req.path.as_str()) {
            ("GET", _) => r#"{"resourceName":"contactGroups/abc","name":"Team","memberResourceNames":["people/c1"],"memberCount":1}"#.to_owned(),
            ("POST", "/v1/contactGroups") => r#"{"resourceName":"contactGroups/new","name":"Team","etag":"e1"}"#.to_owned(),
            ("POST", _) => r#"{"notFoundResourceNames":["people/x"]}"#.to_owned(),
            _ => "{}".to_owned(),
        })
        .await;
        let user = "ann@example.com";
        let g = client
            .get_contact_group(user, "contactGroups/abc", 50)
            .await
            .expect("get");
        assert_eq!(g.member_resource_names, vec!["people/c1"]);
        let created = client
            .create_contact_group(user, "Team")
            .await
            .expect("create");
        assert_eq!(created.resource_name, "contactGroups/new");
        client
            .delete_contact_group(user, "contactGroups/abc", true)
            .await
            .expect("delete");
        let add: Vec<String> = (0..1200).map(|i| format!("people/a{i}")).collect();
        client
            .modify_contact_group_members(user, "contactGroups/abc", &add, &["people/r".to_owned()])
            .await
            .expect("modify");
        let api = server.api_requests();
        assert_eq!(api.len(), 5);
        assert_eq!(api[0].path, "/v1/contactGroups/abc");
        assert_eq!(api[0].query_values("maxMembers"), vec!["50"]);
        assert_eq!(
            api[1].body_json(),
            json!({"contactGroup": {"name": "Team"}})
        );
        assert_eq!(
            (api[2].method.as_str(), api[2].path.as_str()),
            ("DELETE", "/v1/contactGroups/abc")
        );
        assert_eq!(api[2].query_values("deleteContacts"), vec!["true"]);
        assert_eq!(api[3].path, "/v1/contactGroups/abc/members:modify");
        let first = api[3].body_json();
        let second = api[4].body_json();
        assert_eq!(
            first["resourceNamesToAdd"].as_array().map(Vec::len),
            Some(1000)
        );
        assert_eq!(
            first["resourceNamesToRemove"].as_array().map(Vec::len),
            Some(0)
        );
        assert_eq!(
            second["resourceNamesToAdd"].as_array().map(Vec::len),
            Some(200)
        );
        assert_eq!(second["resourceNamesToRemove"], json!(["people/r"]));
    }

    #[tokio::test]
    async fn batch_get_sends_repeated_names_in_chunks_of_200() {
        let (server, client) = people_server(|req| {
            let names = req.query_values("resourceNames");
            let responses: Vec<Value> = names
                .iter()
                .map(|rn| {
                    if rn == "people/c7" {
                        json!({"requestedResourceName": rn, "status": {"code": 5, "message": "not found"}})
                    } else {
                        json!({"requestedResourceName": rn, "person": {"resourceName": rn, "etag": "e"}})
                    }
                })
                .collect();
            json!({ "responses": responses }).to_string()
        })
        .await;
        let names: Vec<String> = (0..450).map(|i| format!("people/c{i}")).collect();
        let people = client
            .batch_get_people("ann@example.com", &names, "names,clientData")
            .await
            .expect("people");
        assert_eq!(people.len(), 449, "the missing one is skipped");
        let api = server.api_requests();
        let sizes: Vec<usize> = api
            .iter()
            .map(|r| r.query_values("resourceNames").len())
            .collect();
        assert_eq!(sizes, vec![200, 200, 50]);
        assert!(api.iter().all(|r| r.path == "/v1/people:batchGet"
            && r.query_values("personFields") == vec!["names,clientData"]));
        assert!(
            client
                .batch_get_people("ann@example.com", &[], "names")
                .await
                .expect("empty")
                .is_empty()
        );
        assert_eq!(server.api_requests().len(), 3);
    }

    #[tokio::test]
    async fn connections_are_listed_over_all_pages() {
        let (server, client) =
            people_server(
                |req| match req.query_values("pageToken").first().map(String::as_str) {
                    None => {
                        r#"{"connections":[{"resourceName":"people/c1"}],"nextPageToken":"t1"}"#
                            .to_owned()
                    }
                    Some("t1") => {
                        r#"{"connections":[{"resourceName":"people/c2"}],"nextPageToken":"t2"}"#
                            .to_owned()
                    }
                    _ => r#"{"totalItems":2}"#.to_owned(),
                },
            )
            .await;
        let people = client
            .list_connections("ann@example.com", "names")
            .await
            .expect("people");
        assert_eq!(people.len(), 2);
        let api = server.api_requests();
        assert_eq!(api.len(), 3);
        assert_eq!(api[0].path, "/v1/people/me/connections");
        assert_eq!(api[0].query_values("pageSize"), vec!["1000"]);
        assert_eq!(api[0].query_values("personFields"), vec!["names"]);
    }

    #[tokio::test]
    async fn batch_mutations_are_chunked_with_empty_read_masks() {
        let (server, client) = people_server(|_| "{}".to_owned()).await;
        let user = "ann@example.com";
        let contacts: Vec<Person> = (0..201).map(person).collect();
        client
            .batch_create_contacts(user, &contacts)
            .await
            .expect("create");
        let updates: BTreeMap<String, Person> = (0..250)
            .map(|i| {
                let mut p = person(i);
                p.etag = Some(format!("etag{i}"));
                (format!("people/c{i}"), p)
            })
            .collect();
        client
            .batch_update_contacts(user, &updates, "names,clientData")
            .await
            .expect("update");
        let names: Vec<String> = (0..501).map(|i| format!("people/c{i}")).collect();
        client
            .batch_delete_contacts(user, &names)
            .await
            .expect("delete");
        client
            .batch_create_contacts(user, &[])
            .await
            .expect("nothing to do");

        let api = server.api_requests();
        let summary: Vec<(&str, usize)> = api
            .iter()
            .map(|r| {
                let body = r.body_json();
                let n = match r.path.as_str() {
                    "/v1/people:batchCreateContacts" => body["contacts"].as_array().map(Vec::len),
                    "/v1/people:batchUpdateContacts" => {
                        body["contacts"].as_object().map(|m| m.len())
                    }
                    _ => body["resourceNames"].as_array().map(Vec::len),
                };
                (r.path.as_str(), n.unwrap_or(0))
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("/v1/people:batchCreateContacts", 200),
                ("/v1/people:batchCreateContacts", 1),
                ("/v1/people:batchUpdateContacts", 200),
                ("/v1/people:batchUpdateContacts", 50),
                ("/v1/people:batchDeleteContacts", 500),
                ("/v1/people:batchDeleteContacts", 1),
            ]
        );
        let create = api[0].body_json();
        assert_eq!(create["readMask"], json!(""));
        assert_eq!(
            create["contacts"][0],
            json!({"contactPerson": {"names": [{"givenName": "P0"}]}})
        );
        let update = api[2].body_json();
        assert_eq!(update["readMask"], json!(""));
        assert_eq!(update["updateMask"], json!("names,clientData"));
        assert_eq!(update["contacts"]["people/c0"]["etag"], json!("etag0"));
        assert!(api.iter().all(|r| r.method == "POST"));
    }

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}/{i}")).collect()
    }

    #[test]
    fn modify_chunks_respect_the_combined_limit() {
        let add = names("people/a", 1500);
        let remove = names("people/r", 700);
        let chunks = modify_chunks(&add, &remove, 1000);
        assert_eq!(chunks.len(), 3);
        assert_eq!((chunks[0].0.len(), chunks[0].1.len()), (1000, 0));
        assert_eq!((chunks[1].0.len(), chunks[1].1.len()), (500, 500));
        assert_eq!((chunks[2].0.len(), chunks[2].1.len()), (0, 200));
        assert!(modify_chunks(&[], &[], 1000).is_empty());
    }

    #[test]
    fn resource_paths_keep_slashes_and_encode_segments() {
        assert_eq!(
            resource_path("contactGroups/abc123"),
            "contactGroups/abc123"
        );
        assert_eq!(
            resource_path("contactGroups/a b?"),
            "contactGroups/a%20b%3F"
        );
    }

    #[test]
    fn create_bodies_drop_server_fields() {
        let p: Person = serde_json::from_value(json!({
            "resourceName": "people/c1", "etag": "e", "metadata": {"sources": []},
            "names": [{"givenName": "Ann"}], "clientData": [{"key": "k", "value": "v"}]
        }))
        .expect("person");
        let body = serde_json::to_value(creatable(&p)).expect("json");
        assert_eq!(
            body,
            json!({"names": [{"givenName": "Ann"}], "clientData": [{"key": "k", "value": "v"}]})
        );
    }
}
