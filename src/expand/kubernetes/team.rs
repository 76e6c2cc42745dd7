//! Namespace-wide objects of a team: Namespace, ResourceQuota, RBAC, NetworkPolicies.
//! Pure. The access model (docs/security.md): every member reads the team's non-secret objects;
//! each member works only with the servers they control — their own in a perMember team, the
//! team's otherwise — and no member may edit what runs the servers or create workloads.

use crate::expand::{data_meta, labels, meta};
use crate::model::names::{self, COMPONENT, USER_ROLE, VIEWER_ROLE};
use crate::model::start::NOTEBOOK_PORT;
use crate::model::{Cidr, EgressTo, Env, Job, Peer, Quota, Server, Team, metadata_addresses};
use crate::object::Object;
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The label every namespace carries with its own name (Kubernetes sets it since 1.21).
const NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

pub fn objects(env: &Env, team: &Team) -> Vec<Object> {
    let mut out = vec![namespace(env, team)];
    for (role, binding) in rbac(env, team) {
        out.push(Object::from(role));
        out.extend(binding.map(Object::from));
    }
    out.extend(quota(env, team).map(Object::from));
    out.extend(network_policies(env, team).into_iter().map(Object::from));
    out
}

fn namespace(env: &Env, team: &Team) -> Object {
    let mut l = labels(env, team);
    l.extend(pod_security(env));
    Object::from(Namespace {
        metadata: data_meta(&team.namespace, None, l),
        ..Namespace::default()
    })
}

/// The namespace labels that enforce (and audit, and warn about) the restricted Pod Security
/// Standard, at the cluster's version.
pub(crate) fn pod_security(env: &Env) -> BTreeMap<String, String> {
    let version = format!("v{}", env.kubernetes_version);
    let mut l = BTreeMap::new();
    for mode in ["enforce", "audit", "warn"] {
        l.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            "restricted".to_owned(),
        );
        l.insert(
            format!("pod-security.kubernetes.io/{mode}-version"),
            version.clone(),
        );
    }
    l
}

pub(crate) fn quota(env: &Env, team: &Team) -> Option<ResourceQuota> {
    let hard = quota_hard(team.quota.as_ref()?);
    Some(ResourceQuota {
        metadata: meta("notebooks", Some(&team.namespace), labels(env, team)),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    })
}

/// A team's quota as a ResourceQuota's `hard` limits.
pub(crate) fn quota_hard(q: &Quota) -> BTreeMap<String, Quantity> {
    let mut hard = BTreeMap::new();
    if let Some(cpu) = &q.cpu {
        hard.insert("cpu".to_owned(), Quantity(cpu.text.clone()));
    }
    if let Some(memory) = &q.memory {
        hard.insert("memory".to_owned(), Quantity(memory.text.clone()));
    }
    for (resource, cap) in &q.gpu {
        hard.insert(format!("requests.{resource}"), Quantity(cap.to_string()));
    }
    hard.insert("pods".to_owned(), Quantity(q.pods.to_string()));
    hard.insert(
        "persistentvolumeclaims".to_owned(),
        Quantity(q.claims.to_string()),
    );
    hard
}

fn rule(
    groups: &[&str],
    resources: &[&str],
    verbs: &[&str],
    names: Option<Vec<String>>,
) -> PolicyRule {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(owned(groups)),
        resources: Some(owned(resources)),
        verbs: owned(verbs),
        resource_names: names,
        ..PolicyRule::default()
    }
}

const READ: [&str; 3] = ["get", "list", "watch"];

/// The team's Roles, each with its RoleBinding (none when nobody is bound).
fn rbac(env: &Env, team: &Team) -> Vec<(Role, Option<RoleBinding>)> {
    let jobs: Vec<&Job> = env.jobs.iter().filter(|j| j.team == team.name).collect();
    let everyone: Vec<Subject> = team
        .groups
        .iter()
        .map(|g| subject("Group", g))
        .chain(team.members.iter().map(|m| subject("User", m)))
        .collect();
    let mut out = vec![(
        role(env, team, VIEWER_ROLE, viewer_rules(&jobs)),
        binding(env, team, VIEWER_ROLE, everyone.clone()),
    )];
    let per_member = team.servers.iter().any(|s| s.member.is_some());
    if per_member {
        for member in &team.members {
            let own: Vec<&Server> = team
                .servers
                .iter()
                .filter(|s| s.member.as_ref() == Some(member))
                .collect();
            if own.is_empty() {
                continue;
            }
            let name = names::member_role(member);
            out.push((
                role(env, team, &name, server_rules(&own, &jobs)),
                binding(env, team, &name, vec![subject("User", member)]),
            ));
        }
    } else if !team.servers.is_empty() || !jobs.is_empty() {
        let all: Vec<&Server> = team.servers.iter().collect();
        out.push((
            role(env, team, USER_ROLE, server_rules(&all, &jobs)),
            binding(env, team, USER_ROLE, everyone),
        ));
    }
    out
}

