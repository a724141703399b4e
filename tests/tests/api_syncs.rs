//! The sync endpoints (create, list, get, update, delete) through real API Gateway v2 events, against moto and the
//! Google emulator. Run with `make test` (it provides moto).

use anyhow::Result;
use contact_sync::model::{RunMode, RunStatus, Trigger};
use contact_sync::store::SyncStore;
use contact_sync_tests::api_support::{ApiRig, CALLER_ARN, EventBuilder};
use serde_json::{Value, json};

fn create_body() -> Value {
    json!({
        "name": "Sales contacts for everyone",
        "description": "The sales team's customer contacts",
        "source_user": "salesuser@example.com",
        "contact_group": "Sales Contacts",
        "destinations": [
            {"type": "user", "value": "ana.alvarez@example.com"},
            {"type": "group", "value": "accounting@example.com"},
            {"type": "org_unit", "value": "/Sales"},
            {"type": "domain", "value": "example.com"}
        ]
    })
}

fn post_syncs(body: &Value) -> EventBuilder {
    EventBuilder::new("POST", "/syncs", &[]).json(body)
}

async fn create(rig: &ApiRig, body: &Value) -> Result<Value> {
    let response = rig.call("create-sync", &post_syncs(body)).await?;
    anyhow::ensure!(
        response.status == 201,
        "create failed: {} {}",
        response.status,
        response.body
    );
    Ok(response.body)
}

fn quiet(mut body: Value) -> Value {
    body["run_immediately"] = json!(false);
    body
}

#[tokio::test]
async fn create_stores_immutable_ids_answers_201_and_starts_the_first_run() -> Result<()> {
    let rig = ApiRig::start().await?;
    let response = rig.call("create-sync", &post_syncs(&create_body())).await?;
    assert_eq!(response.status, 201, "{}", response.body);
    let sync = &response.body;
    let id = sync["id"].as_str().expect("id");
    assert_eq!(
        response.header("location"),
        Some(format!("/syncs/{id}").as_str())
    );
    assert_eq!(response.header("etag"), Some("\"1\""));
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(sync["version"], 1);
    assert_eq!(sync["enabled"], true);
    assert_eq!(sync["created_by"], CALLER_ARN);
    assert_eq!(sync["label_name"], "Sales Contacts");

    // Every reference is stored by Google's immutable id, with its current name.
    let directory = &rig.ctx.directory;
    let sam = directory
        .get_user("salesuser@example.com")
        .await?
        .expect("sam");
    let ana = directory.get_user("ana@example.com").await?.expect("ana");
    let accounting = directory
        .get_group("accounting@example.com")
        .await?
        .expect("group");
    let sales_ou = directory.get_org_unit("/Sales").await?.expect("ou");
    assert_eq!(sync["source"]["user_id"], sam.id.as_str());
    assert!(
        sync["source"]["contact_group"]
            .as_str()
            .is_some_and(|rn| rn.starts_with("contactGroups/"))
    );
    assert_eq!(sync["source"]["contact_group_name"], "Sales Contacts");
    assert_eq!(
        sync["destinations"],
        json!([
            {"type": "user", "id": ana.id, "display": "ana@example.com"},
            {"type": "group", "id": accounting.id, "display": "accounting@example.com"},
            {"type": "org_unit", "id": sales_ou.org_unit_id, "display": "/Sales"},
            {"type": "domain", "id": "example.com", "display": "example.com"}
        ])
    );
    let stored = rig.store.get_sync(id).await?.expect("stored");
    assert_eq!(
        serde_json::to_value(&stored)?["destinations"],
        sync["destinations"]
    );

    // The first run is recorded as running and handed to the executor.
    let run_id = sync["run_id"].as_str().expect("run_id");
    let events = rig.dispatcher.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].sync_id, id);
    assert_eq!(events[0].run_id.as_deref(), Some(run_id));
    assert_eq!(
        (events[0].trigger, events[0].mode),
        (Trigger::Create, RunMode::Apply)
    );
    assert_eq!(events[0].requested_by.as_deref(), Some(CALLER_ARN));
    let run = rig.store.get_run(id, run_id).await?.expect("run recorded");
    assert_eq!(run.status, RunStatus::Running);
    Ok(())
}

