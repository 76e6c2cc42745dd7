//! One notebook job's objects (docs/jobs.md): ServiceAccount, the `<job>-params` ConfigMap, and
//! a Job (run once) or a CronJob (on a schedule) whose pod runs papermill as its role's servers
//! run Jupyter. Pure. A job never gets a persistent home, a Service, or a way in from the network.

use crate::expand::pod::{self, Workload};
use crate::expand::{labels, meta};
use crate::model::names::{self, COMPONENT, JOB, ROLE};
use crate::model::{Env, Job, Team};
use crate::object::Object;
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job as K8sJob, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    ObjectFieldSelector, PodSpec, PodTemplateSpec, ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Where the parameters ConfigMap is mounted, and the file papermill reads (`-f`).
pub const PARAMS_DIR: &str = "/etc/nbgen/params";
pub const PARAMS_FILE: &str = "parameters.yaml";

pub fn objects(env: &Env, team: &Team, j: &Job) -> Vec<Object> {
    let workload = match &j.schedule {
        None => Object::from(job(env, team, j)),
        Some(_) => Object::from(cron_job(env, team, j)),
    };
    vec![
        Object::from(service_account(env, team, j)),
        Object::from(parameters(env, team, j)),
        workload,
    ]
}

/// The papermill command line. `$(POD_NAME)` is expanded by the kubelet, so every run (every
/// retry, every scheduled run) writes its own output notebook.
pub fn command(j: &Job) -> Vec<String> {
    vec![
        "papermill".to_owned(),
        literal(&j.notebook),
        format!("{}/{}-$(POD_NAME).ipynb", literal(&j.output_dir), j.name),
        "-f".to_owned(),
        format!("{PARAMS_DIR}/{PARAMS_FILE}"),
        "--log-output".to_owned(),
    ]
}

/// The kubelet expands `$(VAR)` in commands and reduces `$$` to `$`: escape every `$` of a path.
fn literal(path: &str) -> String {
    path.replace('$', "$$")
}

fn job_labels(env: &Env, team: &Team, j: &Job) -> BTreeMap<String, String> {
    let mut l = labels(env, team);
    l.insert(COMPONENT.to_owned(), "notebook-job".to_owned());
    l.insert(ROLE.to_owned(), j.role.clone());
    l.insert(JOB.to_owned(), j.name.clone());
    l
}

fn job_meta(env: &Env, team: &Team, name: &str, j: &Job) -> ObjectMeta {
    meta(name, Some(&team.namespace), job_labels(env, team, j))
}

fn service_account(env: &Env, team: &Team, j: &Job) -> ServiceAccount {
    ServiceAccount {
        metadata: job_meta(env, team, &j.name, j),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

fn parameters(env: &Env, team: &Team, j: &Job) -> ConfigMap {
    // serde-saphyr quotes every string YAML 1.1 (papermill's PyYAML) would read as something
    // else: `on`, `2024-01-01`, `12:30`.
    let yaml = serde_saphyr::to_string(&j.parameters).expect("JSON values always serialize");
    ConfigMap {
        metadata: job_meta(env, team, &names::params_config_map(&j.name), j),
        data: Some(BTreeMap::from([(PARAMS_FILE.to_owned(), yaml)])),
        ..ConfigMap::default()
    }
}

fn job_spec(env: &Env, team: &Team, j: &Job) -> JobSpec {
    JobSpec {
        active_deadline_seconds: j.active_deadline_seconds.map(i64::from),
        backoff_limit: Some(clamp_i32(j.backoff_limit)),
        // A retry starts only once the failed pod is gone: a job never holds its role's
        // GPUs twice, which is what the capacity and quota checks count on.
        pod_replacement_policy: Some("Failed".to_owned()),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(job_labels(env, team, j)),
                ..ObjectMeta::default()
            }),
            spec: Some(pod_spec(env, j)),
        },
        ttl_seconds_after_finished: j.ttl_seconds_after_finished.map(clamp_i32),
        ..JobSpec::default()
    }
}

fn clamp_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn job(env: &Env, team: &Team, j: &Job) -> K8sJob {
    K8sJob {
        metadata: job_meta(env, team, &j.name, j),
        spec: Some(job_spec(env, team, j)),
        ..K8sJob::default()
    }
}

fn cron_job(env: &Env, team: &Team, j: &Job) -> CronJob {
    let schedule = j.schedule.as_ref().expect("a CronJob has a schedule");
    CronJob {
        metadata: job_meta(env, team, &j.name, j),
        spec: Some(CronJobSpec {
            // A run still going when the next is due: skip the next one.
            concurrency_policy: Some("Forbid".to_owned()),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(job_labels(env, team, j)),
                    ..ObjectMeta::default()
                }),
                spec: Some(job_spec(env, team, j)),
            },
            schedule: schedule.cron.clone(),
            suspend: Some(schedule.suspend),
            time_zone: schedule.time_zone.clone(),
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    }
}

fn pod_spec(env: &Env, j: &Job) -> PodSpec {
    let w = Workload::from(j);
    // papermill and the kernel write under $HOME (runtime files, caches): a scratch home that
    // lives as long as the pod. Results belong in outputDir on a shared volume.
    let home = Volume {
        name: "home".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(j.scratch_size.text.clone())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    };
    let params = Volume {
        name: "params".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: names::params_config_map(&j.name),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    let params_mount = VolumeMount {
        name: "params".to_owned(),
        mount_path: PARAMS_DIR.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    let container = k8s_openapi::api::core::v1::Container {
        command: Some(command(j)),
        env: Some(
            pod::base_env()
                .into_iter()
                .chain([EnvVar {
                    name: "POD_NAME".to_owned(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "metadata.name".to_owned(),
                            ..ObjectFieldSelector::default()
                        }),
                        ..EnvVarSource::default()
                    }),
                    ..EnvVar::default()
                }])
                .collect(),
        ),
        ..pod::container(&w, "papermill", vec![params_mount])
    };
    PodSpec {
        restart_policy: Some("Never".to_owned()),
        ..pod::pod_spec(env, &w, &j.name, home, vec![params], container)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_in_paths_are_not_expanded() {
        assert_eq!(literal("/data/a/$(HOME)/x"), "/data/a/$$(HOME)/x");
        assert_eq!(literal("/data/a/b"), "/data/a/b");
    }
}
