//! `make local`: moto, the Google emulator and the local API gateway, until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use google_emulator::Seed;
use local_stack::stack::{
    DEFAULT_API_PORT, DEFAULT_EMULATOR_PORT, DEFAULT_MOTO_PORT, DEFAULT_REGION, DEFAULT_SECRET_ID,
    DEFAULT_TABLE_NAME,
};
use local_stack::{LocalOptions, MotoSetting, RunningStack};

/// Runs contact-sync locally: moto (DynamoDB, Secrets Manager), the Google emulator and a local API gateway that
/// serves template.yaml's routes with the real handlers. Requests need no AWS signature.
#[derive(Debug, Parser)]
#[command(name = "local-stack", version)]
struct Args {
    /// The API gateway's port on 127.0.0.1 (0 = a free one).
    #[arg(long, env = "API_PORT", default_value_t = DEFAULT_API_PORT)]
    api_port: u16,
    /// The Google emulator's port on 127.0.0.1 (0 = a free one).
    #[arg(long, env = "EMULATOR_PORT", default_value_t = DEFAULT_EMULATOR_PORT)]
    emulator_port: u16,
    /// The port of the moto server started here (0 = a free one).
    #[arg(long, env = "MOTO_PORT", default_value_t = DEFAULT_MOTO_PORT)]
    moto_port: u16,
    /// Use this already running moto instead of starting one.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    aws_endpoint_url: Option<String>,
    /// A seed document (JSON) for the Google emulator instead of the demo seed.
    #[arg(long, env = "SEED")]
    seed: Option<PathBuf>,
    /// The admin impersonated for Directory reads (default: the seed's first admin).
    #[arg(long, env = "GOOGLE_ADMIN_EMAIL")]
    admin_email: Option<String>,
    #[arg(long, env = "TABLE_NAME", default_value = DEFAULT_TABLE_NAME)]
    table_name: String,
    /// The Secrets Manager secret that receives the emulator's service-account key.
    #[arg(long, env = "GOOGLE_KEY_SECRET_ID", default_value = DEFAULT_SECRET_ID)]
    secret_id: String,
    #[arg(long, env = "AWS_REGION", default_value = DEFAULT_REGION)]
    region: String,
    /// The SAM template whose HTTP API routes are served.
    #[arg(long, default_value_os_t = local_stack::template::default_template_path())]
    template: PathBuf,
    /// Destination users processed in parallel within one run.
    #[arg(long, env = "EXECUTOR_CONCURRENCY", default_value_t = 8)]
    executor_concurrency: usize,
}

fn read_seed(path: &PathBuf) -> anyhow::Result<Seed> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the seed file {}", path.display()))?;
    Seed::from_json(&text).with_context(|| format!("the seed file {}", path.display()))
}

#[tokio::main]
async fn main() -> ExitCode {
    contact_sync::telemetry::init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let defaults = LocalOptions::default();
    let moto = match args.aws_endpoint_url {
        Some(endpoint_url) => MotoSetting::Existing { endpoint_url },
        None => match defaults.moto.clone() {
            MotoSetting::Start { venv, .. } => MotoSetting::Start {
                port: args.moto_port,
                venv,
            },
            existing => existing,
        },
    };
    let seed = args.seed.as_ref().map(read_seed).transpose()?;
    let opts = LocalOptions {
        api_port: args.api_port,
        emulator_port: args.emulator_port,
        moto,
        seed,
        admin_email: args.admin_email,
        table_name: args.table_name,
        secret_id: args.secret_id,
        region: args.region,
        template: args.template,
        executor_concurrency: args.executor_concurrency,
        ..defaults
    };
    let stack = local_stack::start(opts)
        .await
        .context("the local stack did not start")?;
    print_banner(&stack);

    wait_for_stop_signal().await?;
    eprintln!("stopping: gateway, Google emulator, moto");
    stack.stop().await;
    eprintln!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C"),
        _ = terminate.recv() => Ok(()),
    }
}

fn print_banner(stack: &RunningStack) {
    let api = &stack.api_url;
    println!("ready: {api}");
    println!();
    let moto = match (stack.moto_pid, stack.moto_log()) {
        (Some(pid), Some(log)) => {
            format!("{}   (pid {pid}, log {})", stack.moto_url, log.display())
        }
        _ => format!("{}   (already running, not managed here)", stack.moto_url),
    };
    println!(
        "  API gateway       {api}   ({} routes from template.yaml; no AWS signature needed; caller \"local\")",
        stack.routes.len()
    );
    println!(
        "  Google emulator   {}   (control API under /emulator/)",
        stack.emulator_url
    );
    println!("  moto              {moto}");
    println!();
    println!("Routes:");
    for route in &stack.routes {
        println!(
            "  {:<7} {:<32} {}",
            route.method.as_str(),
            route.path,
            route.binary
        );
    }
    println!(
        "  {:<7} {:<32} fires the daily scheduler now",
        "POST",
        local_stack::gateway::SCHEDULE_PATH
    );
    println!();
    println!("Environment (the names the functions read in AWS):");
    for (name, value) in stack.environment() {
        println!("  {name}={value}");
    }
    println!();
    println!("Try:");
    println!("  curl -s {api}/users/salesuser@example.com/contact-groups");
    println!("  curl -s '{api}/directory/search?q=Accounting'");
    println!(
        "  curl -s -X POST {api}/syncs -H 'content-type: application/json' -d '{{\"name\": \"Sales contacts for Accounting\", \
         \"source_user\": \"salesuser@example.com\", \"contact_group\": \"Sales Contacts\", \"destinations\": \
         [{{\"type\": \"org_unit\", \"value\": \"/Accounting\"}}, {{\"type\": \"group\", \"value\": \"accounting@example.com\"}}]}}'"
    );
    println!("  curl -s {api}/syncs");
    println!("  curl -s {api}/syncs/<id>/runs");
    println!("  curl -s -X POST {api}/local/schedule");
    println!(
        "  curl -s {}/emulator/users/ana@example.com/contacts",
        stack.emulator_url
    );
    println!();
    println!("Ctrl-C stops everything.");
}
