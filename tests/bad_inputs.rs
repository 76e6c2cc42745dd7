//! The hostile-input corpus: runs the real `nbgen` binary on every case under
//! `tests/bad-inputs/` in a fresh temporary repository and checks what the case's sidecar
//! (`<case>.case.yaml`) expects: the exit code, the errors (message fragment, line, column), no
//! panic, a bounded wall time and peak memory, and that nothing was written (or, for the few
//! cases that must succeed, nothing outside `out/<env>/`). Adding a case is adding data files;
//! see TESTING.md.
//!
//! Filter with `NBGEN_CASE=<substring>`; regenerate nothing (expectations are hand-written).

mod common;

use common::{Snapshot, nbgen};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Every case must finish within this wall time...
const MAX_WALL: Duration = Duration::from_secs(2);
/// ... and peak resident memory.
const MAX_RSS_KB: i64 = 200 * 1024;
/// A run this slow is hung: kill it and fail instead of waiting forever.
const HANG: Duration = Duration::from_secs(20);

/// A case's sidecar, `<case>.case.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case is about, one line.
    about: String,
    /// Arguments after `nbgen --root <repo> --color never`.
    #[serde(default = "default_args")]
    args: Vec<String>,
    /// Where the case's input file (`<case>.yaml`, `.bin` or the expansion of `.recipe`) goes.
    #[serde(default = "default_input")]
    input: String,
    /// Steps applied to the repository after the input is in place, in order.
    #[serde(default)]
    setup: Vec<Step>,
    #[serde(default = "default_exit")]
    exit: i32,
    /// Errors that must be reported: each matches an `error:` block of stderr.
    #[serde(default)]
    errors: Vec<ExpectedError>,
    /// Exact number of errors the run reports (`nbgen: N errors ...`).
    #[serde(default)]
    error_count: Option<usize>,
    /// Fragments stdout or stderr must contain (for cases that succeed: the summary, warnings).
    #[serde(default)]
    output: Vec<String>,
    /// Paths (relative to the repository) that must be byte-identical afterwards.
    #[serde(default)]
    keeps: Vec<String>,
    /// Paths (relative to the repository) that must exist afterwards.
    #[serde(default)]
    creates: Vec<String>,
}

fn default_args() -> Vec<String> {
    vec!["render".into(), "prod".into()]
}
fn default_input() -> String {
    "environments/prod.yaml".into()
}
fn default_exit() -> i32 {
    2
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    /// A fragment of the error's block (message, location or help).
    message: String,
    /// The line in `--> file:LINE:COL`; omit for errors without a position.
    #[serde(default)]
    line: Option<usize>,
    #[serde(default)]
    column: Option<usize>,
    /// The file in `--> FILE:...`; default: the case's input.
    #[serde(default)]
    file: Option<String>,
}

/// One change to the temporary repository. `{root}` in any text is replaced by its absolute
/// path.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum Step {
    Mkdir(String),
    Write { path: String, text: String },
    Symlink { path: String, target: String },
    Chmod { path: String, mode: u32 },
    Fifo(String),
    Remove(String),
}

/// A generator for inputs too big to commit: the concatenation of `parts`, each repeated
/// `repeat` times with `{i}` replaced by the repetition's index.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recipe {
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Part {
    text: String,
    #[serde(default = "one")]
    repeat: usize,
}

fn one() -> usize {
    1
}

impl Recipe {
    /// Write the expansion to `dest`, streaming: the test process must stay small (see
    /// `peak_children_rss_kb`).
    fn expand_to(&self, dest: &Path) {
        let mut out = std::io::BufWriter::new(fs::File::create(dest).unwrap());
        for p in &self.parts {
            for i in 0..p.repeat {
                let text = if p.text.contains("{i}") {
                    std::borrow::Cow::Owned(p.text.replace("{i}", &i.to_string()))
                } else {
                    std::borrow::Cow::Borrowed(p.text.as_str())
                };
                out.write_all(text.as_bytes()).unwrap();
            }
        }
        out.flush().unwrap();
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-inputs")
}

const INPUT_EXTENSIONS: [&str; 3] = ["yaml", "bin", "recipe"];

/// The cases, by name, with their input file if any. Fails on stray files that belong to no
/// case (a misnamed sidecar would otherwise silently never run).
fn cases() -> BTreeMap<String, Option<PathBuf>> {
    let mut names = BTreeMap::new();
    let mut inputs = BTreeMap::new();
    for e in fs::read_dir(corpus_dir()).expect("tests/bad-inputs exists") {
        let path = e.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".case.yaml") {
            names.insert(name.to_owned(), None);
        } else if file == ".gitattributes" {
        } else if let Some((name, ext)) = file.rsplit_once('.')
            && INPUT_EXTENSIONS.contains(&ext)
        {
            assert!(
                inputs.insert(name.to_owned(), path.clone()).is_none(),
                "two inputs for case {name}"
            );
        } else {
            panic!("tests/bad-inputs/{file} is neither a sidecar (*.case.yaml) nor an input");
        }
    }
    for (name, path) in inputs {
        let slot = names
            .get_mut(&name)
            .unwrap_or_else(|| panic!("tests/bad-inputs/{name}.* has no {name}.case.yaml"));
        *slot = Some(path);
    }
    names
}

