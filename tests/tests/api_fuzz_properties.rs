//! Bad input, property-based: requests with generated bodies, query strings, path parameters and `If-Match`
//! headers go through the real API handlers (as API Gateway delivers them, routes from template.yaml) against
//! moto and the Google emulator. Every answer is a 2xx, or a 4xx with the error body
//! `{"error": {"code", "message", ...}}`, never a 5xx; and a rejected request leaves the table exactly as it was
//! (compared item by item with a scan of the whole table).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use contact_sync::api::ApiContext;
use contact_sync_tests::executor_support::{Rig, RigOptions};
use contact_sync_tests::reliability::{
    ApiRoutes, DESTINATION_OU, DOMAIN, RecordingDispatcher, SOURCE_EMAIL, SOURCE_GROUP, WorldSpec,
    api_context, create_sync, destination_email, world_seed,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::{Value, json};

/// Cases per property (`PROPTEST_CASES` overrides).
const CASES: u32 = 96;

/// One generated request. `FIXTURE` in the path stands for the id of a sync that exists.
#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    rig: Rig,
    ctx: ApiContext,
    api: ApiRoutes,
    sync_id: std::sync::Mutex<String>,
    /// Answers by status (no route: 0), to show what the generators reached.
    statuses: std::sync::Mutex<BTreeMap<u16, u32>>,
}

