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
A spec with errors writes nothing. Exit 0 on success, 2 on invalid input, 3 on write errors."
    )]
    Render {
        /// Environment name: environments/<ENV>.yaml
        env: String,
        /// Print the manifests as one multi-document YAML stream on stdout instead of writing
        /// out/<ENV>/ (what `helm template` prints; for an Argo CD config management plugin or
        /// `kubectl apply -f -`). Writes nothing, takes no lock.
        #[arg(long)]
        stdout: bool,
    },
    /// Validate an environment without writing anything
    #[command(
        after_help = "Prints every error and warning with file, line and column.\n\
Exit 0 when valid (warnings allowed), 2 when invalid."
    )]
    Validate {
        /// Environment name: environments/<ENV>.yaml
        env: String,
    },
    /// Show what render would change in out/<ENV>/, object by object
    #[command(
        after_help = "Objects are matched by kind, namespace and name, so a renamed or \
hand-made file is still recognised. Prints `~ namespace Kind/name` (changed), `+` (added), `-` \
(removed) with a unified diff each, the risks (data at risk, RBAC, NodePorts, images, resource \
totals), and a summary line. Exit 0 when identical, 1 when different, 2 when the spec is invalid."
    )]
    Diff {
        /// Environment name: environments/<ENV>.yaml
        env: String,
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
        Command::Render { env, stdout: false } => render(&project, env, color),
        Command::Render { env, stdout: true } => render_stdout(&project, env, color),
        Command::Validate { env } => validate(&project, env, color),
        Command::Diff {
            env,
            against,
            stat,
            format,
        } => review::diff(
            &project,
            env,
            against.as_deref(),
            (*format).into(),
            *stat,
            stdout_color,
        )
        .map(|o| finish(o, color)),
        Command::Check { envs, format } => {
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

fn render(project: &Project, env: &str, color: bool) -> Result<ExitCode, Failure> {
    let lock = project.lock(env)?;
    let (r, sources) = project.render(env)?;
    print_diagnostics(&r.warnings, &sources, color);
    let summary = project.write_holding(env, &r, lock)?;
    for link in &summary.skipped_links {
        eprintln!("warning: out/{env}/{link} is a symbolic link; left alone");
    }
    println!("{}", summary_line(env, &summary));
    Ok(ExitCode::SUCCESS)
}

/// `render --stdout`: the files render would write, as one stream. Only reads out/<env>/ (for
/// the NodePorts already handed out), so the stream and a render always agree.
fn render_stdout(project: &Project, env: &str, color: bool) -> Result<ExitCode, Failure> {
    use std::io::Write as _;
    let (r, sources) = project.render(env)?;
    print_diagnostics(&r.warnings, &sources, color);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match nbgen::emit::stream(env, &r.tree, &mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            Ok(ExitCode::from(3))
        }
    }
}

fn validate(project: &Project, env: &str, color: bool) -> Result<ExitCode, Failure> {
    let (r, sources) = project.render(env)?;
    print_diagnostics(&r.warnings, &sources, color);
    let servers: usize = r.env.teams.iter().map(|t| t.servers.len()).sum();
    let extends = if r.env.bases.is_empty() {
        String::new()
    } else {
        format!(" (extends {})", r.env.bases.join(", "))
    };
    println!(
        "{}{extends}: valid ({} teams, {} servers, {} jobs, {} objects, {} warnings)",
        r.env.source,
        r.env.teams.len(),
        servers,
        r.env.jobs.len(),
        r.tree.len(),
        r.warnings.len()
    );
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

fn report_failure(failure: Failure, color: bool) -> ExitCode {
    match failure {
        Failure::Invalid {
            diagnostics,
            sources,
        } => {
            print_diagnostics(&diagnostics, &sources, color);
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
                "nbgen: {errors} error{}{}{what}; nothing was written",
                if errors == 1 { "" } else { "s" },
                if warnings > 0 {
                    format!(
                        " and {warnings} warning{}",
                        if warnings == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                },
            );
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
