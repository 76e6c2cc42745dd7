//! NodePorts: a Service port whose NodePort changes, or that takes a port another Service had.

use super::Same;
use crate::object::ObjectId;
use crate::review::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A Service port whose NodePort moves, or that takes over a port another Service had.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePortMove {
    pub service: ObjectId,
    /// The port's name (or number when unnamed).
    pub port: String,
    pub before: Option<i64>,
    pub after: i64,
    /// The Service that had `after` before this change, if another one did.
    pub previous_owner: Option<ObjectId>,
}

/// The NodePorts a Service holds, by (Service, port name).
pub(super) fn service_ports(
    id: &ObjectId,
    value: &Value,
    out: &mut BTreeMap<(ObjectId, String), i64>,
) {
    if id.kind != "Service" {
        return;
    }
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
        out.insert((id.clone(), name), node_port);
    }
}

pub(super) fn node_ports(old: &Snapshot, new: &Snapshot, same: &Same) -> Vec<NodePortMove> {
    let ports = |snap: &Snapshot| -> BTreeMap<(ObjectId, String), i64> {
        let mut out = same.ports.clone();
        for (id, f) in &snap.objects {
            service_ports(id, &f.value, &mut out);
        }
        out
    };
    let (o, n) = (ports(old), ports(new));
    let owner: BTreeMap<i64, &ObjectId> = o.iter().map(|((id, _), p)| (*p, id)).collect();
    let mut out = Vec::new();
    for ((id, name), &after) in &n {
        let before = o.get(&(id.clone(), name.clone())).copied();
        let previous_owner = owner
            .get(&after)
            .filter(|o| **o != id)
            .map(|o| (*o).clone());
        if before.is_some_and(|b| b != after) || previous_owner.is_some() {
            out.push(NodePortMove {
                service: id.clone(),
                port: name.clone(),
                before,
                after,
                previous_owner,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    #[test]
    fn node_ports_that_move_or_change_hands() {
        let svc = |name: &str, port: u16| {
            format!(
                "kind: Service\nmetadata: {{name: {name}, namespace: t}}\nspec: {{ports: [{{name: http, nodePort: {port}}}]}}\n"
            )
        };
        let r = assess(
            &snap(&[("a.yaml", &svc("a", 30001)), ("b.yaml", &svc("b", 30002))]),
            &snap(&[("a.yaml", &svc("a", 30002)), ("c.yaml", &svc("c", 30003))]),
            &BTreeMap::new(),
        );
        assert_eq!(r.node_ports.len(), 1);
        let m = &r.node_ports[0];
        assert_eq!((m.before, m.after), (Some(30001), 30002));
        assert_eq!(m.previous_owner.as_ref().unwrap().name, "b");
    }
}