#[tokio::test]
async fn create_without_running_dispatches_nothing_and_records_the_local_caller() -> Result<()> {
    let rig = ApiRig::start().await?;
    let response = rig
        .call(
            "create-sync",
            &post_syncs(&quiet(create_body())).anonymous(),
        )
        .await?;
    assert_eq!(response.status, 201, "{}", response.body);
    assert!(response.body.get("run_id").is_none());
    assert_eq!(response.body["created_by"], "local");
    assert!(rig.dispatcher.events().is_empty());
    let id = response.body["id"].as_str().expect("id");
    assert!(rig.store.list_runs(id, 10, None).await?.items.is_empty());
    Ok(())
}

#[tokio::test]
async fn malformed_requests_are_400_naming_the_field() -> Result<()> {
    let rig = ApiRig::start().await?;
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        ("{\"name\": ".to_owned(), "invalid_json", None),
        ("not json".to_owned(), "invalid_json", None),
        ("".to_owned(), "missing_body", None),
        (
            {
                let mut b = create_body();
                b["destinations"][1]["extra"] = json!(true);
                b.to_string()
            },
            "unknown_field",
            Some("destinations[1].extra"),
        ),
        (
            {
                let mut b = create_body();
                b["colour"] = json!("blue");
                b.to_string()
            },
            "unknown_field",
            Some("colour"),
        ),
        (
            {
                let mut b = create_body();
                b["destinations"][2]["value"] = json!(42);
                b.to_string()
            },
            "invalid_field",
            Some("destinations[2].value"),
        ),
        (
            {
                let mut b = create_body();
                b["destinations"][0]["type"] = json!("planet");
                b.to_string()
            },
            "invalid_field",
            Some("destinations[0].type"),
        ),
        (
            {
                let mut b = create_body();
                b.as_object_mut().expect("object").remove("source_user");
                b.to_string()
            },
            "missing_field",
            Some("source_user"),
        ),
    ];
    for (body, code, field) in cases {
        let response = rig
            .call(
                "create-sync",
                &EventBuilder::new("POST", "/syncs", &[]).raw_body(&body),
            )
            .await?;
        assert_eq!(response.status, 400, "{body}: {}", response.body);
        assert_eq!(response.error(), (code, field), "{body}");
    }
    assert!(rig.dispatcher.events().is_empty());
    Ok(())
}

#[tokio::test]
async fn bodies_over_256_kib_are_413() -> Result<()> {
    let rig = ApiRig::start().await?;
    let mut body = create_body();
    body["description"] = json!("x".repeat(256 * 1024));
    let response = rig.call("create-sync", &post_syncs(&body)).await?;
    assert_eq!(response.status, 413);
    assert_eq!(response.error().0, "payload_too_large");
    Ok(())
}

