//! Starting runs and reading them through real API Gateway v2 events, against moto and the Google emulator.
//! Run with `make test` (it provides moto).

use anyhow::Result;
use chrono::{Duration, Utc};
use contact_sync::model::{DestinationResult, DestinationStatus, RunMode, RunStatus, Trigger};
use contact_sync::store::SyncStore;
use contact_sync_tests::api_support::{ApiRig, CALLER_ARN, EventBuilder};
use serde_json::{Value, json};

async fn quiet_sync(rig: &ApiRig) -> Result<String> {
    let body = json!({
        "name": "Sales contacts",
        "source_user": "salesuser@example.com",
        "contact_group": "Sales Contacts",
        "destinations": [{"type": "org_unit", "value": "/Accounting"}],
        "run_immediately": false
    });
    let response = rig
        .call(
            "create-sync",
            &EventBuilder::new("POST", "/syncs", &[]).json(&body),
        )
        .await?;
    anyhow::ensure!(response.status == 201, "{}", response.body);
    Ok(response.body["id"].as_str().unwrap_or_default().to_owned())
}

fn start(id: &str) -> EventBuilder {
    EventBuilder::new("POST", "/syncs/{id}/runs", &[("id", id)])
}

#[tokio::test]
async fn start_run_answers_202_and_409_while_a_run_is_in_progress() -> Result<()> {
    let rig = ApiRig::start().await?;
    let id = quiet_sync(&rig).await?;

    let response = rig
        .call("start-run", &start(&id).json(&json!({"dry_run": true})))
        .await?;
    assert_eq!(response.status, 202, "{}", response.body);
    let run_id = response.body["run_id"].as_str().expect("run id").to_owned();
    assert_eq!(
        response.header("location"),
        Some(format!("/syncs/{id}/runs/{run_id}").as_str())
    );
    assert_eq!(response.body["status"], "running");
    assert_eq!(response.body["mode"], "dry_run");
    assert_eq!(response.body["requested_by"], CALLER_ARN);
    let events = rig.dispatcher.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(
        (events[0].trigger, events[0].mode),
        (Trigger::Manual, RunMode::DryRun)
    );
    // Visible before the executor starts.
    let response = rig
        .call(
            "get-runs",
            &EventBuilder::new(
                "GET",
                "/syncs/{id}/runs/{run_id}",
                &[("id", &id), ("run_id", &run_id)],
            ),
        )
        .await?;
    assert_eq!(
        (response.status, response.body["status"].as_str()),
        (200, Some("running"))
    );

    // Not picked up yet: a second start is refused.
    let response = rig.call("start-run", &start(&id)).await?;
    assert_eq!(response.status, 409, "{}", response.body);
    assert_eq!(response.error().0, "run_in_progress");

    // The executor holds the lease.
    let now = Utc::now();
    rig.store
        .acquire_lease(&id, &run_id, now + Duration::minutes(15), now)
        .await?;
    let mut run = rig.store.get_run(&id, &run_id).await?.expect("run");
    run.invocations = 1;
    rig.store.put_run(&run).await?;
    let response = rig.call("start-run", &start(&id)).await?;
    assert_eq!(response.status, 409);
    assert!(
        response.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&run_id))
    );

    // The run finished and released the lease: a new run may start (empty body = apply).
    run.status = RunStatus::Succeeded;
    run.finished_at = Some(Utc::now());
    rig.store.put_run(&run).await?;
    rig.store.release_lease(&id, &run_id).await?;
    let response = rig.call("start-run", &start(&id)).await?;
    assert_eq!(response.status, 202, "{}", response.body);
    assert_eq!(response.body["mode"], "apply");
    assert_eq!(rig.dispatcher.events().len(), 2);
    Ok(())
}

