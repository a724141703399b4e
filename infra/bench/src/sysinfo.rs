//! What the machine is, and how much memory a process used at its peak (`VmHWM` in /proc).

use std::fmt;

/// The machine the figures were measured on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub cores: usize,
    pub memory_gib: String,
    pub cpu: String,
    pub kernel: String,
    /// The 1-minute load average when the bench started (other work on the machine skews the timings).
    pub load: String,
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cores (nproc), {} memory, {}, Linux {}; load average {} when the bench started",
            self.cores, self.memory_gib, self.cpu, self.kernel, self.load
        )
    }
}

fn first_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// nproc, MemTotal, the CPU model and the kernel release.
pub fn machine() -> Machine {
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = first_value(&meminfo, "MemTotal")
        .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_owned());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = first_value(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    Machine {
        cores,
        memory_gib,
        cpu,
        kernel,
        load,
    }
}

fn vm_hwm_kb(status: &str) -> Option<u64> {
    first_value(status, "VmHWM")
        .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        .and_then(|kb| kb.parse().ok())
}

/// This process's peak resident set size in kB.
pub fn peak_rss_kb() -> Option<u64> {
    vm_hwm_kb(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Another process's peak resident set size in kB.
pub fn peak_rss_kb_of(pid: u32) -> Option<u64> {
    vm_hwm_kb(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_from_proc_status() {
        let status = "Name:\tbench\nVmPeak:\t  9000 kB\nVmHWM:\t   4242 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(vm_hwm_kb(status), Some(4242));
        assert_eq!(vm_hwm_kb("Name: x\n"), None);
        assert!(peak_rss_kb().is_some_and(|kb| kb > 0));
    }
}
