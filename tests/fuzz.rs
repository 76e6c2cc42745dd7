//! A time-bounded fuzzer over the whole pure pipeline (parse → schema → validate → expand →
//! emit, and the rendering of every diagnostic), on stable Rust: proptest generates *spec text*
//! by mutating real specs (the examples and the bad-input corpus) — byte flips, line deletions,
//! duplications and swaps, key and value renames from nbgen's vocabulary, re-indentation,
//! truncation, hostile YAML fragments — and shrinks any failure to a small list of mutations.
//!
//! A failure is: a panic; a diagnostic admitting a bug in nbgen ("bug in nbgen"); a rendered
//! file whose path is not a plain relative path under out/<env>/ or whose text does not parse;
//! a case that takes over 10 s (the watchdog prints it and aborts).
//!
//! `NBGEN_FUZZ_SECONDS` (default 5) bounds the run; `NBGEN_FUZZ_SEED` replays one. The input
//! of a failure is written to `target/nbgen-fuzz/failure.yaml`: fix the bug, then add it to
//! tests/bad-inputs/ with a sidecar (see TESTING.md).

use nbgen::source::SourceFile;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Words spliced into specs: keys, names and values nbgen knows, and some it must refuse.
const WORDS: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "cluster",
    "kubernetesVersion",
    "nodePortRange",
    "storageClass",
    "namespacePrefix",
    "images",
    "gpuPools",
    "resource",
    "capacity",
    "nodeSelector",
    "tolerations",
    "key",
    "operator",
    "value",
    "effect",
    "tolerationSeconds",
    "storage",
    "size",
    "nfs",
    "server",
    "path",
    "roles",
    "image",
    "cpu",
    "memory",
    "homeSize",
    "shmSize",
    "start",
    "docker-stacks",
    "kubeflow",
    "command",
    "args",
    "{{baseUrl}}",
    "--ServerApp.token=''",
    "mounts",
    "gpu",
    "pool",
    "count",
    "teams",
    "members",
    "groups",
    "perMember",
    "quota",
    "nodePorts",
    "readOnly",
    "readWrite",
    "Exists",
    "Equal",
    "NoSchedule",
    "NoExecute",
    "prod",
    "dev",
    "prep",
    "train",
    "infer",
    "notebook",
    "a100",
    "datasets",
    "models",
    "scratch",
    "data-science",
    "ml-engineering",
    "mlops",
    "sandbox",
    "a-b",
    "b-c",
    "c",
    "prep-home",
    "home",
    "nvidia.com/gpu",
    "\"1.33\"",
    "\"1.37\"",
    "30000-30001",
    "30000-30000",
    "1-65535",
    "65535-1",
    "0",
    "1",
    "2",
    "30080",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "-1",
    "4.0",
    "1.0",
    "1e400",
    "1e-400",
    "8Gi",
    "500m",
    "0.5",
    "1e3",
    "1Ei",
    "999999999999Ei",
    ".inf",
    ".nan",
    "true",
    "false",
    "null",
    "~",
    "yes",
    "on",
    "[]",
    "{}",
    "\"\"",
    "*a",
    "&a",
    "../x",
    "..",
    ".",
    "/",
    "a@b",
    "../../@x",
    "Ab",
    "d\u{430}ta",
    "x_y",
    "x.y",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// Fragments inserted anywhere: YAML structure, odd characters, aliases.
const FRAGMENTS: &[&str] = &[
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "'",
    "\t",
    "\n",
    "  ",
    "&a ",
    "*a",
    "<<: *a\n",
    "? ",
    "!!str ",
    "!!binary ",
    "!!int ",
    "!custom ",
    "|\n",
    ">-\n",
    "#",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "\u{feff}",
    "\u{0}",
    "\r\n",
    "\r",
    "\u{85}",
    "\u{2028}",
    "\u{1b}[31m",
    "a: &a [*a]\n",
    "x: &x [1, 2]\ny: [*x, *x, *x]\n",
    "\u{1F600}",
    "\\",
    "%",
    "@",
    "`",
];

