//! How Jupyter starts in a notebook server's container (docs/images.md): the start convention
//! an image reference implies, the command line nbgen renders for each convention, the values
//! a custom command's templates may use, and the arguments no command may carry. Pure.
//!
//! nbgen owns the whole command line in every convention: the base URL, bind address, port and
//! root directory are nbgen's, and auth is never on it — the token reaches Jupyter through the
//! `JUPYTER_TOKEN` environment variable (which jupyter_server reads by default), so it never
//! shows in the node's process list and nothing on the command line can turn it off.

use crate::model::{Family, Start};
use handlebars::Handlebars;
use serde_json::{Value, json};

/// The notebook user's home in Jupyter's docker-stacks images, and every pod's working directory.
pub const HOME: &str = "/home/jovyan";
/// The port Jupyter listens on inside the container, and the Service's port.
pub const NOTEBOOK_PORT: i32 = 8888;

/// The values a custom command's templates may use.
pub const VALUES: [&str; 3] = ["baseUrl", "port", "home"];

/// The start convention a plain image reference implies, if nbgen knows its family: Jupyter's
/// docker-stacks (`quay.io/jupyter/*`, `jupyter/*` on Docker Hub) or Kubeflow's notebook images
/// (`kubeflownotebookswg/*` on Docker Hub).
pub fn family_of(reference: &str) -> Option<Family> {
    let r = ["docker.io/", "index.docker.io/"]
        .iter()
        .find_map(|p| reference.strip_prefix(p))
        .unwrap_or(reference);
    let under = |prefix: &str| r.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty());
    if under("jupyter/") || (reference == r && under("quay.io/jupyter/")) {
        Some(Family::DockerStacks)
    } else if under("kubeflownotebookswg/") {
        Some(Family::Kubeflow)
    } else {
        None
    }
}

/// `docker-stacks`, `kubeflow`: as the spec writes it.
pub fn family_name(f: Family) -> &'static str {
    match f {
        Family::DockerStacks => "docker-stacks",
        Family::Kubeflow => "kubeflow",
    }
}

/// A container's `command` and `args`; `None` keeps the image's ENTRYPOINT or CMD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
}

/// The flags every convention passes to Jupyter: serve under `base_url` (ending in `/`), on
/// every address, on nbgen's port, with the home volume as the root of the file browser.
fn server_flags(base_url: &str) -> Vec<String> {
    vec![
        format!("--ServerApp.base_url={base_url}"),
        "--ServerApp.ip=0.0.0.0".to_owned(),
        format!("--ServerApp.port={NOTEBOOK_PORT}"),
        format!("--ServerApp.root_dir={HOME}"),
    ]
}

/// The command line of a notebook server whose URL prefix is `base_url` (ending in `/`).
pub fn server_command(start: &Start, base_url: &str) -> CommandLine {
    match start {
        // The image's ENTRYPOINT (tini -g -- start.sh) stays, so start.sh and its hooks run;
        // start-notebook.py execs `jupyter $DOCKER_STACKS_JUPYTER_CMD $NOTEBOOK_ARGS <these>`.
        Start::Family(Family::DockerStacks) => CommandLine {
            command: None,
            args: Some(
                std::iter::once("start-notebook.py".to_owned())
                    .chain(server_flags(base_url))
                    .collect(),
            ),
        },
        // s6-overlay's /init needs a writable /run and root, and its jupyterlab service passes
        // `--ServerApp.token=""`: Jupyter is started directly instead.
        Start::Family(Family::Kubeflow) => CommandLine {
            command: Some(
                ["jupyter", "lab"]
                    .into_iter()
                    .map(str::to_owned)
                    .chain(server_flags(base_url))
                    .chain(std::iter::once("--no-browser".to_owned()))
                    .collect(),
            ),
            args: None,
        },
        Start::Custom { command, args } => {
            let values = values(base_url);
            let render = |items: &[String]| -> Vec<String> {
                items
                    .iter()
                    .map(|t| render(t, &values).expect("validated start templates render"))
                    .collect()
            };
            CommandLine {
                command: Some(render(command)),
                args: Some(render(args)).filter(|a| !a.is_empty()),
            }
        }
    }
}

/// The flag that turns Jupyter's own token off. Only nbgen writes it, and only on a target whose
/// gateway authenticates every request before it reaches the server (Kubeflow's: docs/kubeflow.md);
/// a spec's command may never carry it (`forbidden`).
pub const NO_TOKEN: &str = "--IdentityProvider.token=";

/// The command line of a notebook server behind a gateway that authenticates (Kubeflow's): the
/// convention's own, with Jupyter's token turned off, as Kubeflow's images run it. `None` for a
/// custom command, which cannot say so (the kubeflow target's validation refuses it).
pub fn gateway_command(start: &Start, base_url: &str) -> Option<CommandLine> {
    let mut line = server_command(start, base_url);
    let flags = match start {
        Start::Family(Family::DockerStacks) => line.args.as_mut(),
        Start::Family(Family::Kubeflow) => line.command.as_mut(),
        Start::Custom { .. } => return None,
    };
    flags?.push(NO_TOKEN.to_owned());
    Some(line)
}

/// The context of a custom command's templates.
pub fn values(base_url: &str) -> Value {
    json!({"baseUrl": base_url, "port": NOTEBOOK_PORT, "home": HOME})
}

thread_local! {
    static REGISTRY: Handlebars<'static> = crate::template::strict_registry();
}

/// One template rendered with `values`, in strict mode.
pub fn render(template: &str, values: &Value) -> Result<String, handlebars::RenderError> {
    REGISTRY.with(|hb| hb.render_template(template, values))
}

