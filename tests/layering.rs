//! The runtime crate's layers import only downward, and no file imports
//! another that imports it back: read from the sources of `fk-safe/src`,
//! not trusted to review.
//!
//! Each file is a module; an import is any path that names another module
//! (`crate::a::b`, `super::x`, a child `child::x`, and every path of a
//! `use a::{b::X, c}` group). Comments and unit-test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import its own layer's modules
/// and those of lower layers, never higher ones.
const LAYERS: &[&[&str]] = &[
    &["sql"],
    &["fk"],
    &["classify"],
    &["error", "cache"],
    &["backend"],
    &["catalog", "r2d2"],
    &["graph"],
    &["integrity"],
];

type Module = Vec<String>;

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fk-safe/src")
}

fn module_of(root: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(root).expect("a file under the root");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The code of a file without comments and without its unit tests.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut code = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            ('"', _) => {
                // String contents are SQL and messages, never paths.
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
                code.push_str("\"\"");
            }
            _ => code.push(c),
        }
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path written from `at` on (`a::b::{c::D, e}` gives `a::b::c::D`
/// and `a::b::e`), each as its segments, prefixed by `prefix`.
fn paths_at(
    code: &[char],
    mut at: usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix;
    loop {
        if code.get(at) == Some(&'{') {
            at += 1;
            loop {
                while code.get(at).is_some_and(|c| c.is_whitespace()) {
                    at += 1;
                }
                if code.get(at) == Some(&'}') || at >= code.len() {
                    break;
                }
                at = paths_at(code, at, path.clone(), out);
                while code.get(at).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    at += 1;
                }
            }
            return at + 1;
        }
        let start = at;
        while at < code.len() && is_ident(code[at]) {
            at += 1;
        }
        if at > start {
            path.push(code[start..at].iter().collect());
        }
        if code.get(at) == Some(&':') && code.get(at + 1) == Some(&':') {
            at += 2;
            continue;
        }
        out.push(path);
        return at;
    }
}

/// The modules a file's code names.
fn imports(
    module: &Module,
    is_dir_module: bool,
    code: &str,
    all: &BTreeSet<Module>,
) -> BTreeSet<Module> {
    let chars: Vec<char> = code.chars().collect();
    let children: Vec<&Module> = all
        .iter()
        .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
        .collect();
    let mut paths = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let boundary = at == 0 || !(is_ident(chars[at - 1]) || chars[at - 1] == ':');
        if boundary && is_ident(chars[at]) {
            let mut end = at;
            while end < chars.len() && is_ident(chars[end]) {
                end += 1;
            }
            let word: String = chars[at..end].iter().collect();
            let followed_by_path = chars.get(end) == Some(&':') && chars.get(end + 1) == Some(&':');
            if followed_by_path {
                let mut found = Vec::new();
                paths_at(&chars, end + 2, Vec::new(), &mut found);
                for rest in found {
                    let base: Option<Module> = match word.as_str() {
                        "crate" => Some(Vec::new()),
                        "self" => Some(module.clone()),
                        "super" => {
                            // `super` of `a::b` (a file or a mod.rs) is `a`.
                            let mut base = module.clone();
                            base.pop();
                            let _ = is_dir_module;
                            let mut rest_iter = rest.iter().peekable();
                            while rest_iter.peek().is_some_and(|s| *s == "super") {
                                base.pop();
                                rest_iter.next();
                            }
                            let mut full = base;
                            full.extend(rest_iter.cloned());
                            paths.push(full);
                            None
                        }
                        child
                            if children
                                .iter()
                                .any(|c| c.last().is_some_and(|l| l == child)) =>
                        {
                            let mut base = module.clone();
                            base.push(child.to_string());
                            Some(base)
                        }
                        _ => None,
                    };
                    if let Some(mut base) = base {
                        base.extend(rest);
                        paths.push(base);
                    }
                }
            }
            at = end;
        } else {
            at += 1;
        }
    }
    paths
        .into_iter()
        .filter_map(|path| {
            (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|prefix| all.contains(prefix))
        })
        .filter(|target| target != module)
        .collect()
}

fn module_graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let root = source_root();
    let mut found = Vec::new();
    files(&root, &mut found);
    let modules: BTreeMap<Module, PathBuf> = found
        .into_iter()
        .map(|file| (module_of(&root, &file), file))
        .collect();
    let all: BTreeSet<Module> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(module, file)| {
            let text = std::fs::read_to_string(file).expect("readable source file");
            let is_dir = file.file_stem().is_some_and(|s| s == "mod" || s == "lib");
            (
                module.clone(),
                imports(module, is_dir, &code_of(&text), &all),
            )
        })
        .collect()
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let graph = module_graph();
    assert!(
        graph.len() > 30,
        "the sources were not found: {} modules",
        graph.len()
    );
    // A module is in a circle when it reaches itself.
    let mut circles = Vec::new();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(Module, Vec<Module>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((module, path)) = stack.pop() {
            for next in graph.get(&module).into_iter().flatten() {
                if next == start {
                    circles.push(
                        path.iter()
                            .chain([next])
                            .map(name)
                            .collect::<Vec<_>>()
                            .join(" -> "),
                    );
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn layers_import_only_downward() {
    let layer_of = |module: &Module| -> Option<usize> {
        let top = module.first()?;
        LAYERS
            .iter()
            .position(|layer| layer.contains(&top.as_str()))
    };
    let graph = module_graph();
    for top in graph.keys().filter(|m| m.len() == 1) {
        assert!(
            layer_of(top).is_some(),
            "module {} is in no layer: add it to LAYERS",
            name(top)
        );
    }
    let mut upward = Vec::new();
    for (module, targets) in &graph {
        let Some(own) = layer_of(module) else {
            continue; // the crate root re-exports everything
        };
        for target in targets {
            if let Some(theirs) = layer_of(target) {
                if theirs > own {
                    upward.push(format!("{} imports {}", name(module), name(target)));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_reader_sees_every_form_of_import() {
    let all: BTreeSet<Module> = [
        vec![],
        vec!["a".to_string()],
        vec!["a".to_string(), "b".to_string()],
        vec!["a".to_string(), "c".to_string()],
        vec!["d".to_string()],
    ]
    .into_iter()
    .collect();
    let module = vec!["a".to_string(), "b".to_string()];
    let code = code_of(
        "// crate::d::X in a comment\nuse super::c::{self, Y};\nfn f() -> crate::d::Z { let s = \"crate::d\"; }\n",
    );
    let found = imports(&module, false, &code, &all);
    let names: Vec<String> = found.iter().map(name).collect();
    assert_eq!(names, ["a::c", "d"]);
    let parent = vec!["a".to_string()];
    let found = imports(
        &parent,
        true,
        "use crate::{a::b::X, d};\nfn g() { b::f(); c::g(); }",
        &all,
    );
    let names: Vec<String> = found.iter().map(name).collect();
    assert_eq!(names, ["a::b", "a::c", "d"]);
}
