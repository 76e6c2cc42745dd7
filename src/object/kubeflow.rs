//! Kubeflow's Notebook and Profile (kubeflow.org/v1) and Istio's AuthorizationPolicy
//! (security.istio.io/v1) as typed objects: k8s-openapi has none. Only the fields nbgen writes,
//! serialized in the order they are declared, with the names the CRDs give them. Types only: what
//! goes in them is the target's (`expand::kubeflow`, and Open Data Hub's Notebooks).

use k8s_openapi::api::core::v1::{PodSpec, ResourceQuotaSpec};
use k8s_openapi::api::rbac::v1::Subject;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// `kubeflow.org/v1` Notebook (kubeflow/notebooks' notebook-controller): a Jupyter server the
/// controller runs as a StatefulSet of one pod, a Service and an Istio VirtualService.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notebook {
    pub metadata: ObjectMeta,
    pub spec: NotebookSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NotebookSpec {
    pub template: NotebookTemplate,
}

/// The CRD's `spec.template` holds a pod spec only (no pod metadata: the controller sets it).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NotebookTemplate {
    pub spec: PodSpec,
}

/// `kubeflow.org/v1` Profile (kubeflow/dashboard's profile-controller): cluster-scoped, named
/// after the namespace the controller creates for it and deletes with it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub metadata: ObjectMeta,
    pub spec: ProfileSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSpec {
    /// The namespace's owner: bound to `kubeflow-admin` there by the controller.
    pub owner: Subject,
    /// Written by the controller as ResourceQuota `kf-resource-quota` in the namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_quota_spec: Option<ResourceQuotaSpec>,
}

/// `security.istio.io/v1` AuthorizationPolicy: which requests the sidecars of a namespace let in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthorizationPolicy {
    pub metadata: ObjectMeta,
    pub spec: AuthorizationPolicySpec,
}

/// No `action`: Istio's default, ALLOW.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AuthorizationPolicySpec {
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<RuleFrom>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Condition>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleFrom {
    pub source: Source,
}

/// The peer a request comes from, by its mTLS identity.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Source {
    pub principals: Vec<String>,
}

/// `key` is an Istio attribute (`request.headers[kubeflow-userid]`); any of `values` matches.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Condition {
    pub key: String,
    pub values: Vec<String>,
}

custom_resource!(
    Notebook,
    "kubeflow.org",
    "v1",
    "notebooks",
    k8s_openapi::NamespaceResourceScope
);
custom_resource!(
    Profile,
    "kubeflow.org",
    "v1",
    "profiles",
    k8s_openapi::ClusterResourceScope
);
custom_resource!(
    AuthorizationPolicy,
    "security.istio.io",
    "v1",
    "authorizationpolicies",
    k8s_openapi::NamespaceResourceScope
);

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::Resource;
    use k8s_openapi::api::core::v1::Container;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: namespace.map(Into::into),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn groups_and_versions_are_the_crds() {
        assert_eq!(Notebook::API_VERSION, "kubeflow.org/v1");
        assert_eq!(Profile::GROUP, "kubeflow.org");
        assert_eq!(AuthorizationPolicy::GROUP, "security.istio.io");
        assert_eq!(
            AuthorizationPolicy::URL_PATH_SEGMENT,
            "authorizationpolicies"
        );
    }

    #[test]
    fn a_notebook_holds_a_pod_spec_under_spec_template_spec() {
        let nb = Notebook {
            metadata: meta(Some("ml"), "lab"),
            spec: NotebookSpec {
                template: NotebookTemplate {
                    spec: PodSpec {
                        containers: vec![Container {
                            name: "lab".into(),
                            image: Some("kubeflownotebookswg/jupyter-scipy:v1.10.0".into()),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    },
                },
            },
        };
        assert_eq!(
            serde_json::to_value(&nb).unwrap(),
            json!({
                "apiVersion": "kubeflow.org/v1",
                "kind": "Notebook",
                "metadata": {"name": "lab", "namespace": "ml"},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "lab", "image": "kubeflownotebookswg/jupyter-scipy:v1.10.0"}
                ]}}}
            })
        );
    }

    #[test]
    fn a_profile_is_cluster_scoped_and_leaves_out_an_absent_quota() {
        let owner = Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "User".into(),
            name: "ana@example.com".into(),
            namespace: None,
        };
        let mut p = Profile {
            metadata: meta(None, "ml"),
            spec: ProfileSpec {
                owner,
                resource_quota_spec: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({
                "apiVersion": "kubeflow.org/v1",
                "kind": "Profile",
                "metadata": {"name": "ml"},
                "spec": {"owner": {"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                   "name": "ana@example.com"}}
            })
        );
        p.spec.resource_quota_spec = Some(ResourceQuotaSpec {
            hard: Some(BTreeMap::from([(
                "limits.cpu".into(),
                Quantity("8".into()),
            )])),
            ..ResourceQuotaSpec::default()
        });
        assert_eq!(
            serde_json::to_value(&p).unwrap()["spec"]["resourceQuotaSpec"],
            json!({"hard": {"limits.cpu": "8"}})
        );
        assert_eq!(
            std::any::TypeId::of::<<Profile as Resource>::Scope>(),
            std::any::TypeId::of::<k8s_openapi::ClusterResourceScope>()
        );
    }

    #[test]
    fn an_authorization_policy_leaves_out_empty_parts_of_a_rule() {
        let ap = AuthorizationPolicy {
            metadata: meta(Some("ml"), "user-ana-example-com-clusterrole-edit"),
            spec: AuthorizationPolicySpec {
                rules: vec![Rule {
                    from: vec![RuleFrom {
                        source: Source {
                            principals: vec!["cluster.local/ns/istio-system/sa/gw".into()],
                        },
                    }],
                    when: vec![Condition {
                        key: "request.headers[kubeflow-userid]".into(),
                        values: vec!["ana@example.com".into()],
                    }],
                }],
            },
        };
        assert_eq!(
            serde_json::to_value(&ap).unwrap(),
            json!({
                "apiVersion": "security.istio.io/v1",
                "kind": "AuthorizationPolicy",
                "metadata": {"name": "user-ana-example-com-clusterrole-edit", "namespace": "ml"},
                "spec": {"rules": [{
                    "from": [{"source": {"principals": ["cluster.local/ns/istio-system/sa/gw"]}}],
                    "when": [{"key": "request.headers[kubeflow-userid]",
                              "values": ["ana@example.com"]}]
                }]}
            })
        );
        let open = Rule::default();
        assert_eq!(serde_json::to_value(&open).unwrap(), json!({}));
    }
}
