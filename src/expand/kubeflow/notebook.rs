//! One notebook server as a Kubeflow Notebook: its ServiceAccount, its home claim, and the
//! Notebook, from which kubeflow/notebooks' controller makes a StatefulSet `<server>` (pod
//! `<server>-0`), a Service and the VirtualService that routes `/notebook/<namespace>/<server>/`
//! from Kubeflow's gateway. Pure. No Service of nbgen's: Kubeflow routes through its gateway and
//! authenticates there, so Jupyter runs without a token of its own (docs/kubeflow.md).

use crate::expand::kubernetes::server::{home_claim, home_volume, service_account};
use crate::expand::pod::{self, Workload};
use crate::expand::{meta, server_labels};
use crate::model::names;
use crate::model::start::{self, HOME};
use crate::model::{Env, Server, Team};
use crate::object::Object;
use crate::object::kubeflow::{Notebook, NotebookSpec, NotebookTemplate};
use k8s_openapi::api::core::v1::Container;
use std::collections::BTreeMap;

/// What the notebook controller names the container port when it adds one itself: the Service
/// it makes targets the first container's first port.
pub const PORT_NAME: &str = "notebook-port";
/// The Jupyter web app shows a Notebook with this annotation as a JupyterLab server and links
/// `/notebook/<namespace>/<server>/` (no URI rewrite: Jupyter serves under that prefix itself).
pub const SERVER_TYPE: (&str, &str) = ("notebooks.kubeflow.org/server-type", "jupyter");

pub fn objects(env: &Env, team: &Team, namespace: &str, s: &Server) -> Vec<Object> {
    vec![
        Object::from(service_account(env, team, namespace, s)),
        Object::from(home_claim(env, team, namespace, s)),
        Object::from(notebook(env, team, namespace, s)),
    ]
}

fn notebook(env: &Env, team: &Team, namespace: &str, s: &Server) -> Notebook {
    // The controller copies the Notebook's labels to the pod: the NetworkPolicies select by them.
    let mut metadata = meta(&s.name, Some(namespace), server_labels(env, team, s));
    metadata.annotations = Some(BTreeMap::from([(
        SERVER_TYPE.0.to_owned(),
        SERVER_TYPE.1.to_owned(),
    )]));
    Notebook {
        metadata,
        spec: NotebookSpec {
            template: NotebookTemplate {
                spec: pod::pod_spec(
                    env,
                    &Workload::from(s),
                    &s.name,
                    home_volume(s),
                    Vec::new(),
                    container(namespace, s),
                ),
            },
        },
    }
}

/// The first (only) container, named after the server as Kubeflow's web app names it, with
/// what the controller would otherwise add (port, working directory, NB_PREFIX) written out so
/// Argo CD and the controller agree.
fn container(namespace: &str, s: &Server) -> Container {
    let prefix = names::url_prefix(namespace, &s.name);
    let line = start::gateway_command(&s.image.start, &format!("{prefix}/"))
        .expect("validate refuses custom commands on the kubeflow target");
    Container {
        working_dir: Some(HOME.to_owned()),
        ..pod::jupyter_container(s, &s.name, &prefix, line, PORT_NAME, Vec::new())
    }
}