#[derive(Clone, Debug)]
enum Mutation {
    Byte(Index, u8),
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    Word(Index, &'static str),
    Insert(Index, &'static str),
    Indent(Index, i8),
    Truncate(Index),
    /// A line of another seed (cross-over).
    Splice(Index, Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting_byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b" \t\n:-[]{},&*!|>'\"#%@`?~0123456789az".to_vec()),
    ];
    // Weighted towards changes that keep the YAML well-formed, so most cases reach validation.
    prop_oneof![
        3 => (any::<Index>(), interesting_byte).prop_map(|(i, b)| Mutation::Byte(i, b)),
        3 => any::<Index>().prop_map(Mutation::DeleteLine),
        1 => any::<Index>().prop_map(Mutation::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        8 => (any::<Index>(), prop::sample::select(WORDS)).prop_map(|(i, w)| Mutation::Word(i, w)),
        2 => (any::<Index>(), prop::sample::select(FRAGMENTS)).prop_map(|(i, f)| Mutation::Insert(i, f)),
        1 => (any::<Index>(), -4i8..=4).prop_map(|(i, d)| Mutation::Indent(i, d)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(s, l, at)| Mutation::Splice(s, l, at)),
    ]
}

/// NodePorts "already assigned" in a previous output: (team, server) → port.
type Previous = BTreeMap<(String, String), u16>;

/// Previous ports for some of the servers a generated spec may have, some outside the range.
fn previous_ports() -> impl Strategy<Value = Previous> {
    let name = prop::sample::select(vec!["a", "b", "a-b", "x", "prep", "prep-a-x", "x-a"]);
    prop::collection::btree_map(
        (name.clone(), name).prop_map(|(t, s)| (t.to_owned(), s.to_owned())),
        29998u16..30005,
        0..4,
    )
}

/// A whole spec from a small model of one: names from a tiny alphabet with '-' (so derived
/// names can collide), numbers at their limits, references that may dangle, notebook jobs. Most of these get
/// through validation, so expand and emit see many shapes of environment.
fn generated_spec() -> impl Strategy<Value = String> {
    use prop::collection::{btree_map, btree_set};
    use prop::sample::select;
    let names = || {
        select(vec![
            "a",
            "b",
            "c",
            "a-b",
            "b-c",
            "x",
            "prep",
            "prep-home",
            "x-home",
        ])
    };
    let quantity = || {
        select(vec![
            "1",
            "2",
            "500m",
            "1Gi",
            "8Gi",
            "0.5",
            "1e3",
            "0",
            "1Ei",
            "99999999999999Ei",
        ])
    };
    let count = || select(vec![0u64, 1, 2, 4, 4294967295, 4294967296]);
    let pool = (select(vec!["nvidia.com/gpu", "amd.com/gpu"]), count())
        .prop_map(|(r, c)| format!("{{resource: {r}, capacity: {c}}}"));
    let volume = (quantity(), any::<bool>()).prop_map(|(size, nfs)| {
        let backend = if nfs {
            "nfs: {server: nfs, path: /v}"
        } else {
            "storageClass: rwx"
        };
        format!("{{size: \"{size}\", {backend}}}")
    });
    let role = (
        names(),
        quantity(),
        quantity(),
        prop::option::of((names(), count())),
        btree_map(names(), any::<bool>(), 0..3),
    )
        .prop_map(|(image, cpu, memory, gpu, mounts)| {
            let gpu = gpu.map_or(String::new(), |(p, c)| {
                format!(", gpu: {{pool: {p}, count: {c}}}")
            });
            let mounts: Vec<String> = mounts
                .iter()
                .map(|(v, w)| format!("{v}: {}", if *w { "readWrite" } else { "readOnly" }))
                .collect();
            format!(
                "{{image: {image}, cpu: \"{cpu}\", memory: \"{memory}\"{gpu}, mounts: {{{}}}}}",
                mounts.join(", ")
            )
        });
    let members = select(vec![
        "a@x.io",
        "b@x.io",
        "a-x@x.io",
        "x@x.io",
        "A.B@x.io",
        "a_b@x.io",
        "../@x.io",
        "prep@x.io",
    ]);
    let team = (
        btree_set(members, 0..3),
        any::<bool>(),
        btree_set(names(), 1..3),
        prop::option::of((quantity(), quantity(), count())),
        btree_map(names(), 30000u32..30004, 0..2),
    )
        .prop_map(|(members, per_member, roles, quota, ports)| {
            let list = |s: &std::collections::BTreeSet<&str>| s.iter().copied().collect::<Vec<_>>().join(", ");
            let quota = quota.map_or(String::new(), |(c, m, g)| {
                format!(", quota: {{cpu: \"{c}\", memory: \"{m}\", gpu: {g}}}")
            });
            let ports: Vec<String> = ports.iter().map(|(s, p)| format!("{s}: {p}")).collect();
            format!(
                "{{members: [{}], groups: [g], perMember: {per_member}, roles: [{}]{quota}, nodePorts: {{{}}}}}",
                list(&members),
                list(&roles),
                ports.join(", ")
            )
        });
    let job = (
        names(),
        names(),
        names(),
        prop::option::of(select(vec!["0 2 * * *", "@daily", "61 * * * *", "TZ=Etc/UTC 0 3 * * 1"])),
        prop::option::of(0u32..12),
    )
        .prop_map(|(team, role, volume, schedule, backoff)| {
            let schedule = schedule.map_or(String::new(), |s| format!(", schedule: \"{s}\""));
            let backoff = backoff.map_or(String::new(), |b| format!(", backoffLimit: {b}"));
            format!(
                "{{team: {team}, role: {role}, notebook: /data/{volume}/nb.ipynb, outputDir: /data/{volume}/runs, parameters: {{N: 1.0}}{schedule}{backoff}}}"
            )
        });
    let map = |entries: &std::collections::BTreeMap<&str, String>| -> String {
        entries
            .iter()
            .map(|(k, v)| format!("  {k}: {v}\n"))
            .collect()
    };
    (
        select(vec!["", "nb-", "a-"]),
        select(vec!["30000-32767", "30000-30003", "30000-30000"]),
        btree_map(names(), Just("{image: registry.example.com/nb:1.0, start: docker-stacks}".to_owned()), 1..3),
        btree_map(names(), pool, 0..2),
        btree_map(names(), volume, 0..3),
        btree_map(names(), role, 1..3),
        btree_map(names(), team, 1..4),
        btree_map(names(), job, 0..3),
    )
        .prop_map(move |(prefix, range, images, pools, volumes, roles, teams, jobs)| {
            format!(
                "apiVersion: nbgen.io/v1alpha1\nkind: Environment\nname: prod\ncluster:\n  kubernetesVersion: \"1.33\"\n  nodePortRange: {range}\n  namespacePrefix: \"{prefix}\"\nimages:\n{}gpuPools:\n{}storage:\n{}roles:\n{}teams:\n{}jobs:\n{}",
                map(&images), map(&pools), map(&volumes), map(&roles), map(&teams), map(&jobs)
            )
        })
}

fn lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_owned).collect()
}

