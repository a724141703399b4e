//! Which file of a crate imports which other file, read from the crate's sources with `syn`.
//!
//! A module is one file: a `mod x;` file together with the inline `mod y { ... }` blocks inside it. File `a`
//! imports file `b` when code of `a` names an item defined in `b`, through a `use` or a qualified path in code
//! (`crate::x::f()`, `super::y::Z`, also inside macro invocations). Names are resolved much as rustc does:
//! `crate`, `self` and `super` are followed, and a name a module imports or re-exports (`pub use x::Y`,
//! `pub use x::*`) leads on to the module that defines it. Naming a module (`use super::auth;`) is no import by
//! itself; the paths through it are. Not imports:
//! - a file naming items of the modules it declares with `mod x;` (a parent is the face of its children);
//! - anything under `#[cfg(test)]` (test code may import freely);
//! - paths that leave the crate (other crates, the standard library) or name local variables.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, anyhow, bail};
use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, Item, Meta, Token, UseTree};

/// One import, where it is written: the line and the path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub line: usize,
    pub path: String,
}

/// The imports between the files of a crate: (importing file, imported file) -> the first import (by line)
/// that makes it. File names are as given to [`crate_imports`], e.g. `shared/src/google/auth.rs`.
pub type Imports = BTreeMap<(String, String), Import>;

/// The imports between the files of the crate whose root file (`lib.rs`, `main.rs`, `bin/x.rs`) is `root`.
/// `read` returns a file's text by name, None when there is no such file.
pub fn crate_imports(root: &str, read: &dyn Fn(&str) -> Option<String>) -> Result<Imports> {
    let dir = root.rsplit_once('/').map_or("", |(dir, _)| dir);
    let text = read(root).ok_or_else(|| anyhow!("cannot read the crate root {root}"))?;
    let mut crate_modules = CrateModules::default();
    crate_modules.load_file(read, root, &text, dir, None, "crate")?;
    Ok(crate_modules.imports())
}

/// A path to resolve: its segments, whether it starts with `::` (another crate), where it is written.
#[derive(Debug, Clone)]
struct PathRef {
    global: bool,
    segments: Vec<String>,
    line: usize,
}

impl PathRef {
    fn of_path(path: &syn::Path) -> Option<PathRef> {
        let first = path.segments.first()?;
        Some(PathRef {
            global: path.leading_colon.is_some(),
            segments: path
                .segments
                .iter()
                .map(|s| s.ident.unraw().to_string())
                .collect(),
            line: first.ident.span().start().line,
        })
    }

    fn text(&self) -> String {
        let joined = self.segments.join("::");
        if self.global {
            format!("::{joined}")
        } else {
            joined
        }
    }
}

/// The names a `use` brings into scope (and the paths it refers to).
#[derive(Debug, Default)]
struct UseNames {
    /// name -> path; `_` imports (traits brought in for their methods) are here under `_`.
    named: Vec<(String, PathRef)>,
    /// `path::*`
    globs: Vec<PathRef>,
}

impl UseNames {
    fn of(item: &syn::ItemUse) -> UseNames {
        let mut names = UseNames::default();
        names.add(&item.tree, &mut Vec::new(), item.leading_colon.is_some());
        names
    }

    fn add(&mut self, tree: &UseTree, prefix: &mut Vec<String>, global: bool) {
        let path = |prefix: &[String], last: Option<&syn::Ident>, line: usize| PathRef {
            global,
            segments: prefix
                .iter()
                .cloned()
                .chain(last.map(|i| i.unraw().to_string()))
                .collect(),
            line,
        };
        match tree {
            UseTree::Path(p) => {
                prefix.push(p.ident.unraw().to_string());
                self.add(&p.tree, prefix, global);
                prefix.pop();
            }
            UseTree::Name(n) => {
                let line = n.ident.span().start().line;
                if n.ident == "self" {
                    if let Some(last) = prefix.last() {
                        self.named.push((last.clone(), path(prefix, None, line)));
                    }
                } else {
                    let name = n.ident.unraw().to_string();
                    self.named.push((name, path(prefix, Some(&n.ident), line)));
                }
            }
            UseTree::Rename(r) => {
                let line = r.ident.span().start().line;
                let last = (r.ident != "self").then_some(&r.ident);
                let name = r.rename.unraw().to_string();
                self.named.push((name, path(prefix, last, line)));
            }
            UseTree::Glob(g) => self
                .globs
                .push(path(prefix, None, g.star_token.span.start().line)),
            UseTree::Group(g) => {
                for tree in &g.items {
                    self.add(tree, prefix, global);
                }
            }
        }
    }
}

