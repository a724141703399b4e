//! The control API (seeding, config, inspection), the shipped demo seed and the binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use google_emulator::{ConfigUpdate, Seed, SeedError, demo_seed};
use reqwest::Method;
use serde_json::{Value, json};

fn demo_json_path() -> String {
    format!("{}/seeds/demo.json", env!("CARGO_MANIFEST_DIR"))
}

/// `seeds/demo.json` is `demo_seed()`, serialised. `UPDATE_SEEDS=1 cargo test` rewrites it.
#[test]
fn shipped_demo_seed_is_demo_seed() {
    let expected = format!(
        "{}\n",
        serde_json::to_string_pretty(&demo_seed()).expect("serialises")
    );
    if std::env::var_os("UPDATE_SEEDS").is_some() {
        std::fs::write(demo_json_path(), &expected).expect("writes seeds/demo.json");
    }
    let shipped = std::fs::read_to_string(demo_json_path()).expect("seeds/demo.json");
    assert_eq!(Seed::from_json(&shipped).expect("parses"), demo_seed());
    assert_eq!(
        shipped, expected,
        "seeds/demo.json is stale: run UPDATE_SEEDS=1 cargo test -p google-emulator"
    );
}

#[tokio::test]
async fn reset_refuses_unknown_fields_and_bad_references_naming_them() {
    let env = Env::demo().await;
    let (status, body) = env
        .control(
            Method::POST,
            "/emulator/reset",
            Some(r#"{"users": [], "org_unit": ["/Sales"]}"#.to_string()),
        )
        .await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("unknown field `org_unit`"), "{message}");

    let (status, body) = env
        .control(
            Method::POST,
            "/emulator/reset",
            Some(
                json!({"users": [{"email": "a@example.com", "given_name": "A", "family_name": "B", "org_unit": "/Nowhere"}]})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/Nowhere")),
        "{body}"
    );
    let (status, body) = env
        .control(
            Method::POST,
            "/emulator/reset",
            Some(
                json!({
                    "users": [{"email": "a@example.com", "given_name": "A", "family_name": "B"}],
                    "contacts": {"a@example.com": [{"names": [{"givenName": "X"}], "nmes": []}]},
                })
                .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"nmes\"")),
        "{body}"
    );
    // The world is unchanged after a refused reset.
    assert_eq!(env.emu.contacts_of(SAM).len(), 30);

    let mut seed = demo_seed();
    seed.groups[0].members.push("ghost@example.com".into());
    assert_eq!(
        env.emu.reset(seed),
        Err(SeedError::UnknownMember {
            group: "accounting@example.com".into(),
            member: "ghost@example.com".into()
        })
    );
}

