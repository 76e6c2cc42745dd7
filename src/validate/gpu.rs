//! `gpuPools:` → `model::GpuPool`s, and the capacity rule: every server and job on a pool (jobs
//! count as if always running) fits in it. Pure.

use super::*;

impl Cx<'_> {
    pub(super) fn gpu_pools(&mut self, raw: &RawSpec) -> BTreeMap<String, GpuPool> {
        raw.gpu_pools
            .iter()
            .map(|(name, p)| {
                let pool = GpuPool {
                    name: name.clone(),
                    resource: p.resource.clone(),
                    capacity: p.capacity,
                    node_selector: p.node_selector.clone(),
                    tolerations: p
                        .tolerations
                        .iter()
                        .map(|t| Toleration {
                            key: t.key.clone(),
                            operator: t.operator.clone(),
                            value: t.value.clone(),
                            effect: t.effect.clone(),
                            toleration_seconds: t.toleration_seconds,
                        })
                        .collect(),
                };
                (name.clone(), pool)
            })
            .collect()
    }

    /// Jobs count as if always running (docs/jobs.md): the pool must hold every server and job.
    pub(super) fn check_gpu_capacity(
        &mut self,
        teams: &[Team],
        jobs: &[Job],
        pools: &BTreeMap<String, GpuPool>,
    ) {
        for pool in pools.values() {
            let on_pool =
                |g: &Option<GpuUse>| g.as_ref().filter(|g| g.pool == pool.name).map(|g| g.count);
            let mut users: Vec<String> = teams
                .iter()
                .flat_map(|t| {
                    t.servers.iter().filter_map(move |s| {
                        on_pool(&s.gpu).map(|n| format!("{}/{} ({n})", t.name, s.name))
                    })
                })
                .collect();
            users.extend(jobs.iter().filter_map(|j| {
                on_pool(&j.gpu).map(|n| format!("{}/{} (job, {n})", j.team, j.name))
            }));
            let used: u64 = teams
                .iter()
                .flat_map(|t| &t.servers)
                .filter_map(|s| on_pool(&s.gpu))
                .chain(jobs.iter().filter_map(|j| on_pool(&j.gpu)))
                .map(u64::from)
                .sum();
            let has_jobs = jobs.iter().any(|j| on_pool(&j.gpu).is_some());
            if used > u64::from(pool.capacity) {
                self.error(
                    &ptr(&["gpuPools", &pool.name, "capacity"]),
                    format!(
                        "GPU pool `{}` is over capacity: its {} ask for {used} GPUs, it has {}",
                        pool.name,
                        if has_jobs { "servers and jobs" } else { "servers" },
                        pool.capacity
                    ),
                    format!(
                        "raise the capacity if the pool really has more GPUs, or lower the roles' gpu.count; {} on this pool: {}",
                        if has_jobs { "servers and jobs (a job counts as if always running)" } else { "servers" },
                        users.join(", ")
                    ),
                );
            }
        }
    }
}
