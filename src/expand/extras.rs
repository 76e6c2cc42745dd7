//! User templates (`extras`, docs/templates.md): Handlebars in strict mode, rendered once for the
//! environment, per team or per server, with a documented context; each result is parsed as one
//! or more Kubernetes objects that are checked, labelled and placed like nbgen's own. Pure: the
//! template texts are read by `project`. Never admits an object outside the environment's
//! namespaces, a Secret, an Argo CD object, or two objects with one identity.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::input::yaml::Positions;
use crate::model::names::{self, MANAGED_BY, PART_OF, ROLE, SERVER, TEAM};
use crate::model::{Each, Env, Extra, Server, Team};
use crate::object::{Dynamic, Object, ObjectId, is_cluster_scoped};
use crate::source::Span;
use crate::template;
use handlebars::{Handlebars, RenderErrorReason};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The template files the spec names, by path as written: their text, or why it could not be
/// read.
pub type Templates = BTreeMap<String, Result<String, String>>;

/// Namespaced kinds a template may render only when its `allowKinds` names them: they grant
/// power (RBAC) or run pods outside nbgen's pod model (any image, any claim, any
/// ServiceAccount). Every cluster-scoped kind (`object::CLUSTER_SCOPED`) needs the same explicit
/// allowance.
pub const POWER_KINDS: [&str; 9] = [
    "CronJob",
    "DaemonSet",
    "Deployment",
    "Job",
    "Pod",
    "ReplicaSet",
    "Role",
    "RoleBinding",
    "StatefulSet",
];

/// Every object the environment's templates render, sorted by identity; or every error.
/// `taken(file)` says whether nbgen renders an object into that file itself, which no template
/// may render again.
pub fn render(
    env: &Env,
    templates: &Templates,
    pos: &Positions,
    taken: impl Fn(&str) -> bool,
) -> Result<Vec<Object>, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let registry = registry(env, templates, pos, &mut diags);
    let mut found: Vec<(Object, String)> = Vec::new();
    // One report per mistake: a typo or a refused kind fails the same way for every team or
    // server, so an error is keyed by its position and its message without the instance, and
    // names the first instance and how many more it holds for.
    let mut reported: BTreeMap<(Option<Span>, String), (usize, String, usize)> = BTreeMap::new();
    let mut report = |diags: &mut Vec<Diagnostic>, d: Diagnostic, what: &str| {
        let key = (d.span, d.message.replace(what, "\u{0}"));
        match reported.get_mut(&key) {
            Some((_, _, more)) => *more += 1,
            None => {
                reported.insert(key, (diags.len(), what.to_owned(), 0));
                diags.push(d);
            }
        }
    };
    for extra in &env.extras {
        if !registry.has_template(&extra.template) {
            continue;
        }
        for instance in instances(env, extra.each) {
            let origin = format!("{} ({})", extra.template, instance.what);
            let text = match registry.render(&extra.template, &instance.context) {
                Ok(text) => text,
                Err(e) => {
                    let d = render_error(extra, &e, &instance.context);
                    report(&mut diags, d, &instance.what);
                    continue;
                }
            };
            let source = templates
                .get(&extra.template)
                .and_then(|t| t.as_ref().ok())
                .map_or("", String::as_str);
            match objects(env, extra, &instance, &origin, &text, source) {
                Ok(objects) => found.extend(objects.into_iter().map(|o| (o, origin.clone()))),
                Err(errors) => {
                    for d in errors {
                        report(&mut diags, d, &instance.what);
                    }
                }
            }
        }
    }
    for (i, what, more) in reported.into_values() {
        if more > 0 && !what.is_empty() {
            let d = &mut diags[i];
            d.message = d
                .message
                .replacen(&what, &format!("{what} and {more} more"), 1);
        }
    }
    diags.extend(collisions(&found, taken));
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut objects: Vec<Object> = found.into_iter().map(|(o, _)| o).collect();
    objects.sort_by_cached_key(Object::id);
    Ok(objects)
}

