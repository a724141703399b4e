//! People API behaviour: private address books, etags, contact groups and memberships, sync tokens,
//! field masks, batch limits and the per-user contact limit.

mod common;

use std::collections::BTreeSet;

use common::*;
use google_emulator::{ConfigUpdate, EmulatorOptions, Seed};
use reqwest::Method;
use serde_json::{Value, json};

const ANA: &str = "ana@example.com";

fn names(list: &Value) -> BTreeSet<String> {
    list["connections"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["names"][0]["displayName"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn each_user_sees_only_their_own_contacts() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let ana = env.contacts_token(ANA).await;
    let created = env
        .post(
            &sam,
            "/v1/people:createContact?personFields=names",
            person("Priya", "Private"),
        )
        .await
        .ok();
    let rn = created["resourceName"].as_str().expect("rn").to_string();
    assert!(rn.starts_with("people/c") && rn[8..].chars().all(|c| c.is_ascii_digit()));
    env.create_contacts(&ana, vec![person("Only", "Ana")]).await;

    let sams = env
        .get(
            &sam,
            "/v1/people/me/connections?personFields=names&pageSize=1000",
        )
        .await
        .ok();
    let anas = env
        .get(
            &ana,
            "/v1/people/me/connections?personFields=names&pageSize=1000",
        )
        .await
        .ok();
    assert!(names(&sams).contains("Priya Private"));
    assert!(!names(&sams).contains("Only Ana"));
    assert!(names(&anas).contains("Only Ana"));
    assert!(!names(&anas).contains("Priya Private"));
    assert_eq!(sams["totalItems"], 31);

    // Another user's contact does not exist for Ana, whatever she does with it.
    env.get(&ana, &format!("/v1/{rn}?personFields=names"))
        .await
        .expect(404);
    env.call(
        &ana,
        Method::DELETE,
        &format!("/v1/{rn}:deleteContact"),
        None,
    )
    .await
    .expect(404);
    assert_eq!(env.emu.contacts_of(SAM).len(), 31);
    assert_eq!(env.emu.contacts_of(ANA).len(), 2);
    // by_user is keyed by the subject's primary email.
    let stats = env.emu.stats();
    assert_eq!(stats.by_user[SAM]["people.people.createContact"], 1);
    assert_eq!(stats.by_user[ANA]["people.people.batchCreateContacts"], 1);
}

#[tokio::test]
async fn created_contacts_look_like_googles() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let created = env
        .post(
            &sam,
            "/v1/people:createContact",
            json!({
                "names": [{"givenName": "Hana", "familyName": "Ito", "displayName": "ignored"}],
                "phoneNumbers": [{"value": "+81 3-5555-0101", "type": "mobile", "canonicalForm": "ignored"}],
                "clientData": [{"key": "sync", "value": "abc"}],
                "metadata": {"sources": [{"type": "CONTACT", "id": "ignored"}]},
            }),
        )
        .await
        .ok();
    let rn = created["resourceName"].as_str().expect("rn");
    let id = rn.strip_prefix("people/c").expect("c id");
    let source = &created["metadata"]["sources"][0];
    assert_eq!(source["type"], "CONTACT");
    assert_eq!(
        u64::from_str_radix(source["id"].as_str().expect("id"), 16).ok(),
        id.parse().ok(),
        "the source id is the contact number in hex"
    );
    assert_eq!(source["etag"], created["etag"]);
    assert!(source["updateTime"].is_string());
    assert_eq!(created["names"][0]["displayName"], "Hana Ito");
    assert_eq!(created["names"][0]["displayNameLastFirst"], "Ito, Hana");
    assert_eq!(created["phoneNumbers"][0]["canonicalForm"], "+81355550101");
    assert_eq!(created["phoneNumbers"][0]["formattedType"], "Mobile");
    assert_eq!(created["clientData"][0]["value"], "abc");
    let groups: Vec<&str> = created["memberships"]
        .as_array()
        .expect("memberships")
        .iter()
        .filter_map(|m| m["contactGroupMembership"]["contactGroupResourceName"].as_str())
        .collect();
    assert_eq!(groups, vec!["contactGroups/myContacts"]);

    // personFields is required for reads, and must name real fields.
    let r = env.get(&sam, &format!("/v1/{rn}")).await.expect(400);
    assert!(r.message().starts_with("personFields mask is required."));
    let r = env
        .get(&sam, &format!("/v1/{rn}?personFields=names,shoeSize"))
        .await
        .expect(400);
    assert!(r.message().contains("\"shoeSize\""));
    // Only the requested fields (plus resourceName and etag) come back.
    let p = env
        .get(&sam, &format!("/v1/{rn}?personFields=clientData"))
        .await
        .ok();
    let keys: BTreeSet<&str> = p
        .as_object()
        .expect("person")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["clientData", "etag", "resourceName"]));
    // Singleton fields.
    env.post(
        &sam,
        "/v1/people:createContact",
        json!({"names": [{"givenName": "A"}, {"givenName": "B"}]}),
    )
    .await
    .expect(400);
}

