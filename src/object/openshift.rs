//! OpenShift's `route.openshift.io/v1` Route as a typed object (k8s-openapi has none): the
//! fields nbgen writes, serialized in the order they are declared, named as openshift/api's
//! `route/v1/types.go` names them. Types only; what goes in them is `expand::openshift`'s.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

/// A Route: the router's way in to a Service, here always over TLS.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Route {
    pub metadata: ObjectMeta,
    pub spec: RouteSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// Absent: the router generates `<name>-<namespace>.<apps domain>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub to: RouteTargetReference,
    pub port: RoutePort,
    pub tls: TlsConfig,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RouteTargetReference {
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePort {
    pub target_port: IntOrString,
}

impl Default for RoutePort {
    fn default() -> Self {
        RoutePort {
            target_port: IntOrString::Int(0),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    /// `edge`: the router terminates TLS with its certificate.
    pub termination: String,
    /// `Redirect`: plain HTTP is redirected to HTTPS, never served.
    pub insecure_edge_termination_policy: String,
}

custom_resource!(
    Route,
    "route.openshift.io",
    "v1",
    "routes",
    k8s_openapi::NamespaceResourceScope
);
