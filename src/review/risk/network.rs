//! Network policy widening: a NetworkPolicy added, changed or removed so that more traffic is
//! allowed. Policies only ever allow: a pod selected by a policy for a direction is isolated
//! (only what some policy allows gets through), a pod selected by none is open. So more is
//! allowed when an isolated pod gets a rule no rule of the policy covered before (a new peer
//! or port; an empty `from`/`to` or `ports` means every one), or when pods lose their last
//! isolating policy (a removed default-deny opens everything). Narrowing is no risk.

use super::Same;
use crate::object::ObjectId;
use crate::review::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What more a NetworkPolicy allows.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkWidening {
    pub object: ObjectId,
    /// `ingress` or `egress`.
    pub direction: &'static str,
    /// What is newly allowed, for a person: `from ipBlock 0.0.0.0/0 on TCP 8888`.
    pub allows: String,
}

impl NetworkWidening {
    pub fn message(&self) -> String {
        format!(
            "{} now allows {} {}: check that this traffic should reach (or leave) the team's pods",
            self.object, self.direction, self.allows
        )
    }
}

/// Each direction: its `policyTypes` name, its rules' key, its peers' key.
const DIRECTIONS: [(&str, &str, &str); 2] =
    [("Ingress", "ingress", "from"), ("Egress", "egress", "to")];

/// The pods a policy selects (its `podSelector` as text) and the directions it isolates them
/// for, per namespace: what decides whether a pod is open.
pub(super) type Isolation = BTreeMap<String, Vec<(ObjectId, String, Vec<&'static str>)>>;

/// Add a NetworkPolicy's isolation (any other object adds nothing).
pub(super) fn add_isolation(id: &ObjectId, value: &Value, out: &mut Isolation) {
    let (true, Some(ns)) = (id.kind == "NetworkPolicy", &id.namespace) else {
        return;
    };
    let dirs = DIRECTIONS
        .iter()
        .filter(|(t, ..)| isolates(value, t))
        .map(|(t, ..)| *t)
        .collect();
    out.entry(ns.clone()).or_default().push((
        id.clone(),
        selector_text(value.pointer("/spec/podSelector")),
        dirs,
    ));
}

/// Whether a policy isolates its pods for `policy_type` (`Ingress`, `Egress`). Without
/// `policyTypes`, Ingress always, Egress when it has egress rules (the API server's default).
fn isolates(policy: &Value, policy_type: &str) -> bool {
    match policy
        .pointer("/spec/policyTypes")
        .and_then(Value::as_array)
    {
        Some(types) => types.iter().any(|t| t.as_str() == Some(policy_type)),
        None => policy_type == "Ingress" || policy.pointer("/spec/egress").is_some(),
    }
}

/// One rule: its peers and ports as text (empty: every one).
type Rule = (BTreeSet<String>, BTreeSet<String>);

fn rules(policy: &Value, key: &str, peers: &str) -> Vec<Rule> {
    let list = policy
        .pointer(&format!("/spec/{key}"))
        .and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .map(|r| {
            let texts = |k: &str, f: fn(&Value) -> String| -> BTreeSet<String> {
                r.get(k)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(f)
                    .collect()
            };
            (texts(peers, peer_text), texts("ports", port_text))
        })
        .collect()
}

/// Whether `wide` allows everything `narrow` does: every peer and port of `narrow` is one of
/// `wide`'s (an address range within one of its ranges counts), or `wide` has every one.
fn covers(wide: &Rule, narrow: &Rule) -> bool {
    let within = |w: &BTreeSet<String>, n: &BTreeSet<String>| {
        w.is_empty() || (!n.is_empty() && n.iter().all(|n| w.iter().any(|w| peer_covers(w, n))))
    };
    within(&wide.0, &narrow.0) && within(&wide.1, &narrow.1)
}

/// Whether peer (or port) text `wide` allows all that `narrow` does: the same, or a plain
/// `ipBlock` range that contains the other's range.
fn peer_covers(wide: &str, narrow: &str) -> bool {
    let within = || {
        let ((w6, w, wl), (n6, n, nl)) = (range(wide)?, range(narrow)?);
        let mask = |bits: u128| bits.checked_shr(128 - wl).unwrap_or(0);
        Some(w6 == n6 && wl <= nl && mask(w) == mask(n))
    };
    wide == narrow || within() == Some(true)
}

/// `ipBlock 10.0.0.0/8` (no `except`) → (IPv6?, the address's bits from the top, prefix length).
fn range(text: &str) -> Option<(bool, u128, u32)> {
    let (addr, len) = text.strip_prefix("ipBlock ")?.split_once('/')?;
    let len: u32 = len.parse().ok()?;
    match addr.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) if len <= 32 => Some((false, u128::from(u32::from(a)) << 96, len)),
        std::net::IpAddr::V6(a) if len <= 128 => Some((true, u128::from(a), len)),
        _ => None,
    }
}

