//! The emulator's routes against Google's discovery documents: every route exists with the same HTTP
//! method and path, and every route's successful response fits the response schema of its method.

mod common;

use std::collections::BTreeSet;

use common::*;
use google_emulator::ROUTES;
use google_emulator::discovery::{Api, discovery};
use reqwest::Method;
use serde_json::{Value, json};

#[test]
fn fixtures_are_googles_discovery_documents_unchanged() {
    for name in ["people.v1.json", "admin.directory_v1.json"] {
        let fixture = std::fs::read(format!(
            "{}/tests/fixtures/google-discovery/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        let doc: Value = serde_json::from_slice(&fixture).expect("fixture is JSON");
        let api = if name.starts_with("people") {
            Api::People
        } else {
            Api::Directory
        };
        assert_eq!(&doc, discovery().document(api), "{name}");
        // The shared copy, when the reference material is around (not in a fresh clone).
        if let Ok(shared) = std::fs::read(format!("/work/shared/google-discovery/{name}")) {
            assert_eq!(shared, fixture, "{name} differs from /work/shared");
        }
    }
}

#[test]
fn every_route_exists_in_the_discovery_documents() {
    let mut ids = BTreeSet::new();
    for (http_method, template, id) in ROUTES {
        assert!(ids.insert(*id), "{id} is served twice");
        let method = discovery()
            .method(id)
            .unwrap_or_else(|| panic!("{id} is not a discovery method"));
        assert_eq!(
            method["httpMethod"].as_str(),
            Some(*http_method),
            "{id}: HTTP method"
        );
        let paths: Vec<String> = ["flatPath", "path"]
            .iter()
            .filter_map(|k| method[*k].as_str())
            .map(|p| format!("/{p}"))
            .collect();
        assert!(
            paths.iter().any(|p| p == template),
            "{id}: {template} is none of {paths:?}"
        );
        // The dispatcher is driven by the table: an instance of the template reaches the method.
        let instance = template
            .replace("{+orgUnitPath}", "Accounting/Payables")
            .replace("{peopleId}", "c123")
            .replace("{contactGroupsId}", "abc")
            .replace("{userKey}", "ana%40example.com")
            .replace("{groupKey}", "accounting@example.com")
            .replace("{memberKey}", "ana@example.com")
            .replace("{customerId}", "my_customer")
            .replace("{customer}", "my_customer");
        assert_eq!(
            google_emulator::method_id_for(http_method, &instance),
            Some(*id),
            "{instance}"
        );
    }
}

#[test]
fn every_routes_scopes_come_from_the_discovery_document() {
    for (_, _, id) in ROUTES {
        assert!(
            !discovery().method_scopes(id).is_empty(),
            "{id} has no scopes"
        );
    }
}

/// Calls every route once successfully; `Env::call` checks each response against its schema.
#[tokio::test]
async fn every_route_answers_within_its_response_schema() {
    let env = Env::demo_with_directory_writes().await;
    let sam = env.contacts_token(SAM).await;

    // People: profile, contacts, batches.
    env.get(
        &sam,
        "/v1/people/me?personFields=names,emailAddresses,metadata",
    )
    .await
    .ok();
    let created = env
        .post(
            &sam,
            "/v1/people:createContact?personFields=names,emailAddresses,phoneNumbers,memberships,metadata,clientData",
            json!({
                "names": [{"givenName": "Zoe", "familyName": "Zimmer"}],
                "emailAddresses": [{"value": "zoe@zimmer.example", "type": "work"}],
                "phoneNumbers": [{"value": "+1 206 555 0100", "type": "mobile"}],
                "clientData": [{"key": "k", "value": "v"}],
            }),
        )
        .await
        .ok();
    let rn = created["resourceName"]
        .as_str()
        .expect("resourceName")
        .to_string();
    let updated = env
        .call(
            &sam,
            Method::PATCH,
            &format!("/v1/{rn}:updateContact?updatePersonFields=names&personFields=names"),
            Some(json!({"etag": created["etag"], "names": [{"givenName": "Zoë", "familyName": "Zimmer"}]})),
        )
        .await
        .ok();
    assert_eq!(updated["names"][0]["displayName"], "Zoë Zimmer");
    env.get(&sam, &format!("/v1/{rn}?personFields=names,addresses,birthdays,events,relations,urls,userDefined,biographies,nicknames,organizations"))
        .await
        .ok();
    env.get(
        &sam,
        &format!("/v1/people:batchGet?resourceNames={rn}&resourceNames=people/c1&resourceNames=people/me&personFields=names"),
    )
    .await
    .ok();
    let list = env
        .get(&sam, "/v1/people/me/connections?personFields=names,emailAddresses,phoneNumbers,organizations,addresses,biographies,urls,birthdays,events,relations,nicknames,userDefined,memberships,metadata,clientData&pageSize=1000&requestSyncToken=true")
        .await
        .ok();
    assert!(list["nextSyncToken"].is_string());
    let batch = env
        .post(
            &sam,
            "/v1/people:batchCreateContacts",
            json!({"contacts": [{"contactPerson": person("Bo", "Batch")}, {"contactPerson": person("Cy", "Batch")}], "readMask": "names,metadata"}),
        )
        .await
        .ok();
    let people = batch["createdPeople"].as_array().expect("createdPeople");
    let first = &people[0]["person"];
    let second = &people[1]["person"];
    let first_rn = first["resourceName"].as_str().expect("rn").to_string();
    let updates = env
        .post(
            &sam,
            "/v1/people:batchUpdateContacts",
            json!({
                "contacts": {first_rn.clone(): {"etag": first["etag"], "nicknames": [{"value": "Bobo"}]}},
                "updateMask": "nicknames",
                "readMask": "nicknames",
            }),
        )
        .await
        .ok();
    assert_eq!(
        updates["updateResult"][&first_rn]["person"]["nicknames"][0]["value"],
        "Bobo"
    );
    env.post(
        &sam,
        "/v1/people:batchDeleteContacts",
        json!({"resourceNames": [first_rn, second["resourceName"]]}),
    )
    .await
    .ok();
    env.call(
        &sam,
        Method::DELETE,
        &format!("/v1/{rn}:deleteContact"),
        None,
    )
    .await
    .ok();

    // People: contact groups.
    let groups = env
        .get(
            &sam,
            "/v1/contactGroups?groupFields=name,groupType,memberCount,metadata,clientData",
        )
        .await
        .ok();
    assert!(groups["nextSyncToken"].is_string());
    let group = env
        .post(
            &sam,
            "/v1/contactGroups",
            json!({"contactGroup": {"name": "Conformance", "clientData": [{"key": "a", "value": "b"}]}, "readGroupFields": "name,clientData,groupType,metadata"}),
        )
        .await
        .ok();
    let group_rn = group["resourceName"]
        .as_str()
        .expect("group rn")
        .to_string();
    let sales = groups["contactGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "Sales Contacts")
        .expect("Sales Contacts")["resourceName"]
        .as_str()
        .expect("rn")
        .to_string();
    let with_members = env
        .get(&sam, &format!("/v1/{sales}?maxMembers=5"))
        .await
        .ok();
    let member = with_members["memberResourceNames"][0]
        .as_str()
        .expect("member")
        .to_string();
    env.get(
        &sam,
        &format!("/v1/contactGroups:batchGet?resourceNames={group_rn}&resourceNames=contactGroups/myContacts&resourceNames=contactGroups/nope&maxMembers=2"),
    )
    .await
    .ok();
    env.call(
        &sam,
        Method::PUT,
        &format!("/v1/{group_rn}"),
        Some(json!({"contactGroup": {"name": "Conformance 2", "etag": group["etag"]}})),
    )
    .await
    .ok();
    env.post(
        &sam,
        &format!("/v1/{group_rn}/members:modify"),
        json!({"resourceNamesToAdd": [member, "people/c42"]}),
    )
    .await
    .ok();
    env.call(&sam, Method::DELETE, &format!("/v1/{group_rn}"), None)
        .await
        .ok();

    // Directory.
    let admin = env
        .token(ADMIN, &[DIRECTORY_RO, DIRECTORY_RW].concat())
        .await;
    env.get(
        &admin,
        "/admin/directory/v1/users?customer=my_customer&maxResults=3",
    )
    .await
    .ok();
    env.get(&admin, "/admin/directory/v1/users/ana.alvarez@example.com")
        .await
        .ok();
    env.call(
        &admin,
        Method::PATCH,
        "/admin/directory/v1/users/ben@example.com",
        Some(json!({"name": {"givenName": "Benjamin"}})),
    )
    .await
    .ok();
    env.call(
        &admin,
        Method::PUT,
        "/admin/directory/v1/users/ben@example.com",
        Some(json!({"suspended": false})),
    )
    .await
    .ok();
    env.get(&admin, "/admin/directory/v1/groups?domain=example.com")
        .await
        .ok();
    env.get(&admin, "/admin/directory/v1/groups/accounting@example.com")
        .await
        .ok();
    env.call(
        &admin,
        Method::PATCH,
        "/admin/directory/v1/groups/support@example.com",
        Some(json!({"description": "Help desk"})),
    )
    .await
    .ok();
    env.call(
        &admin,
        Method::PUT,
        "/admin/directory/v1/groups/support@example.com",
        Some(json!({"name": "Support Team"})),
    )
    .await
    .ok();
    env.get(
        &admin,
        "/admin/directory/v1/groups/all-staff@example.com/members?includeDerivedMembership=true",
    )
    .await
    .ok();
    env.post(
        &admin,
        "/admin/directory/v1/groups/support@example.com/members",
        json!({"email": "gina@example.com", "role": "MEMBER"}),
    )
    .await
    .ok();
    env.call(
        &admin,
        Method::DELETE,
        "/admin/directory/v1/groups/support@example.com/members/gina@example.com",
        None,
    )
    .await
    .expect(204);
    env.get(
        &admin,
        "/admin/directory/v1/customer/my_customer/orgunits?type=all",
    )
    .await
    .ok();
    env.get(
        &admin,
        "/admin/directory/v1/customer/my_customer/orgunits/Accounting/Payables",
    )
    .await
    .ok();
    env.call(
        &admin,
        Method::PATCH,
        "/admin/directory/v1/customer/my_customer/orgunits/Support",
        Some(json!({"description": "First line"})),
    )
    .await
    .ok();
    env.call(
        &admin,
        Method::PUT,
        "/admin/directory/v1/customer/my_customer/orgunits/Support",
        Some(json!({"description": "First and second line"})),
    )
    .await
    .ok();
    env.get(&admin, "/admin/directory/v1/customer/my_customer/domains")
        .await
        .ok();

    let checked: BTreeSet<&str> = conformance_checked().into_iter().collect();
    let served: BTreeSet<&str> = ROUTES.iter().map(|(_, _, id)| *id).collect();
    let missing: Vec<&&str> = served.difference(&checked).collect();
    assert!(missing.is_empty(), "routes never checked: {missing:?}");
}

#[tokio::test]
async fn partial_responses_honour_fields() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let body = env
        .get(
            &sam,
            "/v1/people/me/connections?personFields=names,emailAddresses&pageSize=2&fields=connections(resourceName,names/givenName),nextPageToken",
        )
        .await
        .ok();
    let keys: BTreeSet<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["connections", "nextPageToken"]));
    for c in body["connections"].as_array().expect("connections") {
        assert_eq!(
            c.as_object().expect("person").keys().collect::<Vec<_>>(),
            vec!["names", "resourceName"]
        );
        assert_eq!(
            c["names"][0].as_object().expect("name").len(),
            1,
            "only givenName: {c}"
        );
    }
}

#[tokio::test]
async fn standard_parameters_are_accepted_and_unknown_ones_refused() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    env.get(
        &sam,
        "/v1/people/me/connections?personFields=names&alt=json&prettyPrint=false&quotaUser=x&$.xgafv=2",
    )
    .await
    .ok();
    let r = env
        .get(
            &sam,
            "/v1/people/me/connections?personFields=names&page_size=5",
        )
        .await
        .expect(400);
    assert!(
        r.message().contains("Unknown name \"page_size\""),
        "{}",
        r.body
    );
    let r = env
        .get(
            &sam,
            "/v1/people/me/connections?personFields=names&sortOrder=BY_MOOD",
        )
        .await
        .expect(400);
    assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
    let r = env
        .post(
            &sam,
            "/v1/people:createContact",
            json!({"names": [{"givenName": "A"}], "favouriteColour": "green"}),
        )
        .await
        .expect(400);
    assert!(
        r.message().contains("Unknown name \"favouriteColour\""),
        "{}",
        r.body
    );
}