/// Team-wide reads of what is not secret: pods (their specs hold no token, only the Secret's
/// name), services, claims, events, the servers' StatefulSets, the team's jobs.
fn viewer_rules(jobs: &[&Job]) -> Vec<PolicyRule> {
    let mut rules = vec![
        rule(
            &[""],
            &["events", "persistentvolumeclaims", "pods", "services"],
            &READ,
            None,
        ),
        rule(&["apps"], &["statefulsets"], &READ, None),
    ];
    if !jobs.is_empty() {
        rules.push(rule(&["batch"], &["cronjobs", "jobs"], &READ, None));
    }
    rules
}

/// Work with these servers, by name only: exec, attach, port-forward and logs of their pods,
/// restart (delete the pod; the StatefulSet makes it again), stop and start (the scale
/// subresource), and read the token Secret to log in. Re-run a one-off job by deleting it (Argo
/// CD creates it again). Never a patch or update of what runs the servers.
fn server_rules(servers: &[&Server], jobs: &[&Job]) -> Vec<PolicyRule> {
    let each =
        |f: &dyn Fn(&Server) -> String| Some(servers.iter().map(|s| f(s)).collect::<Vec<_>>());
    let mut rules = Vec::new();
    if !servers.is_empty() {
        let pods = each(&|s: &Server| names::pod(&s.name));
        // `get` as well as `create`: kubectl 1.31+ opens exec, attach and port-forward over a
        // WebSocket, which the API server authorizes as `get`.
        rules.push(rule(
            &[""],
            &["pods/attach", "pods/exec", "pods/portforward"],
            &["create", "get"],
            pods.clone(),
        ));
        rules.push(rule(&[""], &["pods/log"], &["get"], pods.clone()));
        rules.push(rule(&[""], &["pods"], &["delete"], pods));
        rules.push(rule(
            &[""],
            &["secrets"],
            &["get"],
            each(&|s: &Server| names::token_secret(&s.name)),
        ));
        rules.push(rule(
            &["apps"],
            &["statefulsets/scale"],
            &["get", "patch", "update"],
            each(&|s: &Server| s.name.clone()),
        ));
    }
    let one_off: Vec<String> = jobs
        .iter()
        .filter(|j| j.schedule.is_none())
        .map(|j| j.name.clone())
        .collect();
    if !one_off.is_empty() {
        rules.push(rule(&["batch"], &["jobs"], &["delete"], Some(one_off)));
    }
    rules
}

fn role(env: &Env, team: &Team, name: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: meta(name, Some(&team.namespace), labels(env, team)),
        rules: Some(rules),
    }
}

pub(crate) fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: None,
    }
}

fn binding(env: &Env, team: &Team, role: &str, subjects: Vec<Subject>) -> Option<RoleBinding> {
    (!subjects.is_empty()).then(|| RoleBinding {
        metadata: meta(role, Some(&team.namespace), labels(env, team)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: role.to_owned(),
        },
        subjects: Some(subjects),
    })
}

pub(crate) fn policy(
    env: &Env,
    team: &Team,
    namespace: &str,
    name: &str,
    spec: NetworkPolicySpec,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(name, Some(namespace), labels(env, team)),
        spec: Some(spec),
    }
}

pub(crate) fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some("TCP".to_owned()),
        port: Some(IntOrString::Int(port)),
        ..NetworkPolicyPort::default()
    }
}

pub(crate) fn selector(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: (!labels.is_empty()).then(|| labels.clone()),
        ..LabelSelector::default()
    }
}

pub(crate) fn pods_of(peer: &Peer) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(selector(&BTreeMap::from([(
            NAMESPACE_NAME.to_owned(),
            peer.namespace.clone(),
        )]))),
        pod_selector: Some(selector(&peer.pod_selector)),
        ..NetworkPolicyPeer::default()
    }
}

