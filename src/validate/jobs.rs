//! The `jobs:` block → `model::Job`s (docs/jobs.md). Pure: no I/O. Never admits a job whose
//! notebook or output directory lies outside the volumes its role mounts, or a schedule the API
//! server would refuse.

use super::{Cx, ResolvedRole, Unit, ptr};
use crate::input::yaml::escape;
use crate::model::names::{self, MAX_CRONJOB, MAX_NAME, PARAMS_SUFFIX};
use crate::model::{Job, Quantity, Schedule, Team};
use crate::spec::{RawJob, RawSpec};
use crate::validate::schedule::{self, ScheduleError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Retries of a failed run when the spec does not say.
pub const DEFAULT_BACKOFF_LIMIT: u32 = 2;
/// How long a scheduled run's finished Job (and its pod and logs) stays, when the spec does not
/// say: a day.
pub const DEFAULT_SCHEDULED_TTL: u32 = 86_400;
/// The size limit of a job's emptyDir home when the spec does not say.
pub const DEFAULT_SCRATCH_SIZE: &str = "10Gi";

/// Python's keywords (3.12): papermill assigns each parameter to a variable of its name.
const PYTHON_KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

impl Cx<'_> {
    /// Every job whose team and role resolve; the errors of all of them.
    pub(super) fn jobs(
        &mut self,
        raw: &RawSpec,
        roles: &BTreeMap<String, ResolvedRole>,
    ) -> Vec<Job> {
        raw.jobs
            .iter()
            .filter_map(|(name, j)| self.job(raw, roles, name, j))
            .collect()
    }

    fn job(
        &mut self,
        raw: &RawSpec,
        roles: &BTreeMap<String, ResolvedRole>,
        name: &str,
        j: &RawJob,
    ) -> Option<Job> {
        let at = ptr(&["jobs", name]);
        self.job_name(&at, name, j.schedule.is_some());
        let schedule = self.job_schedule(&at, name, j);
        let parameters = self.job_parameters(&at, name, &j.parameters);
        let scratch_size = match &j.scratch_size {
            Some(q) => self.quantity(&format!("{at}/scratchSize"), q, Unit::Bytes),
            None => Some(default_scratch()),
        };
        let ttl = match (&schedule, j.ttl_seconds_after_finished) {
            (Some(_), ttl) => Some(ttl.unwrap_or(DEFAULT_SCHEDULED_TTL)),
            (None, Some(ttl)) => {
                self.warn_at_key(
                    &format!("{at}/ttlSecondsAfterFinished"),
                    format!("one-off job `{name}` is deleted {ttl}s after it finishes, and Argo CD then creates it again: it will run again"),
                    "Argo CD re-creates an object missing from the cluster (at the next sync, or at once with self-heal); leave ttlSecondsAfterFinished unset so the finished Job stays as the record of its run",
                );
                Some(ttl)
            }
            (None, None) => None,
        };

        let team = raw.teams.get(&j.team);
        if team.is_none() {
            self.unresolved(
                &format!("{at}/team"),
                &format!("job `{name}`"),
                "team",
                &j.team,
                raw.teams.keys(),
                "teams",
            );
        }
        if !raw.roles.contains_key(&j.role) {
            self.unresolved(
                &format!("{at}/role"),
                &format!("job `{name}`"),
                "role",
                &j.role,
                raw.roles.keys(),
                "roles",
            );
            return None;
        }
        let team = team?;
        if !team.roles.contains(&j.role) {
            self.error(
                &format!("{at}/role"),
                format!(
                    "job `{name}` runs role `{}`, which team `{}` does not have",
                    j.role, j.team
                ),
                format!(
                    "add `{}` to teams.{}.roles, or run the job as one of the team's roles ({})",
                    j.role,
                    j.team,
                    team.roles.join(", ")
                ),
            );
            return None;
        }
        // Defined but invalid (a bad image, quantity or pool): already reported.
        let role = roles.get(&j.role)?;
        let notebook_ok = self.job_path(&at, name, "notebook", &j.notebook, &j.role, role);
        let output_ok = self.job_path(&at, name, "outputDir", &j.output_dir, &j.role, role);
        if !(notebook_ok && output_ok) {
            return None;
        }
        Some(Job {
            name: name.to_owned(),
            team: j.team.clone(),
            namespace: names::namespace(&raw.cluster.namespace_prefix, &j.team),
            role: j.role.clone(),
            image: role.image.clone(),
            cpu: role.cpu.clone(),
            memory: role.memory.clone(),
            shm_size: role.shm_size.clone(),
            gpu: role.gpu.clone(),
            mounts: role.mounts.clone(),
            notebook: j.notebook.clone(),
            output_dir: j.output_dir.clone(),
            parameters,
            schedule,
            backoff_limit: j.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT),
            active_deadline_seconds: j.active_deadline_seconds,
            ttl_seconds_after_finished: ttl,
            scratch_size: scratch_size?,
        })
    }

    /// The names derived from a job's must fit Kubernetes' limits.
    fn job_name(&mut self, at: &str, name: &str, scheduled: bool) {
        if scheduled && name.len() > MAX_CRONJOB {
            self.error_at_key(
                at,
                format!(
                    "scheduled job `{name}` is {} characters long; a CronJob name may have at most {MAX_CRONJOB}",
                    name.len()
                ),
                "the CronJob controller names each run's Job <name>-<11 characters>, which must fit in 63: shorten the job name",
            );
        } else if names::params_config_map(name).len() > MAX_NAME {
            let config_map = names::params_config_map(name);
            self.error_at_key(
                at,
                format!(
                    "job `{name}` is too long: its ConfigMap `{config_map}` would be {} characters; Kubernetes allows {MAX_NAME}",
                    config_map.len()
                ),
                format!(
                    "keep job names to {} characters",
                    MAX_NAME - PARAMS_SUFFIX.len()
                ),
            );
        }
    }

    fn job_schedule(&mut self, at: &str, name: &str, j: &RawJob) -> Option<Schedule> {
        let Some(cron) = &j.schedule else {
            for (key, set) in [
                ("timeZone", j.time_zone.is_some()),
                ("suspend", j.suspend.is_some()),
            ] {
                if set {
                    self.error_at_key(
                        &format!("{at}/{key}"),
                        format!("jobs.{name}.{key} applies only to scheduled jobs, and job `{name}` has no schedule"),
                        format!("add `schedule:` to run the job as a CronJob, or remove `{key}`"),
                    );
                }
            }
            return None;
        };
        let cron_at = format!("{at}/schedule");
        match schedule::check_schedule(cron) {
            Ok(()) => {}
            Err(ScheduleError::TimeZoneInSchedule) => {
                let help = match split_time_zone(cron) {
                    Some((zone, rest)) => format!(
                        "write `schedule: \"{rest}\"` and `timeZone: {zone}` on the job instead"
                    ),
                    None => "remove it from the schedule and set `timeZone:` (an IANA name such as Europe/Berlin) on the job instead".to_owned(),
                };
                self.error(
                    &cron_at,
                    format!("jobs.{name}.schedule `{cron}` sets a time zone with TZ or CRON_TZ, which Kubernetes rejects since 1.27"),
                    help,
                );
            }
            Err(ScheduleError::Invalid(why)) => self.error(
                &cron_at,
                format!("jobs.{name}.schedule `{cron}` is not a valid cron schedule: {why}"),
                "write five fields, minute hour day-of-month month day-of-week (\"0 2 * * *\" is 02:00 every day), or one of @hourly, @daily, @weekly, @monthly, @yearly",
            ),
        }
        if let Some(tz) = &j.time_zone
            && let Err(why) = schedule::check_time_zone(tz)
        {
            self.error(
                &format!("{at}/timeZone"),
                format!("jobs.{name}.timeZone `{tz}` is not a time zone Kubernetes accepts: {why}"),
                "use a name from the IANA time-zone database, such as Etc/UTC, Europe/Berlin or America/New_York",
            );
        }
        Some(Schedule {
            cron: cron.clone(),
            time_zone: j.time_zone.clone(),
            suspend: j.suspend.unwrap_or(false),
        })
    }

    /// Parameter names must be Python variable names; values are kept, every map sorted.
    fn job_parameters(
        &mut self,
        at: &str,
        name: &str,
        parameters: &Map<String, Value>,
    ) -> Map<String, Value> {
        for key in parameters.keys() {
            let key_at = format!("{at}/parameters/{}", escape(key));
            if PYTHON_KEYWORDS.contains(&key.as_str()) {
                self.error_at_key(
                    &key_at,
                    format!("parameter `{key}` of job `{name}` is a Python keyword"),
                    format!("papermill assigns each parameter to a Python variable of its name: rename it, e.g. `{key}_`"),
                );
            } else if !is_identifier(key) {
                self.error_at_key(
                    &key_at,
                    format!("parameter `{key}` of job `{name}` is not a Python identifier"),
                    format!(
                        "papermill assigns each parameter to a Python variable of its name: use letters, digits and '_', not starting with a digit, e.g. `{}`",
                        identifier_like(key)
                    ),
                );
            }
        }
        match sorted(&Value::Object(parameters.clone())) {
            Value::Object(m) => m,
            _ => unreachable!("a sorted map is a map"),
        }
    }

    /// A path on one of the role's volumes (`writable`: mounted readWrite). Returns whether it is.
    fn job_path(
        &mut self,
        at: &str,
        name: &str,
        key: &str,
        path: &str,
        role_name: &str,
        role: &ResolvedRole,
    ) -> bool {
        let path_at = format!("{at}/{key}");
        let what = format!("jobs.{name}.{key} `{path}`");
        let normal = normalise(path);
        if normal != path {
            self.error(
                &path_at,
                format!("{what} is not a normalised path"),
                format!("write it as `{normal}`"),
            );
            return false;
        }
        let mounts = || {
            role.mounts
                .iter()
                .map(|(v, ro)| {
                    format!("/data/{v} ({})", if *ro { "readOnly" } else { "readWrite" })
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let mount = match segments[..] {
            ["data", vol, ..] => role.mounts.iter().find(|(v, _)| v == vol),
            _ => None,
        };
        let Some((vol, read_only)) = mount else {
            let help = if role.mounts.is_empty() {
                format!(
                    "role `{role_name}` mounts no shared volumes; jobs read notebooks from and write results to shared volumes, so add one under roles.{role_name}.mounts"
                )
            } else {
                format!(
                    "role `{role_name}` mounts {}; the path must lie under one of them",
                    mounts()
                )
            };
            self.error(
                &path_at,
                format!("{what} is not on a volume that role `{role_name}` mounts"),
                help,
            );
            return false;
        };
        if key == "notebook" && !path.ends_with(".ipynb") {
            self.error(
                &path_at,
                format!("{what} is not a notebook file (.ipynb)"),
                "give the path of the notebook papermill should run, e.g. /data/datasets/notebooks/features.ipynb",
            );
            return false;
        }
        if key == "outputDir" && *read_only {
            let writable: Vec<String> = role
                .mounts
                .iter()
                .filter(|(_, ro)| !ro)
                .map(|(v, _)| format!("/data/{v}"))
                .collect();
            let help = if writable.is_empty() {
                format!(
                    "papermill writes the executed notebook there, and role `{role_name}` mounts no volume readWrite: change roles.{role_name}.mounts.{vol} to readWrite"
                )
            } else {
                format!(
                    "papermill writes the executed notebook there: choose a directory under {}, which the role mounts readWrite",
                    writable.join(" or ")
                )
            };
            self.error(
                &path_at,
                format!("{what} is on volume `{vol}`, which role `{role_name}` mounts read-only"),
                help,
            );
            return false;
        }
        true
    }

    /// A job's ServiceAccount is named after it, like a server's: the names may not meet.
    pub(super) fn check_job_collisions(&mut self, jobs: &[Job], teams: &[Team]) {
        for job in jobs {
            let Some(team) = teams.iter().find(|t| t.name == job.team) else {
                continue;
            };
            if team.servers.iter().any(|s| s.name == job.name) {
                self.error_at_key(
                    &ptr(&["jobs", &job.name]),
                    format!(
                        "job `{}` has the same name as a notebook server of team `{}`",
                        job.name, job.team
                    ),
                    format!(
                        "a job's ServiceAccount is named after the job, as a server's is after the server: rename the job, e.g. `{}-job`",
                        job.name
                    ),
                );
            }
        }
    }
}

fn default_scratch() -> Quantity {
    Quantity {
        text: DEFAULT_SCRATCH_SIZE.to_owned(),
        value: 10 * (1 << 30) * 1000,
    }
}

/// `TZ=Europe/Berlin 0 2 * * *` → `("Europe/Berlin", "0 2 * * *")`.
fn split_time_zone(cron: &str) -> Option<(&str, &str)> {
    let rest = cron
        .strip_prefix("CRON_TZ=")
        .or_else(|| cron.strip_prefix("TZ="))?;
    let (zone, rest) = rest.split_once(char::is_whitespace)?;
    Some((zone, rest.trim()))
}

/// The lexically normalised form of an absolute path: no empty, `.` or `..` segments, no
/// trailing `/`.
fn normalise(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `sample-rate` → `sample_rate`, `2nd` → `_2nd`.
fn identifier_like(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// The value with every map's keys sorted, so that reordering the spec changes no output.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_lexically() {
        assert_eq!(normalise("/data/a/b.ipynb"), "/data/a/b.ipynb");
        assert_eq!(normalise("/data/a/../b/./c/"), "/data/b/c");
        assert_eq!(normalise("/data//a"), "/data/a");
        assert_eq!(normalise("/../.."), "/");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("SAMPLE_RATE"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("sample-rate"));
        assert!(!is_identifier(""));
        assert_eq!(identifier_like("sample-rate"), "sample_rate");
        assert_eq!(identifier_like("2nd"), "_2nd");
    }

    #[test]
    fn time_zone_prefix_splits() {
        assert_eq!(
            split_time_zone("CRON_TZ=Europe/Berlin 0 2 * * *"),
            Some(("Europe/Berlin", "0 2 * * *"))
        );
        assert_eq!(split_time_zone("0 2 * * *"), None);
    }
}