#[tokio::test]
async fn reset_replaces_the_data_and_keeps_the_key_and_tokens_of_surviving_users() {
    let env = Env::demo().await;
    let sam = env.contacts_token(SAM).await;
    env.create_contacts(&sam, vec![person("Gone", "Soon")])
        .await;
    assert_eq!(env.emu.contacts_of(SAM).len(), 31);
    let (status, _) = env
        .control(
            Method::POST,
            "/emulator/reset",
            Some(serde_json::to_string(&demo_seed()).expect("seed json")),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(env.emu.contacts_of(SAM).len(), 30);
    env.get(&sam, "/v1/people/me/connections?personFields=names")
        .await
        .ok();

    let small = Seed::from_json(
        r#"{"users": [{"email": "solo@example.org", "given_name": "Solo", "family_name": "User", "is_admin": true}]}"#,
    )
    .expect("seed");
    env.emu.reset(small).expect("reset");
    assert_eq!(
        env.get(&sam, "/v1/people/me/connections?personFields=names")
            .await
            .status,
        401,
        "the subject no longer exists"
    );
    let solo = env.token("solo@example.org", DIRECTORY_RO).await;
    let domains = env
        .get(&solo, "/admin/directory/v1/customer/my_customer/domains")
        .await
        .ok();
    assert_eq!(domains["domains"][0]["domainName"], "example.org");
    // An empty reset body loads the demo seed again.
    let (status, _) = env.control(Method::POST, "/emulator/reset", None).await;
    assert_eq!(status, 200);
    assert_eq!(env.emu.contacts_of(SAM).len(), 30);
}

#[tokio::test]
async fn config_is_validated_and_reported() {
    let env = Env::demo().await;
    let (status, body) = env
        .control(
            Method::POST,
            "/emulator/config",
            Some(r#"{"fault_rate": 0.1, "latency": 5}"#.into()),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field `latency`"))
    );
    let (status, _) = env
        .control(
            Method::POST,
            "/emulator/config",
            Some(r#"{"fault_rate": 2}"#.into()),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = env
        .control(
            Method::POST,
            "/emulator/config",
            Some(r#"{"read_quota_per_minute": 90, "quota_window_ms": 1000, "token_lifetime_secs": 60}"#.into()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["read_quota_per_minute"], 90);
    assert_eq!(body["token_lifetime_secs"], 60);
    let (_, body) = env
        .control(
            Method::POST,
            "/emulator/config",
            Some(r#"{"read_quota_per_minute": null}"#.into()),
        )
        .await;
    assert_eq!(body["read_quota_per_minute"], Value::Null);
    assert_eq!(body["quota_window_ms"], 1000);
    // The library type round-trips the same JSON.
    let update: ConfigUpdate =
        serde_json::from_str(r#"{"write_quota_per_minute": null, "fault_rate": 0.5}"#)
            .expect("parses");
    assert_eq!(update.write_quota_per_minute, Some(None));
    assert_eq!(update.read_quota_per_minute, None);
}

#[tokio::test]
async fn inspection_endpoints_show_everything_a_user_has() {
    let env = Env::demo().await;
    let (status, contacts) = env
        .control(
            Method::GET,
            "/emulator/users/salesuser@example.com/contacts",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let contacts = contacts.as_array().expect("contacts").clone();
    assert_eq!(contacts, env.emu.contacts_of(SAM));
    assert_eq!(contacts.len(), 30);
    let olivia = &contacts[0];
    assert_eq!(olivia["names"][0]["displayName"], "Olivia Bennett");
    assert!(
        olivia["memberships"]
            .as_array()
            .is_some_and(|m| m.len() == 2)
    );
    assert!(olivia["biographies"].is_array() && olivia["birthdays"].is_array());

    let (status, groups) = env
        .control(
            Method::GET,
            "/emulator/users/salesuser@example.com/contact-groups",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let sales = groups
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "Sales Contacts")
        .cloned()
        .expect("Sales Contacts");
    assert_eq!(
        sales["memberResourceNames"].as_array().map(Vec::len),
        Some(25)
    );
    assert_eq!(
        env.emu.contact_groups_of(SAM),
        groups.as_array().cloned().unwrap_or_default()
    );

    let (status, _) = env
        .control(
            Method::GET,
            "/emulator/users/nobody@example.com/contacts",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, health) = env.control(Method::GET, "/emulator/health", None).await;
    assert_eq!((status, health), (200, json!({"status": "ok"})));
}

#[test]
fn the_binary_serves_a_seed_file_and_says_where() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_google-emulator"))
        .args([
            "--port",
            "0",
            "--seed",
            &demo_json_path(),
            "--rng-seed",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let result = (|| {
        read.map_err(|e| e.to_string())?;
        let url = line
            .trim()
            .strip_prefix("google-emulator listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let key: Value = reqwest::get(format!("{url}/emulator/service-account-key"))
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            if key["token_uri"] != json!(format!("{url}/token")) {
                return Err(format!("token_uri {} for {url}", key["token_uri"]));
            }
            let contacts: Value = reqwest::get(format!(
                "{url}/emulator/users/salesuser@example.com/contacts"
            ))
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
            Ok(contacts.as_array().map(Vec::len))
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(result, Ok(Some(30)));
}
