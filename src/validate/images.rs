//! The `images:` block → `model::Image`s (docs/images.md): each image's start convention,
//! inferred from a known family's reference or written out, and a custom command's templates.
//! Pure: no I/O. Never admits a command that does not serve under the server's URL prefix on
//! nbgen's port, or one that touches auth.

use super::{Cx, ptr};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::start::{self, VALUES};
use crate::model::{Image, Start};
use crate::spec::{RawImage, RawSpec};
use handlebars::RenderErrorReason;
use std::collections::BTreeMap;

/// Stand-ins for the template values while checking: unique, so a rendered argument shows
/// which values it used.
const BASE_URL_MARK: &str = "\u{1}baseUrl\u{1}";
const PORT_MARK: &str = "\u{1}port\u{1}";

impl Cx<'_> {
    /// Every image whose start convention is known and whose command (if any) is sound; the
    /// errors of all the others. Also warns about references without a fixed version.
    pub(super) fn images(&mut self, raw: &RawSpec) -> BTreeMap<String, Image> {
        let mut out = BTreeMap::new();
        for (name, entry) in &raw.images {
            let at = ptr(&["images", name]);
            let reference = entry.reference();
            let ref_at = match entry {
                RawImage::Reference(_) => at.clone(),
                RawImage::Spec(_) => format!("{at}/image"),
            };
            self.warn_unpinned(&ref_at, name, reference);
            let start = match entry {
                RawImage::Reference(_) => self.inferred(&ref_at, name, reference),
                RawImage::Spec(s) => match (s.start, &s.command) {
                    (Some(_), Some(_)) => {
                        self.error_at_key(
                            &format!("{at}/command"),
                            format!("image `{name}` has both `start` and `command`"),
                            "`start` picks nbgen's command line for a known kind of image; `command` replaces it with yours: keep one of them",
                        );
                        None
                    }
                    (_, None) if s.args.is_some() => {
                        self.error_at_key(
                            &format!("{at}/args"),
                            format!("image `{name}` has `args` but no `command`"),
                            "nbgen renders the whole command line of a known kind of image; to pass arguments of your own, write the `command` too (docs/images.md)",
                        );
                        None
                    }
                    (Some(family), None) => Some(Start::Family(family)),
                    (None, None) => self.inferred(&ref_at, name, reference),
                    (None, Some(command)) => {
                        self.custom(&at, name, command, s.args.as_deref().unwrap_or_default())
                    }
                },
            };
            if let Some(start) = start {
                out.insert(
                    name.clone(),
                    Image {
                        reference: reference.to_owned(),
                        start,
                    },
                );
            }
        }
        out
    }

    fn warn_unpinned(&mut self, at: &str, name: &str, image: &str) {
        let last = image.rsplit('/').next().unwrap_or(image);
        let digest = image.contains("@sha256:");
        let tag = last.split_once(':').map(|(_, t)| t);
        if !digest && matches!(tag, None | Some("latest")) {
            let loc = self.pos.value_at(at);
            self.diags.push(
                Diagnostic::warning(format!("image `{name}` ({image}) has no fixed version"))
                    .at_loc(loc)
                    .help("pin a tag such as :1.4.2 or a digest (@sha256:...) so every render deploys the same image"),
            );
        }
    }

    /// The convention of a known family's reference; an error for any other.
    fn inferred(&mut self, at: &str, name: &str, reference: &str) -> Option<Start> {
        if let Some(family) = start::family_of(reference) {
            return Some(Start::Family(family));
        }
        self.error(
            at,
            format!("nbgen does not know how Jupyter starts in image `{name}` ({reference})"),
            format!(
                "nbgen knows Jupyter's docker-stacks (quay.io/jupyter/*, jupyter/*) and Kubeflow's images (kubeflownotebookswg/*); for an image built FROM one of them write `{name}: {{image: ..., start: docker-stacks}}` (or `start: kubeflow`); for any other give its command, e.g. `command: [jupyter, lab, \"--ServerApp.base_url={{{{baseUrl}}}}\", \"--ServerApp.port={{{{port}}}}\", --ServerApp.ip=0.0.0.0]` (docs/images.md)"
            ),
        );
        None
    }

    /// A custom command and args: every item a template over `VALUES` that parses and renders,
    /// none touching auth, `baseUrl` and `port` used somewhere.
    fn custom(
        &mut self,
        at: &str,
        name: &str,
        command: &[String],
        args: &[String],
    ) -> Option<Start> {
        let marks = serde_json::json!({"baseUrl": BASE_URL_MARK, "port": PORT_MARK, "home": crate::model::start::HOME});
        let mut ok = true;
        let mut rendered = Vec::new();
        for (list, items) in [("command", command), ("args", args)] {
            for (i, template) in items.iter().enumerate() {
                let item_at = format!("{at}/{list}/{i}");
                if let Err(e) = handlebars::Template::compile(template) {
                    ok = false;
                    self.error(
                        &item_at,
                        format!(
                            "image `{name}`: {list} item {} is not a valid template: {}",
                            i + 1,
                            e.reason()
                        ),
                        "write a value as {{baseUrl}}, {{port}} or {{home}}, and a literal `{{` as `\\{{` (docs/images.md)",
                    );
                    continue;
                }
                match start::render(template, &marks) {
                    Ok(text) => {
                        if let Some(why) = start::forbidden(&text) {
                            ok = false;
                            self.error(
                                &item_at,
                                format!("image `{name}`: {list} item `{template}` {why} on the command line"),
                                "remove it: nbgen gives Jupyter its token in the JUPYTER_TOKEN environment variable (from the Secret <server>-token), which Jupyter reads by default; anything about auth on the command line would win over it or show in the node's process list",
                            );
                        }
                        rendered.push(text);
                    }
                    Err(e) => {
                        ok = false;
                        let (message, help) = match e.reason() {
                            RenderErrorReason::MissingVariable(Some(var)) => (
                                format!("image `{name}`: {list} uses `{var}`, which nbgen does not provide"),
                                match did_you_mean(var, VALUES.iter().copied()) {
                                    Some(c) => format!("did you mean `{c}`?"),
                                    None => "a start command can use baseUrl (the server's URL prefix, ending in /), port (8888) and home (/home/jovyan)".to_owned(),
                                },
                            ),
                            reason => (
                                format!("image `{name}`: {list} item {} does not render: {reason}", i + 1),
                                "a start command can use baseUrl, port and home, and Handlebars' built-in helpers (docs/images.md)".to_owned(),
                            ),
                        };
                        self.error(&item_at, message, help);
                    }
                }
            }
        }
        if !ok {
            return None;
        }
        let uses = |mark: &str| rendered.iter().any(|a| a.contains(mark));
        for (mark, value, flag) in [
            (BASE_URL_MARK, "baseUrl", "--ServerApp.base_url={{baseUrl}}"),
            (PORT_MARK, "port", "--ServerApp.port={{port}}"),
        ] {
            if !uses(mark) {
                ok = false;
                self.error_at_key(
                    &format!("{at}/command"),
                    format!("image `{name}`: the command never uses {{{{{value}}}}}"),
                    format!(
                        "Jupyter must serve under the server's URL prefix on nbgen's port, or the probes and users' bookmarks find nothing: add \"{flag}\" to command or args"
                    ),
                );
            }
        }
        ok.then(|| Start::Custom {
            command: command.to_vec(),
            args: args.to_vec(),
        })
    }
}
