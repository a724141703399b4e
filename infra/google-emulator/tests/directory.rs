//! Directory API behaviour: renames keep immutable ids, nested groups, the search language, org units,
//! pagination limits.

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn emails(list: &Value, field: &str, key: &str) -> BTreeSet<String> {
    list[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u[key].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn writer(env: &Env) -> String {
    env.token(ADMIN, &[DIRECTORY_RO, DIRECTORY_RW].concat())
        .await
}

#[tokio::test]
async fn renaming_a_user_keeps_the_id_and_the_old_address_resolves_as_alias() {
    let env = Env::demo_with_directory_writes().await;
    let admin = writer(&env).await;
    let before = env
        .get(&admin, "/admin/directory/v1/users/dave@example.com")
        .await
        .ok();
    let id = before["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 21);
    env.create_contacts(
        &env.contacts_token("dave@example.com").await,
        vec![person("Kept", "Contact")],
    )
    .await;

    let after = env
        .call(
            &admin,
            Method::PATCH,
            "/admin/directory/v1/users/dave@example.com",
            Some(json!({"primaryEmail": "david@example.com", "name": {"givenName": "David"}})),
        )
        .await
        .ok();
    assert_eq!(after["id"], json!(id));
    assert_eq!(after["primaryEmail"], "david@example.com");
    assert_eq!(after["aliases"], json!(["dave@example.com"]));
    assert_eq!(after["name"]["fullName"], "David Dawson");
    assert_ne!(after["etag"], before["etag"]);

    for key in ["dave@example.com", "david@example.com", id.as_str()] {
        let got = env
            .get(&admin, &format!("/admin/directory/v1/users/{key}"))
            .await
            .ok();
        assert_eq!(got["id"], json!(id), "{key}");
        assert_eq!(got["primaryEmail"], "david@example.com", "{key}");
    }
    // The contacts stay with the user; tokens work for the new and the old address.
    assert_eq!(env.emu.contacts_of("david@example.com").len(), 1);
    let as_new = env.contacts_token("david@example.com").await;
    let listed = env
        .get(&as_new, "/v1/people/me/connections?personFields=names")
        .await
        .ok();
    assert_eq!(listed["totalItems"], 1);
    env.contacts_token("dave@example.com").await;
    // Group membership follows the id.
    let members = env
        .get(
            &admin,
            "/admin/directory/v1/groups/payables-team@example.com/members",
        )
        .await
        .ok();
    assert!(emails(&members, "members", "email").contains("david@example.com"));
    // Unknown keys: Google's 404.
    let r = env
        .get(&admin, "/admin/directory/v1/users/nobody@example.com")
        .await
        .expect(404);
    assert_eq!(r.message(), "Resource Not Found: userKey");
    // Taking somebody else's address is a conflict.
    env.call(
        &admin,
        Method::PUT,
        "/admin/directory/v1/users/david@example.com",
        Some(json!({"primaryEmail": "erin@example.com"})),
    )
    .await
    .expect(409);
}

#[tokio::test]
async fn moving_and_suspending_users() {
    let env = Env::demo_with_directory_writes().await;
    let admin = writer(&env).await;
    let ben = env.contacts_token("ben@example.com").await;
    let moved = env
        .call(
            &admin,
            Method::PATCH,
            "/admin/directory/v1/users/ben@example.com",
            Some(json!({"orgUnitPath": "/Accounting/Payables", "suspended": true})),
        )
        .await
        .ok();
    assert_eq!(moved["orgUnitPath"], "/Accounting/Payables");
    assert_eq!(moved["suspended"], true);
    // A suspended user's tokens stop working, and no new ones are issued.
    env.get(&ben, "/v1/people/me/connections?personFields=names")
        .await
        .expect(401);
    let (status, _) = env
        .assertion_request(&env.claims("ben@example.com", &[CONTACTS]))
        .await;
    assert_eq!(status, 400);
    let r = env
        .call(
            &admin,
            Method::PATCH,
            "/admin/directory/v1/users/ben@example.com",
            Some(json!({"orgUnitPath": "/Nowhere"})),
        )
        .await
        .expect(400);
    assert_eq!(r.message(), "Invalid Input: INVALID_OU_ID");
    let members = env
        .get(
            &admin,
            "/admin/directory/v1/groups/support@example.com/members",
        )
        .await
        .ok();
    let frank = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == "frank@example.com")
        .cloned()
        .expect("frank");
    assert_eq!(frank["status"], "SUSPENDED");
    assert_eq!(frank["type"], "USER");
    assert_eq!(frank["role"], "MEMBER");
}

#[tokio::test]
async fn renaming_a_group_keeps_its_id() {
    let env = Env::demo_with_directory_writes().await;
    let admin = writer(&env).await;
    let before = env
        .get(&admin, "/admin/directory/v1/groups/accounting@example.com")
        .await
        .ok();
    let after = env
        .call(
            &admin,
            Method::PATCH,
            "/admin/directory/v1/groups/accounting@example.com",
            Some(json!({"email": "finance@example.com", "name": "Finance"})),
        )
        .await
        .ok();
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["email"], "finance@example.com");
    assert_eq!(after["name"], "Finance");
    assert_eq!(after["aliases"], json!(["accounting@example.com"]));
    let id = before["id"].as_str().expect("id");
    for key in ["accounting@example.com", "finance@example.com", id] {
        let got = env
            .get(&admin, &format!("/admin/directory/v1/groups/{key}"))
            .await
            .ok();
        assert_eq!(got["email"], "finance@example.com", "{key}");
    }
    // The nesting group lists the renamed group under its new address.
    let all = env
        .get(
            &admin,
            "/admin/directory/v1/groups/all-staff@example.com/members",
        )
        .await
        .ok();
    assert!(emails(&all, "members", "email").contains("finance@example.com"));
    let r = env
        .get(&admin, "/admin/directory/v1/groups/nope@example.com")
        .await
        .expect(404);
    assert_eq!(r.message(), "Resource Not Found: groupKey");
}

#[tokio::test]
async fn renaming_an_org_unit_keeps_its_id_and_moves_its_users_and_sub_units() {
    let env = Env::demo_with_directory_writes().await;
    let admin = writer(&env).await;
    let ou = "/admin/directory/v1/customer/my_customer/orgunits";
    let before = env.get(&admin, &format!("{ou}/Accounting")).await.ok();
    let id = before["orgUnitId"].as_str().expect("orgUnitId").to_string();
    assert!(id.starts_with("id:"));
    let after = env
        .call(
            &admin,
            Method::PATCH,
            &format!("{ou}/Accounting"),
            Some(json!({"name": "Finance"})),
        )
        .await
        .ok();
    assert_eq!(after["orgUnitId"], json!(id));
    assert_eq!(after["orgUnitPath"], "/Finance");
    assert_eq!(after["parentOrgUnitPath"], "/");
    let by_id = env.get(&admin, &format!("{ou}/{id}")).await.ok();
    assert_eq!(by_id["orgUnitPath"], "/Finance");
    let sub = env
        .get(&admin, &format!("{ou}/Finance/Payables"))
        .await
        .ok();
    assert_eq!(sub["parentOrgUnitId"], json!(id));
    assert_eq!(sub["parentOrgUnitPath"], "/Finance");
    env.get(&admin, &format!("{ou}/Accounting"))
        .await
        .expect(404);
    let erin = env
        .get(&admin, "/admin/directory/v1/users/erin@example.com")
        .await
        .ok();
    assert_eq!(erin["orgUnitPath"], "/Finance/Payables");
    let in_finance = env
        .get(
            &admin,
            "/admin/directory/v1/users?customer=my_customer&query=orgUnitPath%3D%27%2FFinance%27",
        )
        .await
        .ok();
    assert_eq!(
        emails(&in_finance, "users", "primaryEmail"),
        set(&[
            "ana@example.com",
            "ben@example.com",
            "carla@example.com",
            "dave@example.com",
            "erin@example.com",
            "frank@example.com"
        ])
    );
}

#[tokio::test]
async fn org_unit_listings() {
    let env = Env::demo().await;
    let admin = env.admin_token().await;
    let ou = "/admin/directory/v1/customer/my_customer/orgunits";
    let paths = |v: &Value| emails(v, "organizationUnits", "orgUnitPath");
    let children = env.get(&admin, ou).await.ok();
    assert_eq!(
        paths(&children),
        set(&["/Accounting", "/Engineering", "/Sales", "/Support"])
    );
    let all = env.get(&admin, &format!("{ou}?type=ALL")).await.ok();
    assert!(paths(&all).contains("/Accounting/Payables"));
    let below = env
        .get(
            &admin,
            &format!("{ou}?type=allIncludingParent&orgUnitPath=/Accounting"),
        )
        .await
        .ok();
    assert_eq!(paths(&below), set(&["/Accounting", "/Accounting/Payables"]));
    let real_id = env
        .get(&admin, "/admin/directory/v1/users/admin@example.com")
        .await
        .ok()["customerId"]
        .as_str()
        .expect("customerId")
        .to_string();
    env.get(
        &admin,
        &format!("/admin/directory/v1/customer/{real_id}/orgunits?type=children"),
    )
    .await
    .ok();
    let domains = env
        .get(&admin, "/admin/directory/v1/customer/my_customer/domains")
        .await
        .ok();
    assert_eq!(domains["domains"][0]["domainName"], "example.com");
    assert_eq!(domains["domains"][0]["isPrimary"], true);
    assert_eq!(domains["domains"][0]["verified"], true);
}

#[tokio::test]
async fn derived_membership_flattens_nested_groups() {
    let env = Env::demo().await;
    let admin = env.admin_token().await;
    let direct = env
        .get(
            &admin,
            "/admin/directory/v1/groups/accounting@example.com/members",
        )
        .await
        .ok();
    let types: Vec<(String, String)> = direct["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap_or("").to_string(),
                m["type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("ana@example.com".to_string(), "USER".to_string()),
            ("payables-team@example.com".to_string(), "GROUP".to_string())
        ]
    );
    let derived = env
        .get(
            &admin,
            "/admin/directory/v1/groups/accounting@example.com/members?includeDerivedMembership=true",
        )
        .await
        .ok();
    assert_eq!(
        emails(&derived, "members", "email"),
        set(&[
            "ana@example.com",
            "payables-team@example.com",
            "dave@example.com",
            "erin@example.com"
        ])
    );
    // Two levels down, each user once, external members kept as EXTERNAL.
    let everyone = env
        .get(
            &admin,
            "/admin/directory/v1/groups/all-staff@example.com/members?includeDerivedMembership=true&maxResults=200",
        )
        .await
        .ok();
    let list = everyone["members"].as_array().expect("members");
    let users: Vec<&str> = list
        .iter()
        .filter(|m| m["type"] == "USER")
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert_eq!(users.len(), users.iter().collect::<BTreeSet<_>>().len());
    assert!(users.contains(&"dave@example.com"));
    assert!(users.contains(&"frank@example.com"));
    let direct_sales = env
        .get(
            &admin,
            "/admin/directory/v1/groups/sales-team@example.com/members",
        )
        .await
        .ok();
    assert!(
        direct_sales["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["type"] == "EXTERNAL" && m["email"] == "reseller@partner-example.net")
    );
}

#[tokio::test]
async fn group_member_insert_and_delete() {
    let env = Env::demo_with_directory_writes().await;
    let admin = writer(&env).await;
    let path = "/admin/directory/v1/groups/engineering@example.com/members";
    let m = env
        .post(&admin, path, json!({"email": "ivy@example.com"}))
        .await
        .ok();
    assert_eq!(m["type"], "USER");
    assert_eq!(m["status"], "ACTIVE");
    assert_eq!(m["kind"], "admin#directory#member");
    env.post(&admin, path, json!({"email": "ivy@example.com"}))
        .await
        .expect(409);
    env.post(&admin, path, json!({"email": "ghost@example.com"}))
        .await
        .expect(404);
    let g = env
        .post(&admin, path, json!({"email": "support@example.com"}))
        .await
        .ok();
    assert_eq!(g["type"], "GROUP");
    env.call(
        &admin,
        Method::DELETE,
        &format!("{path}/ivy@example.com"),
        None,
    )
    .await
    .expect(204);
    env.call(
        &admin,
        Method::DELETE,
        &format!("{path}/ivy@example.com"),
        None,
    )
    .await
    .expect(404);
    let groups_of_ivy = env
        .get(&admin, "/admin/directory/v1/groups?userKey=ivy@example.com")
        .await
        .ok();
    assert_eq!(
        emails(&groups_of_ivy, "groups", "email"),
        set(&["support@example.com"])
    );
}

#[tokio::test]
async fn users_list_search_language() {
    let env = Env::demo().await;
    let admin = env.admin_token().await;
    let search = async |q: &str| {
        let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let list = env
            .get(
                &admin,
                &format!("/admin/directory/v1/users?customer=my_customer&query={encoded}"),
            )
            .await
            .ok();
        emails(&list, "users", "primaryEmail")
    };
    // email prefix matches aliases too.
    assert_eq!(search("email:ana.alv*").await, set(&["ana@example.com"]));
    assert_eq!(
        search("email:ana.alvarez@example.com").await,
        set(&["ana@example.com"])
    );
    assert_eq!(
        search("email=ben@example.com").await,
        set(&["ben@example.com"])
    );
    assert_eq!(
        search("orgUnitPath='/Accounting'").await,
        set(&[
            "ana@example.com",
            "ben@example.com",
            "carla@example.com",
            "dave@example.com",
            "erin@example.com",
            "frank@example.com"
        ])
    );
    assert_eq!(
        search("orgUnitPath='/Accounting' isSuspended=false familyName:D*").await,
        set(&["dave@example.com"])
    );
    assert_eq!(search("givenName:Gina").await, set(&["gina@example.com"]));
    assert_eq!(search("name:'Ivy Ito'").await, set(&["ivy@example.com"]));
    assert_eq!(
        search("isSuspended=true").await,
        set(&["frank@example.com"])
    );
    assert_eq!(search("hug").await, set(&["hugo@example.com"]));
    assert!(search("email:zz*").await.is_empty());

    let r = env
        .get(
            &admin,
            "/admin/directory/v1/users?customer=my_customer&query=shoeSize%3A42",
        )
        .await
        .expect(400);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "invalid");
    // Groups: email prefix and name.
    let groups = env
        .get(
            &admin,
            "/admin/directory/v1/groups?customer=my_customer&query=email%3Aacc*",
        )
        .await
        .ok();
    assert_eq!(
        emails(&groups, "groups", "email"),
        set(&["accounting@example.com"])
    );
    let groups = env
        .get(
            &admin,
            "/admin/directory/v1/groups?customer=my_customer&query=name%3A%27Payables%20Team%27",
        )
        .await
        .ok();
    assert_eq!(
        emails(&groups, "groups", "email"),
        set(&["payables-team@example.com"])
    );
}

#[tokio::test]
async fn pagination_and_its_limits() {
    let env = Env::demo().await;
    let admin = env.admin_token().await;
    let mut token = String::new();
    let mut all = Vec::new();
    loop {
        let mut path =
            "/admin/directory/v1/users?domain=example.com&maxResults=5&orderBy=email".to_string();
        if !token.is_empty() {
            path.push_str(&format!("&pageToken={token}"));
        }
        let page = env.get(&admin, &path).await.ok();
        let users = page["users"].as_array().expect("users");
        assert!(users.len() <= 5);
        all.extend(
            users
                .iter()
                .filter_map(|u| u["primaryEmail"].as_str())
                .map(str::to_string),
        );
        match page["nextPageToken"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    assert_eq!(all.len(), 13);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "orderBy=email");

    let r = env
        .get(
            &admin,
            "/admin/directory/v1/users?customer=my_customer&maxResults=501",
        )
        .await
        .expect(400);
    assert_eq!(
        r.message(),
        "Invalid value '501'. Values must be within the range: [1, 500]"
    );
    env.get(
        &admin,
        "/admin/directory/v1/users?customer=my_customer&maxResults=500",
    )
    .await
    .ok();
    env.get(
        &admin,
        "/admin/directory/v1/groups?customer=my_customer&maxResults=201",
    )
    .await
    .expect(400);
    env.get(
        &admin,
        "/admin/directory/v1/groups/all-staff@example.com/members?maxResults=201",
    )
    .await
    .expect(400);
    // customer or domain is required.
    let r = env
        .get(&admin, "/admin/directory/v1/users")
        .await
        .expect(400);
    assert_eq!(r.message(), "Bad Request");
    env.get(
        &admin,
        "/admin/directory/v1/users?customer=my_customer&domain=example.com",
    )
    .await
    .expect(400);
    env.get(&admin, "/admin/directory/v1/users?customer=C99999999")
        .await
        .expect(403);
    // A page token only works with the request it came from.
    let page = env
        .get(
            &admin,
            "/admin/directory/v1/users?customer=my_customer&maxResults=2",
        )
        .await
        .ok();
    let t = page["nextPageToken"].as_str().expect("token");
    env.get(
        &admin,
        &format!("/admin/directory/v1/users?customer=my_customer&maxResults=2&query=isSuspended%3Dtrue&pageToken={t}"),
    )
    .await
    .expect(400);
}