#[tokio::test]
async fn references_that_do_not_exist_are_422_naming_the_field() -> Result<()> {
    let rig = ApiRig::start().await?;
    let with = |path: &str, value: Value| {
        let mut body = create_body();
        let target = body.pointer_mut(path).expect("path exists");
        *target = value;
        body
    };
    let cases = [
        (
            with("/source_user", json!("nobody@example.com")),
            "unknown_reference",
            "source_user",
        ),
        (
            with("/source_user", json!("frank@example.com")),
            "inactive_user",
            "source_user",
        ),
        (
            with("/contact_group", json!("No Such Group")),
            "unknown_reference",
            "contact_group",
        ),
        (
            with("/contact_group", json!("contactGroups/doesnotexist")),
            "unknown_reference",
            "contact_group",
        ),
        (
            with("/destinations/0/value", json!("ghost@example.com")),
            "unknown_reference",
            "destinations[0].value",
        ),
        (
            with("/destinations/1/value", json!("nogroup@example.com")),
            "unknown_reference",
            "destinations[1].value",
        ),
        (
            with("/destinations/2/value", json!("/Marketing")),
            "unknown_reference",
            "destinations[2].value",
        ),
        (
            with("/destinations/2/value", json!("id:doesnotexist")),
            "unknown_reference",
            "destinations[2].value",
        ),
        (
            with("/destinations/3/value", json!("other.org")),
            "unknown_reference",
            "destinations[3].value",
        ),
        (
            with("/destinations/0/value", json!("not an address")),
            "invalid_reference",
            "destinations[0].value",
        ),
    ];
    for (body, code, field) in cases {
        let response = rig.call("create-sync", &post_syncs(&body)).await?;
        assert_eq!(response.status, 422, "{field}: {}", response.body);
        assert_eq!(response.error(), (code, Some(field)), "{}", response.body);
    }
    assert!(
        rig.store.list_syncs(10, None).await?.items.is_empty(),
        "nothing stored"
    );
    assert!(rig.dispatcher.events().is_empty());
    Ok(())
}

#[tokio::test]
async fn limits_and_duplicates_are_422() -> Result<()> {
    let rig = ApiRig::start().await?;
    let mut cases = Vec::new();

    let mut body = create_body();
    body["name"] = json!("n".repeat(101));
    cases.push((body, "too_long", "name"));

    let mut body = create_body();
    body["name"] = json!("   ");
    cases.push((body, "empty", "name"));

    let mut body = create_body();
    body["description"] = json!("d".repeat(1001));
    cases.push((body, "too_long", "description"));

    let mut body = create_body();
    body["destinations"] = json!([]);
    cases.push((body, "too_few", "destinations"));

    let mut body = create_body();
    body["destinations"] = Value::Array(
        (0..1001)
            .map(|i| json!({"type": "user", "value": format!("user{i}@example.com")}))
            .collect(),
    );
    cases.push((body, "too_many", "destinations"));

    let mut body = create_body();
    body["destinations"] = json!([
        {"type": "group", "value": "accounting@example.com"},
        {"type": "group", "value": "ACCOUNTING@example.com"}
    ]);
    cases.push((body, "duplicate_destination", "destinations[1].value"));

    // An alias and the primary email name the same user: found once resolved.
    let mut body = create_body();
    body["destinations"] = json!([
        {"type": "user", "value": "ana@example.com"},
        {"type": "org_unit", "value": "/Sales"},
        {"type": "user", "value": "ana.alvarez@example.com"}
    ]);
    cases.push((body, "duplicate_destination", "destinations[2].value"));

    for (body, code, field) in cases {
        let response = rig.call("create-sync", &post_syncs(&body)).await?;
        assert_eq!(response.status, 422, "{field}: {}", response.body);
        assert_eq!(response.error(), (code, Some(field)), "{}", response.body);
    }
    Ok(())
}

