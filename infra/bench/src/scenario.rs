//! The scenarios, what a child process is told to do, and what it reports back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Google's batch sizes the lower bounds are computed from.
pub const CREATE_BATCH: u64 = 200;
pub const UPDATE_BATCH: u64 = 200;
pub const CONNECTIONS_PAGE: u64 = 1000;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[value(rename_all = "UPPER")]
pub enum ScenarioId {
    S1,
    S2,
    S3,
    S4,
    S5,
}

impl ScenarioId {
    pub fn name(self) -> &'static str {
        match self {
            ScenarioId::S1 => "S1",
            ScenarioId::S2 => "S2",
            ScenarioId::S3 => "S3",
            ScenarioId::S4 => "S4",
            ScenarioId::S5 => "S5",
        }
    }
}

/// What the measured run is expected to cost per destination at best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunKind {
    /// Nothing exists yet: list groups, create the label, list connections, ceil(N/200) creates.
    FirstSync,
    /// Everything is in place and `changed` source contacts differ: get the label, list connections
    /// (ceil(N/1000) pages), ceil(changed/200) updates.
    ReRun { changed: u64 },
}

/// A scenario's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub id: ScenarioId,
    pub title: String,
    pub contacts: u64,
    pub destinations: u64,
    pub kind: RunKind,
    /// Emulator quotas for this scenario (reads, writes per user per window, window ms).
    pub quotas: Option<(u32, u32, u64)>,
    /// The emulator forgets each finished destination's contacts during the run (all but the sampled ones), so that
    /// millions of contacts need not fit in this machine's memory at once. Invisible to the executor: it never
    /// reads a finished destination again.
    pub forget_finished: bool,
}

impl Scenario {
    /// The fewest Google calls one destination can take: (reads, writes).
    pub fn bound_per_destination(&self) -> (u64, u64) {
        match self.kind {
            RunKind::FirstSync => (2, 1 + self.contacts.div_ceil(CREATE_BATCH)),
            RunKind::ReRun { changed } => (
                1 + self.contacts.div_ceil(CONNECTIONS_PAGE).max(1),
                changed.div_ceil(UPDATE_BATCH),
            ),
        }
    }

    /// How the bound is made up, for the table.
    pub fn bound_explained(&self) -> String {
        let (reads, writes) = self.bound_per_destination();
        match self.kind {
            RunKind::FirstSync => format!(
                "{} = {} creates (ceil({}/200)) + 3 fixed (list groups, create label, list connections)",
                reads + writes,
                writes - 1,
                self.contacts
            ),
            RunKind::ReRun { changed: 0 } => {
                format!("{} reads (get label, list connections), 0 writes", reads)
            }
            RunKind::ReRun { changed } => format!(
                "{} = {reads} reads (get label, list connections) + {writes} update (ceil({changed}/200))",
                reads + writes
            ),
        }
    }
}

/// The scenarios at full size, or at `--quick` size.
pub fn scenarios(quick: bool) -> Vec<Scenario> {
    let (n, users, big_n, big_users) = if quick {
        (500, 40, 1000, 200)
    } else {
        (500, 200, 1000, 2000)
    };
    let changed = n / 20;
    vec![
        Scenario {
            id: ScenarioId::S1,
            title: format!("first sync, {n} contacts -> {users} users"),
            contacts: n,
            destinations: users,
            kind: RunKind::FirstSync,
            quotas: None,
            forget_finished: false,
        },
        Scenario {
            id: ScenarioId::S2,
            title: "unchanged re-run".to_owned(),
            contacts: n,
            destinations: users,
            kind: RunKind::ReRun { changed: 0 },
            quotas: None,
            forget_finished: false,
        },
        Scenario {
            id: ScenarioId::S3,
            title: format!("re-run after 5% of the source changed ({changed} contacts edited)"),
            contacts: n,
            destinations: users,
            kind: RunKind::ReRun { changed },
            quotas: None,
            forget_finished: false,
        },
        Scenario {
            id: ScenarioId::S4,
            title: format!("first sync, {big_n} contacts -> {big_users} users (memory)"),
            contacts: big_n,
            destinations: big_users,
            kind: RunKind::FirstSync,
            quotas: None,
            forget_finished: true,
        },
        Scenario {
            id: ScenarioId::S5,
            title: format!(
                "S1 under the emulator's per-user quotas ({n} contacts -> {users} users)"
            ),
            contacts: n,
            destinations: users,
            kind: RunKind::FirstSync,
            quotas: Some(S5_QUOTAS),
            forget_finished: false,
        },
    ]
}