fn block(cidr: &Cidr, except: Vec<String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_string(),
            except: (!except.is_empty()).then_some(except),
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// A range with every given range inside it cut out (the metadata addresses always).
fn block_except(cidr: &Cidr, cut: &[Cidr]) -> NetworkPolicyPeer {
    let metadata = metadata_addresses();
    let mut except: Vec<&Cidr> = cut
        .iter()
        .chain(metadata.iter())
        .filter(|c| cidr.contains(c) && *c != cidr)
        .collect();
    except.sort();
    except.dedup();
    block(cidr, except.into_iter().map(ToString::to_string).collect())
}

/// Closed by default: deny every pod's ingress and egress; then DNS where the cluster runs it;
/// the notebook port from the sources the spec declares (the ingress controller, NodePort
/// clients) and the platform's router (OpenShift's); and the egress destinations it declares —
/// never the cloud metadata addresses.
pub(crate) fn network_policies(env: &Env, team: &Team) -> Vec<NetworkPolicy> {
    let net = &env.network;
    let mut sources: Vec<NetworkPolicyPeer> = net.ingress_controller.iter().map(pods_of).collect();
    for labels in &net.router_namespaces {
        sources.push(NetworkPolicyPeer {
            namespace_selector: Some(selector(labels)),
            ..NetworkPolicyPeer::default()
        });
    }
    for cidr in net.node_port_clients.iter().flatten() {
        sources.push(block(cidr, Vec::new()));
    }
    closed(
        env,
        team,
        &team.namespace,
        sources,
        !team.servers.is_empty(),
    )
}

/// The policies of one namespace: default-deny, DNS, the notebook port from `sources` (when
/// `servers` run there), the declared egress.
pub(crate) fn closed(
    env: &Env,
    team: &Team,
    namespace: &str,
    sources: Vec<NetworkPolicyPeer>,
    servers: bool,
) -> Vec<NetworkPolicy> {
    let net = &env.network;
    let mut out = vec![
        policy(
            env,
            team,
            namespace,
            "default-deny",
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Egress".to_owned(), "Ingress".to_owned()]),
                ..NetworkPolicySpec::default()
            },
        ),
        policy(
            env,
            team,
            namespace,
            "allow-dns",
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(vec![pods_of(&net.dns)]),
                    ports: Some(
                        ["TCP", "UDP"]
                            .iter()
                            .map(|p| NetworkPolicyPort {
                                protocol: Some((*p).to_owned()),
                                port: Some(IntOrString::Int(i32::from(net.dns_port))),
                                ..NetworkPolicyPort::default()
                            })
                            .collect(),
                    ),
                }]),
                policy_types: Some(vec!["Egress".to_owned()]),
                ..NetworkPolicySpec::default()
            },
        ),
    ];
    if !sources.is_empty() && servers {
        out.push(policy(
            env,
            team,
            namespace,
            "allow-notebook-http",
            NetworkPolicySpec {
                pod_selector: Some(selector(&BTreeMap::from([(
                    COMPONENT.to_owned(),
                    "notebook".to_owned(),
                )]))),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(sources),
                    ports: Some(vec![tcp(NOTEBOOK_PORT)]),
                }]),
                policy_types: Some(vec!["Ingress".to_owned()]),
                ..NetworkPolicySpec::default()
            },
        ));
    }
    let egress: Vec<NetworkPolicyEgressRule> = net
        .egress
        .iter()
        .map(|e| {
            let to = match &e.to {
                EgressTo::Cidr(c) => vec![block_except(c, &[])],
                EgressTo::Internet => ["0.0.0.0/0", "::/0"]
                    .iter()
                    .map(|all| {
                        block_except(
                            &Cidr::parse(all).expect("a valid range"),
                            &net.cluster_cidrs,
                        )
                    })
                    .collect(),
            };
            NetworkPolicyEgressRule {
                to: Some(to),
                ports: (!e.ports.is_empty())
                    .then(|| e.ports.iter().map(|p| tcp(i32::from(*p))).collect()),
            }
        })
        .collect();
    if !egress.is_empty() {
        out.push(policy(
            env,
            team,
            namespace,
            "allow-egress",
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                egress: Some(egress),
                policy_types: Some(vec!["Egress".to_owned()]),
                ..NetworkPolicySpec::default()
            },
        ));
    }
    out
}
