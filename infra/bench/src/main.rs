//! `bench` (`make bench`): drives the executor against the Google emulator (30 ms per call unless `--latency-ms`)
//! and moto, one scenario per fresh child process so each one's peak RSS is its own, then measures each Lambda
//! binary's size and start-up time, prints the tables and writes them into docs/benchmarks.md.
//!
//! The emulator runs as its own process (`google-emulator --seed`), never counted in the executor's memory. Moto
//! comes from `AWS_ENDPOINT_URL` (infra/scripts/with-moto.sh, as `make bench` runs it).

mod binaries;
mod child;
mod emulator;
mod report;
mod scenario;
mod sysinfo;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use contact_sync::api::ApiContext;
use contact_sync::google::{GoogleClients, GoogleEndpoints, RetryPolicy, ServiceAccountKey};
use contact_sync::store::{DynamoStore, SyncStore, create_table};
use contact_sync_tests::reliability::{
    self, ADMIN_EMAIL, Expected, RecordingDispatcher, SOURCE_EMAIL, SOURCE_GROUP, WorldSpec,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::emulator::{EmulatorProcess, EmulatorSettings};
use crate::scenario::{ChildPlan, Measurement, RESULT_PREFIX, Scenario, ScenarioId};

/// Benchmarks of the executor and the Lambda binaries (see docs/benchmarks.md).
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    /// Latency the emulator adds to every Google API call.
    #[arg(long, default_value_t = 30)]
    latency_ms: u64,
    /// Smaller scenarios (S1-S3, S5: 500 contacts -> 40 users; S4: 1,000 -> 200) and one start-up run per binary.
    #[arg(long)]
    quick: bool,
    /// Only these scenarios (S2 and S3 run S1 first, unreported, when S1 is not asked for).
    #[arg(long, value_delimiter = ',', ignore_case = true)]
    scenarios: Vec<ScenarioId>,
    /// Destination users processed in parallel (`EXECUTOR_CONCURRENCY`).
    #[arg(long, default_value_t = contact_sync::sync::EngineSettings::default().concurrency)]
    concurrency: usize,
    /// Seeds the generated contacts and the emulator's random numbers.
    #[arg(long, default_value_t = 20_240_601)]
    seed: u64,
    /// Skip the Lambda binaries' sizes and start-up times.
    #[arg(long)]
    skip_binaries: bool,
    /// Start-up runs per binary (the median is reported).
    #[arg(long, default_value_t = 5)]
    startup_runs: usize,
    /// Where to write the report (default: docs/benchmarks.md for a full run; a `--quick` run writes nothing
    /// unless asked).
    #[arg(long)]
    docs: Option<PathBuf>,
    /// Write no report file.
    #[arg(long)]
    no_docs: bool,
    /// The command line to record in the report.
    #[arg(long, default_value = "make bench")]
    command: String,
    /// Internal: run one scenario as described by this JSON plan and print its measurement.
    #[arg(long, hide = true)]
    child: Option<String>,
}

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();
    let args = Args::parse();
    if let Some(plan) = &args.child {
        let plan: ChildPlan = serde_json::from_str(plan).context("the child plan")?;
        return child::run(plan).await;
    }
    if contact_sync::config::aws_endpoint_url().is_none() {
        bail!(
            "AWS_ENDPOINT_URL is not set: the bench stores its syncs in moto. Run it with `make bench` \
             (infra/scripts/bench.sh starts a private moto server and exports AWS_ENDPOINT_URL)."
        );
    }
    Parent::new(args).await?.run().await
}

/// What one emulator process and table serve: the scenarios run against them in order.
struct Family {
    label: &'static str,
    spec: WorldSpec,
    settings: EmulatorSettings,
    scenarios: Vec<Scenario>,
}

/// The Google side and the store of one family, set up by the parent.
struct World {
    emulator: EmulatorProcess,
    table_name: String,
    secret_id: String,
    sync_id: String,
    google: GoogleClients,
}