#[tokio::test]
async fn start_run_rejects_bad_requests_and_unknown_syncs() -> Result<()> {
    let rig = ApiRig::start().await?;
    let id = quiet_sync(&rig).await?;
    let response = rig
        .call("start-run", &start(&id).json(&json!({"dryrun": true})))
        .await?;
    assert_eq!(response.status, 400);
    assert_eq!(response.error(), ("unknown_field", Some("dryrun")));
    let response = rig
        .call("start-run", &start(&id).json(&json!({"dry_run": "yes"})))
        .await?;
    assert_eq!(response.error(), ("invalid_field", Some("dry_run")));
    let response = rig
        .call("start-run", &start("01JZZZZZZZZZZZZZZZZZZZZZZZ"))
        .await?;
    assert_eq!(response.status, 404);
    assert!(rig.dispatcher.events().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_failed_dispatch_is_503_and_leaves_a_failed_run_not_a_stuck_one() -> Result<()> {
    let rig = ApiRig::start().await?;
    let id = quiet_sync(&rig).await?;
    rig.dispatcher.set_failing(true);
    let response = rig.call("start-run", &start(&id)).await?;
    assert_eq!(response.status, 503, "{}", response.body);
    assert_eq!(response.error().0, "dispatch_failed");
    assert!(response.header("retry-after").is_some());
    let runs = rig.store.list_runs(&id, 10, None).await?;
    assert_eq!(runs.items.len(), 1);
    assert_eq!(runs.items[0].status, RunStatus::Failed);
    rig.dispatcher.set_failing(false);
    let response = rig.call("start-run", &start(&id)).await?;
    assert_eq!(
        response.status, 202,
        "a failed start does not block the next one"
    );
    Ok(())
}

#[tokio::test]
async fn runs_are_listed_newest_first_and_read_with_per_destination_results() -> Result<()> {
    let rig = ApiRig::start().await?;
    let id = quiet_sync(&rig).await?;
    let mut run_ids = Vec::new();
    for _ in 0..3 {
        let response = rig.call("start-run", &start(&id)).await?;
        assert_eq!(response.status, 202, "{}", response.body);
        let run_id = response.body["run_id"].as_str().expect("run id").to_owned();
        // Finish it, as the executor would, so the next start is allowed.
        let mut run = rig.store.get_run(&id, &run_id).await?.expect("run");
        run.status = RunStatus::Succeeded;
        run.invocations = 1;
        run.finished_at = Some(Utc::now());
        rig.store.put_run(&run).await?;
        run_ids.push(run_id);
    }
    let ben = rig
        .ctx
        .directory
        .get_user("ben@example.com")
        .await?
        .expect("ben");
    let result = DestinationResult {
        user_id: ben.id.clone(),
        email: ben.primary_email.clone(),
        status: DestinationStatus::Succeeded,
        created: 30,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        error: None,
        planned: None,
        finished_at: Utc::now(),
    };
    rig.store.put_result(&id, &run_ids[0], &result).await?;

    let list = |limit: &str, token: Option<&str>| {
        let mut e =
            EventBuilder::new("GET", "/syncs/{id}/runs", &[("id", &id)]).query("limit", limit);
        if let Some(t) = token {
            e = e.query("next_token", t);
        }
        e
    };
    let first = rig.call("get-runs", &list("2", None)).await?;
    assert_eq!(first.status, 200, "{}", first.body);
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|r| r["run_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let token = first.body["next_token"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let second = rig.call("get-runs", &list("2", Some(&token))).await?;
    assert!(second.body.get("next_token").is_none());
    let mut seen = ids(&first.body);
    seen.extend(ids(&second.body));
    let newest_first: Vec<String> = run_ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let response = rig
        .call(
            "get-runs",
            &EventBuilder::new(
                "GET",
                "/syncs/{id}/runs/{run_id}",
                &[("id", &id), ("run_id", &run_ids[0])],
            ),
        )
        .await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["status"], "succeeded");
    assert_eq!(response.body["trigger"], "manual");
    assert_eq!(response.body["results"][0]["email"], "ben@example.com");
    assert_eq!(response.body["results"][0]["created"], 30);

    let response = rig
        .call(
            "get-runs",
            &EventBuilder::new(
                "GET",
                "/syncs/{id}/runs/{run_id}",
                &[("id", &id), ("run_id", "01JZZZZZZZZZZZZZZZZZZZZZZZ")],
            ),
        )
        .await?;
    assert_eq!(response.status, 404);
    let response = rig
        .call(
            "get-runs",
            &EventBuilder::new(
                "GET",
                "/syncs/{id}/runs",
                &[("id", "01JZZZZZZZZZZZZZZZZZZZZZZZ")],
            ),
        )
        .await?;
    assert_eq!(response.status, 404);
    let response = rig.call("get-runs", &list("500", None)).await?;
    assert_eq!(response.status, 400);
    Ok(())
}