/// Why a case cannot run here (printed, not a failure).
struct Skip(String);

/// What one run produced.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    wall: Duration,
    before: Snapshot,
    after: Snapshot,
}

fn place_input(root: &Path, case: &Case, input: &Path) {
    let dest = root.join(&case.input);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    if input.extension().is_some_and(|e| e == "recipe") {
        let recipe: Recipe = serde_saphyr::from_str(&fs::read_to_string(input).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        recipe.expand_to(&dest);
    } else {
        fs::copy(input, dest).unwrap();
    }
}

fn apply(root: &Path, step: &Step) -> Result<(), Skip> {
    let sub = |s: &str| s.replace("{root}", &root.display().to_string());
    let at = |p: &str| root.join(sub(p));
    let parent = |p: &Path| fs::create_dir_all(p.parent().unwrap()).unwrap();
    match step {
        Step::Mkdir(p) => fs::create_dir_all(at(p)).unwrap(),
        Step::Write { path, text } => {
            parent(&at(path));
            fs::write(at(path), sub(text)).unwrap();
        }
        Step::Symlink { path, target } => {
            parent(&at(path));
            std::os::unix::fs::symlink(sub(target), at(path)).unwrap();
        }
        Step::Chmod { path, mode } => {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(at(path), fs::Permissions::from_mode(*mode)).unwrap();
            if mode & 0o444 == 0 && fs::File::open(at(path)).is_ok() {
                return Err(Skip(format!(
                    "chmod {mode:o} does not deny reads here (running as root, or with \
                     CAP_DAC_OVERRIDE), so the unreadable-file case cannot be set up"
                )));
            }
        }
        Step::Fifo(p) => {
            parent(&at(p));
            nix::unistd::mkfifo(&at(p), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        }
        Step::Remove(p) => {
            let p = at(p);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(p).unwrap(),
                Ok(_) => fs::remove_file(p).unwrap(),
                Err(_) => {}
            }
        }
    }
    Ok(())
}

fn run(case: &Case, input: Option<&Path>) -> Result<Run, Skip> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    if let Some(input) = input {
        place_input(root, case, input);
    }
    for step in &case.setup {
        apply(root, step)?;
    }
    let before = Snapshot::take(root);
    let start = Instant::now();
    let mut child = nbgen(root)
        .args(&case.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes on threads, so a chatty child cannot block on a full pipe.
    let out = common::drain(child.stdout.take().unwrap());
    let err = common::drain(child.stderr.take().unwrap());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = start.elapsed();
    let after = Snapshot::take(root);
    Ok(Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        wall,
        before,
        after,
    })
}