/// One module: a file, or an inline `mod y { ... }` inside one.
struct Module {
    file: String,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    /// Names of the items defined here (not modules, not imports).
    items: BTreeSet<String>,
    /// Names imported or re-exported here -> their path, relative to this module.
    imports: BTreeMap<String, PathRef>,
    globs: Vec<PathRef>,
    /// Every path a `use` here refers to.
    use_paths: Vec<PathRef>,
    /// The items whose code is searched for paths.
    code: Vec<Item>,
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Module(usize),
    /// An item defined in this module.
    Item(usize),
    /// Outside the crate, or not a crate item (a local variable, a generic parameter, a prelude name).
    Elsewhere,
}

#[derive(Default)]
struct CrateModules {
    modules: Vec<Module>,
    /// file -> the file of the module whose `mod x;` declares it.
    declared_in: BTreeMap<String, String>,
    /// `#[macro_export]` macros, named at the crate root -> the module that defines them.
    exported_macros: BTreeMap<String, usize>,
}

impl CrateModules {
    fn load_file(
        &mut self,
        read: &dyn Fn(&str) -> Option<String>,
        file: &str,
        text: &str,
        dir: &str,
        parent: Option<usize>,
        name: &str,
    ) -> Result<usize> {
        let parsed = syn::parse_file(text).with_context(|| format!("cannot parse {file}"))?;
        if is_test_only(&parsed.attrs) {
            bail!("{file} is test code (`#![cfg(test)]`) but declared without `#[cfg(test)]`");
        }
        self.add_module(read, file, dir, parent, name, parsed.items)
    }

    fn add_module(
        &mut self,
        read: &dyn Fn(&str) -> Option<String>,
        file: &str,
        dir: &str,
        parent: Option<usize>,
        name: &str,
        items: Vec<Item>,
    ) -> Result<usize> {
        let id = self.modules.len();
        self.modules.push(Module {
            file: file.to_owned(),
            parent,
            children: BTreeMap::new(),
            items: BTreeSet::new(),
            imports: BTreeMap::new(),
            globs: Vec::new(),
            use_paths: Vec::new(),
            code: Vec::new(),
        });
        if let Some(p) = parent {
            self.modules[p].children.insert(name.to_owned(), id);
        }
        for item in items {
            if is_test_only(attrs_of(&item)) {
                continue;
            }
            match item {
                Item::Mod(m) => {
                    let child = m.ident.unraw().to_string();
                    let child_dir = format!("{dir}/{child}");
                    match m.content {
                        Some((_, items)) => {
                            self.add_module(read, file, &child_dir, Some(id), &child, items)?;
                        }
                        None => {
                            if m.attrs.iter().any(|a| a.path().is_ident("path")) {
                                bail!("{file}: `#[path]` on `mod {child}` is not supported");
                            }
                            let (child_file, text) =
                                [format!("{dir}/{child}.rs"), format!("{dir}/{child}/mod.rs")]
                                    .into_iter()
                                    .find_map(|f| read(&f).map(|text| (f, text)))
                                    .ok_or_else(|| {
                                        anyhow!("{file}: no file for `mod {child};` in {dir}")
                                    })?;
                            self.declared_in.insert(child_file.clone(), file.to_owned());
                            self.load_file(read, &child_file, &text, &child_dir, Some(id), &child)?;
                        }
                    }
                }
                Item::Use(u) => {
                    let names = UseNames::of(&u);
                    let module = &mut self.modules[id];
                    for (name, path) in names.named {
                        module.use_paths.push(path.clone());
                        if name != "_" {
                            module.imports.insert(name, path);
                        }
                    }
                    module.globs.extend(names.globs);
                }
                other => {
                    if let Item::Macro(mac) = &other
                        && let Some(name) = &mac.ident
                        && mac.attrs.iter().any(|a| a.path().is_ident("macro_export"))
                    {
                        self.exported_macros.insert(name.unraw().to_string(), id);
                    }
                    let module = &mut self.modules[id];
                    if let Some(name) = defined_name(&other) {
                        module.items.insert(name);
                    }
                    module.code.push(other);
                }
            }
        }
        Ok(id)
    }