struct Parent {
    args: Args,
    workspace: PathBuf,
    work_dir: PathBuf,
    emulator_binary: PathBuf,
    sdk: aws_config::SdkConfig,
}

impl Parent {
    async fn new(args: Args) -> Result<Parent> {
        let workspace = workspace_root();
        let work_dir = workspace.join("target/bench");
        let emulator_binary = emulator::binary_next_to_bench()?;
        let sdk = contact_sync::aws::load_config().await;
        Ok(Parent {
            args,
            workspace,
            work_dir,
            emulator_binary,
            sdk,
        })
    }

    fn wanted(&self, id: ScenarioId) -> bool {
        self.args.scenarios.is_empty() || self.args.scenarios.contains(&id)
    }

    fn families(&self) -> Vec<Family> {
        let all: BTreeMap<ScenarioId, Scenario> = scenario::scenarios(self.args.quick)
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        let settings = EmulatorSettings {
            latency_ms: self.args.latency_ms,
            rng_seed: self.args.seed,
            ..EmulatorSettings::default()
        };
        let pick = |ids: &[ScenarioId]| -> Vec<Scenario> {
            ids.iter().filter_map(|id| all.get(id).cloned()).collect()
        };
        let spec_of = |s: &Scenario| WorldSpec {
            contacts: usize::try_from(s.contacts).unwrap_or(usize::MAX),
            destinations: usize::try_from(s.destinations).unwrap_or(usize::MAX),
            own_contacts: 0,
            seed: self.args.seed,
        };
        let mut families = Vec::new();
        if [ScenarioId::S1, ScenarioId::S2, ScenarioId::S3]
            .iter()
            .any(|id| self.wanted(*id))
        {
            let mut ids = vec![ScenarioId::S1];
            if self.wanted(ScenarioId::S2) || self.wanted(ScenarioId::S3) {
                ids.push(ScenarioId::S2);
            }
            if self.wanted(ScenarioId::S3) {
                ids.push(ScenarioId::S3);
            }
            let scenarios = pick(&ids);
            if let Some(first) = scenarios.first() {
                families.push(Family {
                    label: "s1-s3",
                    spec: spec_of(first),
                    settings: settings.clone(),
                    scenarios,
                });
            }
        }
        if self.wanted(ScenarioId::S5)
            && let Some(s5) = all.get(&ScenarioId::S5)
        {
            let (read, write, window) = s5.quotas.unwrap_or(scenario::S5_QUOTAS);
            families.push(Family {
                label: "s5",
                spec: spec_of(s5),
                settings: EmulatorSettings {
                    read_quota: Some(read),
                    write_quota: Some(write),
                    quota_window_ms: Some(window),
                    ..settings.clone()
                },
                scenarios: vec![s5.clone()],
            });
        }
        if self.wanted(ScenarioId::S4)
            && let Some(s4) = all.get(&ScenarioId::S4)
        {
            families.push(Family {
                label: "s4",
                spec: spec_of(s4),
                settings,
                scenarios: vec![s4.clone()],
            });
        }
        families
    }

