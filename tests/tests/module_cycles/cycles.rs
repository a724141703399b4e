//! Cycles in the imports between files, and the check of a crate set against its list of known cycles.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use super::module_graph::{Import, Imports};

/// One import of a cycle: `from` imports `to`, first at `import`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub from: String,
    pub to: String,
    pub import: Import,
}

/// A cycle of imports, starting at its alphabetically first file; its last step closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub steps: Vec<Step>,
}

impl Cycle {
    fn contains(&self, from: &str, to: &str) -> bool {
        self.steps.iter().any(|s| s.from == from && s.to == to)
    }
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<&str> = self
            .steps
            .iter()
            .map(|s| s.from.as_str())
            .chain(self.steps.first().map(|s| s.from.as_str()))
            .collect();
        writeln!(f, "  {}", files.join(" -> "))?;
        for (i, step) in self.steps.iter().enumerate() {
            let closes = if i + 1 == self.steps.len() {
                "   <- closes the cycle"
            } else {
                ""
            };
            writeln!(
                f,
                "    {}:{} uses {} (defined in {}){closes}",
                step.from, step.import.line, step.import.path, step.to
            )?;
        }
        Ok(())
    }
}

/// Every cycle needed to show each import that is part of one: for each such import, the shortest cycle
/// through it (one cycle shared by several imports is listed once).
pub fn cycles(imports: &Imports) -> Vec<Cycle> {
    let mut found: BTreeMap<Vec<String>, Cycle> = BTreeMap::new();
    for (from, to) in imports.keys() {
        let Some(back) = shortest_path(imports, to, from) else {
            continue;
        };
        let mut files: Vec<String> = std::iter::once(from.clone()).chain(back).collect();
        files.pop(); // `from` again
        let start = files
            .iter()
            .enumerate()
            .min_by_key(|(_, f)| *f)
            .map_or(0, |(i, _)| i);
        files.rotate_left(start);
        let steps = (0..files.len())
            .map(|i| {
                let (from, to) = (&files[i], &files[(i + 1) % files.len()]);
                Step {
                    from: from.clone(),
                    to: to.clone(),
                    import: imports[&(from.clone(), to.clone())].clone(),
                }
            })
            .collect();
        found.entry(files).or_insert(Cycle { steps });
    }
    found.into_values().collect()
}

/// The files of a shortest import chain `from` -> ... -> `to` (both included), if there is one.
fn shortest_path(imports: &Imports, from: &str, to: &str) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in imports.keys() {
        next.entry(a).or_default().push(b);
    }
    let mut reached_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(file) = queue.pop_front() {
        if file == to {
            let mut path = vec![to.to_owned()];
            let mut at = to;
            while let Some(prev) = reached_from.get(at) {
                path.push((*prev).to_owned());
                at = prev;
            }
            path.reverse();
            return Some(path);
        }
        for n in next.get(file).into_iter().flatten() {
            if seen.insert(n) {
                reached_from.insert(n, file);
                queue.push_back(n);
            }
        }
    }
    None
}

/// The cycles of a set of crates, against the imports known to close cycles that are still to be untangled.
#[derive(Debug)]
pub struct Verdict {
    /// Cycles that no known import closes.
    pub new: Vec<Cycle>,
    /// Cycles through a known import.
    pub known: Vec<Cycle>,
    /// Known imports that no longer close a cycle, with what changed.
    pub stale: Vec<String>,
}

impl Verdict {
    pub fn passes(&self) -> bool {
        self.new.is_empty() && self.stale.is_empty()
    }
}

