//! Warnings for what the spec defines and nothing uses: roles, images, GPU pools, volumes. Pure.

use super::*;

impl Cx<'_> {
    pub(super) fn warn_unused(&mut self, raw: &RawSpec, teams: &[Team], jobs: &[Job]) {
        let used_roles: BTreeSet<&str> = raw
            .teams
            .values()
            .flat_map(|t| t.roles.iter().map(String::as_str))
            .collect();
        for name in raw.roles.keys() {
            if !used_roles.contains(name.as_str()) {
                self.warn_at_key(
                    &ptr(&["roles", name]),
                    format!("role `{name}` is not used by any team"),
                    "add it to a team's roles, or remove it",
                );
            }
        }
        let used_images: BTreeSet<&str> = raw.roles.values().map(|r| r.image.as_str()).collect();
        for name in raw.images.keys() {
            if !used_images.contains(name.as_str()) {
                self.warn_at_key(
                    &ptr(&["images", name]),
                    format!("image `{name}` is not used by any role"),
                    "use it in a role, or remove it",
                );
            }
        }
        let used_pools: BTreeSet<&str> = teams
            .iter()
            .flat_map(|t| &t.servers)
            .filter_map(|s| s.gpu.as_ref())
            .chain(jobs.iter().filter_map(|j| j.gpu.as_ref()))
            .map(|g| g.pool.as_str())
            .collect();
        for name in raw.gpu_pools.keys() {
            if !used_pools.contains(name.as_str()) {
                self.warn_at_key(
                    &ptr(&["gpuPools", name]),
                    format!("GPU pool `{name}` is not used by any server"),
                    "reference it from a role's gpu.pool, or remove it",
                );
            }
        }
        let used_volumes: BTreeSet<&str> = teams
            .iter()
            .flat_map(|t| &t.claims)
            .map(|c| c.volume.as_str())
            .collect();
        for name in raw.storage.keys() {
            if !used_volumes.contains(name.as_str()) {
                self.warn_at_key(
                    &ptr(&["storage", name]),
                    format!("volume `{name}` is not mounted by any server"),
                    "mount it from a role's mounts, or remove it",
                );
            }
        }
    }
}
