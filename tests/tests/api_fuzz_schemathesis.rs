//! API fuzzing with schemathesis (PyPI, pinned in infra/requirements-dev.txt, installed in .venv) against the local
//! gateway (the local stack: the template's routes served by the real handlers, moto, the Google emulator), driven
//! by the checked-in OpenAPI document docs/openapi.json, through infra/scripts/schemathesis.sh. Bounded in examples
//! per operation and in time; fails with schemathesis' own report on any 5xx or any response that does not conform
//! to the document.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use contact_sync_tests::executor_support::moto_endpoint;
use contact_sync_tests::reliability::{
    ADMIN_EMAIL, DESTINATION_OU, SOURCE_EMAIL, SOURCE_GROUP, WorldSpec, world_seed,
};
use local_stack::{LocalOptions, MotoSetting};

/// The whole schemathesis run must end within this (it is killed otherwise).
const HARD_TIMEOUT: Duration = Duration::from_secs(240);
/// Generated test cases per API operation and phase.
const MAX_EXAMPLES: &str = "20";

fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_5xx_and_no_response_outside_the_openapi_document()
-> anyhow::Result<()> {
    let endpoint = moto_endpoint();
    let root = workspace();
    let schemathesis = root.join(".venv/bin/schemathesis");
    anyhow::ensure!(
        schemathesis.is_file(),
        "{} is missing: run the tests with `make test` (it installs infra/requirements-dev.txt into .venv)",
        schemathesis.display()
    );
    let document = root.join("docs/openapi.json");
    anyhow::ensure!(document.is_file(), "{} is missing", document.display());

    let spec = WorldSpec {
        contacts: 4,
        destinations: 3,
        own_contacts: 1,
        seed: 5,
    };
    let stack = local_stack::start(LocalOptions {
        seed: Some(world_seed(&spec)),
        admin_email: Some(ADMIN_EMAIL.to_owned()),
        moto: MotoSetting::Existing {
            endpoint_url: endpoint,
        },
        log_dir: root.join("target/schemathesis"),
        ..LocalOptions::ephemeral()
    })
    .await?;

    // A sync and its first run (executed in-process against the emulator), so generated requests reach real data.
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/syncs", stack.api_url))
        .json(&serde_json::json!({
            "name": "schemathesis fixture",
            "source_user": SOURCE_EMAIL,
            "contact_group": SOURCE_GROUP,
            "destinations": [{"type": "org_unit", "value": DESTINATION_OU}],
        }))
        .send()
        .await?;
    anyhow::ensure!(
        created.status() == 201,
        "creating the fixture: {}",
        created.status()
    );
    let created: serde_json::Value = created.json().await?;
    let sync_id = created["id"].as_str().unwrap_or_default().to_owned();
    let run_id = created["run_id"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(
        !sync_id.is_empty() && !run_id.is_empty(),
        "fixture: {created}"
    );
    stack.wait_for_runs().await;

    // The options live in the script, which also runs against `make local` by hand.
    let mut command = tokio::process::Command::new(root.join("infra/scripts/schemathesis.sh"));
    command
        .current_dir(&root)
        .arg(&stack.api_url)
        .env("SCHEMATHESIS_MAX_EXAMPLES", MAX_EXAMPLES)
        .env("SCHEMATHESIS_SYNC_ID", &sync_id)
        .env("SCHEMATHESIS_RUN_ID", &run_id)
        .env("SCHEMATHESIS_USER", SOURCE_EMAIL)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn()?;
    let outcome = tokio::time::timeout(HARD_TIMEOUT, child.wait_with_output()).await;
    stack.stop().await;
    let output = match outcome {
        Ok(output) => output?,
        Err(_) => anyhow::bail!("schemathesis did not finish within {HARD_TIMEOUT:?}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    println!("{stdout}");
    Ok(())
}