    async fn run(self) -> Result<()> {
        let machine = sysinfo::machine();
        eprintln!("bench: {machine}");
        let mut measurements = Vec::new();
        for family in self.families() {
            let world = self.start_world(&family).await?;
            for scenario in &family.scenarios {
                if let scenario::RunKind::ReRun { changed } = scenario.kind
                    && changed > 0
                {
                    let (edited, _, _) = reliability::change_source(
                        world.google.people.as_ref(),
                        usize::try_from(changed).unwrap_or(usize::MAX),
                        0,
                        0,
                        self.args.seed,
                    )
                    .await?;
                    eprintln!(
                        "bench: edited {edited} source contacts for {}",
                        scenario.id.name()
                    );
                }
                eprintln!("bench: {}: {}", scenario.id.name(), scenario.title);
                let reaper = scenario
                    .forget_finished
                    .then(|| self.spawn_reaper(&world, &family.spec));
                let measured = self.run_child(&world, scenario).await;
                let forgotten = match reaper {
                    Some((stop, task)) => {
                        let _ = stop.send(());
                        Some(task.await.context("the reaper task")??)
                    }
                    None => None,
                };
                let mut measurement = measured?;
                measurement.forgotten = forgotten;
                measurement.emulator_peak_rss_kb = world.emulator.peak_rss_kb();
                measurement.verified = Some(verify_sample(&world, &family.spec).await);
                eprintln!(
                    "bench: {}: {} in {} ms, {} calls, peak RSS {} kB",
                    scenario.id.name(),
                    measurement.run_status,
                    measurement.wall_ms,
                    measurement.reads + measurement.writes,
                    measurement.peak_rss_kb
                );
                if self.wanted(scenario.id) {
                    measurements.push(measurement);
                }
            }
            world.emulator.stop().await;
        }
        measurements.sort_by_key(|m| m.scenario.id);

        let (binaries, binaries_note) = if self.args.skip_binaries {
            (
                None,
                "Not measured in this run (`--skip-binaries`).".to_owned(),
            )
        } else {
            let figures = self.measure_binaries().await?;
            (Some(figures), binaries_note(&self.workspace))
        };

        let report = report::Report {
            machine: &machine,
            command: &self.args.command,
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            latency_ms: self.args.latency_ms,
            concurrency: self.args.concurrency,
            quick: self.args.quick,
            measurements: &measurements,
            binaries: binaries.as_deref(),
            binaries_note: &binaries_note,
        };
        let text = report.markdown();
        println!("{text}");
        let docs = match (&self.args.docs, self.args.quick, self.args.no_docs) {
            (_, _, true) => None,
            (Some(path), _, false) => Some(path.clone()),
            (None, false, false) => Some(self.workspace.join("docs/benchmarks.md")),
            (None, true, false) => None,
        };
        if let Some(path) = docs {
            // The hand-written analysis at the end of the file survives regeneration.
            let kept = std::fs::read_to_string(&path)
                .ok()
                .and_then(|old| {
                    old.find(report::ANALYSIS_HEADING)
                        .map(|at| old[at..].to_owned())
                })
                .unwrap_or_default();
            let text = if kept.is_empty() {
                text
            } else {
                format!("{}\n\n{kept}", text.trim_end())
            };
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("bench: wrote {}", path.display());
        }
        let failed: Vec<&str> = measurements
            .iter()
            .filter(|m| m.run_status != "succeeded")
            .map(|m| m.scenario.id.name())
            .collect();
        if !failed.is_empty() {
            bail!("scenarios did not succeed: {failed:?}");
        }
        Ok(())
    }

    /// Starts the family's emulator, creates its table and key secret in moto, and stores its sync (through the
    /// create-sync operation, references resolved by the Directory and People APIs).
    async fn start_world(&self, family: &Family) -> Result<World> {
        let seed = reliability::world_seed(&family.spec);
        let emulator = EmulatorProcess::start(
            &self.emulator_binary,
            &seed,
            &family.settings,
            &self.work_dir,
            family.label,
        )
        .await?;
        let unique = ulid::Ulid::generate().to_string().to_lowercase();
        let table_name = format!("bench-{}-{unique}", family.label);
        let dynamodb = aws_sdk_dynamodb::Client::new(&self.sdk);
        create_table(&dynamodb, &table_name)
            .await
            .with_context(|| format!("creating the table {table_name}"))?;
        let secret_id = format!("contact-sync/bench-{unique}/google-key");
        let key_json = emulator.key_json().await?;
        local_stack::aws::put_secret(
            &aws_sdk_secretsmanager::Client::new(&self.sdk),
            &secret_id,
            &key_json,
        )
        .await?;
        let key = ServiceAccountKey::from_json(&key_json)?;
        let endpoints = GoogleEndpoints::all_at(emulator.base_url());
        let google = GoogleClients::new(key, &endpoints, ADMIN_EMAIL, RetryPolicy::default())?;
        let store: Arc<dyn SyncStore> = Arc::new(DynamoStore::new(dynamodb, &table_name));
        let ctx = ApiContext::new(
            store,
            Arc::clone(&google.people),
            Arc::clone(&google.directory),
            Arc::new(RecordingDispatcher::default()),
        );
        let sync = reliability::create_sync(&ctx, &format!("bench {}", family.label)).await?;
        Ok(World {
            emulator,
            table_name,
            secret_id,
            sync_id: sync.id,
            google,
        })
    }

