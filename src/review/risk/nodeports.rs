//! NodePorts and the URLs users bookmark: a port that moves (on the same Service, or to the
//! Service that replaces a renamed server), that is taken from another Service, or that is
//! released. A server's URL is `http://<node>:<nodePort>/notebook/<namespace>/<server>/`
//! (README, "What you must provide"); the spec names no node, so `<node>` stands for any.

use super::Same;
use crate::model::names::{self, ROLE, SERVER};
use crate::object::ObjectId;
use crate::review::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What happens to a port. Serialized as in JSON reports (`taken`, `moved`, `released`);
/// ordered as a reviewer reads them: bookmarks that reach the wrong server first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodePortWhat {
    /// The port another Service had is now this one's: old bookmarks reach another server.
    Taken,
    /// The Service's port changes, or the server is renamed (a new Service replaces a removed
    /// one of its team): old bookmarks break.
    Moved,
    /// A removed Service (or port) held it, and nothing holds it now: old bookmarks break.
    Released,
}

/// A Service port whose NodePort or URL changes, or that takes over or gives up a port.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePortMove {
    /// The Service that holds the port after the change; when released, the one that held it.
    pub service: ObjectId,
    /// The port's name (or number when unnamed).
    pub port: String,
    pub what: NodePortWhat,
    pub before: Option<i64>,
    /// `None` only when released.
    pub after: Option<i64>,
    /// The Service that had `after` before this change, if another one did.
    pub previous_owner: Option<ObjectId>,
    /// When a server is renamed: the removed Service this one replaces.
    pub replaces: Option<ObjectId>,
    /// The URL users had (`http://<node>:32214/notebook/mlops/infer/`), and the one they need.
    pub before_url: Option<String>,
    pub after_url: Option<String>,
}

/// One NodePort a Service holds, and what names its server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Held {
    node_port: i64,
    /// The `nbgen.io/server` label: the server the port leads to, in its URL.
    server: Option<String>,
    /// The `nbgen.io/role` label: pairs a renamed server with the one it replaces.
    role: Option<String>,
}

/// A Service and one of its ports' names.
type Key = (ObjectId, String);
type Ports = BTreeMap<Key, Held>;

/// The NodePorts a Service holds, by (Service, port name).
pub(super) fn service_ports(id: &ObjectId, value: &Value, out: &mut Ports) {
    if id.kind != "Service" {
        return;
    }
    let label = |key: &str| {
        value
            .pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let list = value.pointer("/spec/ports").and_then(Value::as_array);
    for p in list.into_iter().flatten() {
        let Some(node_port) = p.get("nodePort").and_then(Value::as_i64) else {
            continue;
        };
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| p.get("port").map(Value::to_string))
            .unwrap_or_default();
        let held = Held {
            node_port,
            server: label(SERVER),
            role: label(ROLE),
        };
        out.insert((id.clone(), name), held);
    }
}

/// The URL a port leads to: a notebook server's base URL when the Service names its server.
fn url(id: &ObjectId, held: &Held) -> String {
    let path = match (&id.namespace, &held.server) {
        (Some(ns), Some(server)) => format!("{}/", names::url_prefix(ns, server)),
        _ => "/".to_owned(),
    };
    format!("http://<node>:{}{path}", held.node_port)
}