#[tokio::test]
async fn updates_need_the_current_etag() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let created = env
        .post(&sam, "/v1/people:createContact", person("Eta", "Gamma"))
        .await
        .ok();
    let rn = created["resourceName"].as_str().expect("rn").to_string();
    let first_etag = created["etag"].clone();
    let update =
        |etag: Value| json!({"etag": etag, "names": [{"givenName": "Eta", "familyName": "Delta"}]});

    let updated = env
        .call(
            &sam,
            Method::PATCH,
            &format!("/v1/{rn}:updateContact?updatePersonFields=names"),
            Some(update(first_etag.clone())),
        )
        .await
        .ok();
    assert_ne!(updated["etag"], first_etag, "every write changes the etag");
    assert_eq!(updated["names"][0]["familyName"], "Delta");
    assert_eq!(
        updated["emailAddresses"][0]["value"], "eta.gamma@example.org",
        "fields outside updatePersonFields are kept"
    );

    let stale = env
        .call(
            &sam,
            Method::PATCH,
            &format!("/v1/{rn}:updateContact?updatePersonFields=names"),
            Some(update(first_etag)),
        )
        .await
        .expect(400);
    assert_eq!(stale.body["error"]["status"], "FAILED_PRECONDITION");
    assert_eq!(
        stale.message(),
        "Request person.etag is different than the current person.etag. Clear local cache and \
         get the latest person."
    );

    let r = env
        .call(
            &sam,
            Method::PATCH,
            &format!("/v1/{rn}:updateContact"),
            Some(update(updated["etag"].clone())),
        )
        .await
        .expect(400);
    assert!(
        r.message()
            .starts_with("updatePersonFields mask is required.")
    );

    // batchUpdateContacts: one stale etag refuses the batch.
    let r = env
        .post(
            &sam,
            "/v1/people:batchUpdateContacts",
            json!({"contacts": {rn.clone(): {"etag": "%stale", "nicknames": [{"value": "x"}]}}, "updateMask": "nicknames", "readMask": ""}),
        )
        .await
        .expect(400);
    assert_eq!(r.body["error"]["status"], "FAILED_PRECONDITION");
    // With an empty readMask nothing is read back.
    let ok = env
        .post(
            &sam,
            "/v1/people:batchUpdateContacts",
            json!({"contacts": {rn.clone(): {"etag": updated["etag"], "nicknames": [{"value": "x"}]}}, "updateMask": "nicknames,emailAddresses"}),
        )
        .await
        .ok();
    assert_eq!(ok, json!({}));
    let now = env
        .get(
            &sam,
            &format!("/v1/{rn}?personFields=nicknames,emailAddresses,names"),
        )
        .await
        .ok();
    assert_eq!(now["nicknames"][0]["value"], "x");
    assert!(
        now.get("emailAddresses").is_none(),
        "a masked field absent from the person is cleared"
    );
}

