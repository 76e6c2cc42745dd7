//! The pod pieces notebook servers and notebook jobs share: restricted security context,
//! resources, GPU placement, shared-volume mounts, the writable home, /tmp and /dev/shm, and
//! the environment a notebook expects (HOME, runtime files on /tmp, `pip install --user` on the
//! home volume). Pure. Nothing
//! here may differ between a role's servers and its jobs: a job runs where and as its role's
//! servers run.

use crate::model::names;
use crate::model::start::{CommandLine, HOME, NOTEBOOK_PORT};
use crate::model::{Env, Family, GpuUse, Job, Quantity, Server, Start};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, Probe, ResourceRequirements,
    SeccompProfile, SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The notebook user of Jupyter's docker-stacks images (`jovyan`), and its group `users`.
const UID: i64 = 1000;
const GID: i64 = 100;
/// The group an NFS export must let write (docs/images.md: root `1000:100`, mode `2775`): the
/// kubelet applies no fsGroup to NFS, so a pod reaches the export through this group. The plain
/// target runs as it; a target whose SCC assigns the group adds it as a supplemental group.
pub const NFS_GROUP: i64 = GID;

/// What a notebook pod runs with, as its role says: a server's or a job's.
pub struct Workload<'a> {
    pub image: &'a str,
    pub cpu: &'a Quantity,
    pub memory: &'a Quantity,
    pub shm_size: &'a Quantity,
    pub gpu: Option<&'a GpuUse>,
    /// `(volume, read_only)`.
    pub mounts: &'a [(String, bool)],
}

impl<'a> From<&'a Server> for Workload<'a> {
    fn from(s: &'a Server) -> Self {
        Workload {
            image: &s.image.reference,
            cpu: &s.cpu,
            memory: &s.memory,
            shm_size: &s.shm_size,
            gpu: s.gpu.as_ref(),
            mounts: &s.mounts,
        }
    }
}

impl<'a> From<&'a Job> for Workload<'a> {
    fn from(j: &'a Job) -> Self {
        Workload {
            image: &j.image.reference,
            cpu: &j.cpu,
            memory: &j.memory,
            shm_size: &j.shm_size,
            gpu: j.gpu.as_ref(),
            mounts: &j.mounts,
        }
    }
}

/// Where Jupyter and its kernels keep runtime files (connection files, server info): on the
/// /tmp emptyDir, not the home volume, so a restarted pod never finds a dead server's files.
pub const RUNTIME_DIR: &str = "/tmp/jupyter-runtime";

/// The environment every notebook container gets, server or job: its home, where runtime files
/// go, and `pip install` going to `~/.local` (the image's own site-packages are read-only).
pub fn base_env() -> Vec<EnvVar> {
    [
        ("HOME", HOME.to_owned()),
        ("JUPYTER_RUNTIME_DIR", RUNTIME_DIR.to_owned()),
        ("PIP_USER", "true".to_owned()),
        ("PYTHONUSERBASE", format!("{HOME}/.local")),
    ]
    .into_iter()
    .map(|(name, value)| env_var(name, &value))
    .collect()
}

pub fn env_var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}

