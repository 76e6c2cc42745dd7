//! What changes inside a workload's containers: images, and how a notebook server starts
//! (command, args, the environment Jupyter's start-up reads).

use super::{containers, pod_spec};
use crate::object::ObjectId;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Serialize)]
pub struct ImageChange {
    pub object: ObjectId,
    pub container: String,
    pub before: String,
    pub after: String,
}

/// A long-running workload (a notebook server) whose container starts differently: its
/// command, its args, or an environment variable Jupyter's start-up reads. The server may no
/// longer become ready, or may come up with other settings.
#[derive(Clone, Debug, Serialize)]
pub struct StartChange {
    pub object: ObjectId,
    pub container: String,
    /// `command`, `args`, or `env <NAME>`.
    pub what: String,
    /// As JSON (a list, or a variable's value or source); `None`: unset.
    pub before: Option<String>,
    pub after: Option<String>,
}

impl StartChange {
    pub fn message(&self) -> String {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unset".to_owned());
        format!(
            "{} container {}: {} {} → {}",
            self.object,
            self.container,
            self.what,
            show(&self.before),
            show(&self.after)
        )
    }
}

/// Environment variables that decide how a notebook server starts (docs/images.md).
pub const START_ENV: [&str; 7] = [
    "HOME",
    "NB_PREFIX",
    "JUPYTER_TOKEN",
    "JUPYTER_RUNTIME_DIR",
    "DOCKER_STACKS_JUPYTER_CMD",
    "NOTEBOOK_ARGS",
    "PYTHONUSERBASE",
];

pub(super) fn images(id: &ObjectId, old: &Value, new: &Value, out: &mut Vec<ImageChange>) {
    let map = |v: &Value| -> BTreeMap<String, String> {
        pod_spec(&id.kind, v)
            .map(|s| {
                containers(s)
                    .map(|c| {
                        let get = |k| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                        (get("name"), get("image"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (o, n) = (map(old), map(new));
    for (name, after) in &n {
        if let Some(before) = o.get(name).filter(|b| *b != after) {
            out.push(ImageChange {
                object: id.clone(),
                container: name.clone(),
                before: before.clone(),
                after: after.clone(),
            });
        }
    }
}

// ---- start-up -----------------------------------------------------------------------------

/// Command, args and start-up environment of each container of a long-running workload (not a
/// Job or CronJob: a job's command follows its notebook and changes with it).
pub(super) fn starts(id: &ObjectId, old: &Value, new: &Value, out: &mut Vec<StartChange>) {
    if !matches!(
        id.kind.as_str(),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Pod" | "Notebook"
    ) {
        return;
    }
    type Settings = BTreeMap<String, Option<String>>;
    let by_container = |v: &Value| -> BTreeMap<String, Settings> {
        let Some(spec) = pod_spec(&id.kind, v) else {
            return BTreeMap::new();
        };
        containers(spec)
            .map(|c| {
                let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                let mut s = Settings::new();
                for key in ["command", "args"] {
                    s.insert(key.to_owned(), c.get(key).map(Value::to_string));
                }
                for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
                    let Some(var) = e.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    if START_ENV.contains(&var) {
                        let value = e
                            .get("value")
                            .or_else(|| e.get("valueFrom"))
                            .map(Value::to_string)
                            .unwrap_or_else(|| "\"\"".to_owned());
                        s.insert(format!("env {var}"), Some(value));
                    }
                }
                (name.to_owned(), s)
            })
            .collect()
    };
    let (o, n) = (by_container(old), by_container(new));
    for (container, after) in &n {
        let Some(before) = o.get(container) else {
            continue;
        };
        let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for key in keys {
            let (b, a) = (
                before.get(key).cloned().flatten(),
                after.get(key).cloned().flatten(),
            );
            if b != a {
                out.push(StartChange {
                    object: id.clone(),
                    container: container.clone(),
                    what: key.clone(),
                    before: b,
                    after: a,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    #[test]
    fn a_server_that_starts_differently_is_a_risk() {
        let deployment = |args: &str, prefix: &str| {
            format!(
                "kind: Deployment\nmetadata: {{name: s, namespace: t}}\nspec: {{template: {{spec: {{containers: [{{name: notebook, args: [{args}], env: [{{name: NB_PREFIX, value: {prefix}}}, {{name: OTHER, value: x}}]}}]}}}}}}\n"
            )
        };
        let r = assess(
            &snap(&[("d.yaml", &deployment("a, b", "/n/t/s"))]),
            &snap(&[("d.yaml", &deployment("a, c", "/n/t/s2"))]),
            &BTreeMap::new(),
        );
        let found: Vec<String> = r.starts.iter().map(StartChange::message).collect();
        assert_eq!(
            found,
            [
                r#"t Deployment/s container notebook: args ["a","b"] → ["a","c"]"#,
                r#"t Deployment/s container notebook: env NB_PREFIX "/n/t/s" → "/n/t/s2""#,
            ]
        );
        assert!(!r.is_empty());
        // A job's command follows its notebook: not a start-up risk.
        let job = deployment("a, b", "/x").replace("kind: Deployment", "kind: Job");
        let job2 = deployment("a, c", "/x").replace("kind: Deployment", "kind: Job");
        let r = assess(
            &snap(&[("j.yaml", &job)]),
            &snap(&[("j.yaml", &job2)]),
            &BTreeMap::new(),
        );
        assert!(r.starts.is_empty());
    }
}