/// An uncovered rule as a reviewer needs it: when an old rule had the same ports, only the
/// peers it adds; when one had the same peers, only the ports it adds; else the whole rule.
fn what_is_new(before: &[Rule], rule: Rule) -> Rule {
    let new = |w: &BTreeSet<String>, n: &BTreeSet<String>| -> BTreeSet<String> {
        n.iter()
            .filter(|n| !w.iter().any(|w| peer_covers(w, n)))
            .cloned()
            .collect()
    };
    for b in before {
        if b.1 == rule.1 && !b.0.is_empty() && !rule.0.is_empty() {
            return (new(&b.0, &rule.0), rule.1);
        }
        if b.0 == rule.0 && !b.1.is_empty() && !rule.1.is_empty() {
            return (rule.0, new(&b.1, &rule.1));
        }
    }
    rule
}

fn rule_text(rule: &Rule, word: &str) -> String {
    let peers = if rule.0.is_empty() {
        "anywhere".to_owned()
    } else {
        rule.0.iter().cloned().collect::<Vec<_>>().join(" or ")
    };
    let ports = if rule.1.is_empty() {
        "every port".to_owned()
    } else {
        rule.1.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    format!("{word} {peers} on {ports}")
}

/// `app=x, tier=y`; `every pod` for an empty selector.
fn selector_text(sel: Option<&Value>) -> String {
    let mut parts: Vec<String> = sel
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                .collect()
        })
        .unwrap_or_default();
    for e in sel
        .and_then(|s| s.get("matchExpressions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        parts.push(e.to_string());
    }
    parts.sort();
    parts.join(", ")
}

fn peer_text(peer: &Value) -> String {
    if let Some(block) = peer.get("ipBlock") {
        let cidr = block.get("cidr").and_then(Value::as_str).unwrap_or("?");
        let except: Vec<&str> = block
            .get("except")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        return if except.is_empty() {
            format!("ipBlock {cidr}")
        } else {
            format!("ipBlock {cidr} except {}", except.join(", "))
        };
    }
    let named = |key: &str, every: &str| {
        peer.get(key).map(|s| match selector_text(Some(s)) {
            t if t.is_empty() => every.to_owned(),
            t => format!("{{{t}}}"),
        })
    };
    match (
        named("podSelector", "every pod"),
        named("namespaceSelector", "every namespace"),
    ) {
        (Some(p), Some(n)) => format!("pods {p} in namespaces {n}"),
        (Some(p), None) => format!("pods {p} of this namespace"),
        (None, Some(n)) => format!("namespaces {n}"),
        (None, None) => "?".to_owned(),
    }
}

fn port_text(port: &Value) -> String {
    let protocol = port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP");
    let number = |k: &str| {
        port.get(k)
            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
    };
    match (number("port"), number("endPort")) {
        (Some(p), Some(end)) => format!("{protocol} {p}-{end}"),
        (Some(p), None) => format!("{protocol} {p}"),
        (None, _) => format!("{protocol} every port"),
    }
}