/// Byte offsets of the word-like runs of `text` (names, keys, values).
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        let wordy = c.is_alphanumeric() || "_-./@\"".contains(c);
        match (wordy, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: String, m: &Mutation, seeds: &[String]) -> String {
    match m {
        Mutation::Byte(i, b) => {
            let mut bytes = text.into_bytes();
            if bytes.is_empty() {
                return String::new();
            }
            let at = i.index(bytes.len());
            bytes[at] = *b;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mutation::DeleteLine(i) => {
            let mut l = lines(&text);
            if !l.is_empty() {
                l.remove(i.index(l.len()));
            }
            l.concat()
        }
        Mutation::DuplicateLine(i) => {
            let mut l = lines(&text);
            if !l.is_empty() {
                let at = i.index(l.len());
                l.insert(at, l[at].clone());
            }
            l.concat()
        }
        Mutation::SwapLines(a, b) => {
            let mut l = lines(&text);
            if !l.is_empty() {
                let (a, b) = (a.index(l.len()), b.index(l.len()));
                l.swap(a, b);
            }
            l.concat()
        }
        Mutation::Word(i, w) => {
            let ws = words(&text);
            if ws.is_empty() {
                return text;
            }
            let (s, e) = ws[i.index(ws.len())];
            format!("{}{w}{}", &text[..s], &text[e..])
        }
        Mutation::Insert(i, f) => {
            let at = floor_char(&text, i.index(text.len() + 1));
            format!("{}{f}{}", &text[..at], &text[at..])
        }
        Mutation::Indent(i, d) => {
            let mut l = lines(&text);
            if !l.is_empty() {
                let at = i.index(l.len());
                l[at] = if *d >= 0 {
                    format!("{}{}", " ".repeat(*d as usize), l[at])
                } else {
                    let strip = l[at].len() - l[at].trim_start_matches(' ').len();
                    l[at][strip.min(d.unsigned_abs() as usize)..].to_owned()
                };
            }
            l.concat()
        }
        Mutation::Truncate(i) => {
            let at = floor_char(&text, i.index(text.len() + 1));
            text[..at].to_owned()
        }
        Mutation::Splice(s, line, at) => {
            let donor = lines(&seeds[s.index(seeds.len())]);
            let mut l = lines(&text);
            if donor.is_empty() {
                return text;
            }
            let piece = donor[line.index(donor.len())].clone();
            let at = at.index(l.len() + 1);
            l.insert(at, piece);
            l.concat()
        }
    }
}

/// The specs mutations start from: the example environments and the small text inputs of the
/// bad-input corpus.
fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<PathBuf> = Vec::new();
    for dir in ["environments", "tests/bad-inputs"] {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy();
            let small = e.metadata().is_ok_and(|m| m.len() < 64 * 1024);
            if name.ends_with(".yaml") && !name.ends_with(".case.yaml") && small {
                paths.push(p);
            }
        }
    }
    paths.sort();
    let seeds: Vec<String> = paths
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .collect();
    assert!(seeds.len() > 10, "fuzz seeds not found");
    seeds
}