    /// While a scenario runs: every 2 s, the destinations the run has finished (their state is stored) have their
    /// contacts forgotten by the emulator, except the sampled ones. Returns (destinations, contacts) forgotten.
    fn spawn_reaper(
        &self,
        world: &World,
        spec: &WorldSpec,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(u64, u64)>>,
    ) {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), &world.table_name);
        let control = emulator::ControlClient::new(world.emulator.base_url());
        let sync_id = world.sync_id.clone();
        let keep: BTreeSet<String> = sample_indices(spec)
            .into_iter()
            .map(reliability::destination_email)
            .collect();
        let task = tokio::spawn(async move {
            let mut done: BTreeSet<String> = BTreeSet::new();
            let mut contacts = 0;
            loop {
                let last_round = tokio::select! {
                    _ = &mut stopped => true,
                    () = tokio::time::sleep(std::time::Duration::from_secs(2)) => false,
                };
                for state in store.list_destination_states(&sync_id).await? {
                    if keep.contains(&state.email) || done.contains(&state.email) {
                        continue;
                    }
                    contacts += control.forget_contacts_of(&state.email).await?;
                    done.insert(state.email);
                }
                if last_round {
                    return Ok((done.len() as u64, contacts));
                }
            }
        });
        (stop, task)
    }

    /// Runs one scenario in a fresh process of this binary and reads its measurement.
    async fn run_child(&self, world: &World, scenario: &Scenario) -> Result<Measurement> {
        let plan = ChildPlan {
            scenario: scenario.clone(),
            emulator_url: world.emulator.base_url().to_owned(),
            table_name: world.table_name.clone(),
            secret_id: world.secret_id.clone(),
            admin_email: ADMIN_EMAIL.to_owned(),
            sync_id: world.sync_id.clone(),
            source_email: SOURCE_EMAIL.to_owned(),
            concurrency: self.args.concurrency,
        };
        let exe = std::env::current_exe().context("locating the bench binary")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("--child")
            .arg(serde_json::to_string(&plan)?)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the scenario's child process")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("the child's stdout is not piped"))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut measurement = None;
        while let Some(line) = lines.next_line().await? {
            match line.strip_prefix(RESULT_PREFIX) {
                Some(json) => {
                    measurement = Some(
                        serde_json::from_str::<Measurement>(json)
                            .context("the child's measurement")?,
                    );
                }
                None => eprintln!("{line}"),
            }
        }
        let status = child.wait().await?;
        if !status.success() {
            bail!("{} failed ({status})", scenario.id.name());
        }
        measurement.ok_or_else(|| anyhow!("{} reported no measurement", scenario.id.name()))
    }

    /// Sizes and start-up times, the functions configured against a small emulator and an empty table.
    async fn measure_binaries(&self) -> Result<Vec<binaries::BinaryFigures>> {
        let family = Family {
            label: "binaries",
            spec: WorldSpec {
                contacts: 3,
                destinations: 2,
                own_contacts: 0,
                seed: self.args.seed,
            },
            settings: EmulatorSettings {
                rng_seed: self.args.seed,
                ..EmulatorSettings::default()
            },
            scenarios: Vec::new(),
        };
        let world = self.start_world(&family).await?;
        // An empty table: the scheduler finds nothing to dispatch.
        let empty_table = format!("bench-startup-{}", ulid::Ulid::generate()).to_lowercase();
        create_table(&aws_sdk_dynamodb::Client::new(&self.sdk), &empty_table).await?;
        let mut env = BTreeMap::new();
        let endpoint = contact_sync::config::aws_endpoint_url().unwrap_or_default();
        for (key, value) in [
            ("TABLE_NAME", empty_table.as_str()),
            ("GOOGLE_KEY_SECRET_ID", world.secret_id.as_str()),
            ("GOOGLE_ADMIN_EMAIL", ADMIN_EMAIL),
            ("PEOPLE_API_BASE_URL", world.emulator.base_url()),
            ("DIRECTORY_API_BASE_URL", world.emulator.base_url()),
            ("EXECUTOR_FUNCTION_NAME", "contact-sync-executor"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", local_stack::aws::DUMMY_ACCESS_KEY_ID),
            (
                "AWS_SECRET_ACCESS_KEY",
                local_stack::aws::DUMMY_SECRET_ACCESS_KEY,
            ),
        ] {
            env.insert(key.to_owned(), value.to_owned());
        }
        let setup = binaries::StartupEnv {
            workspace: self.workspace.clone(),
            env,
            repetitions: if self.args.quick {
                1
            } else {
                self.args.startup_runs
            },
        };
        let figures = binaries::measure(&setup).await;
        world.emulator.stop().await;
        figures
    }
}