#[tokio::test]
async fn batch_limits_are_googles() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let too_many: Vec<Value> = (0..201)
        .map(|i| json!({"contactPerson": person("Many", &format!("N{i}"))}))
        .collect();
    let r = env
        .post(
            &sam,
            "/v1/people:batchCreateContacts",
            json!({"contacts": too_many, "readMask": ""}),
        )
        .await
        .expect(400);
    assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(env.emu.contacts_of(SAM).len(), 30, "nothing was created");

    let exactly: Vec<Value> = (0..200)
        .map(|i| json!({"contactPerson": person("Many", &format!("N{i}"))}))
        .collect();
    let r = env
        .post(
            &sam,
            "/v1/people:batchCreateContacts",
            json!({"contacts": exactly, "readMask": ""}),
        )
        .await
        .ok();
    assert!(
        r.get("createdPeople").is_none(),
        "empty readMask: no read-back"
    );
    assert_eq!(env.emu.contacts_of(SAM).len(), 230);

    let names: Vec<String> = (0..201).map(|i| format!("people/c{i}")).collect();
    let query: String = names
        .iter()
        .map(|n| format!("resourceNames={n}&"))
        .collect();
    env.get(
        &sam,
        &format!("/v1/people:batchGet?{query}personFields=names"),
    )
    .await
    .expect(400);
    env.get(&sam, "/v1/people:batchGet?resourceNames=people/c1")
        .await
        .expect(400);
    let deletes: Vec<String> = (0..501).map(|i| format!("people/c{i}")).collect();
    env.post(
        &sam,
        "/v1/people:batchDeleteContacts",
        json!({"resourceNames": deletes}),
    )
    .await
    .expect(400);
    let changes: Vec<String> = (0..1001).map(|i| format!("people/c{i}")).collect();
    env.post(
        &sam,
        "/v1/contactGroups/myContacts/members:modify",
        json!({"resourceNamesToAdd": changes}),
    )
    .await
    .expect(400);
    env.get(
        &sam,
        "/v1/people/me/connections?personFields=names&pageSize=1001",
    )
    .await
    .expect(400);
}

#[tokio::test]
async fn connections_paginate_and_sync_tokens_report_changes_and_deletions() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    // A full sync in pages of 7: the sync token comes with the last page only.
    let mut page_token = String::new();
    let mut seen = Vec::new();
    let sync_token = loop {
        let mut path = "/v1/people/me/connections?personFields=names,metadata&pageSize=7&requestSyncToken=true".to_string();
        if !page_token.is_empty() {
            path.push_str(&format!("&pageToken={page_token}"));
        }
        let page = env.get(&sam, &path).await.ok();
        for c in page["connections"].as_array().expect("connections") {
            seen.push(c["resourceName"].as_str().expect("rn").to_string());
        }
        match page["nextPageToken"].as_str() {
            Some(t) => {
                assert!(
                    page.get("nextSyncToken").is_none(),
                    "sync token only on the last page"
                );
                page_token = t.to_string();
            }
            None => {
                break page["nextSyncToken"]
                    .as_str()
                    .expect("sync token")
                    .to_string();
            }
        }
    };
    assert_eq!(seen.len(), 30);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 30);

    // Nothing changed yet.
    let delta = env
        .get(
            &sam,
            &format!("/v1/people/me/connections?personFields=names&requestSyncToken=true&syncToken={sync_token}"),
        )
        .await
        .ok();
    assert!(delta.get("connections").is_none(), "{delta}");

    // One created, one updated, one deleted.
    let created = env
        .post(&sam, "/v1/people:createContact", person("New", "Comer"))
        .await
        .ok();
    let victim = &seen[3];
    let changed = &seen[4];
    let current = env
        .get(&sam, &format!("/v1/{changed}?personFields=names"))
        .await
        .ok();
    env.call(
        &sam,
        Method::PATCH,
        &format!("/v1/{changed}:updateContact?updatePersonFields=nicknames"),
        Some(json!({"etag": current["etag"], "nicknames": [{"value": "Changed"}]})),
    )
    .await
    .ok();
    env.call(
        &sam,
        Method::DELETE,
        &format!("/v1/{victim}:deleteContact"),
        None,
    )
    .await
    .ok();

    let delta = env
        .get(
            &sam,
            &format!("/v1/people/me/connections?personFields=names,nicknames&requestSyncToken=true&syncToken={sync_token}"),
        )
        .await
        .ok();
    let entries = delta["connections"].as_array().expect("changes");
    let by_name = |rn: &str| entries.iter().find(|e| e["resourceName"] == rn).cloned();
    assert_eq!(entries.len(), 3, "{delta}");
    assert!(by_name(created["resourceName"].as_str().expect("rn")).is_some());
    assert_eq!(
        by_name(changed).expect("changed")["nicknames"][0]["value"],
        "Changed"
    );
    let deleted = by_name(victim).expect("deleted entry");
    assert_eq!(deleted["metadata"]["deleted"], true);
    assert!(deleted["etag"].is_string());
    assert!(deleted.get("names").is_none());
    let next = delta["nextSyncToken"].as_str().expect("next sync token");

    // Expired sync tokens (control knob), and unknown ones: FAILED_PRECONDITION with EXPIRED_SYNC_TOKEN.
    env.emu.configure(ConfigUpdate {
        expire_sync_tokens: Some(true),
        ..Default::default()
    });
    for token in [next, "not-a-token"] {
        let r = env
            .get(
                &sam,
                &format!("/v1/people/me/connections?personFields=names&syncToken={token}"),
            )
            .await
            .expect(400);
        assert_eq!(r.body["error"]["status"], "FAILED_PRECONDITION");
        assert_eq!(r.reason(), Some("EXPIRED_SYNC_TOKEN"));
    }
}