/// How far the inputs got, to see that the mutations reach past the parser.
#[derive(Default)]
struct Reach {
    yaml_errors: AtomicU64,
    later_errors: AtomicU64,
    rendered: AtomicU64,
}

static REACH: Reach = Reach {
    yaml_errors: AtomicU64::new(0),
    later_errors: AtomicU64::new(0),
    rendered: AtomicU64::new(0),
};

/// One run of the pipeline; `Err` says what is wrong.
fn check(text: &str, previous: &Previous) -> Result<(), String> {
    let src = SourceFile::new("environments/prod.yaml", text);
    let sources = [src.clone()];
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let result = nbgen::render(&src, "prod", previous);
        let diagnostics = match &result {
            Ok(r) => r.warnings.clone(),
            Err(d) => d.clone(),
        };
        let shown: Vec<String> = diagnostics
            .iter()
            .map(|d| {
                let _ = d.render(&sources, true); // the colour path too
                d.render(&sources, false)
            })
            .collect();
        (result, shown)
    }));
    let (result, shown) = outcome.map_err(|p| {
        let what = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!("panic: {what} at {}", PANIC_AT.lock().unwrap())
    })?;
    let counter = match &result {
        Ok(_) => &REACH.rendered,
        Err(d) if d.iter().any(|d| d.message.starts_with("invalid YAML")) => &REACH.yaml_errors,
        Err(_) => &REACH.later_errors,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if let Some(bug) = shown.iter().find(|d| d.contains("bug in nbgen")) {
        return Err(format!("nbgen reports a bug in itself:\n{bug}"));
    }
    if let Ok(r) = result {
        for (path, file) in &r.tree {
            let plain = nbgen::output::safe_relative(path)
                && path.split('/').count() == 2
                && path
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._/".contains(&b));
            if !plain {
                return Err(format!("rendered a file at {path:?}"));
            }
            serde_saphyr::from_str::<serde_json::Value>(&file.text)
                .map_err(|e| format!("{path} does not parse: {e}"))?;
        }
    }
    Ok(())
}

static PANIC_AT: Mutex<String> = Mutex::new(String::new());

fn failure_file() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or(Path::new("target"))
        .join("nbgen-fuzz/failure.yaml")
}

