//! The `nbgen` command line: parses arguments, runs a command, maps outcomes to exit codes.
//! Diagnostics go to stderr, results to stdout; colour only on a terminal.

use clap::{Parser, Subcommand, ValueEnum};
use nbgen::diagnostic::{self, Diagnostic};
use nbgen::output::Summary;
use nbgen::project::review;
use nbgen::project::{Failure, Project};
use nbgen::report;
use nbgen::source::SourceFile;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  nbgen render prod              validate environments/prod.yaml and write out/prod/
  nbgen validate prod            only check the spec; write nothing
  nbgen diff prod                what render would change in out/prod/, as unified diffs
  nbgen diff prod --against origin/main --format markdown
                                 a pull-request comment: risks, counts, diffs, graph
  nbgen check                    CI: fail when any committed out/<env>/ is stale or hand-edited
  nbgen graph prod | less        teams, servers, volumes and GPU pools as a Mermaid graph
  nbgen --root ../platform render dev

Exit codes:
  0  success (diff: no difference; check: up to date)
  1  diff: out/<env>/ differs; check: some output is stale, edited, missing or stray
  2  invalid input: the spec, the environment name, the layout of out/, a git revision
  3  out/<env>/ could not be written (I/O error)";

/// Render Jupyter notebook platforms on Kubernetes from one reviewed environment spec.
///
/// nbgen reads environments/<env>.yaml, validates it, and writes plain Kubernetes manifests to
/// out/<env>/, one object per file, for Argo CD (or kubectl apply) to sync.
#[derive(Parser, Debug)]
#[command(name = "nbgen", version, after_help = AFTER_HELP)]
struct Cli {
    /// Repository root holding environments/ and out/
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    root: PathBuf,

    /// When to colour diagnostics and diffs
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate an environment and write its manifests to out/<ENV>/
    #[command(
        after_help = "Prints a one-line summary: +added ~changed -removed =unchanged files.\n\
Files nbgen no longer renders are removed; files it did not write are never touched.\n\
Every environment that extends a named one is validated too (not written): when it no longer\n\
validates, or environments on one cluster (cluster.name) share a namespace or a NodePort,\n\
nothing is written. Exit 0 on success, 2 on invalid input, 3 on write errors."
    )]
    Render {
        /// Environment names: environments/<ENV>.yaml
        #[arg(required_unless_present = "all")]
        envs: Vec<String>,
        /// Every environment in environments/
        #[arg(long, conflicts_with_all = ["envs", "stdout"])]
        all: bool,
        /// Print the manifests of one environment as one multi-document YAML stream on stdout
        /// instead of writing out/<ENV>/ (what `helm template` prints; for an Argo CD config
        /// management plugin or `kubectl apply -f -`). Leaves out `_argocd/`: the Application
        /// must not manage itself. Writes nothing, takes no lock.
        #[arg(long)]
        stdout: bool,
    },
    /// Validate an environment without writing anything
    #[command(
        after_help = "Prints every error and warning with file, line and column.\n\
Every environment that extends a named one is validated too, and environments on one cluster\n\
(cluster.name) must not share a namespace or a NodePort.\n\
Exit 0 when valid (warnings allowed), 2 when invalid."
    )]
    Validate {
        /// Environment names: environments/<ENV>.yaml
        #[arg(required_unless_present = "all")]
        envs: Vec<String>,
        /// Every environment in environments/
        #[arg(long, conflicts_with = "envs")]
        all: bool,
    },
    /// Show what render would change in out/<ENV>/, object by object
    #[command(
        after_help = "Objects are matched by kind, namespace and name, so a renamed or \
hand-made file is still recognised. Prints `~ namespace Kind/name` (changed), `+` (added), `-` \
(removed) with a unified diff each, the risks (data at risk, RBAC, NodePorts, images, resource \
totals), and a summary line. Every environment that extends a named one is diffed too. \
Exit 0 when identical, 1 when different, 2 when a spec is invalid."
    )]
    Diff {
        /// Environment names: environments/<ENV>.yaml (one whose spec was deleted: every
        /// object it had is removed)
        #[arg(required_unless_present = "all")]
        envs: Vec<String>,
        /// Every environment in environments/, and with --against every out/<ENV>/ at REV
        #[arg(long, conflicts_with = "envs")]
        all: bool,
        /// Compare with out/<ENV>/ as committed at this git revision (e.g. origin/main),
        /// without checking it out
        #[arg(long, value_name = "REV")]
        against: Option<String>,
        /// Print only one line per object and the summary
        #[arg(long)]
        stat: bool,
        /// Output format: text, markdown (a pull-request comment), json (for scripts)
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Fail when committed output is stale, hand-edited, missing or has stray manifests
    #[command(
        after_help = "Checks every environment when none is named. Prints each \
offending file and the command that fixes it. Other files (a README) are fine. Exit 0 when \
everything is up to date, 1 when anything is not, 2 when a spec is invalid."
    )]
    Check {
        /// Environment names (default: every environments/*.yaml)
        envs: Vec<String>,
        /// Every environment (the default when none is named)
        #[arg(long, conflicts_with = "envs")]
        all: bool,
        /// Output format: text, markdown, json
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Draw teams, servers, shared volumes (ro/rw) and GPU pools
    #[command(
        after_help = "Mermaid renders in GitHub Markdown; DOT renders with Graphviz: \
nbgen graph prod --format dot | dot -Tsvg > prod.svg"
    )]
    Graph {
        /// Environment name: environments/<ENV>.yaml
        env: String,
        /// Output format: mermaid (GitHub draws it in Markdown) or dot (Graphviz)
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Markdown,
    Json,
}

