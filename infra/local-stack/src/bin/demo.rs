//! `make demo`: starts the local stack on free ports and plays the sample scenario through the HTTP API.
//! Exits non-zero when a check fails.

use std::process::ExitCode;

use local_stack::demo::{self, DemoPlan};
use local_stack::report::Reporter;
use local_stack::{LocalOptions, RunningStack};

#[tokio::main]
async fn main() -> ExitCode {
    // The demo's own output is the point; logs only for warnings unless RUST_LOG says otherwise.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();

    let mut out = Reporter::stdout();
    out.plain("contact-sync demo: a Google Workspace contact sync, end to end, on this machine");
    out.plain("");
    out.plain(
        "Starting the local stack (moto, Google emulator with the demo directory, API gateway)…",
    );
    let opts = LocalOptions {
        seed: Some(demo::demo_seed()),
        ..LocalOptions::ephemeral()
    };
    let stack = match local_stack::start(opts).await {
        Ok(stack) => stack,
        Err(err) => {
            out.plain(format!("✗ the local stack did not start: {err}"));
            return ExitCode::FAILURE;
        }
    };
    out.plain(format!("  API gateway      {}", stack.api_url));
    out.plain(format!("  Google emulator  {}", stack.emulator_url));
    out.plain(format!("  moto             {}", stack.moto_url));

    let outcome = tokio::select! {
        outcome = play(&stack, &mut out) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
    };
    stack.stop().await;
    match outcome {
        Ok(checks) => {
            out.plain("");
            out.plain(format!(
                "✓ demo passed: {checks} checks. Everything it started has been stopped."
            ));
            out.plain("  Next: `make local` to keep the stack running and call the API yourself (docs/local.md).");
            ExitCode::SUCCESS
        }
        Err(err) => {
            out.plain("");
            out.plain(format!("✗ demo failed: {err}"));
            ExitCode::FAILURE
        }
    }
}

async fn play(stack: &RunningStack, out: &mut Reporter) -> Result<usize, String> {
    demo::run(&stack.demo_target(), &DemoPlan::sample(), out)
        .await
        .map(|summary| summary.checks)
        .map_err(|e| e.to_string())
}
