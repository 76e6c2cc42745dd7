//! A server's Route: the router's way in to its Service, TLS only. Pure.
//!
//! Edge termination with the router's certificate, and plain HTTP redirected to HTTPS, never
//! served: Jupyter's token travels with every request. No host: the router generates
//! `<server>-<namespace>.<apps domain>`, unique per server, and git keeps no cluster's domain.

use crate::expand::{meta, server_labels};
use crate::model::{Env, Server, Team};
use crate::object::openshift::{Route, RoutePort, RouteSpec, RouteTargetReference, TlsConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn route(env: &Env, team: &Team, s: &Server) -> Route {
    Route {
        metadata: meta(&s.name, Some(&team.namespace), server_labels(env, team, s)),
        spec: RouteSpec {
            host: None,
            to: RouteTargetReference {
                kind: "Service".to_owned(),
                name: s.name.clone(),
            },
            // The Service's port by name, as the StatefulSet's container names it.
            port: RoutePort {
                target_port: IntOrString::String("http".to_owned()),
            },
            tls: TlsConfig {
                termination: "edge".to_owned(),
                insecure_edge_termination_policy: "Redirect".to_owned(),
            },
        },
    }
}