#[tokio::test]
async fn a_sync_token_belongs_to_its_user() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let ana = env.contacts_token(ANA).await;
    let list = env
        .get(
            &sam,
            "/v1/people/me/connections?personFields=names&pageSize=1000&requestSyncToken=true",
        )
        .await
        .ok();
    let token = list["nextSyncToken"].as_str().expect("token");
    let r = env
        .get(
            &ana,
            &format!("/v1/people/me/connections?personFields=names&syncToken={token}"),
        )
        .await
        .expect(400);
    assert_eq!(r.reason(), Some("EXPIRED_SYNC_TOKEN"));
}

#[tokio::test]
async fn contact_groups_names_members_and_deletion() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let list = env.get(&sam, "/v1/contactGroups").await.ok();
    let groups = list["contactGroups"].as_array().expect("groups");
    let my = groups
        .iter()
        .find(|g| g["resourceName"] == "contactGroups/myContacts")
        .expect("myContacts");
    assert_eq!(my["groupType"], "SYSTEM_CONTACT_GROUP");
    assert_eq!(my["memberCount"], 30);
    assert!(
        groups
            .iter()
            .all(|g| g.get("memberResourceNames").is_none())
    );
    let sales = groups
        .iter()
        .find(|g| g["name"] == "Sales Contacts")
        .expect("Sales Contacts");
    assert_eq!(sales["groupType"], "USER_CONTACT_GROUP");
    assert_eq!(sales["memberCount"], 25);

    // Duplicate names: 409 ALREADY_EXISTS, on create and on rename.
    let r = env
        .post(
            &sam,
            "/v1/contactGroups",
            json!({"contactGroup": {"name": "Sales Contacts"}}),
        )
        .await
        .expect(409);
    assert_eq!(r.body["error"]["status"], "ALREADY_EXISTS");
    let label = env
        .post(
            &sam,
            "/v1/contactGroups",
            json!({"contactGroup": {"name": "Synced"}}),
        )
        .await
        .ok();
    let label_rn = label["resourceName"].as_str().expect("rn").to_string();
    let r = env
        .call(
            &sam,
            Method::PUT,
            &format!("/v1/{label_rn}"),
            Some(json!({"contactGroup": {"name": "Sales Contacts", "etag": label["etag"]}})),
        )
        .await
        .expect(409);
    assert_eq!(r.body["error"]["status"], "ALREADY_EXISTS");
    // Stale group etag.
    let renamed = env
        .call(
            &sam,
            Method::PUT,
            &format!("/v1/{label_rn}"),
            Some(json!({"contactGroup": {"name": "Synced 2", "etag": label["etag"]}})),
        )
        .await
        .ok();
    assert_eq!(renamed["name"], "Synced 2");
    env.call(
        &sam,
        Method::PUT,
        &format!("/v1/{label_rn}"),
        Some(json!({"contactGroup": {"name": "Synced 3", "etag": label["etag"]}})),
    )
    .await
    .expect(400);

    // Memberships at creation, then members:modify; the last membership cannot be removed.
    let created = env
        .post(
            &sam,
            "/v1/people:batchCreateContacts",
            json!({
                "contacts": [
                    {"contactPerson": {"names": [{"givenName": "In"}], "memberships": [{"contactGroupMembership": {"contactGroupResourceName": label_rn}}]}},
                    {"contactPerson": {"names": [{"givenName": "Out"}]}},
                ],
                "readMask": "memberships",
            }),
        )
        .await
        .ok();
    let people = created["createdPeople"].as_array().expect("created");
    let member_groups = |p: &Value| -> BTreeSet<String> {
        p["memberships"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| {
                        m["contactGroupMembership"]["contactGroupResourceName"].as_str()
                    })
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let inside = &people[0]["person"];
    assert_eq!(
        member_groups(inside),
        BTreeSet::from(["contactGroups/myContacts".to_string(), label_rn.clone()])
    );
    let in_rn = inside["resourceName"].as_str().expect("rn").to_string();
    let out_rn = people[1]["person"]["resourceName"]
        .as_str()
        .expect("rn")
        .to_string();
    let got = env
        .get(&sam, &format!("/v1/{label_rn}?maxMembers=10"))
        .await
        .ok();
    assert_eq!(got["memberResourceNames"], json!([in_rn]));
    assert_eq!(got["memberCount"], 1);
    let without_members = env.get(&sam, &format!("/v1/{label_rn}")).await.ok();
    assert!(without_members.get("memberResourceNames").is_none());

    let modified = env
        .post(
            &sam,
            "/v1/contactGroups/myContacts/members:modify",
            json!({"resourceNamesToRemove": [in_rn, out_rn, "people/c99"]}),
        )
        .await
        .ok();
    assert_eq!(
        modified["canNotRemoveLastContactGroupResourceNames"],
        json!([out_rn])
    );
    assert_eq!(modified["notFoundResourceNames"], json!(["people/c99"]));
    env.post(
        &sam,
        "/v1/contactGroups/friends/members:modify",
        json!({"resourceNamesToAdd": [out_rn]}),
    )
    .await
    .expect(400);

    // Deleting the label without deleteContacts keeps the contacts; with it, deletes them.
    let other = env
        .post(
            &sam,
            "/v1/contactGroups",
            json!({"contactGroup": {"name": "Doomed"}}),
        )
        .await
        .ok();
    let other_rn = other["resourceName"].as_str().expect("rn").to_string();
    env.post(
        &sam,
        &format!("/v1/{other_rn}/members:modify"),
        json!({"resourceNamesToAdd": [out_rn]}),
    )
    .await
    .ok();
    env.call(&sam, Method::DELETE, &format!("/v1/{label_rn}"), None)
        .await
        .ok();
    let kept = env
        .get(&sam, &format!("/v1/{in_rn}?personFields=memberships"))
        .await
        .ok();
    assert!(member_groups(&kept).is_empty(), "label removed: {kept}");
    env.call(
        &sam,
        Method::DELETE,
        &format!("/v1/{other_rn}?deleteContacts=true"),
        None,
    )
    .await
    .ok();
    env.get(&sam, &format!("/v1/{out_rn}?personFields=names"))
        .await
        .expect(404);
    env.call(&sam, Method::DELETE, "/v1/contactGroups/myContacts", None)
        .await
        .expect(400);
}

