//! `roles:` → resolved roles (image, quantities, GPU pool, mounts), copied into each server and
//! job; /dev/shm at most half the memory. Pure.

use super::*;

/// A role with its references resolved; copied into each of its servers.
pub(super) struct ResolvedRole {
    pub(super) image: Image,
    pub(super) cpu: Quantity,
    pub(super) memory: Quantity,
    pub(super) shm_size: Quantity,
    pub(super) home_size: Quantity,
    pub(super) gpu: Option<GpuUse>,
    pub(super) mounts: Vec<(String, bool)>,
}

/// /dev/shm when a role does not say: 1Gi with a GPU (data loaders share batches through it),
/// 256Mi without; never more than half the role's memory.
pub const DEFAULT_SHM_GPU: &str = "1Gi";
pub const DEFAULT_SHM: &str = "256Mi";

pub(super) fn default_shm(memory: &Quantity, gpu: bool) -> Quantity {
    let (text, mib) = if gpu {
        (DEFAULT_SHM_GPU, 1024)
    } else {
        (DEFAULT_SHM, 256)
    };
    let value: i128 = mib * (1 << 20) * 1000;
    let half = memory.value / 2000 * 1000;
    if value <= half {
        Quantity {
            text: text.to_owned(),
            value,
        }
    } else {
        Quantity {
            text: Quantity::bytes_text(half),
            value: half,
        }
    }
}

impl Cx<'_> {
    pub(super) fn roles(
        &mut self,
        raw: &RawSpec,
        images: &BTreeMap<String, Image>,
        pools: &BTreeMap<String, GpuPool>,
        volumes: &BTreeMap<String, Volume>,
    ) -> BTreeMap<String, ResolvedRole> {
        let mut out = BTreeMap::new();
        for (name, r) in &raw.roles {
            let at = ptr(&["roles", name]);
            let image = match images.get(&r.image) {
                Some(i) => Some(i.clone()),
                // Defined but invalid: already reported.
                None if raw.images.contains_key(&r.image) => None,
                None => {
                    self.unresolved(
                        &format!("{at}/image"),
                        &format!("role `{name}`"),
                        "image",
                        &r.image,
                        raw.images.keys(),
                        "images",
                    );
                    None
                }
            };
            let cpu = self.quantity(&format!("{at}/cpu"), &r.cpu, Unit::Cpu);
            let memory = self
                .quantity(&format!("{at}/memory"), &r.memory, Unit::Bytes)
                .filter(|m| {
                    self.at_least(&format!("{at}/memory"), m, MIN_MEMORY, "a notebook server")
                });
            let home_size = match &r.home_size {
                Some(q) => self
                    .quantity(&format!("{at}/homeSize"), q, Unit::Bytes)
                    .filter(|h| {
                        self.at_least(&format!("{at}/homeSize"), h, MIN_HOME, "a home volume")
                    }),
                None => Some(Quantity {
                    text: "10Gi".to_owned(),
                    value: 10 * (1 << 30) * 1000,
                }),
            };
            let gpu = match &r.gpu {
                None => Some(None),
                Some(g) => match pools.get(&g.pool) {
                    Some(p) => Some(Some(GpuUse {
                        pool: p.name.clone(),
                        resource: p.resource.clone(),
                        count: g.count,
                    })),
                    None => {
                        self.unresolved(
                            &format!("{at}/gpu/pool"),
                            &format!("role `{name}`"),
                            "GPU pool",
                            &g.pool,
                            raw.gpu_pools.keys(),
                            "gpuPools",
                        );
                        None
                    }
                },
            };
            let shm_size = match (&memory, &r.shm_size) {
                (Some(memory), Some(q)) => self
                    .quantity(&format!("{at}/shmSize"), q, Unit::Bytes)
                    .filter(|shm| self.shm_fits(&at, name, shm, memory)),
                (Some(memory), None) => Some(default_shm(memory, r.gpu.is_some())),
                (None, _) => None,
            };
            let mut mounts = Vec::new();
            for (vol, mode) in &r.mounts {
                if volumes.contains_key(vol) {
                    mounts.push((vol.clone(), *mode == MountMode::ReadOnly));
                } else if !raw.storage.contains_key(vol) {
                    let at = format!("{at}/mounts/{}", escape(vol));
                    let help = match did_you_mean(vol, raw.storage.keys().map(String::as_str)) {
                        Some(c) => format!(
                            "did you mean `{c}`? Shared volumes are defined under `storage:`"
                        ),
                        None => format!(
                            "define it under `storage:` ({})",
                            defined(raw.storage.keys())
                        ),
                    };
                    self.error_at_key(
                        &at,
                        format!("role `{name}` mounts undefined volume `{vol}`"),
                        help,
                    );
                }
            }
            if let (
                Some(image),
                Some(cpu),
                Some(memory),
                Some(shm_size),
                Some(home_size),
                Some(gpu),
            ) = (image, cpu, memory, shm_size, home_size, gpu)
            {
                out.insert(
                    name.clone(),
                    ResolvedRole {
                        image,
                        cpu,
                        memory,
                        shm_size,
                        home_size,
                        gpu,
                        mounts,
                    },
                );
            }
        }
        out
    }

    /// /dev/shm is memory-backed: what is written there counts against the container's memory
    /// limit, so it may take at most half of it.
    pub(super) fn shm_fits(
        &mut self,
        at: &str,
        role: &str,
        shm: &Quantity,
        memory: &Quantity,
    ) -> bool {
        if shm.value.saturating_mul(2) <= memory.value {
            return true;
        }
        let half = memory.value / 2000 * 1000;
        let needed = shm.value.saturating_mul(2);
        self.error(
            &format!("{at}/shmSize"),
            format!(
                "role `{role}` asks for shmSize {}, more than half of its memory {}",
                shm.text, memory.text
            ),
            format!(
                "/dev/shm is memory: what processes write there counts against the container's {} limit; set shmSize to at most {}, or memory to at least {}",
                memory.text,
                Quantity::bytes_text(half),
                Quantity::bytes_text(needed)
            ),
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shm_is_at_most_half_the_memory() {
        let q = |text: &str| Quantity {
            text: text.to_owned(),
            value: Quantity::milli(text).unwrap(),
        };
        assert_eq!(default_shm(&q("64Gi"), true).text, "1Gi");
        assert_eq!(default_shm(&q("8Gi"), false).text, "256Mi");
        assert_eq!(default_shm(&q("1Gi"), true).text, "512Mi");
        assert_eq!(default_shm(&q("300Mi"), false).text, "150Mi");
        assert_eq!(default_shm(&q("1G"), false).value, 256 * (1 << 20) * 1000);
        assert_eq!(default_shm(&q("1001"), false).text, "500");
    }
}
