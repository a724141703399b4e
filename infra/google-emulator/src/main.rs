//! `google-emulator`: serves the emulator on a port until Ctrl-C / SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use google_emulator::{EmulatorOptions, Seed};

/// A local stand-in for Google's OAuth2, People API and Admin SDK Directory API.
#[derive(Debug, Parser)]
#[command(name = "google-emulator", version)]
struct Args {
    /// Port to listen on.
    #[arg(long, env = "GOOGLE_EMULATOR_PORT", default_value_t = 8085)]
    port: u16,
    /// Address to bind (base URLs still name 127.0.0.1 when binding 0.0.0.0).
    #[arg(long, env = "GOOGLE_EMULATOR_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Seed document (JSON); the built-in demo seed when absent.
    #[arg(long, env = "GOOGLE_EMULATOR_SEED")]
    seed: Option<PathBuf>,
    /// Sleep before answering every Google API call.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share (0..1) of Google API calls answered 503.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// People API reads allowed per user per quota window (unlimited when absent).
    #[arg(long)]
    read_quota_per_minute: Option<u32>,
    /// People API writes allowed per user per quota window (unlimited when absent).
    #[arg(long)]
    write_quota_per_minute: Option<u32>,
    /// Length of the quota window.
    #[arg(long, default_value_t = 60_000)]
    quota_window_ms: u64,
    /// Makes injected faults and the generated key reproducible.
    #[arg(long)]
    rng_seed: Option<u64>,
    /// Contacts a user may have.
    #[arg(long, default_value_t = 25_000)]
    max_contacts_per_user: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.fault_rate) {
        anyhow::bail!("--fault-rate must be within 0..1, got {}", args.fault_rate);
    }
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading seed {}", path.display()))?;
            Some(Seed::from_json(&text).with_context(|| format!("seed {}", path.display()))?)
        }
        None => None,
    };
    let opts = EmulatorOptions {
        seed,
        latency_ms: args.latency_ms,
        fault_rate: args.fault_rate,
        read_quota_per_minute: args.read_quota_per_minute,
        write_quota_per_minute: args.write_quota_per_minute,
        quota_window_ms: args.quota_window_ms,
        rng_seed: args.rng_seed,
        max_contacts_per_user: args.max_contacts_per_user,
    };
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.host, args.port))?;
    let emulator = google_emulator::serve(opts, listener).await?;
    println!("google-emulator listening on {}", emulator.base_url());
    wait_for_stop().await;
    emulator.shutdown().await;
    Ok(())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
