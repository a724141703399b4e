//! Realism knobs: per-user quotas (429 with Retry-After), injected 503s (some after the write was
//! applied), failing users, latency; and the request counters.

mod common;

use std::time::{Duration, Instant};

use common::*;
use google_emulator::{ConfigUpdate, EmulatorOptions};
use reqwest::Method;
use serde_json::json;

const ANA: &str = "ana@example.com";
const LIST: &str = "/v1/people/me/connections?personFields=names&pageSize=5";

#[tokio::test]
async fn read_quota_answers_googles_429_with_retry_after() {
    let env = Env::start(EmulatorOptions {
        read_quota_per_minute: Some(3),
        ..Default::default()
    })
    .await;
    let sam = env.contacts_token(SAM).await;
    for _ in 0..3 {
        env.get(&sam, LIST).await.ok();
    }
    let r = env.get(&sam, LIST).await.expect(429);
    assert_eq!(r.body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(r.reason(), Some("RATE_LIMIT_EXCEEDED"));
    let info = r.body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .find(|d| d["reason"] == "RATE_LIMIT_EXCEEDED")
        .cloned()
        .expect("ErrorInfo");
    assert_eq!(info["domain"], "googleapis.com");
    assert_eq!(
        info["metadata"]["quota_metric"],
        "Critical read requests (Contact and Profile Reads) per minute per user"
    );
    assert_eq!(info["metadata"]["quota_limit_value"], "3");
    let retry: u64 = r
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Writes have their own quota; other users their own windows.
    env.post(&sam, "/v1/people:createContact", person("Still", "Writes"))
        .await
        .ok();
    let ana = env.contacts_token(ANA).await;
    env.get(&ana, LIST).await.ok();
    assert_eq!(env.emu.stats().rate_limited, 1);
}

#[tokio::test]
async fn write_quota_and_short_windows() {
    let env = Env::start(EmulatorOptions {
        write_quota_per_minute: Some(2),
        quota_window_ms: 400,
        ..Default::default()
    })
    .await;
    let sam = env.contacts_token(SAM).await;
    for i in 0..2 {
        env.post(
            &sam,
            "/v1/people:createContact",
            person("W", &format!("{i}")),
        )
        .await
        .ok();
    }
    let r = env
        .post(&sam, "/v1/people:createContact", person("W", "3"))
        .await
        .expect(429);
    assert_eq!(
        r.retry_after.as_deref(),
        Some("1"),
        "rounded up, at least 1"
    );
    let info = &r.body["error"]["details"][0];
    assert_eq!(
        info["metadata"]["quota_metric"],
        "Critical write requests per minute per user"
    );
    // Reads are not writes.
    env.get(&sam, LIST).await.ok();
    tokio::time::sleep(Duration::from_millis(450)).await;
    env.post(&sam, "/v1/people:createContact", person("W", "4"))
        .await
        .ok();
    // Lifting the limit at run time.
    env.emu.configure(ConfigUpdate {
        write_quota_per_minute: Some(None),
        ..Default::default()
    });
    for i in 5..9 {
        env.post(
            &sam,
            "/v1/people:createContact",
            person("W", &format!("{i}")),
        )
        .await
        .ok();
    }
}

#[tokio::test]
async fn fault_rate_one_answers_503_and_applies_some_writes() {
    let env = Env::start(EmulatorOptions {
        fault_rate: 1.0,
        rng_seed: Some(42),
        ..Default::default()
    })
    .await;
    let sam = env.contacts_token(SAM).await;
    let r = env.get(&sam, LIST).await.expect(503);
    assert_eq!(r.body["error"]["status"], "UNAVAILABLE");
    assert_eq!(r.message(), "The service is currently unavailable.");
    let admin = env.admin_token().await;
    env.get(&admin, "/admin/directory/v1/users?customer=my_customer")
        .await
        .expect(503);

    let before = env.emu.contacts_of(SAM).len();
    for i in 0..20 {
        env.post(
            &sam,
            "/v1/people:createContact",
            person("Lost", &format!("{i}")),
        )
        .await
        .expect(503);
    }
    let applied = env.emu.contacts_of(SAM).len() - before;
    assert!(
        (1..20).contains(&applied),
        "about half of the faulted writes are applied before the 503: {applied}"
    );
    let stats = env.emu.stats();
    assert_eq!(stats.faults, 22);
    assert_eq!(stats.by_method["people.people.createContact"], 20);
}

#[tokio::test]
async fn faults_are_reproducible_with_a_seed() {
    async fn outcomes(seed: u64) -> Vec<u16> {
        let env = Env::start(EmulatorOptions {
            fault_rate: 0.5,
            rng_seed: Some(seed),
            ..Default::default()
        })
        .await;
        let sam = env.contacts_token(SAM).await;
        let mut out = Vec::new();
        for _ in 0..12 {
            out.push(env.get(&sam, LIST).await.status);
        }
        out
    }
    let a = outcomes(9).await;
    assert_eq!(a, outcomes(9).await);
    assert!(a.contains(&200) && a.contains(&503), "{a:?}");
}

#[tokio::test]
async fn a_failing_user_gets_the_configured_status() {
    let env = Env::demo().await;
    let (status, _) = env
        .control(
            Method::POST,
            "/emulator/config",
            Some(json!({"user_faults": {ANA: 403}}).to_string()),
        )
        .await;
    assert_eq!(status, 200);
    let ana = env.contacts_token(ANA).await;
    let r = env.get(&ana, LIST).await.expect(403);
    assert_eq!(r.body["error"]["status"], "PERMISSION_DENIED");
    env.post(&ana, "/v1/people:createContact", person("No", "Way"))
        .await
        .expect(403);
    let sam = env.contacts_token(SAM).await;
    env.get(&sam, LIST).await.ok();
    env.emu.configure(ConfigUpdate {
        user_faults: Some(Default::default()),
        ..Default::default()
    });
    env.get(&ana, LIST).await.ok();
}

#[tokio::test]
async fn latency_delays_api_calls_only() {
    let env = Env::start(EmulatorOptions {
        latency_ms: 150,
        ..Default::default()
    })
    .await;
    let sam = env.contacts_token(SAM).await;
    let start = Instant::now();
    env.get(&sam, LIST).await.ok();
    assert!(start.elapsed() >= Duration::from_millis(150));
    env.emu.configure(ConfigUpdate {
        latency_ms: Some(0),
        ..Default::default()
    });
    let start = Instant::now();
    env.get(&sam, LIST).await.ok();
    assert!(start.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn stats_count_calls_by_method_and_user() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    let admin = env.admin_token().await;
    env.get(&sam, LIST).await.ok();
    env.get(&sam, LIST).await.ok();
    env.create_contacts(&sam, vec![person("S", "T")]).await;
    env.get(&admin, "/admin/directory/v1/users?customer=my_customer")
        .await
        .ok();
    env.get(&admin, "/emulator/health").await;
    let stats = env.emu.stats();
    assert_eq!(stats.by_method["people.people.connections.list"], 2);
    assert_eq!(stats.by_method["people.people.batchCreateContacts"], 1);
    assert_eq!(stats.by_method["directory.users.list"], 1);
    assert_eq!(stats.by_user[SAM]["people.people.connections.list"], 2);
    assert_eq!(stats.by_user[ADMIN]["directory.users.list"], 1);
    assert_eq!((stats.reads, stats.writes), (3, 1));
    assert_eq!(stats.tokens_issued, 2);
    let (status, over_http) = env.control(Method::GET, "/emulator/stats", None).await;
    assert_eq!(status, 200);
    assert_eq!(over_http, serde_json::to_value(&stats).expect("stats json"));
    let (status, _) = env
        .control(Method::POST, "/emulator/stats/reset", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(env.emu.stats(), Default::default());
}