/// A registry with every readable template, in strict mode, without HTML escaping, with the
/// `json` helper.
fn registry(
    env: &Env,
    templates: &Templates,
    pos: &Positions,
    diags: &mut Vec<Diagnostic>,
) -> Handlebars<'static> {
    let mut hb = template::strict_registry();
    let mut seen = BTreeSet::new();
    for extra in &env.extras {
        if !seen.insert(&extra.template) {
            continue;
        }
        let at = pos.value_at(&extra.at);
        match templates.get(&extra.template) {
            None => diags.push(
                Diagnostic::error(format!("template `{}` was not read", extra.template))
                    .at_loc(at)
                    .help("render through nbgen::project::Project, which reads the templates the spec names"),
            ),
            Some(Err(why)) => diags.push(
                Diagnostic::error(format!("cannot read template {}: {why}", extra.template))
                    .at_loc(at)
                    .help("templates live inside the repository; write the path relative to its root, e.g. templates/ingress.yaml.hbs"),
            ),
            Some(Ok(text)) => {
                if let Err(e) = hb.register_template_string(&extra.template, text) {
                    let span = e
                        .pos()
                        .map_or(Span::START, |(line, col)| Span::new(line, col.max(1), 1));
                    diags.push(
                        Diagnostic::error(format!("template syntax: {}", e.reason()))
                            .at(&extra.template, span)
                            .help("see https://handlebarsjs.com/guide/ and docs/templates.md for the context nbgen provides"),
                    );
                }
            }
        }
    }
    hb
}

fn render_error(extra: &Extra, e: &handlebars::RenderError, context: &Value) -> Diagnostic {
    let span = match (e.line_no, e.column_no) {
        (Some(line), Some(col)) => Span::new(line, col.max(1), 1),
        _ => Span::START,
    };
    let each = each_name(extra.each);
    let (message, help) = match e.reason() {
        RenderErrorReason::MissingVariable(Some(var)) => {
            let known = paths(context);
            let help = match did_you_mean(var, known.iter().map(String::as_str)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "with each: {each} a template can use {}; see docs/templates.md",
                    top_level(context)
                ),
            };
            (
                format!("`{var}` is not defined for a template rendered with each: {each}"),
                help,
            )
        }
        reason => (
            format!("template error: {reason}"),
            "see docs/templates.md for the helpers and context nbgen provides".to_owned(),
        ),
    };
    Diagnostic::error(message)
        .at(&extra.template, span)
        .help(help)
}

fn each_name(each: Each) -> &'static str {
    match each {
        Each::Env => "env",
        Each::Team => "team",
        Each::Server => "server",
    }
}