    /// Every import between two files, but for those of a file into the modules it declares.
    fn imports(&self) -> Imports {
        let mut found: Vec<(usize, Target, PathRef)> = Vec::new();
        for (id, module) in self.modules.iter().enumerate() {
            for path in &module.use_paths {
                found.push((id, self.resolve(id, path, &[]), path.clone()));
            }
            let mut collector = PathCollector {
                modules: self,
                module: id,
                blocks: Vec::new(),
                found: Vec::new(),
            };
            for item in &module.code {
                collector.visit_item(item);
            }
            found.extend(collector.found);
        }
        let mut imports = Imports::new();
        for (from, target, path) in found {
            let Target::Item(defined_in) = target else {
                continue;
            };
            let from = &self.modules[from].file;
            let to = &self.modules[defined_in].file;
            if from == to || self.declared_in.get(to) == Some(from) {
                continue;
            }
            let import = Import {
                line: path.line,
                path: path.text(),
            };
            imports
                .entry((from.clone(), to.clone()))
                .and_modify(|first| {
                    if import.line < first.line {
                        *first = import.clone();
                    }
                })
                .or_insert(import);
        }
        imports
    }

    /// What `path`, written in module `from` (inside the function-body `blocks`), names.
    fn resolve(&self, from: usize, path: &PathRef, blocks: &[BlockScope]) -> Target {
        self.resolve_guarded(from, path, blocks, &mut Vec::new())
    }

    /// `resolve`, with the (module, name) lookups under way: an import that leads back to itself (`use serde;`
    /// names the crate `serde`, not itself) names nothing in this crate.
    fn resolve_guarded(
        &self,
        from: usize,
        path: &PathRef,
        blocks: &[BlockScope],
        under_way: &mut Vec<(usize, String)>,
    ) -> Target {
        if path.global {
            return Target::Elsewhere;
        }
        let mut segments = path.segments.iter();
        let Some(first) = segments.next() else {
            return Target::Module(from);
        };
        let mut current = match first.as_str() {
            "crate" => 0,
            "self" => from,
            "super" => match self.modules[from].parent {
                Some(parent) => parent,
                None => return Target::Elsewhere,
            },
            name => match self.lookup_in_scope(from, name, blocks, under_way) {
                Target::Module(m) => m,
                other => return other,
            },
        };
        for segment in segments {
            current = match segment.as_str() {
                "self" => current,
                "super" => match self.modules[current].parent {
                    Some(parent) => parent,
                    None => return Target::Elsewhere,
                },
                name => match self.lookup(current, name, under_way) {
                    Target::Module(m) => m,
                    Target::Item(m) => return Target::Item(m),
                    // Not found in a module of ours: a name rustc finds there that is not written in its
                    // source (a macro's), so it is the module's.
                    Target::Elsewhere => return Target::Item(current),
                },
            };
        }
        Target::Module(current)
    }

    /// A path's first name, seen from code in `from` inside `blocks` (innermost last).
    fn lookup_in_scope(
        &self,
        from: usize,
        name: &str,
        blocks: &[BlockScope],
        under_way: &mut Vec<(usize, String)>,
    ) -> Target {
        for (depth, block) in blocks.iter().enumerate().rev() {
            if block.items.contains(name) {
                return Target::Item(from);
            }
            let outer = &blocks[..depth];
            if let Some(path) = block.imports.get(name) {
                return self.resolve_guarded(from, path, outer, under_way);
            }
            for glob in &block.globs {
                if let Target::Module(m) = self.resolve_guarded(from, glob, outer, under_way) {
                    let found = self.lookup(m, name, under_way);
                    if found != Target::Elsewhere {
                        return found;
                    }
                }
            }
        }
        self.lookup(from, name, under_way)
    }

