//! The stages import only earlier stages: reads every module under src/ and checks each
//! `crate::<module>` it names against the pipeline's order. A later stage's type reaching back
//! into an earlier one (validate naming emit's Tree, say) is how the old cycles began.
//!
//! Test code (from a file's first `#[cfg(test)]` on) may use anything: the YAML writer's tests
//! run the whole pipeline.

use std::fs;
use std::path::Path;

/// Importable from anywhere; they import only each other.
const CROSS_CUTTING: [&str; 5] = ["source", "diagnostic", "parallel", "template", "terminal"];

/// The top-level modules of src/, each allowed to import itself, the cross-cutting modules and
/// those before it. `model` is the type `validate` builds, so it comes first; `object` is the
/// type `expand` builds.
const ORDER: [&str; 12] = [
    "input", "spec", "model", "validate", "object", "expand", "emit", "output", "review", "report",
    "pipeline", "project",
];

fn rank(module: &str) -> Option<usize> {
    ORDER.iter().position(|m| *m == module)
}

/// `crate::<name>` occurrences in the code (comments and test code aside).
fn imports(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push((n + 1, name));
        }
        // `use crate::{a, b}`
        if let Some(i) = code.find("crate::{") {
            let group = &code[i + "crate::{".len()..];
            for part in group.split([',', '}']) {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((n + 1, name));
                }
            }
        }
    }
    out
}

/// Every back-import under `src`, as `file:line: module imports later`.
fn violations(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("src/ reads") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src/");
            let top = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .map(|s| s.trim_end_matches(".rs"))
                .expect("a name");
            if top == "lib" || top == "main" {
                continue; // the crate root declares and re-exports; main is the binary
            }
            let text = fs::read_to_string(&path).expect("a source file reads");
            for (line, name) in imports(&text) {
                if name == top || name.is_empty() || name == "self" {
                    continue;
                }
                let allowed = if CROSS_CUTTING.contains(&top) {
                    CROSS_CUTTING.contains(&name.as_str())
                } else if CROSS_CUTTING.contains(&name.as_str()) {
                    true
                } else {
                    match (rank(top), rank(&name)) {
                        (Some(from), Some(to)) => to <= from,
                        _ => false,
                    }
                };
                if !allowed {
                    out.push(format!(
                        "src/{}:{line}: `{top}` imports `{name}`",
                        rel.display()
                    ));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_top_level_module_has_a_place_in_the_order() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in fs::read_dir(&src).expect("src/ reads") {
        let name = entry.expect("an entry").file_name();
        let name = name.to_str().expect("UTF-8").trim_end_matches(".rs");
        assert!(
            name == "lib"
                || name == "main"
                || CROSS_CUTTING.contains(&name)
                || rank(name).is_some(),
            "src/{name} is neither a stage nor cross-cutting: add it to tests/stage_order.rs"
        );
    }
}

#[test]
fn no_stage_imports_a_later_one() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "a stage imports a later stage (order: {}):\n{}",
        ORDER.join(" → "),
        found.join("\n")
    );
}

#[test]
fn a_back_import_is_found() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::create_dir(dir.path().join("validate")).expect("mkdir");
    fs::write(
        dir.path().join("validate/mod.rs"),
        "use crate::model::Env;\nuse crate::{diagnostic, emit::Tree};\n#[cfg(test)]\nuse crate::project::Project;\n",
    )
    .expect("write");
    assert_eq!(
        violations(dir.path()),
        vec!["src/validate/mod.rs:2: `validate` imports `emit`"]
    );
}