impl From<Format> for report::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => report::Format::Text,
            Format::Markdown => report::Format::Markdown,
            Format::Json => report::Format::Json,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let stdout_color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let project = Project::new(&cli.root);
    let result = match &cli.command {
        Command::Render {
            envs,
            all,
            stdout: false,
        } => render(&project, envs, *all, color),
        Command::Render {
            envs, stdout: true, ..
        } => match envs.as_slice() {
            [env] => render_stdout(&project, env, color),
            _ => {
                eprintln!("error: render --stdout prints one environment; name exactly one");
                Ok(ExitCode::from(2))
            }
        },
        Command::Validate { envs, all } => validate(&project, envs, *all, color),
        Command::Diff {
            envs,
            all,
            against,
            stat,
            format,
        } => review::diff(
            &project,
            envs,
            *all,
            against.as_deref(),
            (*format).into(),
            *stat,
            stdout_color,
        )
        .map(|o| finish(o, color)),
        Command::Check { envs, all, format } => {
            let envs: &[String] = if *all { &[] } else { envs };
            review::check(&project, envs, (*format).into(), stdout_color).map(|o| finish(o, color))
        }
        Command::Graph { env, format } => {
            let format = match format {
                GraphFormat::Mermaid => review::GraphFormat::Mermaid,
                GraphFormat::Dot => review::GraphFormat::Dot,
            };
            review::graph(&project, env, format).map(|o| finish(o, color))
        }
    };
    match result {
        Ok(code) => code,
        Err(failure) => report_failure(failure, color),
    }
}

/// Print a review command's outcome: diagnostics to stderr, results to stdout.
fn finish(o: review::Outcome, color: bool) -> ExitCode {
    for (diags, sources) in &o.diagnostics {
        print_diagnostics(diags, sources, color);
    }
    print!("{}", o.stdout);
    ExitCode::from(o.code)
}