    /// A name in module `module`: a child module, an item, or what an import or glob import there names.
    fn lookup(&self, module: usize, name: &str, under_way: &mut Vec<(usize, String)>) -> Target {
        let m = &self.modules[module];
        if let Some(child) = m.children.get(name) {
            return Target::Module(*child);
        }
        if m.items.contains(name) {
            return Target::Item(module);
        }
        if m.parent.is_none()
            && let Some(defined_in) = self.exported_macros.get(name)
        {
            return Target::Item(*defined_in);
        }
        let key = (module, name.to_owned());
        if under_way.contains(&key) {
            return Target::Elsewhere;
        }
        under_way.push(key);
        let mut found = Target::Elsewhere;
        if let Some(path) = m.imports.get(name) {
            found = self.resolve_guarded(module, path, &[], under_way);
        } else {
            for glob in &m.globs {
                if let Target::Module(g) = self.resolve_guarded(module, glob, &[], under_way) {
                    found = self.lookup(g, name, under_way);
                    if found != Target::Elsewhere {
                        break;
                    }
                }
            }
        }
        under_way.pop();
        found
    }
}

/// The imports and items of one function body (a block), which shadow the module's names inside it.
#[derive(Debug, Default)]
struct BlockScope {
    items: BTreeSet<String>,
    imports: BTreeMap<String, PathRef>,
    globs: Vec<PathRef>,
}

impl BlockScope {
    fn of(block: &syn::Block) -> BlockScope {
        let mut scope = BlockScope::default();
        for stmt in &block.stmts {
            let syn::Stmt::Item(item) = stmt else {
                continue;
            };
            if is_test_only(attrs_of(item)) {
                continue;
            }
            match item {
                Item::Use(u) => {
                    let names = UseNames::of(u);
                    scope
                        .imports
                        .extend(names.named.into_iter().filter(|(name, _)| name != "_"));
                    scope.globs.extend(names.globs);
                }
                other => scope.items.extend(defined_name(other)),
            }
        }
        scope
    }
}

/// Collects what the paths in one module's code name.
struct PathCollector<'m> {
    modules: &'m CrateModules,
    module: usize,
    blocks: Vec<BlockScope>,
    found: Vec<(usize, Target, PathRef)>,
}

impl PathCollector<'_> {
    fn note(&mut self, path: PathRef) {
        let target = self.modules.resolve(self.module, &path, &self.blocks);
        self.found.push((self.module, target, path));
    }
}

