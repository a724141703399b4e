//! The tables: printed after the run and written into docs/benchmarks.md.

use std::fmt::Write as _;

use crate::binaries::BinaryFigures;
use crate::scenario::{Measurement, S5_QUOTAS};
use crate::sysinfo::Machine;

/// The heading of the hand-written analysis that closes docs/benchmarks.md; the harness keeps it (and everything
/// after it) when it rewrites the figures above.
pub const ANALYSIS_HEADING: &str = "## Analysis";

/// What the whole bench measured, and how.
pub struct Report<'a> {
    pub machine: &'a Machine,
    pub command: &'a str,
    pub date: String,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub quick: bool,
    pub measurements: &'a [Measurement],
    pub binaries: Option<&'a [BinaryFigures]>,
    pub binaries_note: &'a str,
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn mib_bytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1024.0 / 1024.0)
}

fn seconds(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// Google method ids without the API prefix, e.g. `people.batchCreateContacts`.
fn short_method(method: &str) -> &str {
    method
        .strip_prefix("people.")
        .or_else(|| method.strip_prefix("directory."))
        .unwrap_or(method)
}

/// The one-line summary row of a scenario.
fn overview_row(m: &Measurement) -> String {
    let (reads, writes) = m.scenario.bound_per_destination();
    format!(
        "| {} | {} | {} | {} | {:.2} / {} (bound {}) | {} | {} / {} | {} | {:.1} |",
        m.scenario.id.name(),
        m.scenario.title,
        m.run_status,
        seconds(m.wall_ms),
        m.calls_per_destination.mean,
        m.calls_per_destination.max,
        reads + writes,
        m.writes,
        m.rate_limited,
        m.faults,
        mb(m.peak_rss_kb),
        m.destinations_per_second(),
    )
}

/// The detailed table of one scenario.
fn scenario_table(m: &Measurement) -> String {
    let mut out = String::new();
    let (_, bound_writes) = m.scenario.bound_per_destination();
    let methods: Vec<String> = m
        .calls_by_method
        .iter()
        .map(|(k, v)| format!("{} {v}", short_method(k)))
        .collect();
    let _ = writeln!(out, "### {}: {}\n", m.scenario.id.name(), m.scenario.title);
    let _ = writeln!(out, "| measure | value |\n|---|---|");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(out, "| {k} | {v} |");
    };
    row(
        "run",
        format!(
            "{}; {} users ({} failed); created {}, updated {}, deleted {}, unchanged {}{}",
            m.run_status,
            m.users,
            m.failed_users,
            m.created,
            m.updated,
            m.deleted,
            m.unchanged,
            m.run_error
                .as_deref()
                .map(|e| format!("; error: {e}"))
                .unwrap_or_default()
        ),
    );
    row("wall time", seconds(m.wall_ms));
    row(
        "destinations per second",
        format!("{:.1}", m.destinations_per_second()),
    );
    row(
        "Google calls",
        format!(
            "{} ({} reads, {} writes); {} access tokens issued",
            m.reads + m.writes,
            m.reads,
            m.writes,
            m.tokens_issued
        ),
    );
    row("calls by method", methods.join(", "));
    row(
        "calls per destination",
        format!(
            "min {}, mean {:.2}, max {} over {} destinations; lower bound {}",
            m.calls_per_destination.min,
            m.calls_per_destination.mean,
            m.calls_per_destination.max,
            m.destinations_seen,
            m.scenario.bound_explained()
        ),
    );
    row(
        "writes per destination",
        format!(
            "min {}, mean {:.2}, max {}; lower bound {bound_writes}",
            m.writes_per_destination.min,
            m.writes_per_destination.mean,
            m.writes_per_destination.max
        ),
    );
    row(
        "once-per-run calls (source user, Directory as the admin)",
        m.run_level_calls.to_string(),
    );
    row(
        "429s / 503s met",
        format!(
            "{} / {} (client retries: {})",
            m.rate_limited, m.faults, m.client_retries
        ),
    );
    row(
        "store",
        format!(
            "moto (DynamoDB API over HTTP): {} calls, {} summed over concurrent calls",
            m.store_calls,
            seconds(m.store_ms)
        ),
    );
    row(
        "peak RSS of the executor process (VmHWM)",
        mb(m.peak_rss_kb),
    );
    if let Some(kb) = m.emulator_peak_rss_kb {
        row(
            "peak RSS of the emulator (separate process, not counted)",
            mb(kb),
        );
    }
    if let Some((destinations, contacts)) = m.forgotten {
        row(
            "emulator memory valve",
            format!(
                "the emulator forgot the contacts of {destinations} finished destinations ({contacts} contacts) during \
                 the run (DELETE /emulator/users/{{email}}/contacts, not an API call; the sampled ones kept)"
            ),
        );
    }
    if let Some(v) = &m.verified {
        row("state check", v.clone());
    }
    out
}

impl Report<'_> {
    /// The whole report as Markdown (the same text is printed and written to docs/benchmarks.md).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Latest figures of `make bench` (infra/bench, infra/scripts/bench.sh). Regenerate them with the command \
             below; the harness rewrites this file.\n"
        );
        let _ = writeln!(out, "- Command: `{}`", self.command);
        let _ = writeln!(out, "- Date: {}", self.date);
        let _ = writeln!(out, "- Machine: {}", self.machine);
        let _ = writeln!(
            out,
            "- Google: the `google-emulator` binary in its own process, {} ms latency per API call{}",
            self.latency_ms,
            if self.quick { "; `--quick` sizes" } else { "" }
        );
        let _ = writeln!(
            out,
            "- Store: DynamoDB API on moto (infra/scripts/with-moto.sh), the real `DynamoStore`; its time is shown \
             per scenario"
        );
        let _ = writeln!(
            out,
            "- Executor: built as the Lambda builds it (key from Secrets Manager, Google clients with the default retry \
             policy), `EXECUTOR_CONCURRENCY={}`, one invocation per scenario in a fresh child process (`bench --child`), \
             release build",
            self.concurrency
        );
        let (r, w, window) = S5_QUOTAS;
        let _ = writeln!(
            out,
            "- S5 quotas: {r} People API reads and {w} writes per user per {window} ms window (429 with Retry-After)\n"
        );
        let _ = writeln!(out, "## Overview\n");
        let _ = writeln!(
            out,
            "| scenario | what | status | wall time | calls per destination mean / max | writes | 429s / 503s | peak RSS | destinations/s |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
        for m in self.measurements {
            let _ = writeln!(out, "{}", overview_row(m));
        }
        let _ = writeln!(out);
        for m in self.measurements {
            let _ = writeln!(out, "{}", scenario_table(m));
        }
        let _ = writeln!(out, "## Lambda binaries\n");
        let _ = writeln!(out, "{}\n", self.binaries_note);
        if let Some(binaries) = self.binaries {
            let _ = writeln!(
                out,
                "| function | arm64 bootstrap (`make build`) | x86_64 release | start-up, median (runs) | first event answered |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|");
            for b in binaries {
                let runs: Vec<String> = b.startup_ms.iter().map(|ms| ms.to_string()).collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    b.name,
                    b.arm64_bytes
                        .map(mib_bytes)
                        .unwrap_or_else(|| "not built".to_owned()),
                    b.x86_64_bytes
                        .map(mib_bytes)
                        .unwrap_or_else(|| "not built".to_owned()),
                    b.median_startup_ms()
                        .map(|ms| format!("{ms} ms ({} ms)", runs.join(", ")))
                        .unwrap_or_else(|| "-".to_owned()),
                    b.answered
                );
            }
        }
        out
    }
}
