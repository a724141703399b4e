//! No import cycles between the modules (files) of the common crate, the Google emulator and the local stack:
//! when two modules need each other, what both need belongs in a third module both can import. How imports
//! are read from the sources is described in `module_graph`.

mod cycles;
mod module_graph;

use std::path::Path;

use contact_sync_tests::sam_template::workspace_root;

/// The `src` directories checked, relative to the workspace root.
const CRATE_SOURCES: &[&str] = &[
    "shared/src",
    "infra/google-emulator/src",
    "infra/local-stack/src",
];

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let root = workspace_root();
    let read = |file: &str| std::fs::read_to_string(root.join(file)).ok();
    let mut imports = module_graph::Imports::new();
    for src in CRATE_SOURCES {
        for crate_root in crate_roots(&root, src) {
            let found = module_graph::crate_imports(&crate_root, &read)
                .unwrap_or_else(|e| panic!("reading the modules of {crate_root}: {e:#}"));
            imports.extend(found);
        }
    }
    assert!(
        imports.len() > 50,
        "the crates' imports were read ({} found)",
        imports.len()
    );
    let found = cycles::cycles(&imports);
    assert!(found.is_empty(), "{}", cycles::report(&found));
}

/// The root files of the crates built from `src`: the library, the main binary, `bin/` binaries.
fn crate_roots(workspace: &Path, src: &str) -> Vec<String> {
    let mut roots: Vec<String> = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| format!("{src}/{f}"))
        .filter(|f| workspace.join(f).is_file())
        .collect();
    let bin = workspace.join(src).join("bin");
    let mut bins: Vec<String> = std::fs::read_dir(&bin)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") {
                Some(format!("{src}/bin/{name}"))
            } else {
                let main = format!("{src}/bin/{name}/main.rs");
                workspace.join(&main).is_file().then_some(main)
            }
        })
        .collect();
    bins.sort();
    roots.extend(bins);
    assert!(!roots.is_empty(), "{src} has no crate root");
    roots
}