#[tokio::test]
async fn list_pages_through_syncs_by_name_with_their_last_run() -> Result<()> {
    let rig = ApiRig::start().await?;
    for name in ["Echo", "alpha", "Delta", "charlie", "Bravo"] {
        let mut body = quiet(create_body());
        body["name"] = json!(name);
        create(&rig, &body).await?;
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut event = EventBuilder::new("GET", "/syncs", &[]).query("limit", "2");
        if let Some(t) = &token {
            event = event.query("next_token", t);
        }
        let response = rig.call("list-syncs", &event).await?;
        assert_eq!(response.status, 200, "{}", response.body);
        pages += 1;
        for item in response.body["items"].as_array().expect("items") {
            names.push(item["name"].as_str().expect("name").to_owned());
            assert!(item.get("last_run").is_none(), "no run has finished yet");
        }
        match response.body["next_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["alpha", "Bravo", "charlie", "Delta", "Echo"]);

    let response = rig
        .call("list-syncs", &EventBuilder::new("GET", "/syncs", &[]))
        .await?;
    assert_eq!(
        response.body["items"].as_array().map(Vec::len),
        Some(5),
        "default page is 25"
    );

    for (name, value) in [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
        ("next_token", "forged"),
    ] {
        let response = rig
            .call(
                "list-syncs",
                &EventBuilder::new("GET", "/syncs", &[]).query(name, value),
            )
            .await?;
        assert_eq!(response.status, 400, "{name}={value}");
        assert_eq!(response.error().1, Some(name));
    }
    Ok(())
}

#[tokio::test]
async fn get_returns_the_sync_with_its_etag_or_404() -> Result<()> {
    let rig = ApiRig::start().await?;
    let created = create(&rig, &quiet(create_body())).await?;
    let id = created["id"].as_str().expect("id");
    let response = rig
        .call(
            "get-sync",
            &EventBuilder::new("GET", "/syncs/{id}", &[("id", id)]),
        )
        .await?;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("etag"), Some("\"1\""));
    assert_eq!(response.body["destinations"], created["destinations"]);

    for missing in [
        "01JZZZZZZZZZZZZZZZZZZZZZZZ",
        "not-a-sync-id",
        "x".repeat(300).as_str(),
    ] {
        let response = rig
            .call(
                "get-sync",
                &EventBuilder::new("GET", "/syncs/{id}", &[("id", missing)]),
            )
            .await?;
        assert_eq!(response.status, 404, "{missing}");
        assert_eq!(response.error().0, "not_found");
    }
    Ok(())
}

#[tokio::test]
async fn update_needs_if_match_with_the_current_version() -> Result<()> {
    let rig = ApiRig::start().await?;
    let created = create(&rig, &quiet(create_body())).await?;
    let id = created["id"].as_str().expect("id");
    let patch = |body: Value| EventBuilder::new("PATCH", "/syncs/{id}", &[("id", id)]).json(&body);

    let response = rig
        .call("update-sync", &patch(json!({"name": "Renamed"})))
        .await?;
    assert_eq!(response.status, 428, "{}", response.body);
    assert_eq!(response.error(), ("if_match_required", Some("If-Match")));

    let response = rig
        .call(
            "update-sync",
            &patch(json!({"name": "Renamed"})).header("If-Match", "\"5\""),
        )
        .await?;
    assert_eq!(response.status, 412);
    assert_eq!(response.error().0, "version_mismatch");

    let response = rig
        .call(
            "update-sync",
            &patch(json!({
                "name": "Renamed",
                "enabled": false,
                "add_destinations": [{"type": "group", "value": "engineering@example.com"}],
                "remove_destinations": [{"type": "domain", "value": "example.com"}, {"type": "org_unit", "value": "Sales"}]
            }))
            .header("If-Match", "\"1\""),
        )
        .await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("etag"), Some("\"2\""));
    let sync = &response.body;
    assert_eq!(
        (sync["name"].as_str(), sync["enabled"].as_bool()),
        (Some("Renamed"), Some(false))
    );
    assert_eq!(sync["updated_by"], CALLER_ARN);
    let displays: Vec<&str> = sync["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .filter_map(|d| d["display"].as_str())
        .collect();
    assert_eq!(
        displays,
        [
            "ana@example.com",
            "accounting@example.com",
            "engineering@example.com"
        ]
    );

    // The old version no longer matches.
    let response = rig
        .call(
            "update-sync",
            &patch(json!({"description": "x"})).header("If-Match", "\"1\""),
        )
        .await?;
    assert_eq!(response.status, 412);

    // Invalid changes are refused without bumping the version.
    let cases = [
        (json!({"name": ""}), 422, Some("name")),
        (
            json!({"source_user": "ana@example.com"}),
            400,
            Some("source_user"),
        ),
        (
            json!({"add_destinations": [{"type": "user", "value": "ghost@example.com"}]}),
            422,
            Some("add_destinations[0].value"),
        ),
        (
            json!({"remove_destinations": [{"type": "user", "value": "ben@example.com"}]}),
            422,
            Some("remove_destinations[0].value"),
        ),
        (json!({"contact_group": "Nope"}), 422, Some("contact_group")),
        (
            json!({"destinations": [{"type": "user", "value": "ben@example.com"}], "add_destinations": []}),
            422,
            Some("destinations"),
        ),
    ];
    for (body, status, field) in cases {
        let response = rig
            .call(
                "update-sync",
                &patch(body.clone()).header("If-Match", "\"2\""),
            )
            .await?;
        assert_eq!(response.status, status, "{body}: {}", response.body);
        assert_eq!(response.error().1, field, "{body}");
    }
    assert_eq!(rig.store.get_sync(id).await?.expect("sync").version, 2);

    let response = rig
        .call(
            "update-sync",
            &EventBuilder::new(
                "PATCH",
                "/syncs/{id}",
                &[("id", "01JZZZZZZZZZZZZZZZZZZZZZZZ")],
            )
            .json(&json!({"name": "x"}))
            .header("If-Match", "\"1\""),
        )
        .await?;
    assert_eq!(response.status, 404);
    Ok(())
}

#[tokio::test]
async fn delete_now_or_through_a_clean_up_run() -> Result<()> {
    let rig = ApiRig::start().await?;
    let keep = create(&rig, &quiet(create_body())).await?;
    let keep_id = keep["id"].as_str().expect("id");
    let delete = |id: &str| EventBuilder::new("DELETE", "/syncs/{id}", &[("id", id)]);

    let response = rig
        .call(
            "delete-sync",
            &delete(keep_id).query("remove_contacts", "false"),
        )
        .await?;
    assert_eq!(response.status, 204);
    assert_eq!(response.body, Value::Null);
    assert!(rig.store.get_sync(keep_id).await?.is_none());
    let response = rig
        .call(
            "get-sync",
            &EventBuilder::new("GET", "/syncs/{id}", &[("id", keep_id)]),
        )
        .await?;
    assert_eq!(response.status, 404);
    assert!(rig.dispatcher.events().is_empty());

    let clean = create(&rig, &quiet(create_body())).await?;
    let clean_id = clean["id"].as_str().expect("id");
    let response = rig
        .call(
            "delete-sync",
            &delete(clean_id)
                .query("remove_contacts", "true")
                .header("If-Match", "\"7\""),
        )
        .await?;
    assert_eq!(response.status, 412);

    let response = rig
        .call(
            "delete-sync",
            &delete(clean_id).query("remove_contacts", "true"),
        )
        .await?;
    assert_eq!(response.status, 202, "{}", response.body);
    let run_id = response.body["run_id"].as_str().expect("run id");
    assert_eq!(
        response.header("location"),
        Some(format!("/syncs/{clean_id}/runs/{run_id}").as_str())
    );
    assert_eq!(response.body["trigger"], "delete");
    assert_eq!(response.body["mode"], "cleanup");
    let events = rig.dispatcher.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].trigger, events[0].mode),
        (Trigger::Delete, RunMode::Cleanup)
    );
    let sync = rig
        .store
        .get_sync(clean_id)
        .await?
        .expect("kept until the clean-up run ends");
    assert!(
        !sync.enabled,
        "disabled so the schedule does not run it meanwhile"
    );

    let response = rig
        .call(
            "delete-sync",
            &delete(clean_id).query("remove_contacts", "true"),
        )
        .await?;
    assert_eq!(response.status, 409, "the clean-up run is in progress");

    let response = rig
        .call(
            "delete-sync",
            &delete(clean_id).query("remove_contacts", "maybe"),
        )
        .await?;
    assert_eq!(response.status, 400);
    let response = rig
        .call("delete-sync", &delete("01JZZZZZZZZZZZZZZZZZZZZZZZ"))
        .await?;
    assert_eq!(response.status, 404);
    Ok(())
}
