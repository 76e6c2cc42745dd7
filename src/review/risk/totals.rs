//! Resource requests summed over every workload, per team and per GPU pool, before and after.

use super::{Same, pod_spec};
use crate::model::{GpuPool, Quantity};
use crate::object::ObjectId;
use crate::review::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Resource requests summed over every workload, per team and per GPU pool.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub teams: Vec<TeamTotal>,
    pub pools: Vec<PoolTotal>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    pub cpu_millicores: i64,
    pub memory_bytes: i64,
    pub gpus: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TeamTotal {
    pub team: String,
    pub before: Resources,
    pub after: Resources,
}

#[derive(Clone, Debug, Serialize)]
pub struct PoolTotal {
    pub pool: String,
    pub resource: String,
    /// The pool's capacity in the new spec, when the pool is defined there.
    pub capacity: Option<u32>,
    pub before: i64,
    pub after: i64,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Sums {
    teams: BTreeMap<String, Resources>,
    /// (pool name, resource) → GPUs
    pools: BTreeMap<(String, String), i64>,
}

impl Sums {
    pub(super) fn merge(&mut self, other: Sums) {
        for (team, r) in other.teams {
            let t = self.teams.entry(team).or_default();
            t.cpu_millicores += r.cpu_millicores;
            t.memory_bytes += r.memory_bytes;
            t.gpus += r.gpus;
        }
        for (pool, n) in other.pools {
            *self.pools.entry(pool).or_default() += n;
        }
    }
}

fn sums(snap: &Snapshot, same: &Same, pools: &BTreeMap<String, GpuPool>) -> Sums {
    let mut s = same.sums.clone();
    for (id, f) in &snap.objects {
        add_workload(&mut s, id, &f.value, pools);
    }
    s
}

/// Add a workload's requests to its team and its GPU pools; any other object adds nothing.
pub(super) fn add_workload(
    s: &mut Sums,
    id: &ObjectId,
    value: &Value,
    pools: &BTreeMap<String, GpuPool>,
) {
    {
        let Some(spec) = pod_spec(&id.kind, value) else {
            return;
        };
        // Pods at once; jobs count as if always running, as nbgen's own quota checks do.
        let count = |ptr: &str| value.pointer(ptr).and_then(Value::as_i64).unwrap_or(1);
        let replicas = match id.kind.as_str() {
            "Deployment" | "StatefulSet" | "ReplicaSet" => count("/spec/replicas"),
            "Job" => count("/spec/parallelism"),
            "CronJob" => count("/spec/jobTemplate/spec/parallelism"),
            _ => 1,
        };
        let team = value
            .pointer("/metadata/labels/nbgen.io~1team")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| id.namespace.clone())
            .unwrap_or_else(|| "(cluster)".to_owned());
        let selector: BTreeMap<String, String> = spec
            .get("nodeSelector")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut r = Resources::default();
        for c in spec
            .get("containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let amount = |name: &str| -> Option<&str> {
                ["requests", "limits"].iter().find_map(|which| {
                    c.pointer(&format!("/resources/{which}"))
                        .and_then(|m| m.get(name))
                        .and_then(Value::as_str)
                })
            };
            r.cpu_millicores += amount("cpu").map_or(0, parse_milli);
            r.memory_bytes += amount("memory").map_or(0, parse_bytes);
            let extended: BTreeSet<&String> = ["limits", "requests"]
                .iter()
                .filter_map(|w| {
                    c.pointer(&format!("/resources/{w}"))
                        .and_then(Value::as_object)
                })
                .flat_map(|m| m.keys())
                .filter(|k| k.contains('/'))
                .collect();
            for resource in extended {
                let count = amount(resource).map_or(0, parse_milli) / 1000;
                r.gpus += count;
                let pool = pools
                    .values()
                    .find(|p| {
                        &p.resource == resource
                            && p.node_selector
                                .iter()
                                .all(|(k, v)| selector.get(k) == Some(v))
                    })
                    .map_or_else(|| resource.clone(), |p| p.name.clone());
                *s.pools.entry((pool, resource.clone())).or_default() += count * replicas;
            }
        }
        let t = s.teams.entry(team).or_default();
        t.cpu_millicores += r.cpu_millicores * replicas;
        t.memory_bytes += r.memory_bytes * replicas;
        t.gpus += r.gpus * replicas;
    }
}

pub(super) fn totals(
    old: &Snapshot,
    new: &Snapshot,
    same: &Same,
    pools: &BTreeMap<String, GpuPool>,
) -> Totals {
    let (o, n) = (sums(old, same, pools), sums(new, same, pools));
    let teams: BTreeSet<&String> = o.teams.keys().chain(n.teams.keys()).collect();
    let keys: BTreeSet<&(String, String)> = o.pools.keys().chain(n.pools.keys()).collect();
    Totals {
        teams: teams
            .into_iter()
            .map(|t| TeamTotal {
                team: t.clone(),
                before: o.teams.get(t).copied().unwrap_or_default(),
                after: n.teams.get(t).copied().unwrap_or_default(),
            })
            .collect(),
        pools: keys
            .into_iter()
            .map(|k| PoolTotal {
                pool: k.0.clone(),
                resource: k.1.clone(),
                capacity: pools.get(&k.0).map(|p| p.capacity),
                before: o.pools.get(k).copied().unwrap_or_default(),
                after: n.pools.get(k).copied().unwrap_or_default(),
            })
            .collect(),
    }
}

/// A Kubernetes quantity in thousandths (millicores for CPU); 0 when it does not parse.
pub(super) fn parse_milli(text: &str) -> i64 {
    Quantity::milli(text).map_or(0, |v| v.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
}

pub(super) fn parse_bytes(text: &str) -> i64 {
    parse_milli(text) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse() {
        assert_eq!(parse_bytes("8Gi"), 8 << 30);
        assert_eq!(parse_milli("500m"), 500);
    }
}
