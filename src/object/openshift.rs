//! OpenShift's `route.openshift.io/v1` Route as a typed object (k8s-openapi has none): the
//! fields nbgen writes, serialized in the order they are declared, named as openshift/api's
//! `route/v1/types.go` names them. Types only; what goes in them is `expand::openshift`'s.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde::ser::SerializeStruct;

pub const GROUP: &str = "route.openshift.io";
pub const VERSION: &str = "v1";
pub const API_VERSION: &str = "route.openshift.io/v1";

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

impl k8s_openapi::Resource for Route {
    const API_VERSION: &'static str = API_VERSION;
    const GROUP: &'static str = GROUP;
    const KIND: &'static str = "Route";
    const VERSION: &'static str = VERSION;
    const URL_PATH_SEGMENT: &'static str = "routes";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for Route {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// `apiVersion` and `kind` first, as Kubernetes writes them, then metadata and spec.
impl Serialize for Route {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Route", 4)?;
        o.serialize_field("apiVersion", API_VERSION)?;
        o.serialize_field("kind", "Route")?;
        o.serialize_field("metadata", &self.metadata)?;
        o.serialize_field("spec", &self.spec)?;
        o.end()
    }
}
