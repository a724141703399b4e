//! Cycles in the imports between files, each reported with the chain of files and the import that closes it.

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

/// Every cycle, as a report a reader can act on; empty when there is none.
pub fn report(found: &[Cycle]) -> String {
    let mut text = format!(
        "{} import cycle(s) between modules; move what both sides need to a module both can import:\n",
        found.len()
    );
    for cycle in found {
        text.push_str(&cycle.to_string());
    }
    text
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
}