impl<'ast> Visit<'ast> for PathCollector<'_> {
    fn visit_item(&mut self, item: &'ast Item) {
        if !is_test_only(attrs_of(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.blocks.push(BlockScope::of(block));
        visit::visit_block(self, block);
        self.blocks.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        for (_, path) in UseNames::of(item).named {
            self.note(path);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(p) = PathRef::of_path(path) {
            self.note(p);
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        let mut paths = Vec::new();
        paths_in_tokens(mac.tokens.clone(), &mut paths);
        for path in paths {
            self.note(path);
        }
    }
}

/// The qualified paths (`a::b`, `$crate::a`) in a macro's tokens, which `syn` leaves unparsed. Single names
/// are left out: in a macro they are as likely format arguments or field names as items.
fn paths_in_tokens(tokens: TokenStream, out: &mut Vec<PathRef>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let is_colon2 = |i: usize| {
        matches!((trees.get(i), trees.get(i + 1)),
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
    };
    let is_dollar =
        |i: usize| matches!(trees.get(i), Some(TokenTree::Punct(p)) if p.as_char() == '$');
    let mut i = 0;
    while i < trees.len() {
        match &trees[i] {
            TokenTree::Group(group) => {
                paths_in_tokens(group.stream(), out);
                i += 1;
            }
            TokenTree::Ident(first) => {
                let global = i >= 2 && is_colon2(i - 2);
                // `$name::x` is a macro variable; `$crate::x` is this crate.
                let variable = i >= 1 && is_dollar(i - 1) && first != "crate";
                let mut segments = vec![first.unraw().to_string()];
                let mut next = i + 1;
                while is_colon2(next) {
                    match trees.get(next + 2) {
                        Some(TokenTree::Ident(segment)) => {
                            segments.push(segment.unraw().to_string());
                            next += 3;
                        }
                        _ => break,
                    }
                }
                if segments.len() > 1 && !variable {
                    out.push(PathRef {
                        global,
                        segments,
                        line: first.span().start().line,
                    });
                }
                i = next;
            }
            _ => i += 1,
        }
    }
}

/// Whether `#[cfg(...)]` keeps an item to test builds: `cfg(test)`, `cfg(all(test, ...))`.
fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<Meta>()
                .is_ok_and(|predicate| implies_test(&predicate))
    })
}

fn implies_test(predicate: &Meta) -> bool {
    let nested = |list: &syn::MetaList| {
        list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            .map(|p| p.into_iter().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    match predicate {
        Meta::Path(path) => path.is_ident("test"),
        Meta::List(list) if list.path.is_ident("all") => nested(list).iter().any(implies_test),
        Meta::List(list) if list.path.is_ident("any") => {
            let options = nested(list);
            !options.is_empty() && options.iter().all(implies_test)
        }
        _ => false,
    }
}

fn attrs_of(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// The name an item defines in its module (`macro_rules!` names included).
fn defined_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(i) => &i.ident,
        Item::Enum(i) => &i.ident,
        Item::Fn(i) => &i.sig.ident,
        Item::Macro(i) => i.ident.as_ref()?,
        Item::Static(i) => &i.ident,
        Item::Struct(i) => &i.ident,
        Item::Trait(i) => &i.ident,
        Item::TraitAlias(i) => &i.ident,
        Item::Type(i) => &i.ident,
        Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.unraw().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The imports of a crate made of `files` (name, source); the first is its root.
    fn imports_of(files: &[(&str, &str)]) -> Imports {
        let read = |name: &str| {
            files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| (*text).to_owned())
        };
        crate_imports(files[0].0, &read).expect("the example crate parses")
    }

    fn edges(imports: &Imports) -> Vec<(&str, &str)> {
        imports
            .keys()
            .map(|(from, to)| (from.as_str(), to.as_str()))
            .collect()
    }

    #[test]
    fn two_modules_using_each_other_import_each_other() {
        let imports = imports_of(&[
            ("src/lib.rs", "mod a;\nmod b;\n"),
            (
                "src/a.rs",
                "use crate::b::Retry;\npub struct Token;\npub fn f(_: Retry) {}\n",
            ),
            (
                "src/b.rs",
                "pub struct Retry;\n\npub fn g() -> super::a::Token {\n    super::a::Token\n}\n",
            ),
        ]);
        assert_eq!(
            edges(&imports),
            [("src/a.rs", "src/b.rs"), ("src/b.rs", "src/a.rs")]
        );
        let back = &imports[&("src/b.rs".to_owned(), "src/a.rs".to_owned())];
        assert_eq!(
            (back.line, back.path.as_str()),
            (3, "super::a::Token"),
            "the first place b names a, as written"
        );
    }

    #[test]
    fn a_name_re_exported_by_a_parent_leads_to_the_module_that_defines_it() {
        let imports = imports_of(&[
            ("src/lib.rs", "pub mod api;\npub mod sync;\n"),
            (
                "src/api/mod.rs",
                "mod context;\nmod types;\npub use context::ApiContext;\npub use types::*;\n",
            ),
            ("src/api/context.rs", "pub struct ApiContext;\n"),
            ("src/api/types.rs", "pub struct Body;\n"),
            (
                "src/sync.rs",
                "pub fn run(_: &crate::api::ApiContext) {}\npub fn body(_: crate::api::Body) {}\n",
            ),
        ]);
        assert_eq!(
            edges(&imports),
            [
                ("src/sync.rs", "src/api/context.rs"),
                ("src/sync.rs", "src/api/types.rs")
            ]
        );
    }

    #[test]
    fn a_module_naming_the_children_it_declares_imports_nothing() {
        let imports = imports_of(&[
            ("src/lib.rs", "pub mod google;\n"),
            (
                "src/google/mod.rs",
                "pub mod people;\npub use people::Client;\npub trait PeopleApi {}\npub fn make() -> people::Client { people::Client }\n",
            ),
            (
                "src/google/people.rs",
                "use super::PeopleApi;\npub struct Client;\nimpl PeopleApi for Client {}\n",
            ),
        ]);
        assert_eq!(
            edges(&imports),
            [("src/google/people.rs", "src/google/mod.rs")]
        );
    }

    #[test]
    fn test_code_imports_nothing() {
        let imports = imports_of(&[
            ("src/lib.rs", "mod a;\nmod b;\n#[cfg(test)]\nmod doubles;\n"),
            (
                "src/a.rs",
                "pub struct A;\n#[cfg(test)]\nuse crate::b::B;\n#[cfg(all(test, unix))]\nfn helper() -> crate::b::B { B }\n#[cfg(test)]\nmod tests {\n    use crate::doubles::Fake;\n    use crate::b::B;\n}\n",
            ),
            ("src/b.rs", "pub struct B(pub crate::a::A);\n"),
            (
                "src/doubles.rs",
                "pub struct Fake(crate::a::A, crate::b::B);\n",
            ),
        ]);
        assert_eq!(edges(&imports), [("src/b.rs", "src/a.rs")]);
    }

    #[test]
    fn paths_in_function_bodies_and_macros_are_imports_and_local_names_are_not() {
        let imports = imports_of(&[
            ("src/lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\n"),
            ("src/b.rs", "pub const NAME: &str = \"b\";\n"),
            ("src/c.rs", "pub struct Stats;\n"),
            ("src/d.rs", "pub fn d() {}\n"),
            (
                "src/a.rs",
                "use super::d;\nfn f(b: u32, c: u32) -> String {\n    use crate::c::Stats;\n    let _ = (b, c, Stats);\n    d::d();\n    format!(\"{}\", crate::b::NAME)\n}\n",
            ),
        ]);
        assert_eq!(
            edges(&imports),
            [
                ("src/a.rs", "src/b.rs"),
                ("src/a.rs", "src/c.rs"),
                ("src/a.rs", "src/d.rs")
            ]
        );
    }

    #[test]
    fn an_exported_macro_belongs_to_the_module_that_defines_it() {
        let imports = imports_of(&[
            ("src/lib.rs", "pub mod checks;\npub mod memory;\n"),
            (
                "src/checks.rs",
                "#[macro_export]\nmacro_rules! memory_checks { () => { $crate::memory::Memory::default() }; }\n",
            ),
            (
                "src/memory.rs",
                "#[derive(Default)]\npub struct Memory;\nfn all() { crate::memory_checks!(); }\n",
            ),
        ]);
        assert_eq!(
            edges(&imports),
            [
                ("src/checks.rs", "src/memory.rs"),
                ("src/memory.rs", "src/checks.rs")
            ]
        );
    }

    #[test]
    fn other_crates_and_inline_modules_of_the_same_file_are_no_imports() {
        let imports = imports_of(&[
            ("src/lib.rs", "mod a;\n"),
            (
                "src/a.rs",
                "use serde;\nuse std::collections::BTreeMap;\npub mod limits { pub const MAX: usize = 1; }\npub fn f() -> usize { let _: BTreeMap<u8, u8> = BTreeMap::new(); serde::de::Error::custom; self::limits::MAX }\n",
            ),
        ]);
        assert_eq!(edges(&imports), []);
    }
}