/// Whether another policy of the namespace than `except` isolates the pods `selector`
/// selects for `policy_type`: one selecting every pod, or the same pods.
fn isolated_by_other(
    iso: &Isolation,
    ns: &str,
    selector: &str,
    policy_type: &str,
    except: &ObjectId,
) -> bool {
    iso.get(ns).into_iter().flatten().any(|(id, sel, dirs)| {
        id != except && dirs.contains(&policy_type) && (sel.is_empty() || sel == selector)
    })
}

/// Every NetworkPolicy of `old` or `new` (the changed ones) that allows more.
pub(super) fn widenings(old: &Snapshot, new: &Snapshot, same: &Same) -> Vec<NetworkWidening> {
    let side = |snap: &Snapshot| {
        let mut iso = same.isolation.clone();
        for (id, f) in &snap.objects {
            add_isolation(id, &f.value, &mut iso);
        }
        iso
    };
    let (old_iso, new_iso) = (side(old), side(new));
    // Pods of a deleted namespace are gone: nothing is opened for them.
    let deleted: BTreeSet<&str> = old
        .objects
        .keys()
        .filter(|id| id.kind == "Namespace" && !new.objects.contains_key(*id))
        .map(|id| id.name.as_str())
        .collect();
    let ids: BTreeSet<&ObjectId> = old.objects.keys().chain(new.objects.keys()).collect();
    let mut out = Vec::new();
    for id in ids.into_iter().filter(|id| id.kind == "NetworkPolicy") {
        let Some(ns) = id.namespace.as_deref().filter(|ns| !deleted.contains(ns)) else {
            continue;
        };
        let o = old.objects.get(id).map(|f| &f.value);
        let n = new.objects.get(id).map(|f| &f.value);
        if o == n {
            continue;
        }
        let selector = |v: Option<&Value>| v.map(|v| selector_text(v.pointer("/spec/podSelector")));
        let (old_sel, new_sel) = (selector(o), selector(n));
        for (policy_type, direction, word) in DIRECTIONS {
            let push = |out: &mut Vec<NetworkWidening>, allows: String| {
                out.push(NetworkWidening {
                    object: id.clone(),
                    direction,
                    allows,
                });
            };
            let was = o.filter(|o| isolates(o, policy_type));
            let is = n.filter(|n| isolates(n, policy_type));
            // Ingress reaches the policy's pods, egress leaves them.
            let at = if direction == "ingress" { "to" } else { "from" };
            let pods = |sel: &str| {
                if sel.is_empty() {
                    format!("{at} every pod of the namespace")
                } else {
                    format!("{at} pods {{{sel}}}")
                }
            };
            if let (Some(_), None) = (was, is) {
                let sel = old_sel.clone().unwrap_or_default();
                if !isolated_by_other(&new_iso, ns, &sel, policy_type, id) {
                    push(
                        &mut out,
                        format!(
                            "{word} anywhere on every port {}: no policy isolates them any more",
                            pods(&sel)
                        ),
                    );
                }
                continue;
            }
            let Some(is) = is else { continue };
            let sel = new_sel.clone().unwrap_or_default();
            // Pods open before gain nothing from an allow rule: they are narrowed.
            let was_isolated = (was.is_some() && old_sel.as_deref() == Some(sel.as_str()))
                || isolated_by_other(&old_iso, ns, &sel, policy_type, id);
            if !was_isolated {
                continue;
            }
            let before = match was {
                Some(w) if old_sel.as_deref() == Some(sel.as_str()) => rules(w, direction, word),
                _ => Vec::new(),
            };
            for rule in rules(is, direction, word) {
                if !before.iter().any(|b| covers(b, &rule)) {
                    let shown = what_is_new(&before, rule);
                    push(
                        &mut out,
                        format!("{} {}", rule_text(&shown, word), pods(&sel)),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    const DENY: &str = "kind: NetworkPolicy\nmetadata: {name: default-deny, namespace: t}\nspec: {podSelector: {}, policyTypes: [Egress, Ingress]}\n";

    fn http(from: &str, ports: &str) -> String {
        format!(
            "kind: NetworkPolicy\nmetadata: {{name: http, namespace: t}}\nspec: {{podSelector: {{matchLabels: {{app: nb}}}}, policyTypes: [Ingress], ingress: [{{from: [{from}], ports: [{ports}]}}]}}\n"
        )
    }

    const OFFICE: &str = "{ipBlock: {cidr: 192.168.100.0/24}}";
    const PORT: &str = "{port: 8888, protocol: TCP}";

    fn found(old: &[(&str, &str)], new: &[(&str, &str)]) -> Vec<String> {
        assess(&snap(old), &snap(new), &BTreeMap::new())
            .network
            .iter()
            .map(|w| format!("{} {} {}", w.object, w.direction, w.allows))
            .collect()
    }

    #[test]
    fn a_new_peer_a_new_port_or_an_emptied_list_widens() {
        let base = http(OFFICE, PORT);
        let peer = http(&format!("{OFFICE}, {{ipBlock: {{cidr: 0.0.0.0/0}}}}"), PORT);
        assert_eq!(
            found(&[("d", DENY), ("h", &base)], &[("d", DENY), ("h", &peer)]),
            ["t NetworkPolicy/http ingress from ipBlock 0.0.0.0/0 on TCP 8888 to pods {app=nb}"]
        );
        let port = http(OFFICE, &format!("{PORT}, {{port: 22}}"));
        assert_eq!(
            found(&[("d", DENY), ("h", &base)], &[("d", DENY), ("h", &port)]).len(),
            1
        );
        let any_peer = http("", PORT);
        assert_eq!(
            found(
                &[("d", DENY), ("h", &base)],
                &[("d", DENY), ("h", &any_peer)]
            ),
            ["t NetworkPolicy/http ingress from anywhere on TCP 8888 to pods {app=nb}"]
        );
    }

    #[test]
    fn a_new_allow_policy_widens_only_pods_already_isolated() {
        let base = http(OFFICE, PORT);
        assert_eq!(found(&[("d", DENY)], &[("d", DENY), ("h", &base)]).len(), 1);
        // Without a default-deny the pods were open: the new policy narrows them.
        assert!(found(&[], &[("h", &base)]).is_empty());
    }

    #[test]
    fn a_removed_default_deny_opens_everything() {
        let base = http(OFFICE, PORT);
        assert_eq!(
            found(&[("d", DENY), ("h", &base)], &[("h", &base)]),
            [
                "t NetworkPolicy/default-deny ingress from anywhere on every port to every pod of the namespace: no policy isolates them any more",
                "t NetworkPolicy/default-deny egress to anywhere on every port from every pod of the namespace: no policy isolates them any more",
            ]
        );
    }

    #[test]
    fn narrowing_removing_an_allow_and_a_deleted_namespace_are_no_risk() {
        let base = http(OFFICE, PORT);
        let narrower = http("{ipBlock: {cidr: 192.168.100.128/25}}", PORT);
        assert!(
            found(
                &[("d", DENY), ("h", &base)],
                &[("d", DENY), ("h", &narrower)]
            )
            .is_empty()
        );
        let wider = http("{ipBlock: {cidr: 192.168.0.0/16}}", PORT);
        assert_eq!(
            found(&[("d", DENY), ("h", &base)], &[("d", DENY), ("h", &wider)]).len(),
            1
        );
        let v6 = http("{ipBlock: {cidr: 'fd00::/8'}}", PORT);
        assert_eq!(
            found(&[("d", DENY), ("h", &base)], &[("d", DENY), ("h", &v6)]).len(),
            1
        );
        assert!(found(&[("d", DENY), ("h", &base)], &[("d", DENY)]).is_empty());
        assert!(found(&[("d", DENY), ("h", &base)], &[("d", DENY), ("h", &base)]).is_empty());
        let fewer_ports = http(OFFICE, PORT);
        let more_ports = http(OFFICE, &format!("{PORT}, {{port: 22}}"));
        assert!(
            found(
                &[("d", DENY), ("h", &more_ports)],
                &[("d", DENY), ("h", &fewer_ports)]
            )
            .is_empty()
        );
        let ns = "kind: Namespace\nmetadata: {name: t}\n";
        assert!(found(&[("n", ns), ("d", DENY), ("h", &base)], &[]).is_empty());
    }
}