fn binaries_note(workspace: &Path) -> String {
    let arm64 = workspace.join("target/lambda").is_dir();
    format!(
        "Sizes: `target/lambda/<name>/bootstrap` (arm64, what `make deploy` ships) {}; `target/release/<name>` \
         (x86_64, this machine, same release profile: LTO, opt-level s, stripped). Start-up: the x86_64 release binary \
         as a process under the Lambda Runtime API harness (tests/src/runtime_api.rs), from process start to its \
         first event answered (an API Gateway v2 request for a sync that does not exist, the executor's event for a \
         missing sync, the scheduler's event on an empty table), configured against moto and the emulator, so it \
         includes reading the key from Secrets Manager where the function needs Google.",
        if arm64 {
            "as last built by `make build`"
        } else {
            "not built on this machine (run `make build` first to include them)"
        }
    )
}

/// Checks three destinations (first, middle, last) against the source, field by field after normalisation.
async fn verify_sample(world: &World, spec: &WorldSpec) -> String {
    match check_sample(world, spec).await {
        Ok(text) => text,
        Err(e) => format!("FAILED: {e:#}"),
    }
}

async fn check_sample(world: &World, spec: &WorldSpec) -> Result<String> {
    let groups = world.emulator.contact_groups_of(SOURCE_EMAIL).await?;
    let group = reliability::contact_group_named(&groups, SOURCE_GROUP)
        .ok_or_else(|| anyhow!("the source group is gone"))?;
    let expected = Expected::from_source(&world.emulator.contacts_of(SOURCE_EMAIL).await?, &group)?;
    let sample = sample_indices(spec);
    for i in &sample {
        let user = reliability::destination_email(*i);
        let contacts = world.emulator.contacts_of(&user).await?;
        let label = reliability::contact_group_named(
            &world.emulator.contact_groups_of(&user).await?,
            SOURCE_GROUP,
        );
        reliability::check_destination(
            &user,
            &expected,
            &contacts,
            &world.sync_id,
            label.as_deref(),
        )?;
    }
    Ok(format!(
        "{} sampled destinations hold exactly the {} source contacts, field by field, no duplicates",
        sample.len(),
        expected.contacts.len()
    ))
}

/// The destinations checked after each run (and never forgotten): first, middle, last.
fn sample_indices(spec: &WorldSpec) -> Vec<usize> {
    let mut sample = vec![
        0,
        spec.destinations / 2,
        spec.destinations.saturating_sub(1),
    ];
    sample.dedup();
    sample
}
