//! The local stack (`make local`, `make demo`) started in-process: its gateway serves exactly template.yaml's
//! routes with the real handlers, a sync created over HTTP runs to success, and the demo scenario passes.
//! Uses the moto at `AWS_ENDPOINT_URL` (`make test` starts one), else starts its own from the virtualenv.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use contact_sync::api::API_FUNCTIONS;
use local_stack::demo::{self, DemoPlan};
use local_stack::report::Reporter;
use local_stack::{LocalOptions, RunningStack};
use serde_json::{Value, json};

async fn start_stack() -> RunningStack {
    contact_sync::telemetry::init();
    let opts = LocalOptions {
        seed: Some(demo::demo_seed()),
        ..LocalOptions::ephemeral()
    };
    match local_stack::start(opts).await {
        Ok(stack) => stack,
        Err(err) => panic!("the local stack did not start: {err}"),
    }
}

/// A value for a path parameter: ids are ULIDs, users are emails.
fn sample_value(name: &str) -> String {
    match name {
        "user" => "salesuser@example.com".to_owned(),
        _ => ulid::Ulid::generate().to_string(),
    }
}

fn fill(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => sample_value(name.trim_end_matches('+')),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_exactly_the_templates_routes() {
    let stack = start_stack().await;

    // The routes served are template.yaml's: one per HttpApi event in the file ...
    let template_text = std::fs::read_to_string(local_stack::template::default_template_path())
        .expect("template.yaml");
    let http_api_events = template_text
        .lines()
        .filter(|line| line.trim() == "Type: HttpApi")
        .count();
    assert_eq!(
        stack.routes.len(),
        http_api_events,
        "one route per HttpApi event"
    );
    // ... and exactly the API the handlers document (the OpenAPI document generated from the code).
    let openapi: Value =
        serde_json::from_str(&contact_sync::api::openapi::openapi_json()).expect("OpenAPI JSON");
    let mut expected = BTreeSet::new();
    for (path, operations) in openapi["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("operations").keys() {
            expected.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = stack
        .routes
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.path.clone()))
        .collect();
    assert_eq!(
        served, expected,
        "the gateway's routes are the documented API"
    );
    let binaries: BTreeSet<&str> = stack.routes.iter().map(|r| r.binary.as_str()).collect();
    assert_eq!(
        binaries,
        API_FUNCTIONS
            .iter()
            .map(|f| f.name)
            .collect::<BTreeSet<_>>(),
        "every API function is routed"
    );

    // Every route reaches its function (the gateway marks function responses with apigw-requestid) ...
    let client = reqwest::Client::new();
    for route in &stack.routes {
        let (method, path, binary) = (route.method.as_str(), &route.path, &route.binary);
        let url = format!("{}{}", stack.api_url, fill(path));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = client
            .request(method.clone(), &url)
            .send()
            .await
            .expect("request");
        assert!(
            response.headers().contains_key("apigw-requestid"),
            "{method} {path} ({binary}) did not reach a function: {}",
            response.status()
        );
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(body, json!({"message": "Not Found"}), "{method} {path}");
    }

    // ... and nothing else does.
    for (method, path) in [
        (reqwest::Method::GET, "/nothing-here"),
        (reqwest::Method::PUT, "/syncs"),
        (reqwest::Method::GET, "/syncs/a/b/c/d"),
        (reqwest::Method::GET, "/local/schedule"),
    ] {
        let response = client
            .request(method.clone(), format!("{}{path}", stack.api_url))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404, "{method} {path}");
        assert!(!response.headers().contains_key("apigw-requestid"));
        let body: Value = response.json().await.expect("json");
        assert_eq!(body, json!({"message": "Not Found"}));
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_created_over_http_runs_to_success() {
    let stack = start_stack().await;
    let client = reqwest::Client::new();

    let response = client
        .post(format!("{}/syncs", stack.api_url))
        .json(&json!({
            "name": "Sales contacts for Accounting",
            "source_user": "salesuser@example.com",
            "contact_group": "Sales Contacts",
            "destinations": [{"type": "org_unit", "value": "/Accounting"}],
        }))
        .send()
        .await
        .expect("POST /syncs");
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("location"));
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["created_by"], "local", "{created}");
    let sync_id = created["id"].as_str().expect("sync id").to_owned();
    let run_id = created["run_id"].as_str().expect("run id").to_owned();

    let started = Instant::now();
    let run = loop {
        let response = client
            .get(format!("{}/syncs/{sync_id}/runs/{run_id}", stack.api_url))
            .send()
            .await
            .expect("GET run");
        if response.status() == 200 {
            let run: Value = response.json().await.expect("json");
            if run["status"] != "running" {
                break run;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run did not finish in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(run["status"], "succeeded", "{run}");
    let results = run["results"].as_array().expect("results");
    let emails: BTreeSet<&str> = results.iter().filter_map(|r| r["email"].as_str()).collect();
    // /Accounting and its sub-OU, without frank (suspended).
    assert_eq!(
        emails,
        BTreeSet::from([
            "ana@example.com",
            "ben@example.com",
            "carla@example.com",
            "dave@example.com",
            "erin@example.com",
        ])
    );

    let groups = stack.emulator().contact_groups_of("salesuser@example.com");
    let source = groups
        .iter()
        .find(|g| g["name"] == "Sales Contacts")
        .expect("the source group");
    let members = source["memberCount"].as_u64().expect("memberCount");
    for email in &emails {
        let managed = stack
            .emulator()
            .contacts_of(email)
            .iter()
            .filter(|c| {
                c["clientData"].as_array().is_some_and(|data| {
                    data.iter()
                        .any(|d| d["key"] == "contact-sync.sync-id" && d["value"] == sync_id)
                })
            })
            .count();
        assert_eq!(
            managed as u64, members,
            "{email} holds every source contact"
        );
    }

    // The daily tick over the gateway starts a scheduled run of the sync.
    let summary: Value = client
        .post(format!("{}/local/schedule", stack.api_url))
        .send()
        .await
        .expect("POST /local/schedule")
        .json()
        .await
        .expect("json");
    assert_eq!(summary["dispatched"], 1, "{summary}");
    stack.wait_for_runs().await;
    let runs: Value = client
        .get(format!("{}/syncs/{sync_id}/runs", stack.api_url))
        .send()
        .await
        .expect("GET runs")
        .json()
        .await
        .expect("json");
    let scheduled = runs["items"]
        .as_array()
        .and_then(|items| items.iter().find(|r| r["trigger"] == "schedule"))
        .expect("a scheduled run");
    assert_eq!(scheduled["status"], "succeeded", "{scheduled}");
    assert_eq!(
        scheduled["totals"]["created"], 0,
        "nothing new at the source"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_scenario_passes() {
    let stack = start_stack().await;
    let (mut out, buffer) = Reporter::buffer();
    let outcome = demo::run(&stack.demo_target(), &DemoPlan::sample(), &mut out).await;
    stack.stop().await;
    let printed = buffer
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    match outcome {
        Ok(summary) => {
            assert!(summary.checks >= 15, "{printed}");
            assert_eq!(summary.destination_users.len(), 5, "{printed}");
            assert!(!printed.contains('✗'), "{printed}");
        }
        Err(err) => panic!("the demo failed: {err}\n{printed}"),
    }
}
