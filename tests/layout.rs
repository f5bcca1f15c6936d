//! The layout's promise, checked: no module imports another that imports it back.
//!
//! Reads every source file of both crates (`src/` and `crates/gs-core/src/`), collects the
//! `crate::…` and `super::…` paths each module names (in `use` lists and inline), and
//! looks for cycles at every level of the module tree: two sibling modules (counting
//! everything inside each) must not reach each other, directly or through other
//! siblings. A module may use its own children and ancestors freely; those edges are the
//! tree itself. Run alone with `cargo nextest run --test layout`.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside one crate, e.g. `["state", "game"]`; the root is empty.
type ModPath = Vec<String>;

/// Every module of the crate whose `lib.rs` is in `src_dir`, with its file's text.
fn modules(src_dir: &Path) -> BTreeMap<ModPath, String> {
    fn walk(dir: &Path, prefix: &ModPath, out: &mut BTreeMap<ModPath, String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut sub = prefix.clone();
                sub.push(name);
                walk(&path, &sub, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let module = match name.as_str() {
                    "lib" | "mod" => prefix.clone(),
                    "main" => continue, // the binary is another crate
                    _ => {
                        let mut m = prefix.clone();
                        m.push(name);
                        m
                    }
                };
                out.insert(module, strip_comments(&text));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src_dir, &Vec::new(), &mut out);
    out
}

/// The text without `//` and `/* */` comments (doc links are not imports).
fn strip_comments(text: &str) -> String {
    let block = Regex::new(r"(?s)/\*.*?\*/").unwrap();
    let line = Regex::new(r"(?m)//.*$").unwrap();
    let text = block.replace_all(text, "");
    line.replace_all(&text, "").into_owned()
}

/// Expands a `use` tree such as `crate::a::{b, c::{d, e}}` into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand_use(&format!("{prefix}{p}")))
        .collect()
}

/// The module a path written in `from` refers to: the longest known module prefix.
fn resolve(path: &str, from: &ModPath, known: &BTreeMap<ModPath, String>) -> Option<ModPath> {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base: ModPath = match segments.first()? {
        &"crate" => Vec::new(),
        &"super" | &"self" => {
            // `super` of a file module `a::b` is `a`; of a `mod.rs` module `a::b`, also `a`.
            let mut b = from.clone();
            while segments.first() == Some(&"super") {
                b.pop();
                segments.remove(0);
            }
            if segments.first() == Some(&"self") {
                segments.remove(0);
                b = from.clone();
            }
            segments.insert(0, "crate");
            b
        }
        _ => return None,
    };
    for s in segments.iter().skip(1) {
        let s = s.trim_start_matches("r#");
        let mut next = base.clone();
        next.push(s.to_owned());
        if known.contains_key(&next) {
            base = next;
        } else {
            break;
        }
    }
    Some(base)
}

/// Edges `from → to` between modules, by the paths each module names.
fn edges(known: &BTreeMap<ModPath, String>) -> BTreeSet<(ModPath, ModPath)> {
    let use_stmt = Regex::new(r"(?s)\buse\s+((?:crate|super|self)\b[^;]*);").unwrap();
    let inline = Regex::new(r"\b(?:crate|super)(?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))+").unwrap();
    let mut out = BTreeSet::new();
    for (module, text) in known {
        let mut paths: Vec<String> = Vec::new();
        for c in use_stmt.captures_iter(text) {
            paths.extend(expand_use(&c[1]));
        }
        paths.extend(inline.find_iter(text).map(|m| m.as_str().to_owned()));
        for p in paths {
            if let Some(target) = resolve(&p, module, known) {
                if &target != module {
                    out.insert((module.clone(), target));
                }
            }
        }
    }
    out
}

/// Cycles among siblings: for each parent, the strongly connected groups of its children
/// (edges between descendants counted at the children they sit under).
fn sibling_cycles(known: &BTreeMap<ModPath, String>) -> Vec<String> {
    let edges = edges(known);
    let mut problems = Vec::new();
    for parent in known.keys() {
        let children: Vec<&ModPath> = known
            .keys()
            .filter(|m| m.len() == parent.len() + 1 && m.starts_with(parent))
            .collect();
        let child_of = |m: &ModPath| -> Option<usize> {
            if m.len() <= parent.len() || !m.starts_with(parent) {
                return None;
            }
            children.iter().position(|c| c[..] == m[..parent.len() + 1])
        };
        let mut graph: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        let mut why: BTreeMap<(usize, usize), (ModPath, ModPath)> = BTreeMap::new();
        for (a, b) in &edges {
            if let (Some(x), Some(y)) = (child_of(a), child_of(b)) {
                if x != y {
                    graph.entry(x).or_default().insert(y);
                    why.entry((x, y)).or_insert((a.clone(), b.clone()));
                }
            }
        }
        // Reachability is enough here: sibling counts are small. Each group of
        // siblings that reach each other is reported once, with its direct edges.
        let reach = |from: usize| -> BTreeSet<usize> {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from];
            while let Some(n) = stack.pop() {
                for &m in graph.get(&n).into_iter().flatten() {
                    if seen.insert(m) {
                        stack.push(m);
                    }
                }
            }
            seen
        };
        let reached: Vec<BTreeSet<usize>> = (0..children.len()).map(reach).collect();
        let mut reported = BTreeSet::new();
        for x in 0..children.len() {
            let group: BTreeSet<usize> = (0..children.len())
                .filter(|&y| y == x || (reached[x].contains(&y) && reached[y].contains(&x)))
                .collect();
            if group.len() < 2 || !reported.insert(group.clone()) {
                continue;
            }
            let names: Vec<String> = group.iter().map(|&i| children[i].join("::")).collect();
            let mut lines = vec![format!("these reach each other: {}", names.join(", "))];
            for ((p, q), (a, b)) in &why {
                if group.contains(p) && group.contains(q) {
                    lines.push(format!("    {} → {}", a.join("::"), b.join("::")));
                }
            }
            problems.push(lines.join("\n"));
        }
    }
    problems
}

fn check(dir: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let known = modules(&src);
    assert!(known.len() > 5, "no modules found under {}", src.display());
    let problems = sibling_cycles(&known);
    assert!(
        problems.is_empty(),
        "modules of {dir} that reach each other:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_core_crate_has_no_import_cycles() {
    check("crates/gs-core/src");
}

#[test]
fn the_service_crate_has_no_import_cycles() {
    check("src");
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut known = BTreeMap::new();
    known.insert(vec![], String::new());
    known.insert(vec!["a".into()], "use crate::b::{x, y::Z};".into());
    known.insert(vec!["b".into()], String::new());
    known.insert(
        vec!["b".into(), "y".into()],
        "fn f() { super::super::a::g() }".into(),
    );
    assert_eq!(
        sibling_cycles(&known).len(),
        1,
        "{:?}",
        sibling_cycles(&known)
    );
    known.insert(vec!["b".into(), "y".into()], "fn f() {}".into());
    assert!(sibling_cycles(&known).is_empty());
}
