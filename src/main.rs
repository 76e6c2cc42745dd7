//! The `nbgen` command line: parses arguments, runs a command, maps outcomes to exit codes.
//! Diagnostics go to stderr, results to stdout; colour only on a terminal.

use clap::{Parser, Subcommand, ValueEnum};
use nbgen::diagnostic::{self, Diagnostic};
use nbgen::output::Summary;
use nbgen::project::{Failure, Project};
use nbgen::source::SourceFile;
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  nbgen render prod              validate environments/prod.yaml and write out/prod/
  nbgen render prod --stdout     print the same manifests as one YAML stream; write nothing
  nbgen validate prod            only check the spec; write nothing
  nbgen --root ../platform render dev

Exit codes:
  0  success
  2  invalid input: the spec, the environment name, or the layout of out/
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

    /// When to colour diagnostics
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
A spec with errors writes nothing. Exit 0 on success, 2 on invalid input, 3 on write errors.\n\
With --stdout, prints every object as one multi-document YAML stream (each document preceded by\n\
`# Source: out/<ENV>/<file>`), as `helm template` does, for an Argo CD config management plugin\n\
or a pipe to kubectl; nothing is written and out/<ENV>/ is only read (for its NodePorts)."
    )]
    Render {
        /// Environment name: environments/<ENV>.yaml
        env: String,
        /// Print the manifests to stdout as one YAML stream instead of writing out/<ENV>/
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let project = Project::new(&cli.root);
    let result = match &cli.command {
        Command::Render { env, stdout } => render(&project, env, *stdout, color),
        Command::Validate { env } => validate(&project, env, color),
    };
    match result {
        Ok(code) => code,
        Err(failure) => report_failure(failure, color),
    }
}

fn render(project: &Project, env: &str, stdout: bool, color: bool) -> Result<ExitCode, Failure> {
    let (r, sources) = project.render(env)?;
    print_diagnostics(&r.warnings, &sources, color);
    if stdout {
        let code = print_stream(env, &r.tree);
        // The process ends next; the OS reclaims the tree faster than 20,000 frees would.
        std::mem::forget(r);
        return Ok(code);
    }
    let summary = project.write(env, &r)?;
    for link in &summary.skipped_links {
        eprintln!("warning: out/{env}/{link} is a symbolic link; left alone");
    }
    println!("{}", summary_line(env, &summary));
    std::mem::forget(r); // as above
    Ok(ExitCode::SUCCESS)
}

/// The manifests as one YAML stream. A reader that stops early (`| head`) is not an error.
fn print_stream(env: &str, tree: &nbgen::emit::Tree) -> ExitCode {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match nbgen::emit::write_stream(env, tree, &mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            ExitCode::from(3)
        }
    }
}

fn validate(project: &Project, env: &str, color: bool) -> Result<ExitCode, Failure> {
    let (r, sources) = project.render(env)?;
    print_diagnostics(&r.warnings, &sources, color);
    let servers: usize = r.env.teams.iter().map(|t| t.servers.len()).sum();
    println!(
        "{}: valid ({} teams, {} servers, {} objects, {} warnings)",
        r.env.source,
        r.env.teams.len(),
        servers,
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
            let file = diagnostics.iter().find_map(|d| d.file.clone());
            let what = file.map_or_else(String::new, |f| format!(" in {f}"));
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
