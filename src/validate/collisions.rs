//! Names nbgen derives (`model::names`) must not collide: two objects with one name would be one
//! file, the second silently replacing the first. Pure.

use super::*;

impl Cx<'_> {
    /// Names nbgen derives must not collide: two objects with one name would be one file (and
    /// one object in the cluster), the second silently replacing the first.
    pub(super) fn check_object_names(
        &mut self,
        raw: &RawSpec,
        teams: &[Team],
        volumes: &BTreeMap<String, Volume>,
    ) {
        // PersistentVolumes are cluster-wide and named <env>-<team>-<volume>.
        let mut pvs: BTreeMap<String, (&str, &str)> = BTreeMap::new();
        for t in teams {
            for c in &t.claims {
                let nfs = matches!(
                    volumes.get(&c.volume).map(|v| &v.backend),
                    Some(VolumeBackend::Nfs { .. })
                );
                if !nfs {
                    continue;
                }
                let pv = names::persistent_volume(&raw.name, &t.name, &c.volume);
                match pvs.get(&pv) {
                    Some((first_team, first_volume)) => self.error_at_key(
                        &ptr(&["teams", &t.name]),
                        format!(
                            "team `{}`'s use of volume `{}` and team `{first_team}`'s use of volume `{first_volume}` would both be the PersistentVolume `{pv}`",
                            t.name, c.volume
                        ),
                        "PersistentVolumes are named <environment>-<team>-<volume>, and the '-' in these names makes the two alike: rename a team or a volume",
                    ),
                    None => {
                        pvs.insert(pv, (&t.name, &c.volume));
                    }
                }
            }
        }
        for t in teams {
            // Servers are <role> or <role>-<member>; a role name with '-' can make two alike.
            let mut seen: BTreeMap<&str, &Server> = BTreeMap::new();
            for s in &t.servers {
                let Some(first) = seen.insert(&s.name, s) else {
                    continue;
                };
                let who = |s: &Server| match &s.member {
                    Some(m) => format!("role `{}` for `{m}`", s.role),
                    None => format!("role `{}`", s.role),
                };
                self.error(
                    &ptr(&["teams", &t.name, "roles"]),
                    format!(
                        "team `{}` would have two servers named `{}`: {} and {}",
                        t.name,
                        s.name,
                        who(first),
                        who(s)
                    ),
                    "servers are named <role>-<part of the e-mail before @>: rename one of the roles",
                );
            }
            // A server's home claim `<server>-home` and a shared volume's claim `<volume>`
            // live in the same namespace.
            for s in &t.servers {
                let home = names::home_claim(&s.name);
                if t.claims.iter().any(|c| c.volume == home) {
                    self.error_at_key(
                        &ptr(&["storage", &home]),
                        format!(
                            "volume `{home}` and the home volume of server `{}` in team `{}` would both be the PersistentVolumeClaim `{home}`",
                            s.name, t.name
                        ),
                        "names ending in -home are taken by servers' home volumes: rename the shared volume",
                    );
                }
            }
        }
    }
}