/// S5's quotas: People API reads and writes per user per window, and the window. Tight enough that a first sync
/// (2 reads and 4 writes per destination in quick succession, 4 reads for the source user) meets them.
pub const S5_QUOTAS: (u32, u32, u64) = (3, 2, 1000);

/// What a child process is asked to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildPlan {
    pub scenario: Scenario,
    pub emulator_url: String,
    pub table_name: String,
    pub secret_id: String,
    pub admin_email: String,
    pub sync_id: String,
    pub source_email: String,
    pub concurrency: usize,
}

/// Min, mean and max over destinations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub min: u64,
    pub mean: f64,
    pub max: u64,
}

impl Spread {
    pub fn of(values: &[u64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let sum: u64 = values.iter().sum();
        Spread {
            min: values.iter().copied().min().unwrap_or(0),
            mean: sum as f64 / values.len() as f64,
            max: values.iter().copied().max().unwrap_or(0),
        }
    }
}

/// What a child measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub scenario: Scenario,
    pub run_status: String,
    pub run_error: Option<String>,
    pub users: u32,
    pub failed_users: u32,
    pub created: u32,
    pub updated: u32,
    pub deleted: u32,
    pub unchanged: u32,
    pub wall_ms: u64,
    pub calls_by_method: BTreeMap<String, u64>,
    pub reads: u64,
    pub writes: u64,
    pub rate_limited: u64,
    pub faults: u64,
    pub tokens_issued: u64,
    /// Destinations that made any call.
    pub destinations_seen: u64,
    pub calls_per_destination: Spread,
    pub writes_per_destination: Spread,
    /// Calls made as the source user and as the admin (Directory): once per run.
    pub run_level_calls: u64,
    pub client_requests: u64,
    pub client_retries: u64,
    pub store_calls: u64,
    pub store_ms: u64,
    pub peak_rss_kb: u64,
    /// Filled in by the parent: the emulator process's own peak (never counted above).
    #[serde(default)]
    pub emulator_peak_rss_kb: Option<u64>,
    /// Filled in by the parent: the check of sampled destinations after the run.
    #[serde(default)]
    pub verified: Option<String>,
    /// Filled in by the parent: destinations whose contacts the emulator forgot during the run, and how many.
    #[serde(default)]
    pub forgotten: Option<(u64, u64)>,
}

impl Measurement {
    pub fn destinations_per_second(&self) -> f64 {
        if self.wall_ms == 0 {
            return 0.0;
        }
        self.users as f64 / (self.wall_ms as f64 / 1000.0)
    }
}

/// The line prefix a child prints its measurement after (everything else goes to stderr).
pub const RESULT_PREFIX: &str = "BENCH_RESULT ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bounds_follow_the_batch_sizes() {
        let all = scenarios(false);
        assert_eq!(all[0].bound_per_destination(), (2, 4));
        assert_eq!(all[1].bound_per_destination(), (2, 0));
        assert_eq!(all[2].bound_per_destination(), (2, 1));
        assert_eq!(all[3].bound_per_destination(), (2, 6));
        assert!(all[0].bound_explained().starts_with("6 = 3 creates"));
    }

    #[test]
    fn spread_of_nothing_is_zero() {
        assert_eq!(Spread::of(&[]), Spread::default());
        let s = Spread::of(&[2, 4, 6]);
        assert_eq!((s.min, s.max), (2, 6));
        assert!((s.mean - 4.0).abs() < f64::EPSILON);
    }
}