#[test]
fn fuzz_pipeline() {
    let seconds: u64 = std::env::var("NBGEN_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("NBGEN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("fuzzing for {seconds} s; replay with NBGEN_FUZZ_SEED={seed}");
    let seeds = seeds();

    // Panics are expected to be caught and reported, not printed by the default hook.
    panic::set_hook(Box::new(|info| {
        *PANIC_AT.lock().unwrap() = info.location().map(|l| l.to_string()).unwrap_or_default();
    }));
    // Watchdog: a case that runs for over 10 s is a hang; say which and stop.
    let current = Arc::new(Mutex::new(String::new()));
    let started = Arc::new(AtomicU64::new(0));
    let clock = Instant::now();
    {
        let (current, started) = (current.clone(), started.clone());
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let at = started.load(Ordering::Relaxed);
                if at != 0 && clock.elapsed().as_millis() as u64 > at + 10_000 {
                    let text = current.lock().unwrap().clone();
                    let _ = fs::create_dir_all(failure_file().parent().unwrap());
                    let _ = fs::write(failure_file(), &text);
                    eprintln!(
                        "a case has run for over 10 s (hang?); input in {}",
                        failure_file().display()
                    );
                    std::process::abort();
                }
            }
        });
    }

    // Mostly mutate specs that render, so that most cases get past the parser; sometimes the
    // broken ones, whose error paths are worth shaking too.
    let valid: Vec<String> = seeds
        .iter()
        .filter(|s| {
            nbgen::render(
                &SourceFile::new("environments/prod.yaml", s.as_str()),
                "prod",
                &BTreeMap::new(),
            )
            .is_ok()
        })
        .cloned()
        .collect();
    assert!(valid.len() >= 3, "too few valid seeds");
    #[derive(Clone, Debug)]
    enum Start {
        Seed { valid: bool, at: Index },
        Generated(String, Previous),
    }
    let start = prop_oneof![
        4 => any::<Index>().prop_map(|at| Start::Seed { valid: true, at }),
        2 => any::<Index>().prop_map(|at| Start::Seed { valid: false, at }),
        4 => (generated_spec(), previous_ports()).prop_map(|(s, p)| Start::Generated(s, p)),
    ];
    let strategy = (start, prop::collection::vec(mutation(), 0..4));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cases = AtomicU64::new(0);
    let mut batch = 0u64;
    let result = loop {
        if Instant::now() >= deadline {
            break Ok(());
        }
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&batch.to_le_bytes());
        let config = Config {
            cases: 32,
            failure_persistence: None,
            max_shrink_time: 60_000,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
        let outcome = runner.run(&strategy, |(start, mutations)| {
            let (mut text, previous) = match start {
                Start::Seed { valid: true, at } => {
                    (valid[at.index(valid.len())].clone(), Previous::new())
                }
                Start::Seed { valid: false, at } => {
                    (seeds[at.index(seeds.len())].clone(), Previous::new())
                }
                Start::Generated(text, previous) => (text, previous),
            };
            for m in &mutations {
                text = apply(text, m, &seeds);
            }
            *current.lock().unwrap() = text.clone();
            started.store(clock.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
            let verdict = check(&text, &previous);
            started.store(0, Ordering::Relaxed);
            cases.fetch_add(1, Ordering::Relaxed);
            verdict.map_err(|why| {
                let _ = fs::create_dir_all(failure_file().parent().unwrap());
                let _ = fs::write(failure_file(), &text);
                TestCaseError::fail(why)
            })
        });
        batch += 1;
        if let Err(e) = outcome {
            break Err(e);
        }
    };
    let _ = panic::take_hook();
    println!(
        "{} cases in {batch} batches: {} rendered, {} refused after parsing, {} invalid YAML",
        cases.load(Ordering::Relaxed),
        REACH.rendered.load(Ordering::Relaxed),
        REACH.later_errors.load(Ordering::Relaxed),
        REACH.yaml_errors.load(Ordering::Relaxed),
    );
    if let Err(e) = result {
        panic!(
            "{e}\nthe (shrunk) input is in {}; replay with NBGEN_FUZZ_SEED={seed}",
            failure_file().display()
        );
    }
}