pub(super) fn node_ports(old: &Snapshot, new: &Snapshot, same: &Same) -> Vec<NodePortMove> {
    let ports = |snap: &Snapshot| -> Ports {
        let mut out = same.ports.clone();
        for (id, f) in &snap.objects {
            service_ports(id, &f.value, &mut out);
        }
        out
    };
    let (o, n) = (ports(old), ports(new));
    let old_owner: BTreeMap<i64, &ObjectId> =
        o.iter().map(|((id, _), h)| (h.node_port, id)).collect();
    let new_ports: BTreeSet<i64> = n.values().map(|h| h.node_port).collect();
    let renamed = renames(old, new, &o, &n);

    let mut out = Vec::new();
    for (key @ (id, name), after) in &n {
        let replaces = renamed.get(key);
        let before_key = replaces.map_or_else(|| key.clone(), |old_key| old_key.clone());
        let before = o.get(&before_key);
        let previous_owner = old_owner
            .get(&after.node_port)
            .filter(|owner| **owner != id && Some(**owner) != replaces.map(|(r, _)| r))
            .map(|owner| (*owner).clone());
        let before_url = before.map(|b| url(&before_key.0, b));
        let after_url = url(id, after);
        let what = if previous_owner.is_some() {
            NodePortWhat::Taken
        } else if before_url.as_ref().is_some_and(|b| *b != after_url) {
            NodePortWhat::Moved
        } else {
            continue;
        };
        out.push(NodePortMove {
            service: id.clone(),
            port: name.clone(),
            what,
            before: before.map(|b| b.node_port),
            after: Some(after.node_port),
            previous_owner,
            replaces: replaces.map(|(r, _)| r.clone()),
            before_url,
            after_url: Some(after_url),
        });
    }
    let replaced: BTreeSet<&(ObjectId, String)> = renamed.values().collect();
    for (key @ (id, name), before) in &o {
        // A port still held, by this Service or another (then reported as taken), or handed
        // on to the Service that replaces this one, is not released.
        if n.contains_key(key) || replaced.contains(key) || new_ports.contains(&before.node_port) {
            continue;
        }
        out.push(NodePortMove {
            service: id.clone(),
            port: name.clone(),
            what: NodePortWhat::Released,
            before: Some(before.node_port),
            after: None,
            previous_owner: None,
            replaces: None,
            before_url: Some(url(id, before)),
            after_url: None,
        });
    }
    out.sort_by(|a, b| (a.what, &a.service, &a.port).cmp(&(b.what, &b.service, &b.port)));
    out
}

/// Renamed servers: each port of an added Service → the port of the removed Service it
/// replaces. Within a namespace and port name, a removed and an added Service of the same role
/// pair up when that role has one of each; then a last one of each pairs up whatever its role
/// (a renamed role). Anything else is left unpaired: released ports and new servers.
fn renames(old: &Snapshot, new: &Snapshot, o: &Ports, n: &Ports) -> BTreeMap<Key, Key> {
    let (removed, added) = (by_place(o, old, new), by_place(n, new, old));
    let role = |ports: &Ports, k: &Key| ports[k].role.clone();
    let mut pairs = BTreeMap::new();
    for (place, mut gone) in removed {
        let Some(came) = added.get(&place) else {
            continue;
        };
        let mut came = came.clone();
        let roles: BTreeSet<String> = gone.iter().filter_map(|k| role(o, k)).collect();
        for r in roles {
            let from: Vec<&Key> = gone
                .iter()
                .filter(|k| role(o, k) == Some(r.clone()))
                .collect();
            let to: Vec<&Key> = came
                .iter()
                .filter(|k| role(n, k) == Some(r.clone()))
                .collect();
            if let ([from], [to]) = (from.as_slice(), to.as_slice()) {
                let (from, to) = ((*from).clone(), (*to).clone());
                gone.retain(|k| *k != from);
                came.retain(|k| *k != to);
                pairs.insert(to, from);
            }
        }
        if let ([from], [to]) = (gone.as_slice(), came.as_slice()) {
            pairs.insert(to.clone(), from.clone());
        }
    }
    pairs
}

