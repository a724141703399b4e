//! Output for a human: short headings, aligned tables, a ✓ per passed check, and a one-line progress display
//! that redraws in place on a terminal (and prints a line now and then elsewhere).

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A check that did not hold; the scenario stops at the first one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check failed: {0}")]
pub struct CheckFailed(pub String);

/// Where the demo writes. Stdout for `make demo`, a buffer in tests.
pub struct Reporter {
    out: Box<dyn Write + Send>,
    terminal: bool,
    step: usize,
    passed: usize,
    progress_shown: bool,
    last_progress_line: Option<Instant>,
}

impl Reporter {
    pub fn stdout() -> Self {
        Reporter::new(Box::new(std::io::stdout()), std::io::stdout().is_terminal())
    }

    /// Writes into a shared buffer (no in-place redraws), for tests.
    pub fn buffer() -> (Self, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedBuffer(Arc::clone(&buffer));
        (Reporter::new(Box::new(writer), false), buffer)
    }

    fn new(out: Box<dyn Write + Send>, terminal: bool) -> Self {
        Reporter {
            out,
            terminal,
            step: 0,
            passed: 0,
            progress_shown: false,
            last_progress_line: None,
        }
    }

    /// Whether progress is redrawn in place (stdout is a terminal).
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// How many checks passed so far.
    pub fn passed(&self) -> usize {
        self.passed
    }

    fn write_line(&mut self, text: &str) {
        self.clear_progress();
        // Output is best-effort: a closed pipe must not turn a passing demo into a failing one.
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// A numbered step heading.
    pub fn step(&mut self, title: &str) {
        self.step += 1;
        let heading = format!("{}. {title}", self.step);
        self.write_line("");
        self.write_line(&heading);
        self.write_line(&"─".repeat(heading.chars().count()));
    }

    /// A plain line, indented under the current step.
    pub fn info(&mut self, text: impl Display) {
        self.write_line(&format!("   {text}"));
    }

    /// An aligned table under the current step.
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) {
        for line in format_table(headers, rows) {
            self.write_line(&format!("   {line}"));
        }
    }

    /// Records a check: prints `✓ what` when it holds, `✗ what` and returns the failure otherwise.
    pub fn check(&mut self, ok: bool, what: impl Display) -> Result<(), CheckFailed> {
        if ok {
            self.passed += 1;
            self.write_line(&format!("   ✓ {what}"));
            Ok(())
        } else {
            self.write_line(&format!("   ✗ {what}"));
            Err(CheckFailed(what.to_string()))
        }
    }

    /// Like [`Reporter::check`], with what was found instead, on failure.
    pub fn check_eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        actual: T,
        expected: T,
        what: impl Display,
    ) -> Result<(), CheckFailed> {
        if actual == expected {
            self.check(true, what)
        } else {
            self.check(
                false,
                format!("{what} (expected {expected:?}, found {actual:?})"),
            )
        }
    }

    /// Shows progress: redrawn in place on a terminal, a line every few seconds otherwise.
    pub fn progress(&mut self, text: &str) {
        if self.terminal {
            let _ = write!(self.out, "\r\x1b[2K   {text}");
            let _ = self.out.flush();
            self.progress_shown = true;
        } else if self
            .last_progress_line
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(5))
        {
            self.last_progress_line = Some(Instant::now());
            let _ = writeln!(self.out, "   … {text}");
            let _ = self.out.flush();
        }
    }

    fn clear_progress(&mut self) {
        if self.progress_shown {
            let _ = write!(self.out, "\r\x1b[2K");
            self.progress_shown = false;
        }
        self.last_progress_line = None;
    }

    /// A line outside the numbered steps (banners, the summary).
    pub fn plain(&mut self, text: impl Display) {
        self.write_line(&text.to_string());
    }
}

/// Left-aligned columns separated by two spaces, a rule under the header.
pub fn format_table(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let render = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let width = widths.get(i).copied().unwrap_or(0);
                format!(
                    "{cell}{}",
                    " ".repeat(width.saturating_sub(cell.chars().count()))
                )
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut lines = vec![render(headers.to_vec())];
    lines.push(
        widths
            .iter()
            .map(|w| "─".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    for row in rows {
        lines.push(render(row.iter().map(String::as_str).collect()));
    }
    lines
}

struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut inner) => inner.write(buf),
            Err(_) => Err(std::io::Error::other("output buffer poisoned")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_aligned() {
        let lines = format_table(
            &["user", "contacts"],
            &[
                vec!["ann@example.com".to_owned(), "3".to_owned()],
                vec!["bo@x".to_owned(), "12".to_owned()],
            ],
        );
        assert_eq!(
            lines,
            vec![
                "user             contacts",
                "───────────────  ────────",
                "ann@example.com  3",
                "bo@x             12",
            ]
        );
    }

    #[test]
    fn checks_print_a_mark_and_count() {
        let (mut reporter, buffer) = Reporter::buffer();
        reporter.step("First");
        assert!(reporter.check(true, "it works").is_ok());
        let err = reporter.check_eq(1, 2, "numbers agree").expect_err("fails");
        assert!(err.to_string().contains("expected 2, found 1"), "{err}");
        assert_eq!(reporter.passed(), 1);
        let text = String::from_utf8(buffer.lock().expect("lock").clone()).expect("utf8");
        assert!(text.contains("1. First\n────────\n"), "{text}");
        assert!(text.contains("   ✓ it works\n"), "{text}");
        assert!(text.contains("   ✗ numbers agree"), "{text}");
    }
}