#[tokio::test]
async fn the_per_user_contact_limit_is_enforced() {
    let seed = Seed::from_json(
        r#"{"users": [{"email": "u@example.com", "given_name": "U", "family_name": "Ser"}]}"#,
    )
    .expect("seed");
    let env = Env::start(EmulatorOptions {
        seed: Some(seed),
        max_contacts_per_user: 3,
        ..Default::default()
    })
    .await;
    let u = env.contacts_token("u@example.com").await;
    env.create_contacts(&u, vec![person("A", "A"), person("B", "B")])
        .await;
    let r = env
        .post(
            &u,
            "/v1/people:batchCreateContacts",
            json!({"contacts": [{"contactPerson": person("C", "C")}, {"contactPerson": person("D", "D")}]}),
        )
        .await
        .expect(400);
    assert_eq!(r.body["error"]["status"], "FAILED_PRECONDITION");
    assert!(r.message().starts_with("Contact limit reached"));
    env.post(&u, "/v1/people:createContact", person("C", "C"))
        .await
        .ok();
    env.post(&u, "/v1/people:createContact", person("D", "D"))
        .await
        .expect(400);
}

#[tokio::test]
async fn contacts_larger_than_googles_limit_are_refused() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let big = "x".repeat(130 * 1024);
    let r = env
        .post(
            &sam,
            "/v1/people:createContact",
            json!({"names": [{"givenName": "Big"}], "biographies": [{"value": big}]}),
        )
        .await
        .expect(400);
    assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
}