/// The ports of Services in `there` but not in `elsewhere`, by namespace and port name.
fn by_place(
    ports: &Ports,
    there: &Snapshot,
    elsewhere: &Snapshot,
) -> BTreeMap<(Option<String>, String), Vec<Key>> {
    let mut out: BTreeMap<_, Vec<Key>> = BTreeMap::new();
    for k @ (id, name) in ports.keys() {
        if there.objects.contains_key(id) && !elsewhere.objects.contains_key(id) {
            out.entry((id.namespace.clone(), name.clone()))
                .or_default()
                .push(k.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    fn svc(name: &str, port: u16) -> String {
        format!(
            "kind: Service\nmetadata: {{name: {name}, namespace: t, labels: {{nbgen.io/server: {name}, nbgen.io/role: r}}}}\nspec: {{ports: [{{name: http, nodePort: {port}}}]}}\n"
        )
    }

    fn moves(old: &[(&str, u16)], new: &[(&str, u16)]) -> Vec<NodePortMove> {
        let files = |list: &[(&str, u16)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(name, port)| (format!("{name}.yaml"), svc(name, *port)))
                .collect()
        };
        let (o, n) = (files(old), files(new));
        fn refs(f: &[(String, String)]) -> Vec<(&str, &str)> {
            f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
        }
        assess(&snap(&refs(&o)), &snap(&refs(&n)), &BTreeMap::new()).node_ports
    }

    #[test]
    fn node_ports_that_move_or_change_hands() {
        let r = moves(&[("a", 30001), ("b", 30002)], &[("a", 30002), ("c", 30003)]);
        assert_eq!(r.len(), 2, "{r:?}");
        // c, of b's role, replaces b; the port b had went to a. Taken comes first.
        assert_eq!(r[1].what, NodePortWhat::Moved);
        assert_eq!(r[1].replaces.as_ref().unwrap().name, "b");
        let m = &r[0];
        assert_eq!(m.what, NodePortWhat::Taken);
        assert_eq!((m.before, m.after), (Some(30001), Some(30002)));
        assert_eq!(m.previous_owner.as_ref().unwrap().name, "b");
        assert_eq!(
            m.after_url.as_deref(),
            Some("http://<node>:30002/notebook/t/a/")
        );
    }

    #[test]
    fn a_renamed_server_moves_its_port_and_url() {
        let r = moves(
            &[("infer", 32214), ("x", 30001)],
            &[("inference", 31879), ("x", 30001)],
        );
        assert_eq!(r.len(), 1, "{r:?}");
        let m = &r[0];
        assert_eq!(m.what, NodePortWhat::Moved);
        assert_eq!(m.service.name, "inference");
        assert_eq!(m.replaces.as_ref().unwrap().name, "infer");
        assert_eq!((m.before, m.after), (Some(32214), Some(31879)));
        assert_eq!(
            (m.before_url.as_deref(), m.after_url.as_deref()),
            (
                Some("http://<node>:32214/notebook/t/infer/"),
                Some("http://<node>:31879/notebook/t/inference/")
            )
        );
        // Pinned to the same port, the URL still changes with the server's name.
        let r = moves(&[("infer", 32214)], &[("inference", 32214)]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].what, NodePortWhat::Moved);
    }

    #[test]
    fn a_port_nobody_holds_any_more_is_released() {
        // One server becomes two (perMember): nothing to pair, the old port is released.
        let r = moves(&[("prep", 30010)], &[("prep-a", 30011), ("prep-b", 30012)]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].what, NodePortWhat::Released);
        assert_eq!(r[0].service.name, "prep");
        assert_eq!(r[0].after, None);
        assert_eq!(
            r[0].before_url.as_deref(),
            Some("http://<node>:30010/notebook/t/prep/")
        );
        // Released and then taken by a new server: reported once, as taken.
        let r = moves(&[("prep", 30010)], &[("prep-a", 30010), ("prep-b", 30012)]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].what, NodePortWhat::Taken);
        assert_eq!(r[0].previous_owner.as_ref().unwrap().name, "prep");
    }

    #[test]
    fn new_servers_and_unchanged_ports_are_no_risk() {
        assert!(moves(&[("a", 30001)], &[("a", 30001), ("b", 30002)]).is_empty());
        assert!(moves(&[("a", 30001)], &[("a", 30001)]).is_empty());
    }
}