/// Every dotted path in a context, for "did you mean".
fn paths(v: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(child, &p, out);
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

fn top_level(context: &Value) -> String {
    context
        .as_object()
        .map(|m| {
            m.keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// One rendering of a template: what it is for, and its context.
struct Instance<'e> {
    /// `for team ds`, `for server ds/prep-alice`, `for the environment`.
    what: String,
    team: Option<&'e Team>,
    server: Option<&'e Server>,
    context: Value,
}

/// Every rendering of a template rendered with `each`, in the environment's order.
fn instances(env: &Env, each: Each) -> Vec<Instance<'_>> {
    let environment = json!({
        "name": env.name,
        "kubernetesVersion": env.kubernetes_version,
        "namespaces": env.teams.iter().map(|t| t.namespace.as_str()).collect::<Vec<_>>(),
    });
    match each {
        Each::Env => vec![Instance {
            what: "for the environment".to_owned(),
            team: None,
            server: None,
            context: json!({
                "environment": environment,
                "teams": env.teams.iter().map(|t| team_context(env, t)).collect::<Vec<_>>(),
            }),
        }],
        Each::Team => env
            .teams
            .iter()
            .map(|t| Instance {
                what: format!("for team {}", t.name),
                team: Some(t),
                server: None,
                context: json!({"environment": environment, "team": team_context(env, t)}),
            })
            .collect(),
        Each::Server => env
            .teams
            .iter()
            .flat_map(|t| t.servers.iter().map(move |s| (t, s)))
            .map(|(t, s)| Instance {
                what: format!("for server {}/{}", t.name, s.name),
                team: Some(t),
                server: Some(s),
                context: json!({
                    "environment": environment,
                    "team": team_context(env, t),
                    "server": server_context(t, s),
                }),
            })
            .collect(),
    }
}

fn team_context(env: &Env, t: &Team) -> Value {
    json!({
        "name": t.name,
        "namespace": t.namespace,
        "members": t.members,
        "groups": t.groups,
        "servers": t.servers.iter().map(|s| server_context(t, s)).collect::<Vec<_>>(),
        "jobs": env.jobs.iter().filter(|j| j.team == t.name).map(|j| j.name.as_str()).collect::<Vec<_>>(),
    })
}

fn server_context(t: &Team, s: &Server) -> Value {
    json!({
        "name": s.name,
        "role": s.role,
        "member": s.member,
        "image": s.image.reference,
        "namespace": t.namespace,
        "nodePort": s.node_port,
        "urlPrefix": names::url_prefix(&t.namespace, &s.name),
        "cpu": s.cpu.text,
        "memory": s.memory.text,
        "gpu": s.gpu.as_ref().map(|g| json!({"pool": g.pool, "resource": g.resource, "count": g.count})),
    })
}

/// The objects in one rendering of a template, checked and labelled.
fn objects(
    env: &Env,
    extra: &Extra,
    instance: &Instance<'_>,
    origin: &str,
    text: &str,
    source: &str,
) -> Result<Vec<Object>, Vec<Diagnostic>> {
    let fail = |message: String, help: &str| {
        Diagnostic::error(message)
            .in_file(&extra.template)
            .help(help)
    };
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line() as usize);
        let shown = text.lines().nth(line.saturating_sub(1)).unwrap_or_default();
        vec![fail(
            format!(
                "{origin}: the output is not valid YAML: {}",
                first_line(&e.without_snippet().to_string())
            ),
            &format!("line {line} of the output reads `{}`; quote values with {{{{json ...}}}} and check the indentation", shown.trim()),
        )]
    })?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let kind = doc.get("kind").and_then(Value::as_str).map(str::to_owned);
        match object(env, extra, instance.team, instance.server, doc) {
            Ok(o) => out.push(o),
            Err((message, help)) => {
                let d = fail(format!("{origin}, object {}: {message}", i + 1), &help);
                errors.push(match kind.and_then(|k| kind_line(source, &k)) {
                    Some(span) => d.at(&extra.template, span),
                    None => d,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Where the template writes `kind: <kind>`: the line an error about the object points at.
fn kind_line(source: &str, kind: &str) -> Option<Span> {
    source.lines().enumerate().find_map(|(i, line)| {
        let rest = line.trim_start().strip_prefix("kind:")?;
        let value = rest.split('#').next()?.trim().trim_matches(['"', '\'']);
        (value == kind).then(|| {
            let col = line.find(kind).map_or(1, |b| line[..b].chars().count() + 1);
            Span::new(i + 1, col, kind.chars().count())
        })
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Check one document and make it an object: (message, help) on failure.
fn object(
    env: &Env,
    extra: &Extra,
    team: Option<&Team>,
    server: Option<&Server>,
    mut doc: Value,
) -> Result<Object, (String, String)> {
    let err = |m: String, h: &str| Err((m, h.to_owned()));
    let Some(map) = doc.as_object_mut() else {
        return err(
            "is not a map".to_owned(),
            "each YAML document a template renders must be one Kubernetes object",
        );
    };
    let api_version = match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if valid_api_version(v) => v.to_owned(),
        Some(v) => {
            return err(
                format!("apiVersion `{v}` is not GROUP/VERSION or VERSION"),
                "e.g. `v1`, `networking.k8s.io/v1`",
            );
        }
        None => return err("has no apiVersion".to_owned(), "add e.g. `apiVersion: v1`"),
    };
    let kind = match map.get("kind").and_then(Value::as_str) {
        Some(k) if valid_kind(k) => k.to_owned(),
        Some(k) => {
            return err(
                format!("kind `{k}` is not a Kubernetes kind"),
                "a kind is a CamelCase word, e.g. `NetworkPolicy`",
            );
        }
        None => return err("has no kind".to_owned(), "add e.g. `kind: NetworkPolicy`"),
    };
    let group = api_version
        .rsplit_once('/')
        .map_or("", |(g, _)| g)
        .to_owned();
    if kind == "Secret" {
        return err(
            "is a Secret".to_owned(),
            "secret values never go into git: let your secret manager create it (an ExternalSecret or SealedSecret template is fine)",
        );
    }
    if kind.ends_with("List") {
        return err(
            format!("is a {kind}"),
            "write each object as its own YAML document, separated by `---`",
        );
    }
    if group == crate::object::argocd::GROUP {
        return err(
            format!("is an Argo CD {kind}"),
            "nbgen renders the environment's Argo CD objects itself: see gitops.argocd in docs/argocd.md",
        );
    }
    let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) else {
        return err("has no metadata".to_owned(), "add metadata: {name: ...}");
    };
    let name = match metadata.get("name").and_then(Value::as_str) {
        Some(n) if valid_name(n) => n.to_owned(),
        Some(n) => {
            return err(
                format!("name `{n}` is not a valid Kubernetes name"),
                "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters",
            );
        }
        None => {
            return err(
                format!("{kind} has no metadata.name"),
                "every object needs a name (generateName cannot be used: Argo CD would create a new object at every sync)",
            );
        }
    };
    let cluster_scoped = is_cluster_scoped(&kind);
    let argocd_namespace = env
        .argocd
        .as_ref()
        .map_or(names::DEFAULT_ARGOCD_NAMESPACE, |a| a.namespace.as_str());
    if kind == "Namespace" && name == argocd_namespace {
        return err(
            format!("is Namespace `{name}`, Argo CD's own namespace"),
            "Argo CD's namespace belongs to Argo CD: an environment that owned it could delete or change Argo CD itself",
        );
    }
    if (cluster_scoped || POWER_KINDS.contains(&kind.as_str()))
        && !extra.allow_kinds.iter().any(|k| k == &kind)
    {
        let why = if cluster_scoped {
            "is cluster-scoped: it acts beyond the environment's namespaces"
        } else if kind.starts_with("Role") {
            "grants permissions"
        } else {
            "runs pods outside nbgen's pod model (any image, claim or ServiceAccount)"
        };
        return err(
            format!("is a {kind}, which {why}"),
            &format!(
                "a template may render a {kind} only when the spec allows it by name: add `allowKinds: [{kind}]` to this extras entry, and have the change reviewed as a change of who may do what"
            ),
        );
    }
    let written = match metadata.get("namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(ns)) => Some(ns.clone()),
        Some(_) => return err("metadata.namespace is not a string".to_owned(), ""),
    };
    let namespace = if cluster_scoped {
        if let Some(ns) = written {
            return err(
                format!("{kind} {name} is cluster-scoped but has namespace `{ns}`"),
                "remove metadata.namespace",
            );
        }
        None
    } else {
        let ns = match (team, written) {
            (Some(t), None) => t.namespace.clone(),
            (Some(t), Some(ns)) if ns == t.namespace => ns,
            (Some(t), Some(ns)) => {
                return err(
                    format!(
                        "{kind} {name} is in namespace `{ns}`, not in team {}'s namespace `{}`",
                        t.name, t.namespace
                    ),
                    "a template rendered per team or server puts its objects in the team's namespace: remove metadata.namespace, or write {{team.namespace}}",
                );
            }
            (None, None) => {
                return err(
                    format!("{kind} {name} has no namespace"),
                    &format!(
                        "a template rendered once for the environment names each object's namespace, one of: {}",
                        namespaces(env)
                    ),
                );
            }
            (None, Some(ns)) => {
                if !env.teams.iter().any(|t| t.namespace == ns) {
                    return err(
                        format!(
                            "{kind} {name} is in namespace `{ns}`, which is not one of this environment's"
                        ),
                        &format!(
                            "Argo CD may deploy only into the environment's namespaces: {}",
                            namespaces(env)
                        ),
                    );
                }
                ns
            }
        };
        Some(ns)
    };
    if let Some(ns) = &namespace {
        put_namespace(metadata, ns);
    }
    let owner = team.or_else(|| {
        namespace
            .as_ref()
            .and_then(|ns| env.teams.iter().find(|t| &t.namespace == ns))
    });
    let mut d = Dynamic {
        id: ObjectId {
            kind,
            namespace,
            name,
        },
        group,
        cluster_scoped,
        template: extra.template.clone(),
        value: doc,
    };
    d.set_metadata_entry("labels", MANAGED_BY, names::NBGEN);
    d.set_metadata_entry("labels", PART_OF, &env.name);
    if let Some(t) = owner {
        d.set_metadata_entry("labels", TEAM, &t.name);
    }
    if let Some(s) = server {
        d.set_metadata_entry("labels", ROLE, &s.role);
        d.set_metadata_entry("labels", SERVER, &s.name);
    }
    // Sorted, as on nbgen's own objects.
    if let Some(Value::Object(labels)) = d.value.pointer_mut("/metadata/labels") {
        labels.sort_keys();
    }
    Ok(Object::Dynamic(Box::new(d)))
}

/// Put `namespace` right after `name` in metadata, as Kubernetes writes it.
fn put_namespace(metadata: &mut Map<String, Value>, namespace: &str) {
    let old = std::mem::take(metadata);
    for (k, v) in old {
        if k == "namespace" {
            continue;
        }
        let is_name = k == "name";
        metadata.insert(k, v);
        if is_name {
            metadata.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
        }
    }
}

fn namespaces(env: &Env) -> String {
    env.teams
        .iter()
        .map(|t| t.namespace.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn valid_api_version(v: &str) -> bool {
    let (group, version) = v.rsplit_once('/').unwrap_or(("", v));
    let version_ok = version.starts_with('v')
        && version
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    version_ok && (group.is_empty() || valid_name(group))
}

fn valid_kind(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_uppercase()) && k.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A DNS-1123 subdomain: what most kinds' names must be, and safe in a file name.
fn valid_name(n: &str) -> bool {
    n.len() <= 253
        && n.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Two objects with one identity (or one file: kinds that differ only in case, or come from
/// two API groups): among the templates' objects, and against nbgen's own.
fn collisions(found: &[(Object, String)], taken: impl Fn(&str) -> bool) -> Vec<Diagnostic> {
    let mut first: BTreeMap<String, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for (o, origin) in found {
        let id = o.id();
        let file = o.file_of(&id);
        let template = origin.split(' ').next().unwrap_or_default();
        if taken(&file) {
            out.push(
                Diagnostic::error(format!("{origin} renders {id}, which nbgen renders itself"))
                    .in_file(template)
                    .help("give the object another name; to change what nbgen renders, change the spec"),
            );
        } else if let Some(other) = first.get(&file) {
            out.push(
                Diagnostic::error(format!("{origin} renders {id}, which {other} renders too"))
                    .in_file(template)
                    .help("make the name depend on what the template is rendered for, e.g. {{server.name}} or {{team.name}}"),
            );
        } else {
            first.insert(file, origin);
        }
    }
    out
}
