//! The directory search and contact group endpoints through real API Gateway v2 events, against the Google
//! emulator's demo seed (and moto for the context's store). Run with `make test` (it provides moto).

use anyhow::Result;
use contact_sync_tests::api_support::{ApiRig, EventBuilder};
use serde_json::Value;

fn search(q: Option<&str>) -> EventBuilder {
    let event = EventBuilder::new("GET", "/directory/search", &[]);
    match q {
        Some(q) => event.query("q", q),
        None => event,
    }
}

/// (type, display) of every result.
fn found(body: &Value) -> Vec<(String, String)> {
    body["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|r| {
                    (
                        r["type"].as_str().unwrap_or_default().to_owned(),
                        r["display"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(t, d)| ((*t).to_owned(), (*d).to_owned()))
        .collect()
}

#[tokio::test]
async fn search_needs_at_least_two_characters() -> Result<()> {
    let rig = ApiRig::start().await?;
    for q in [None, Some(""), Some("a"), Some(" b ")] {
        let response = rig.call("search-directory", &search(q)).await?;
        assert_eq!(response.status, 400, "{q:?}");
        assert_eq!(response.error(), ("search_too_short", Some("q")));
    }
    let response = rig
        .call("search-directory", &search(Some(&"x".repeat(101))))
        .await?;
    assert_eq!(response.status, 400);
    Ok(())
}

#[tokio::test]
async fn search_finds_users_by_email_alias_and_name_prefix_with_immutable_ids() -> Result<()> {
    let rig = ApiRig::start().await?;
    let response = rig.call("search-directory", &search(Some("sar"))).await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        found(&response.body),
        pairs(&[("user", "sara@example.com")])
    );
    let sara = rig
        .ctx
        .directory
        .get_user("sara@example.com")
        .await?
        .expect("sara");
    assert_eq!(response.body["results"][0]["id"], sara.id.as_str());
    assert_eq!(response.body["results"][0]["name"], "Sara Stone");

    // An alias prefix finds the user, shown by primary email.
    let response = rig
        .call("search-directory", &search(Some("ana.alv")))
        .await?;
    assert_eq!(found(&response.body), pairs(&[("user", "ana@example.com")]));

    // Given and family name prefixes, case-insensitively.
    let response = rig.call("search-directory", &search(Some("Gina"))).await?;
    assert_eq!(
        found(&response.body),
        pairs(&[("user", "gina@example.com")])
    );
    let response = rig.call("search-directory", &search(Some("Fisch"))).await?;
    assert_eq!(
        found(&response.body),
        pairs(&[("user", "frank@example.com")])
    );

    // A full name with a space is quoted for Google's search syntax.
    let response = rig
        .call("search-directory", &search(Some("Sara St")))
        .await?;
    assert_eq!(response.status, 200, "{}", response.body);
    Ok(())
}

#[tokio::test]
async fn search_finds_groups_org_units_and_domains() -> Result<()> {
    let rig = ApiRig::start().await?;
    let response = rig
        .call("search-directory", &search(Some("payables")))
        .await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        found(&response.body),
        pairs(&[
            ("group", "payables-team@example.com"),
            ("org_unit", "/Accounting/Payables")
        ])
    );
    let group = rig
        .ctx
        .directory
        .get_group("payables-team@example.com")
        .await?
        .expect("group");
    assert_eq!(response.body["results"][0]["id"], group.id.as_str());
    let ou = rig
        .ctx
        .directory
        .get_org_unit("/Accounting/Payables")
        .await?
        .expect("ou");
    assert_eq!(response.body["results"][1]["id"], ou.org_unit_id.as_str());

    // Group names match by prefix too.
    let response = rig
        .call("search-directory", &search(Some("All St")))
        .await?;
    assert_eq!(
        found(&response.body),
        pairs(&[("group", "all-staff@example.com")])
    );

    // Org units by path or name, anywhere in it.
    let response = rig.call("search-directory", &search(Some("engin"))).await?;
    assert_eq!(
        found(&response.body),
        pairs(&[
            ("group", "engineering@example.com"),
            ("org_unit", "/Engineering")
        ])
    );

    // Domains by name.
    let response = rig
        .call("search-directory", &search(Some("example.c")))
        .await?;
    assert_eq!(found(&response.body), pairs(&[("domain", "example.com")]));
    assert_eq!(response.body["results"][0]["id"], "example.com");

    let response = rig.call("search-directory", &search(Some("zz"))).await?;
    assert_eq!(found(&response.body), Vec::<(String, String)>::new());
    Ok(())
}

#[tokio::test]
async fn contact_groups_of_a_user_by_email_alias_or_id() -> Result<()> {
    let rig = ApiRig::start().await?;
    let groups =
        |user: &str| EventBuilder::new("GET", "/users/{user}/contact-groups", &[("user", user)]);
    let response = rig
        .call("list-contact-groups", &groups("salesuser@example.com"))
        .await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["user_email"], "salesuser@example.com");
    let list = response.body["contact_groups"].as_array().expect("groups");
    assert_eq!(list.len(), 1, "only the user's own groups: {list:?}");
    assert_eq!(list[0]["name"], "Sales Contacts");
    assert!(
        list[0]["resource_name"]
            .as_str()
            .is_some_and(|rn| rn.starts_with("contactGroups/"))
    );
    assert!(list[0]["member_count"].as_u64().is_some_and(|n| n > 0));

    let sam = rig
        .ctx
        .directory
        .get_user("salesuser@example.com")
        .await?
        .expect("sam");
    let by_id = rig.call("list-contact-groups", &groups(&sam.id)).await?;
    assert_eq!(
        by_id.body["contact_groups"],
        response.body["contact_groups"]
    );

    let by_alias = rig
        .call("list-contact-groups", &groups("ana.alvarez@example.com"))
        .await?;
    assert_eq!(by_alias.status, 200);
    assert_eq!(by_alias.body["user_email"], "ana@example.com");
    assert_eq!(by_alias.body["contact_groups"], Value::Array(Vec::new()));

    let response = rig
        .call("list-contact-groups", &groups("ghost@example.com"))
        .await?;
    assert_eq!(response.status, 404);
    let response = rig
        .call("list-contact-groups", &groups("frank@example.com"))
        .await?;
    assert_eq!(response.status, 422);
    assert_eq!(response.error(), ("inactive_user", Some("user")));
    Ok(())
}