/// The `error:` blocks of stderr, each from its `error:` line up to the next blank line.
fn error_blocks(stderr: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in stderr.lines() {
        if line.starts_with("error: ") {
            blocks.extend(current.take());
            current = Some(String::new());
        } else if line.starts_with("warning: ") || line.starts_with("nbgen: ") {
            blocks.extend(current.take());
        }
        if let Some(b) = &mut current {
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks.extend(current);
    blocks
}

fn check(case: &Case, r: &Run, rss_kb: i64) -> Vec<String> {
    let mut problems = Vec::new();
    if r.stderr.contains("panicked") || r.code == Some(101) {
        problems.push("nbgen panicked".to_owned());
    }
    if r.code != Some(case.exit) {
        problems.push(format!("exit code {:?}, expected {}", r.code, case.exit));
    }
    if r.wall > MAX_WALL {
        problems.push(format!("took {:?}, limit {MAX_WALL:?}", r.wall));
    }
    if rss_kb > MAX_RSS_KB {
        problems.push(format!(
            "peak memory {} MB, limit {} MB",
            rss_kb / 1024,
            MAX_RSS_KB / 1024
        ));
    }
    // A hostile spec must not reach the terminal as control sequences (colour is off here).
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
            problems.push(format!("{name} carries the raw control character {c:?}"));
        }
    }
    let blocks = error_blocks(&r.stderr);
    for e in &case.errors {
        let file = e.file.as_deref().unwrap_or(&case.input);
        let location = match (e.line, e.column) {
            (Some(l), Some(c)) => Some(format!("--> {file}:{l}:{c}\n")),
            (Some(l), None) => Some(format!("--> {file}:{l}:")),
            (None, _) => None,
        };
        let found = blocks.iter().any(|b| {
            b.contains(&e.message) && location.as_ref().is_none_or(|l| b.contains(l.as_str()))
        });
        if !found {
            problems.push(format!(
                "no error containing {:?}{}",
                e.message,
                location.map_or(String::new(), |l| format!(" at {}", l.trim_end()))
            ));
        }
    }
    if let Some(n) = case.error_count {
        let reported = error_blocks(&r.stderr).len();
        if reported != n {
            problems.push(format!("{reported} errors reported, expected {n}"));
        }
    }
    for fragment in &case.output {
        if !r.stdout.contains(fragment.as_str()) && !r.stderr.contains(fragment.as_str()) {
            problems.push(format!("output lacks {fragment:?}"));
        }
    }
    if case.exit != 0 && case.errors.is_empty() && case.output.is_empty() {
        problems.push("a failing case must list the errors or output it expects".to_owned());
    }
    // Writes: nothing at all on failure; on success only under out/<env>/.
    let env = case.args.get(1).map_or("prod", String::as_str);
    let allowed = format!("out/{env}/");
    for (path, change) in r.before.changes(&r.after) {
        let inside = path.starts_with(&allowed) || path == format!("out/{env}") || path == "out";
        if case.exit != 0 || !inside {
            problems.push(format!("{change} {path}"));
        }
    }
    for path in &case.creates {
        if r.after.get(path).is_none() {
            problems.push(format!("{path} was not created"));
        }
    }
    for keep in &case.keeps {
        if r.before.get(keep) != r.after.get(keep) || r.after.get(keep).is_none() {
            problems.push(format!("{keep} was not kept as it was"));
        }
    }
    problems
}

/// The peak resident memory of the children run so far, in KiB: the kernel's own figure,
/// `getrusage(RUSAGE_CHILDREN).ru_maxrss`, taken after each child is reaped (cases run one at a
/// time, so a rise belongs to the case just run). On Linux a child's figure also covers the
/// memory it had before `exec` — the test process's own high-water mark, shared until then —
/// so it is an upper bound on nbgen's peak, and a tight one only while this process stays
/// small: inputs are streamed to disk and snapshots hash large files instead of keeping them.
/// `this_process_peak_kb` checks that.
fn peak_children_rss_kb() -> i64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(0)
}

/// This process's peak resident memory (VmHWM), in KiB; 0 where /proc is missing.
fn this_process_peak_kb() -> i64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn bad_inputs() {
    let filter = std::env::var("NBGEN_CASE").unwrap_or_default();
    let all = cases();
    assert!(all.len() >= 45, "the corpus has only {} cases", all.len());
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, input) in &all {
        if !name.contains(&filter) {
            continue;
        }
        let sidecar = corpus_dir().join(format!("{name}.case.yaml"));
        let case: Case = serde_saphyr::from_str(&fs::read_to_string(&sidecar).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", sidecar.display()));
        // Wall time is measured on a machine shared with other work: a case that is over the
        // limit gets two more tries, and fails only if it is slow every time.
        let mut attempt = 0;
        let problems = loop {
            attempt += 1;
            let r = match run(&case, input.as_deref()) {
                Ok(r) => r,
                Err(Skip(why)) => {
                    println!("skipped {name}: {why}");
                    break Vec::new();
                }
            };
            // RUSAGE_CHILDREN's ru_maxrss is the peak of the largest child waited for so far:
            // cases run one at a time, so a rise above the limit belongs to this case.
            let mut problems = check(&case, &r, peak_children_rss_kb());
            let slow_only = problems.len() == 1 && problems[0].starts_with("took ");
            if !slow_only || attempt == 3 {
                println!("{name}: exit {:?} in {:?}", r.code, r.wall);
                if !problems.is_empty() {
                    problems.insert(0, format!("{name}: {}", case.about));
                    problems.push(format!("stdout:\n{}stderr:\n{}", r.stdout, r.stderr));
                }
                break problems;
            }
        };
        ran += 1;
        if !problems.is_empty() {
            failures.push(problems.join("\n  "));
        }
    }
    assert!(ran > 0, "no case matches NBGEN_CASE={filter}");
    println!(
        "{ran} cases; the largest peak resident memory of any run: {} MB (this process: {} MB)",
        peak_children_rss_kb() / 1024,
        this_process_peak_kb() / 1024
    );
    assert!(
        this_process_peak_kb() < MAX_RSS_KB / 4,
        "the test process grew to {} MB, which blurs the children's memory figures",
        this_process_peak_kb() / 1024
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