/// Render the named environments (writing nothing unless every one of them, every
/// environment built on them, and their clusters are valid).
fn render(project: &Project, envs: &[String], all: bool, color: bool) -> Result<ExitCode, Failure> {
    let targets = project.targets(envs, all)?;
    // Locks first (sorted, so two runs never wait on each other), then the NodePorts.
    let mut named: Vec<&str> = targets
        .iter()
        .filter(|t| t.base.is_none())
        .map(|t| t.env.as_str())
        .collect();
    named.sort_unstable();
    let mut locks = Vec::new();
    for env in &named {
        locks.push((*env, project.lock(env)?));
    }
    let Some(renders) = validate_all(project, &targets, color)? else {
        return Ok(ExitCode::from(2));
    };
    for (env, lock) in locks {
        let (r, _) = renders
            .iter()
            .find(|(t, _)| t.env == env)
            .map(|(_, r)| r)
            .expect("every named environment was rendered");
        let summary = project.write_holding(env, r, lock)?;
        for link in &summary.skipped_links {
            eprintln!("warning: out/{env}/{link} is a symbolic link; left alone");
        }
        println!("{}", summary_line(env, &summary));
    }
    for (t, (r, _)) in &renders {
        if let Some(base) = &t.base {
            eprintln!(
                "note: {}: valid, and built on {base}: render it too if it changed (nbgen render {})",
                r.env.source, t.env
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

type Rendered = (nbgen::Render, Vec<SourceFile>);

/// Render every target in memory, printing warnings, and errors naming the environment that
/// has them; then compare the environments that share a cluster. `None` when anything failed
/// (its errors printed).
fn validate_all(
    project: &Project,
    targets: &[nbgen::project::Target],
    color: bool,
) -> Result<Option<Vec<(nbgen::project::Target, Rendered)>>, Failure> {
    let mut renders = Vec::new();
    let mut failed = false;
    // An error in a base is an error of every environment built on it: show each mistake once.
    let mut shown: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let key = |d: &Diagnostic| format!("{:?}|{:?}|{}", d.file, d.span, d.message);
    for t in targets {
        match project.render(&t.env) {
            Ok((r, sources)) => {
                print_diagnostics(&r.warnings, &sources, color);
                renders.push((t.clone(), (r, sources)));
            }
            Err(Failure::Invalid {
                diagnostics,
                sources,
            }) => {
                failed = true;
                let new: Vec<Diagnostic> = diagnostics
                    .iter()
                    .filter(|d| !shown.contains(&key(d)))
                    .cloned()
                    .collect();
                shown.extend(diagnostics.iter().map(key));
                if new.is_empty() {
                    eprintln!(
                        "nbgen: {} (built on {}) is invalid by the errors above; nothing was written",
                        t.env,
                        t.base.as_deref().unwrap_or("another environment")
                    );
                    continue;
                }
                let diagnostics = new;
                let what = match &t.base {
                    Some(base) => format!("{} (built on {base}) is invalid: ", t.env),
                    None if targets.len() > 1 => format!("{} is invalid: ", t.env),
                    None => String::new(),
                };
                print_invalid(
                    &diagnostics,
                    &sources,
                    color,
                    &what,
                    "; nothing was written",
                );
            }
            Err(e) => return Err(e),
        }
    }
    let envs: Vec<&nbgen::model::Env> = renders.iter().map(|(_, (r, _))| &r.env).collect();
    let conflicts = project.cluster_conflicts(&envs);
    if !conflicts.is_empty() {
        failed = true;
        print_diagnostics(&conflicts, &[], color);
        let n = conflicts.len();
        eprintln!(
            "nbgen: {n} conflict{} between environments on one cluster; nothing was written",
            plural(n)
        );
    }
    Ok((!failed).then_some(renders))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `render --stdout`: the files render would write, but `_argocd/`, as one stream. Only reads out/<env>/ (for
/// the NodePorts already handed out), so the stream and a render always agree.
fn render_stdout(project: &Project, env: &str, color: bool) -> Result<ExitCode, Failure> {
    use std::io::Write as _;
    let (r, sources) = project.render(env)?;
    print_diagnostics(&r.warnings, &sources, color);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // What a config management plugin renders: the Application's own objects stay out, or
    // the Application would manage (and could widen) itself.
    let prefix = "_argocd/";
    let tree: nbgen::emit::Tree = r
        .tree
        .into_iter()
        .filter(|(path, _)| !path.starts_with(prefix))
        .collect();
    match nbgen::emit::stream(env, &tree, &mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            Ok(ExitCode::from(3))
        }
    }
}

fn validate(
    project: &Project,
    envs: &[String],
    all: bool,
    color: bool,
) -> Result<ExitCode, Failure> {
    let targets = project.targets(envs, all)?;
    let Some(renders) = validate_all(project, &targets, color)? else {
        return Ok(ExitCode::from(2));
    };
    for (t, (r, _)) in &renders {
        let servers: usize = r.env.teams.iter().map(|t| t.servers.len()).sum();
        let extends = if r.env.bases.is_empty() {
            String::new()
        } else {
            format!(" (extends {})", r.env.bases.join(", "))
        };
        let count = |n: usize, what: &str| format!("{n} {what}{}", plural(n));
        let because = match &t.base {
            Some(base) => format!(", validated because it is built on {base}"),
            None => String::new(),
        };
        println!(
            "{}{extends}: valid ({}, {}, {}, {}, {}){because}",
            r.env.source,
            count(r.env.teams.len(), "team"),
            count(servers, "server"),
            count(r.env.jobs.len(), "job"),
            count(r.tree.len(), "object"),
            count(r.warnings.len(), "warning"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_line(env: &str, s: &Summary) -> String {
    format!(
        "out/{env}: +{} ~{} -{} ={}",
        s.added.len(),
        s.changed.len(),
        s.removed.len(),
        s.unchanged
    )
}

fn print_diagnostics(diags: &[Diagnostic], sources: &[SourceFile], color: bool) {
    let mut diags = diags.to_vec();
    diagnostic::sort(&mut diags);
    for d in &diags {
        eprint!("{}", d.render(sources, color));
        eprintln!();
    }
}

/// An invalid spec's diagnostics and the line that counts them:
/// `nbgen: <prefix>2 errors in environments/prod.yaml`.
fn print_invalid(
    diagnostics: &[Diagnostic],
    sources: &[SourceFile],
    color: bool,
    prefix: &str,
    suffix: &str,
) {
    print_diagnostics(diagnostics, sources, color);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    // An environment that extends others can have errors in several files.
    let mut files: Vec<&str> = diagnostics
        .iter()
        .filter_map(|d| d.file.as_deref())
        .collect();
    files.sort_unstable();
    files.dedup();
    let what = match files.as_slice() {
        [] => String::new(),
        [one] => format!(" in {one}"),
        [rest @ .., last] => format!(" in {} and {last}", rest.join(", ")),
    };
    eprintln!(
        "nbgen: {prefix}{errors} error{}{}{what}{suffix}",
        plural(errors),
        if warnings > 0 {
            format!(" and {warnings} warning{}", plural(warnings))
        } else {
            String::new()
        },
    );
}

fn report_failure(failure: Failure, color: bool) -> ExitCode {
    match failure {
        Failure::Invalid {
            diagnostics,
            sources,
        } => {
            print_invalid(&diagnostics, &sources, color, "", "; nothing was written");
            ExitCode::from(2)
        }
        Failure::Output(e) => {
            let invalid = matches!(
                e,
                nbgen::output::OutputError::Symlink(_)
                    | nbgen::output::OutputError::NotADirectory(_)
                    | nbgen::output::OutputError::NotOwned(_)
            );
            eprintln!("error: {e}");
            ExitCode::from(if invalid { 2 } else { 3 })
        }
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
