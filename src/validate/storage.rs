//! `storage:` → `model::Volume`s: sizes, exactly one backend, absolute NFS paths; a dynamic
//! volume used by one team only. Pure.

use super::*;

impl Cx<'_> {
    pub(super) fn volumes(&mut self, raw: &RawSpec) -> BTreeMap<String, Volume> {
        let mut out = BTreeMap::new();
        for (name, v) in &raw.storage {
            let at = ptr(&["storage", name]);
            let pod_volume = names::pod_volume(name);
            if pod_volume.len() > MAX_NAME {
                self.error_at_key(
                    &at,
                    format!(
                        "volume `{name}` is mounted as pod volume `{pod_volume}`, {} characters; Kubernetes allows {MAX_NAME}",
                        pod_volume.len()
                    ),
                    format!("shorten the volume name to {} characters", MAX_NAME - POD_VOLUME_PREFIX.len()),
                );
            }
            let size = self.quantity(&format!("{at}/size"), &v.size, Unit::Bytes);
            let backend = match (&v.nfs, &v.storage_class) {
                (Some(nfs), None) => {
                    if !nfs.path.starts_with('/') {
                        self.error(
                            &format!("{at}/nfs/path"),
                            format!(
                                "storage.{name}.nfs.path `{}` is not an absolute path",
                                nfs.path
                            ),
                            "write the export path as the NFS server shows it, starting with /",
                        );
                    }
                    Some(VolumeBackend::Nfs {
                        server: nfs.server.clone(),
                        path: nfs.path.clone(),
                    })
                }
                (None, Some(class)) => Some(VolumeBackend::StorageClass(class.clone())),
                _ => {
                    self.error_at_key(
                        &at,
                        format!("storage.{name} needs exactly one of `nfs` or `storageClass`"),
                        "use nfs: {server, path} for a volume several teams share, or storageClass: <class> for one team's dynamic volume",
                    );
                    None
                }
            };
            if let (Some(size), Some(backend)) = (size, backend) {
                out.insert(
                    name.clone(),
                    Volume {
                        name: name.clone(),
                        size,
                        backend,
                    },
                );
            }
        }
        out
    }

    pub(super) fn check_shared_volumes(
        &mut self,
        raw: &RawSpec,
        teams: &[Team],
        volumes: &BTreeMap<String, Volume>,
    ) {
        // After an error, "nobody writes it" is mostly its echo: the writing role or its team
        // failed to resolve. Like the unused-name warnings, it waits until the errors are fixed.
        let after_errors = self.diags.iter().any(Diagnostic::is_error);
        for v in volumes.values() {
            let users: Vec<&str> = teams
                .iter()
                .filter(|t| t.claims.iter().any(|c| c.volume == v.name))
                .map(|t| t.name.as_str())
                .collect();
            if users.len() > 1 && matches!(v.backend, VolumeBackend::StorageClass(_)) {
                self.error(
                    &ptr(&["storage", &v.name, "storageClass"]),
                    format!(
                        "volume `{}` is used by {} teams ({}) but has a dynamic backend",
                        v.name,
                        users.len(),
                        users.join(", ")
                    ),
                    "a dynamically provisioned claim belongs to one namespace; give the volume a static backend (nfs: {server, path}) so each team gets its own PersistentVolume onto the same data",
                );
            }
            let writers = teams
                .iter()
                .flat_map(|t| &t.claims)
                .any(|c| c.volume == v.name && c.writable);
            if !users.is_empty() && !writers && !after_errors {
                self.warn_at_key(
                    &ptr(&["storage", &v.name]),
                    format!("shared volume `{}` is mounted read-only everywhere: nobody writes it", v.name),
                    "that is fine if something outside this environment fills it; otherwise give a role `readWrite`",
                );
            }
        }
        let _ = raw;
    }
}