/// Checks `imports` when each `known` (importing file, imported file) is an import known to close a cycle.
pub fn check(imports: &Imports, known: &[(&str, &str)]) -> Verdict {
    let all = cycles(imports);
    let stale = known
        .iter()
        .filter_map(|(from, to)| {
            if !imports.contains_key(&((*from).to_owned(), (*to).to_owned())) {
                Some(format!("{from} no longer imports {to}"))
            } else if !all.iter().any(|c| c.contains(from, to)) {
                Some(format!(
                    "{from} imports {to}, but {to} no longer leads back to {from}"
                ))
            } else {
                None
            }
        })
        .collect();
    let unknown: Imports = imports
        .iter()
        .filter(|((from, to), _)| !known.contains(&(from.as_str(), to.as_str())))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let known_cycles = all
        .into_iter()
        .filter(|c| known.iter().any(|(from, to)| c.contains(from, to)))
        .collect();
    Verdict {
        new: cycles(&unknown),
        known: known_cycles,
        stale,
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.new.is_empty() {
            writeln!(
                f,
                "{} import cycle(s) between modules; move what both sides need to a module both can import:",
                self.new.len()
            )?;
            for cycle in &self.new {
                write!(f, "{cycle}")?;
            }
        }
        if !self.stale.is_empty() {
            writeln!(
                f,
                "known cycles that are gone (remove them from KNOWN_CYCLES):"
            )?;
            for entry in &self.stale {
                writeln!(f, "  {entry}")?;
            }
        }
        if !self.known.is_empty() {
            writeln!(
                f,
                "known cycles, allowed until they are untangled (KNOWN_CYCLES):"
            )?;
            for cycle in &self.known {
                write!(f, "{cycle}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports(edges: &[(&str, &str)]) -> Imports {
        edges
            .iter()
            .enumerate()
            .map(|(i, (from, to))| {
                let import = Import {
                    line: i + 1,
                    path: format!("crate::{}::X", to.trim_end_matches(".rs")),
                };
                (((*from).to_owned(), (*to).to_owned()), import)
            })
            .collect()
    }

    fn files(cycle: &Cycle) -> Vec<&str> {
        cycle.steps.iter().map(|s| s.from.as_str()).collect()
    }

    #[test]
    fn a_chain_without_a_way_back_has_no_cycle() {
        let graph = imports(&[("a.rs", "b.rs"), ("b.rs", "c.rs"), ("a.rs", "c.rs")]);
        assert!(cycles(&graph).is_empty());
        assert!(check(&graph, &[]).passes());
    }

    #[test]
    fn each_cycle_is_listed_once_from_its_first_file_with_every_import() {
        let graph = imports(&[
            ("c.rs", "a.rs"),
            ("a.rs", "b.rs"),
            ("b.rs", "c.rs"),
            ("d.rs", "e.rs"),
            ("e.rs", "d.rs"),
        ]);
        let found = cycles(&graph);
        assert_eq!(
            found.iter().map(files).collect::<Vec<_>>(),
            [vec!["a.rs", "b.rs", "c.rs"], vec!["d.rs", "e.rs"]]
        );
        let text = found[0].to_string();
        assert!(
            text.contains("a.rs -> b.rs -> c.rs -> a.rs"),
            "the chain: {text}"
        );
        assert!(
            text.contains("c.rs:1 uses crate::a::X (defined in a.rs)   <- closes the cycle"),
            "the import that closes it: {text}"
        );
    }

    #[test]
    fn a_known_import_allows_its_cycle_and_only_that_one() {
        let graph = imports(&[
            ("a.rs", "b.rs"),
            ("b.rs", "a.rs"),
            ("c.rs", "d.rs"),
            ("d.rs", "c.rs"),
        ]);
        let verdict = check(&graph, &[("b.rs", "a.rs")]);
        assert!(!verdict.passes());
        assert_eq!(
            verdict.new.iter().map(files).collect::<Vec<_>>(),
            [["c.rs", "d.rs"]]
        );
        assert_eq!(
            verdict.known.iter().map(files).collect::<Vec<_>>(),
            [["a.rs", "b.rs"]]
        );
        assert!(verdict.stale.is_empty());
        assert!(check(&graph, &[("b.rs", "a.rs"), ("c.rs", "d.rs")]).passes());
    }

    #[test]
    fn a_known_cycle_that_is_gone_fails_the_check() {
        let graph = imports(&[("a.rs", "b.rs"), ("c.rs", "d.rs")]);
        let verdict = check(&graph, &[("a.rs", "b.rs"), ("b.rs", "a.rs")]);
        assert!(!verdict.passes());
        assert_eq!(
            verdict.stale,
            [
                "a.rs imports b.rs, but b.rs no longer leads back to a.rs",
                "b.rs no longer imports a.rs"
            ]
        );
    }
}