impl Fixture {
    fn start() -> anyhow::Result<Fixture> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let spec = WorldSpec {
            contacts: 5,
            destinations: 2,
            own_contacts: 0,
            seed: 1,
        };
        let (rig, ctx, sync_id) = rt.block_on(async {
            let rig = Rig::start(world_seed(&spec), RigOptions::default()).await?;
            let ctx = api_context(&rig, Arc::new(RecordingDispatcher::default()));
            let sync = create_sync(&ctx, "fuzz fixture").await?;
            anyhow::Ok((rig, ctx, sync.id))
        })?;
        Ok(Fixture {
            rt,
            rig,
            ctx,
            api: ApiRoutes::load()?,
            sync_id: std::sync::Mutex::new(sync_id),
            statuses: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    fn sync_id(&self) -> String {
        self.sync_id
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Every item of the table, by key, as text (a scan: the test's own look at what is stored).
    async fn table(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let client = aws_sdk_dynamodb::Client::new(&self.rig.sdk);
        let mut items = BTreeMap::new();
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(&self.rig.config.table_name)
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await?;
            for item in page.items() {
                let canonical: BTreeMap<&String, Value> =
                    item.iter().map(|(k, v)| (k, canonical(v))).collect();
                let key = format!(
                    "{}/{}",
                    canonical_key(item, "pk"),
                    canonical_key(item, "sk")
                );
                items.insert(key, serde_json::to_string(&canonical)?);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    fn count(&self, status: u16) {
        match self.statuses.lock() {
            Ok(mut s) => *s.entry(status).or_default() += 1,
            Err(poisoned) => *poisoned.into_inner().entry(status).or_default() += 1,
        }
    }

    async fn check(&self, req: &Req) -> anyhow::Result<()> {
        let path = req.path.replace("FIXTURE", &self.sync_id());
        let before = self.table().await?;
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let Some(answer) = self
            .api
            .call(
                &self.ctx, req.method, &path, &req.query, &headers, &req.body,
            )
            .await?
        else {
            // No route matches: API Gateway answers 404 itself, no function runs.
            self.count(0);
            return Ok(());
        };
        self.count(answer.status);
        let what = format!(
            "{} {path}?{} -> {}: {}",
            req.method, req.query, answer.status, answer.text
        );
        anyhow::ensure!(answer.status < 500, "5xx: {what}");
        anyhow::ensure!(
            (200..500).contains(&answer.status) && !(300..400).contains(&answer.status),
            "neither 2xx nor 4xx: {what}"
        );
        if answer.status >= 400 {
            anyhow::ensure!(
                answer.has_error_body(),
                "4xx without the error body: {what}"
            );
            let after = self.table().await?;
            if before != after {
                let changed: Vec<&String> = after
                    .iter()
                    .filter(|(k, v)| before.get(*k) != Some(*v))
                    .map(|(k, _)| k)
                    .chain(before.keys().filter(|k| !after.contains_key(*k)))
                    .collect();
                anyhow::bail!("a rejected request changed stored data ({changed:?}): {what}");
            }
        }
        // A successful delete removes the fixture: later cases get a new one.
        if req.method == "DELETE" && answer.status < 300 && path.contains(&self.sync_id()) {
            let sync = create_sync(&self.ctx, "fuzz fixture").await?;
            match self.sync_id.lock() {
                Ok(mut id) => *id = sync.id,
                Err(poisoned) => *poisoned.into_inner() = sync.id,
            }
        }
        Ok(())
    }

    fn run(&self, strategy: impl Strategy<Value = Req>) {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(CASES);
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&strategy, |req| {
            self.rt
                .block_on(self.check(&req))
                .map_err(|e| TestCaseError::fail(format!("{e:#}")))
        });
        let statuses = self
            .statuses
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        println!("answers by status (0 = no route): {statuses:?}");
        match result {
            Ok(()) => {
                let answered: u32 = statuses
                    .iter()
                    .filter(|(s, _)| **s != 0)
                    .map(|(_, n)| n)
                    .sum();
                assert!(
                    answered * 2 >= cases,
                    "fewer than half of the generated requests reached a handler: {statuses:?}"
                );
            }
            Err(TestError::Fail(reason, req)) => {
                panic!("{reason}\nminimal failing request: {req:?}")
            }
            Err(TestError::Abort(reason)) => panic!("proptest aborted: {reason}"),
        }
    }
}

/// An attribute value as JSON with its maps' keys sorted (the SDK's maps are hash maps: their order varies).
fn canonical(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::L(items) => json!({"L": items.iter().map(canonical).collect::<Vec<_>>()}),
        AttributeValue::M(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            json!({"M": sorted})
        }
        AttributeValue::Ss(set) => {
            let mut set = set.clone();
            set.sort();
            json!({"SS": set})
        }
        AttributeValue::Ns(set) => {
            let mut set = set.clone();
            set.sort();
            json!({"NS": set})
        }
        other => json!({"other": format!("{other:?}")}),
    }
}

fn canonical_key(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

// ---- generators ------------------------------------------------------------------------------------------------

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9 ._@/-]{1,24}",
        ".{0,40}",
        "[\\x00-\\x1f\\u{7f}]{1,4}",
        Just("x".repeat(101)),
        Just("y".repeat(1001)),
        Just("   ".to_owned()),
    ]
    .boxed()
}

fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(|f| json!(f)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A reference that may or may not exist, or junk.
fn reference() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => Just(json!(SOURCE_EMAIL)),
        2 => Just(json!(destination_email(0))),
        2 => Just(json!(DESTINATION_OU)),
        3 => Just(json!(SOURCE_GROUP)),
        1 => Just(json!(DOMAIN)),
        1 => Just(json!("contactGroups/doesnotexist")),
        1 => Just(json!("nobody@example.com")),
        1 => text().prop_map(Value::from),
        1 => any_json(),
    ]
    .boxed()
}

fn destination() -> BoxedStrategy<Value> {
    (
        prop_oneof![
            3 => Just(json!("user")),
            1 => Just(json!("group")),
            3 => Just(json!("org_unit")),
            1 => Just(json!("domain")),
            1 => text().prop_map(Value::from),
            1 => any_json(),
        ],
        reference(),
        option::weighted(0.1, any_json()),
    )
        .prop_map(|(kind, value, extra)| {
            let mut d = json!({"type": kind, "value": value});
            if let Some(extra) = extra {
                d["unexpected"] = extra;
            }
            d
        })
        .boxed()
}

fn field(strategy: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    option::weighted(0.85, prop_oneof![12 => strategy, 1 => any_json()]).boxed()
}

/// A POST /syncs or PATCH body: mostly the right shape with bad values, sometimes anything.
fn sync_body(update: bool) -> BoxedStrategy<Value> {
    let destinations = prop_oneof![
        vec(destination(), 0..4).prop_map(Value::Array),
        vec(destination(), 1..2).prop_map(|d| {
            let mut d = d;
            d.extend(d.clone());
            Value::Array(d)
        }),
    ]
    .boxed();
    let plausible = || {
        prop_oneof![4 => "[A-Za-z][A-Za-z0-9 .-]{0,40}", 1 => text()]
            .prop_map(Value::from)
            .boxed()
    };
    let shaped = (
        field(plausible()),
        field(plausible()),
        field(reference()),
        field(reference()),
        field(destinations),
        field(any::<bool>().prop_map(Value::from).boxed()),
        field(
            prop_oneof![
                3 => Just(json!("remove")),
                3 => Just(json!("keep_unmanaged")),
                1 => text().prop_map(Value::from)
            ]
            .boxed(),
        ),
        option::weighted(0.08, ("[a-z_]{1,10}", any_json())),
    )
        .prop_map(
            move |(name, description, source, group, destinations, flag, policy, extra)| {
                let mut body = serde_json::Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        body.insert(k.to_owned(), v);
                    }
                };
                put("name", name);
                put("description", description);
                if update {
                    put("contact_group", group);
                    put("add_destinations", destinations);
                    put("enabled", flag);
                } else {
                    put("source_user", source);
                    put("contact_group", group);
                    put("destinations", destinations);
                    put("run_immediately", flag);
                }
                put("leaver_policy", policy);
                if let Some((k, v)) = extra {
                    body.insert(k, v);
                }
                Value::Object(body)
            },
        );
    prop_oneof![4 => shaped, 1 => any_json()].boxed()
}