/// The pod: `home` (the volume mounted at /home/jovyan), /tmp, /dev/shm, the shared volumes, one
/// container, run as the notebook user under the restricted Pod Security Standard, placed on
/// the GPU pool's nodes. `extra` volumes come after the shared ones.
pub fn pod_spec(
    env: &Env,
    w: &Workload,
    service_account: &str,
    home: Volume,
    extra: Vec<Volume>,
    container: Container,
) -> PodSpec {
    let pool = w.gpu.map(|g| &env.gpu_pools[&g.pool]);
    let mut volumes = vec![
        home,
        Volume {
            name: "tmp".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(K8sQuantity("1Gi".to_owned())),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        },
        // Memory-backed and limited: it counts against the container's memory limit.
        Volume {
            name: "shm".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_owned()),
                size_limit: Some(K8sQuantity(w.shm_size.text.clone())),
            }),
            ..Volume::default()
        },
    ];
    for (vol, read_only) in w.mounts {
        volumes.push(Volume {
            name: names::pod_volume(vol),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: vol.clone(),
                read_only: read_only.then_some(true),
            }),
            ..Volume::default()
        });
    }
    volumes.extend(extra);
    PodSpec {
        automount_service_account_token: Some(false),
        containers: vec![container],
        enable_service_links: Some(false),
        node_selector: pool
            .map(|p| p.node_selector.clone())
            .filter(|m| !m.is_empty()),
        security_context: Some(PodSecurityContext {
            fs_group: Some(GID),
            run_as_group: Some(GID),
            run_as_non_root: Some(true),
            run_as_user: Some(UID),
            seccomp_profile: Some(runtime_default()),
            ..PodSecurityContext::default()
        }),
        service_account_name: Some(service_account.to_owned()),
        tolerations: pool
            .map(|p| {
                p.tolerations
                    .iter()
                    .map(|t| Toleration {
                        effect: t.effect.clone(),
                        key: t.key.clone(),
                        operator: t.operator.clone(),
                        toleration_seconds: t.toleration_seconds,
                        value: t.value.clone(),
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|t| !t.is_empty()),
        volumes: Some(volumes),
        ..PodSpec::default()
    }
}

/// A notebook server's Jupyter container, as every target starts it: `line` (the start
/// convention's command for the server's URL `prefix`), `NB_PREFIX`, for a docker-stacks image
/// the subcommand pinned and the image's NOTEBOOK_ARGS emptied (start-notebook.py runs `jupyter
/// $DOCKER_STACKS_JUPYTER_CMD $NOTEBOOK_ARGS <args>`, so flags baked into the image, an empty
/// token say, never reach Jupyter), then `extra_env`; the port `port_name` and probes of
/// `<prefix>/api` — up to 5 minutes for a first start (a large image's start hooks, a slow
/// volume), liveness and readiness once it succeeds, so liveness never kills a slow start.
pub fn jupyter_container(
    s: &Server,
    name: &str,
    prefix: &str,
    line: CommandLine,
    port_name: &str,
    extra_env: Vec<EnvVar>,
) -> Container {
    let mut env = base_env();
    env.push(env_var("NB_PREFIX", prefix));
    if s.image.start == Start::Family(Family::DockerStacks) {
        env.push(env_var("DOCKER_STACKS_JUPYTER_CMD", "lab"));
        env.push(env_var("NOTEBOOK_ARGS", ""));
    }
    env.extend(extra_env);
    let probe = |initial: i32, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(format!("{prefix}/api")),
            port: IntOrString::String(port_name.to_owned()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: (initial > 0).then_some(initial),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    };
    Container {
        command: line.command,
        args: line.args,
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some(port_name.to_owned()),
            container_port: NOTEBOOK_PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        startup_probe: Some(probe(0, 5, 60)),
        readiness_probe: Some(probe(5, 10, 3)),
        liveness_probe: Some(probe(60, 30, 5)),
        ..container(&Workload::from(s), name, Vec::new())
    }
}

/// The container's image, resources (requests = limits, plus the GPUs), restricted security
/// context, and mounts: home, /tmp, /dev/shm, each shared volume at /data/<volume>, then `extra`.
pub fn container(w: &Workload, name: &str, extra: Vec<VolumeMount>) -> Container {
    let mut resources = BTreeMap::from([
        ("cpu".to_owned(), K8sQuantity(w.cpu.text.clone())),
        ("memory".to_owned(), K8sQuantity(w.memory.text.clone())),
    ]);
    if let Some(g) = w.gpu {
        resources.insert(g.resource.clone(), K8sQuantity(g.count.to_string()));
    }
    let mut mounts = vec![
        VolumeMount {
            name: "home".to_owned(),
            mount_path: HOME.to_owned(),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "tmp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "shm".to_owned(),
            mount_path: "/dev/shm".to_owned(),
            ..VolumeMount::default()
        },
    ];
    for (vol, read_only) in w.mounts {
        mounts.push(VolumeMount {
            name: names::pod_volume(vol),
            mount_path: format!("/data/{vol}"),
            read_only: read_only.then_some(true),
            ..VolumeMount::default()
        });
    }
    mounts.extend(extra);
    Container {
        name: name.to_owned(),
        image: Some(w.image.to_owned()),
        // Always: every pod re-checks the pull credentials, so on a shared node one team cannot
        // start another team's private image from the cache. Unchanged layers are not re-downloaded.
        image_pull_policy: Some("Always".to_owned()),
        resources: Some(ResourceRequirements {
            limits: Some(resources.clone()),
            requests: Some(resources),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_group: Some(GID),
            run_as_non_root: Some(true),
            run_as_user: Some(UID),
            seccomp_profile: Some(runtime_default()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        working_dir: Some(HOME.to_owned()),
        ..Container::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}