/// Why an argument may not be on a notebook's command line, if it may not: it sets a token or a
/// password, changes how users are identified, turns auth or XSRF protection off, or expands
/// the token into the command line (`$(JUPYTER_TOKEN)`). Matched anywhere in the argument, case
/// aside, so `bash -c "jupyter lab --ServerApp.token=''"` is caught too.
pub fn forbidden(arg: &str) -> Option<&'static str> {
    const PATTERNS: [(&str, &str); 7] = [
        ("token", "sets or reads a token"),
        ("password", "sets a password"),
        ("identityprovider", "changes how users are identified"),
        ("no-auth", "turns authentication off"),
        ("no_auth", "turns authentication off"),
        ("allow_unauthenticated_access", "turns authentication off"),
        ("disable_check_xsrf", "turns XSRF protection off"),
    ];
    let lower = arg.to_ascii_lowercase();
    PATTERNS
        .iter()
        .find(|(p, _)| lower.contains(p))
        .map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_inferred_from_known_registries_only() {
        use Family::*;
        for (r, f) in [
            (
                "quay.io/jupyter/scipy-notebook:2025-03-17",
                Some(DockerStacks),
            ),
            ("jupyter/base-notebook:2023-10-20", Some(DockerStacks)),
            (
                "docker.io/jupyter/base-notebook:2023-10-20",
                Some(DockerStacks),
            ),
            ("kubeflownotebookswg/jupyter-scipy:v1.9.2", Some(Kubeflow)),
            (
                "docker.io/kubeflownotebookswg/jupyter-scipy:v1.9.2",
                Some(Kubeflow),
            ),
            ("docker.io/quay.io/jupyter/x:1", None),
            ("registry.example.com/jupyter/x:1", None),
            ("quay.io/jupyterhub/k8s-hub:4", None),
            ("jupyter/", None),
            ("registry.example.com/ml/train:2.3.0", None),
        ] {
            assert_eq!(family_of(r), f, "{r}");
        }
    }

    #[test]
    fn every_convention_sets_base_url_address_port_and_root() {
        let base = "/notebook/t/s/";
        let ds = server_command(&Start::Family(Family::DockerStacks), base);
        assert_eq!(ds.command, None);
        assert_eq!(
            ds.args.unwrap(),
            [
                "start-notebook.py",
                "--ServerApp.base_url=/notebook/t/s/",
                "--ServerApp.ip=0.0.0.0",
                "--ServerApp.port=8888",
                "--ServerApp.root_dir=/home/jovyan"
            ]
        );
        let kf = server_command(&Start::Family(Family::Kubeflow), base);
        assert_eq!(kf.args, None);
        assert_eq!(
            kf.command.unwrap()[..3],
            ["jupyter", "lab", "--ServerApp.base_url=/notebook/t/s/"]
        );
        let custom = Start::Custom {
            command: vec!["jupyter".into(), "lab".into()],
            args: vec![
                "--ServerApp.base_url={{baseUrl}}".into(),
                "--port={{port}}".into(),
                "{{home}}".into(),
            ],
        };
        let c = server_command(&custom, base);
        assert_eq!(c.command.unwrap(), ["jupyter", "lab"]);
        assert_eq!(
            c.args.unwrap(),
            [
                "--ServerApp.base_url=/notebook/t/s/",
                "--port=8888",
                "/home/jovyan"
            ]
        );
    }

    #[test]
    fn behind_a_gateway_the_token_is_off_and_only_there() {
        let base = "/notebook/t/s/";
        for family in [Family::DockerStacks, Family::Kubeflow] {
            let start = Start::Family(family);
            let plain = server_command(&start, base);
            let gw = gateway_command(&start, base).unwrap();
            let all = |l: &CommandLine| {
                [l.command.clone(), l.args.clone()]
                    .into_iter()
                    .flatten()
                    .flatten()
                    .collect::<Vec<_>>()
            };
            assert!(!all(&plain).iter().any(|a| a == NO_TOKEN));
            let mut expected = all(&plain);
            expected.push(NO_TOKEN.to_owned());
            assert_eq!(all(&gw), expected);
        }
        let custom = Start::Custom {
            command: vec!["jupyter".into()],
            args: vec![],
        };
        assert_eq!(gateway_command(&custom, base), None);
        assert!(forbidden(NO_TOKEN).is_some());
    }

    #[test]
    fn templates_are_strict() {
        let v = values("/x/");
        assert!(render("{{baseUrl}}", &v).is_ok());
        assert!(render("{{basUrl}}", &v).is_err());
        assert!(render("{{#if nope}}a{{/if}}", &v).is_err());
        assert!(render("{{baseUrl", &v).is_err());
    }

    #[test]
    fn auth_flags_are_forbidden_wherever_they_hide() {
        for arg in [
            "--ServerApp.token=''",
            "--NotebookApp.token=",
            "--IdentityProvider.token=abc",
            "--ServerApp.password=x",
            "--PasswordIdentityProvider.hashed_password=x",
            "--no-auth",
            "--ServerApp.disable_check_xsrf=True",
            "--ServerApp.allow_unauthenticated_access=True",
            "jupyter lab --ServerApp.TOKEN=''",
            "--x=$(JUPYTER_TOKEN)",
        ] {
            assert!(forbidden(arg).is_some(), "{arg}");
        }
        for arg in ["--ServerApp.base_url=/x/", "--no-browser", "lab"] {
            assert_eq!(forbidden(arg), None, "{arg}");
        }
    }
}