/// Bytes of a body: JSON, broken JSON, binary, or too large.
fn body_bytes(json: BoxedStrategy<Value>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        8 => json.clone().prop_map(|v| v.to_string().into_bytes()),
        1 => json.prop_map(|v| {
            let text = v.to_string();
            text.as_bytes()[..text.len() / 2].to_vec()
        }),
        1 => vec(any::<u8>(), 0..48),
        1 => Just(Vec::new()),
        1 => Just(format!("{{\"name\": \"{}\"}}", "z".repeat(300 * 1024)).into_bytes()),
    ]
    .boxed()
}

fn segment() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just("FIXTURE".to_owned()),
        1 => "[0-9A-HJKMNP-TV-Z]{26}",
        1 => ".{1,30}".prop_map(|s| urlencoding::encode(&s).into_owned()),
    ]
    .boxed()
}

fn if_match() -> BoxedStrategy<Vec<(String, String)>> {
    prop_oneof![
        Just(Vec::new()),
        prop_oneof![
            Just("\"1\"".to_owned()),
            Just("\"2\"".to_owned()),
            Just("*".to_owned()),
            Just("W/\"1\"".to_owned()),
            "[ -~]{0,12}",
        ]
        .prop_map(|v| vec![("if-match".to_owned(), v)]),
    ]
    .boxed()
}

fn query() -> BoxedStrategy<String> {
    let key = prop_oneof![
        Just("limit"),
        Just("next_token"),
        Just("q"),
        Just("remove_contacts"),
        Just("dry_run"),
        Just("unexpected"),
    ];
    let value = prop_oneof![
        (-5i64..200).prop_map(|n| n.to_string()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("ac".to_owned()),
        Just("a".to_owned()),
        ".{0,120}".prop_map(|s| urlencoding::encode(&s).into_owned()),
        "[A-Za-z0-9+/=]{0,60}",
        Just("%zz%".to_owned()),
    ];
    vec((key, value), 0..4)
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        })
        .boxed()
}

fn json_headers(extra: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend(extra);
    headers
}

fn body_requests() -> BoxedStrategy<Req> {
    prop_oneof![
        body_bytes(sync_body(false)).prop_map(|body| Req {
            method: "POST",
            path: "/syncs".to_owned(),
            query: String::new(),
            headers: json_headers(Vec::new()),
            body,
        }),
        (segment(), body_bytes(sync_body(true)), if_match()).prop_map(|(id, body, h)| Req {
            method: "PATCH",
            path: format!("/syncs/{id}"),
            query: String::new(),
            headers: json_headers(h),
            body,
        }),
        (
            segment(),
            body_bytes(
                prop_oneof![
                    3 => any::<bool>().prop_map(|v| json!({"dry_run": v})),
                    1 => any_json().prop_map(|v| json!({"dry_run": v})),
                    1 => any_json()
                ]
                .boxed()
            )
        )
            .prop_map(|(id, body)| Req {
                method: "POST",
                path: format!("/syncs/{id}/runs"),
                query: String::new(),
                headers: json_headers(Vec::new()),
                body,
            }),
    ]
    .boxed()
}

fn query_requests() -> BoxedStrategy<Req> {
    let get = |path: String, query: String| Req {
        method: "GET",
        path,
        query,
        headers: Vec::new(),
        body: Vec::new(),
    };
    prop_oneof![
        query().prop_map(move |q| get("/syncs".to_owned(), q)),
        (segment(), query()).prop_map(move |(id, q)| get(format!("/syncs/{id}"), q)),
        (segment(), query()).prop_map(move |(id, q)| get(format!("/syncs/{id}/runs"), q)),
        (segment(), segment(), query())
            .prop_map(move |(id, run, q)| get(format!("/syncs/{id}/runs/{run}"), q)),
        query().prop_map(move |q| get("/directory/search".to_owned(), q)),
        (
            prop_oneof![
                Just(urlencoding::encode(SOURCE_EMAIL).into_owned()),
                Just(SOURCE_EMAIL.to_owned()),
                ".{1,40}".prop_map(|s| urlencoding::encode(&s).into_owned())
            ],
            query()
        )
            .prop_map(move |(user, q)| get(format!("/users/{user}/contact-groups"), q)),
        (segment(), query(), if_match()).prop_map(|(id, q, h)| Req {
            method: "DELETE",
            path: format!("/syncs/{id}"),
            query: q,
            headers: h,
            body: Vec::new(),
        }),
    ]
    .boxed()
}

#[test]
fn request_bodies_never_get_a_5xx_and_rejected_ones_change_nothing() -> anyhow::Result<()> {
    let fixture = Fixture::start()?;
    fixture.run(body_requests());
    Ok(())
}

#[test]
fn query_strings_and_path_parameters_never_get_a_5xx_and_rejected_ones_change_nothing()
-> anyhow::Result<()> {
    let fixture = Fixture::start()?;
    fixture.run(query_requests());
    Ok(())
}
