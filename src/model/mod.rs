//! The validated environment: every reference resolved, every name checked, every quantity
//! parsed. Only `validate` builds an `Env`; everything after it may trust it.

pub mod names;
pub mod start;

pub use crate::spec::{Each, Family};
use std::collections::BTreeMap;

/// A parsed, normalised Kubernetes quantity: its canonical text and its value in milli-units
/// (cpu) or bytes (memory, storage), for sums and comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quantity {
    pub text: String,
    pub value: i128,
}

impl Quantity {
    /// A Kubernetes quantity's value in thousandths (`"500m"` → 500, `"1Gi"` → 1,073,741,824,000),
    /// or `None` when it is not one. Via f64: kube_quantity's integer conversions refuse milli
    /// suffixes.
    pub fn milli(text: &str) -> Option<i128> {
        kube_quantity::ParsedQuantity::try_from(text.trim())
            .ok()
            .and_then(|q| (q * 1000).to_bytes_f64())
            .filter(|v| v.is_finite())
            .map(|v| v.round() as i128)
    }

    /// CPU (in thousandths, as `milli` gives it) as Kubernetes writes it: `8`, `2500m`. The one
    /// text for a CPU amount, wherever it shows: a derived quota in out/, an error, a report.
    pub fn cpu_text(milli: i128) -> String {
        if milli % 1000 == 0 {
            (milli / 1000).to_string()
        } else {
            format!("{milli}m")
        }
    }

    /// Bytes (in thousandths, as `milli` gives it) as Kubernetes writes them: `40Gi`, `512Mi`,
    /// else plain bytes. Exact: never rounded. The one text for a memory or storage amount.
    pub fn bytes_text(milli: i128) -> String {
        let b = milli / 1000;
        const GI: i128 = 1 << 30;
        const MI: i128 = 1 << 20;
        if b == 0 {
            "0".to_owned()
        } else if b % GI == 0 {
            format!("{}Gi", b / GI)
        } else if b % MI == 0 {
            format!("{}Mi", b / MI)
        } else {
            b.to_string()
        }
    }
}

#[derive(Clone, Debug)]
pub struct Env {
    pub name: String,
    /// The spec file, relative to the repository root (`environments/prod.yaml`).
    pub source: String,
    /// `cluster.name`: the real cluster, shared by every environment that writes the same name;
    /// `None`: the environment is its own cluster (see `cluster()`).
    pub cluster_name: Option<String>,
    /// `"1.33"`.
    pub kubernetes_version: String,
    /// The platform the environment is rendered for (`cluster.target`).
    pub target: Target,
    pub node_ports: (u16, u16),
    pub storage_class: Option<String>,
    pub gpu_pools: BTreeMap<String, GpuPool>,
    pub volumes: BTreeMap<String, Volume>,
    pub teams: Vec<Team>,
    /// Notebook jobs (docs/jobs.md), sorted by name; each runs in its team's namespace.
    pub jobs: Vec<Job>,
    /// The spec files `source` builds on (`extends`), nearest first (docs/environments.md).
    pub bases: Vec<String>,
    /// Argo CD objects to render, and sync waves to add (docs/argocd.md).
    pub argocd: Option<ArgoCd>,
    /// User templates, in the order written (docs/templates.md).
    pub extras: Vec<Extra>,
    /// Who may reach the notebooks and what they may reach (docs/security.md).
    pub network: Network,
}

/// The platform an environment is rendered for (`cluster.target`): which objects express its
/// teams, servers and access. Each has a folder under `expand/`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// Plain Kubernetes: Namespaces, StatefulSets, NodePort Services, RBAC (the default).
    #[default]
    Kubernetes,
    /// Kubeflow 1.10: Profiles, contributors and Notebooks (docs/kubeflow.md).
    Kubeflow,
    /// OpenShift 4: the restricted-v2/v3 SCCs, Routes (docs/openshift.md).
    OpenShift,
    /// Open Data Hub / OpenShift AI: data science projects and workbenches (docs/openshift.md).
    OpenDataHub,
}

impl Target {
    /// Whether each member of a perMember team has a namespace of their own (`<team
    /// namespace>-<member slug>`): on Kubeflow (their Profile) and Open Data Hub (their
    /// project), whose sharing is by whole namespace.
    pub fn namespace_per_member(self) -> bool {
        matches!(self, Target::Kubeflow | Target::OpenDataHub)
    }

    /// As the spec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Kubernetes => "kubernetes",
            Target::Kubeflow => "kubeflow",
            Target::OpenShift => "openshift",
            Target::OpenDataHub => "opendatahub",
        }
    }
}

/// The network access the spec declares; everything else is denied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// Where the cluster's DNS runs: the one egress every pod has.
    pub dns: Peer,
    /// Pod, service and node ranges, excluded from `Internet`.
    pub cluster_cidrs: Vec<Cidr>,
    /// Access through Ingress: the controller's pods.
    pub ingress_controller: Option<Peer>,
    /// Access through NodePort Services, from these client ranges; `None`: no NodePorts.
    pub node_port_clients: Option<Vec<Cidr>>,
    /// Namespaces, by their labels, whose pods may reach the notebook port: the platform's own
    /// router (OpenShift's, whose namespaces carry `policy-group.network.openshift.io/ingress`).
    pub router_namespaces: Vec<BTreeMap<String, String>>,
    /// The port the DNS pods listen on: 53, or OpenShift's 5353 (its DNS Service maps 53 to
    /// 5353, and a NetworkPolicy sees the pod's port).
    pub dns_port: u16,
    pub egress: Vec<Egress>,
}

impl Env {
    /// The cluster this environment is deployed to: `cluster.name`, or, when absent, a cluster
    /// of its own (`env:<name>`, which no `cluster.name` can spell: names have no `:`).
    pub fn cluster(&self) -> String {
        match &self.cluster_name {
            Some(name) => name.clone(),
            None => format!("env:{}", self.name),
        }
    }
}

impl Network {
    pub fn node_ports(&self) -> bool {
        self.node_port_clients.is_some()
    }
}

/// Pods in a namespace (all of them when `pod_selector` is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub namespace: String,
    pub pod_selector: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Egress {
    pub to: EgressTo,
    /// TCP ports; empty: every port.
    pub ports: Vec<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EgressTo {
    Cidr(Cidr),
    /// Every address outside the cluster's ranges (and never the metadata addresses).
    Internet,
}

/// An address range, `10.0.0.0/8` or `fd00::/8`, in its canonical text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cidr {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8` → a range; `None` for anything else, or host bits set (`10.0.0.1/8`).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = text.split_once('/')?;
        let addr: std::net::IpAddr = addr.parse().ok()?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
            return None;
        }
        let prefix: u8 = prefix.parse().ok()?;
        let cidr = Cidr { addr, prefix };
        (prefix <= cidr.bits() && cidr.network() == cidr.value()).then_some(cidr)
    }

    pub fn is_v4(&self) -> bool {
        self.addr.is_ipv4()
    }

    fn bits(&self) -> u8 {
        if self.is_v4() { 32 } else { 128 }
    }

    fn value(&self) -> u128 {
        match self.addr {
            std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
            std::net::IpAddr::V6(a) => u128::from(a),
        }
    }

    fn mask(&self) -> u128 {
        let all = if self.is_v4() {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        match self.prefix {
            0 => 0,
            p => all & !((1u128 << (self.bits() - p)) - 1) & all,
        }
    }

    fn network(&self) -> u128 {
        self.value() & self.mask()
    }

    /// Whether `other` lies wholly inside this range.
    pub fn contains(&self, other: &Cidr) -> bool {
        self.is_v4() == other.is_v4()
            && self.prefix <= other.prefix
            && other.value() & self.mask() == self.network()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Cloud metadata services: no notebook pod may ever reach them (credentials of the node).
pub fn metadata_addresses() -> [Cidr; 2] {
    [
        Cidr::parse("169.254.169.254/32").expect("a valid range"),
        Cidr::parse("fd00:ec2::254/128").expect("a valid range"),
    ]
}

/// The AppProject and Application that deploy the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgoCd {
    pub repo_url: String,
    pub target_revision: String,
    /// Where Argo CD runs: the AppProject's and Application's namespace.
    pub namespace: String,
    /// The API server URL of the cluster to deploy to.
    pub destination: String,
    /// The AppProject's name.
    pub project: String,
    /// The Application's name.
    pub application: String,
}

/// A user template: a path inside the repository, rendered once per `each`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extra {
    /// Relative to the repository root; never absolute, never with a `..`.
    pub template: String,
    pub each: Each,
    /// The JSON pointer of its `template:` in the spec, for errors about it.
    pub at: String,
    /// Kinds that grant power or are cluster-scoped that this template may render.
    pub allow_kinds: Vec<String>,
}

/// A notebook image and how Jupyter is started in it (docs/images.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// The OCI reference: `quay.io/jupyter/scipy-notebook:2025-03-17`.
    pub reference: String,
    pub start: Start,
}

/// How a notebook server's container starts Jupyter. In every convention nbgen sets the base
/// URL, bind address, port and root directory, and nothing on the command line touches auth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// A known family: nbgen's command line for it (`start.rs`).
    Family(Family),
    /// The user's command and args: Handlebars templates (strict) over `baseUrl`, `port` and
    /// `home`, already checked to parse, to use `baseUrl` and `port`, and to leave auth alone.
    Custom {
        command: Vec<String>,
        args: Vec<String>,
    },
}

#[derive(Clone, Debug)]
pub struct GpuPool {
    pub name: String,
    pub resource: String,
    pub capacity: u32,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub toleration_seconds: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Volume {
    pub name: String,
    pub size: Quantity,
    pub backend: VolumeBackend,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeBackend {
    Nfs { server: String, path: String },
    StorageClass(String),
}

#[derive(Clone, Debug)]
pub struct Team {
    pub name: String,
    pub namespace: String,
    /// Sorted.
    pub members: Vec<String>,
    /// The first member as the spec lists them: who owns the team's Kubeflow Profile.
    pub owner: Option<String>,
    /// Each member gets servers of their own (and on the kubeflow target a Profile of their own).
    pub per_member: bool,
    pub groups: Vec<String>,
    pub quota: Option<Quota>,
    /// Shared volumes this team's servers mount, with whether any of them writes.
    pub claims: Vec<Claim>,
    pub servers: Vec<Server>,
}

impl Team {
    /// The namespaces the team's objects go to on `target`: its own; where the namespace is the
    /// unit of isolation (a Kubeflow Profile, an ODH project) a perMember team has none of its
    /// own, one per member instead.
    pub fn namespaces(&self, target: Target) -> Vec<String> {
        if target.namespace_per_member() && self.per_member {
            self.members
                .iter()
                .map(|m| names::member_namespace(&self.namespace, m))
                .collect()
        } else {
            vec![self.namespace.clone()]
        }
    }

    /// The namespace a server of this team runs in on `target`.
    pub fn server_namespace(&self, target: Target, s: &Server) -> String {
        match &s.member {
            Some(m) if target.namespace_per_member() => names::member_namespace(&self.namespace, m),
            _ => self.namespace.clone(),
        }
    }
}

/// A team's ResourceQuota: as written in the spec, and what the spec leaves out derived from
/// the team's servers and jobs.
#[derive(Clone, Debug)]
pub struct Quota {
    pub cpu: Option<Quantity>,
    pub memory: Option<Quantity>,
    /// One cap per GPU resource the team's servers use: `(resource, cap)`.
    pub gpu: Vec<(String, u32)>,
    /// Pods: one per server and per job (a job counts as if always running).
    pub pods: u32,
    /// PersistentVolumeClaims: each server's home and each shared volume the team uses.
    pub claims: u32,
}

/// One shared volume as used by one team: a PVC in its namespace (and, for NFS, a PV).
#[derive(Clone, Debug)]
pub struct Claim {
    pub volume: String,
    pub writable: bool,
}

#[derive(Clone, Debug)]
pub struct Server {
    /// `train` or `prep-alice`; unique within the team.
    pub name: String,
    pub role: String,
    pub member: Option<String>,
    pub image: Image,
    pub cpu: Quantity,
    pub memory: Quantity,
    /// Size limit of the memory-backed emptyDir at /dev/shm; at most half of `memory`.
    pub shm_size: Quantity,
    pub home_size: Quantity,
    pub gpu: Option<GpuUse>,
    /// `(volume, read_only)`, sorted by volume.
    pub mounts: Vec<(String, bool)>,
    /// `None` unless the spec exposes servers through NodePorts (`cluster.network.nodePort`).
    pub node_port: Option<u16>,
}

#[derive(Clone, Debug)]
pub struct GpuUse {
    pub pool: String,
    pub resource: String,
    pub count: u32,
}

/// A notebook that papermill runs to completion: once (a Job) or on a schedule (a CronJob).
/// Image, resources, GPUs and mounts are its role's, exactly as for the role's servers.
#[derive(Clone, Debug)]
pub struct Job {
    /// Unique in the environment; names the Job or CronJob, its ServiceAccount and
    /// `<name>-params` ConfigMap.
    pub name: String,
    pub team: String,
    pub namespace: String,
    pub role: String,
    /// Its role's image; a job runs papermill whatever the image's start convention.
    pub image: Image,
    pub cpu: Quantity,
    pub memory: Quantity,
    /// Its role's /dev/shm size.
    pub shm_size: Quantity,
    pub gpu: Option<GpuUse>,
    /// `(volume, read_only)`, sorted by volume: the role's mounts.
    pub mounts: Vec<(String, bool)>,
    /// Absolute, normalised, on one of `mounts`.
    pub notebook: String,
    /// Absolute, normalised, on a writable one of `mounts`.
    pub output_dir: String,
    /// papermill parameters; every map, at any depth, sorted by key.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// `None`: a one-off Job.
    pub schedule: Option<Schedule>,
    pub backoff_limit: u32,
    pub active_deadline_seconds: Option<u32>,
    pub ttl_seconds_after_finished: Option<u32>,
    /// Size limit of the emptyDir home at /home/jovyan.
    pub scratch_size: Quantity,
}

/// When a scheduled job runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// A cron expression as Kubernetes accepts it (`0 2 * * *`, `@daily`).
    pub cron: String,
    /// An IANA time zone name; `None`: the kube-controller-manager's zone.
    pub time_zone: Option<String>,
    pub suspend: bool,
}

#[cfg(test)]
mod tests {
    use super::Quantity;

    #[test]
    fn quantities_are_read_in_thousandths() {
        assert_eq!(Quantity::milli("500m"), Some(500));
        assert_eq!(Quantity::milli(" 2 "), Some(2000));
        assert_eq!(Quantity::milli("1.5"), Some(1500));
        assert_eq!(Quantity::milli("1Gi"), Some(1_073_741_824_000));
        assert_eq!(Quantity::milli("1G"), Some(1_000_000_000_000));
        assert_eq!(Quantity::milli("lots"), None);
    }

    #[test]
    fn address_ranges_parse_and_contain() {
        use super::Cidr;
        let ten = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(ten.contains(&Cidr::parse("10.20.0.5/32").unwrap()));
        assert!(!ten.contains(&Cidr::parse("11.0.0.0/8").unwrap()));
        assert!(!ten.contains(&Cidr::parse("::/0").unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(&ten));
        assert_eq!(Cidr::parse("10.0.0.1/8"), None, "host bits set");
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("10.0.0.0"), None);
        assert_eq!(Cidr::parse("10.0.0.0/+8"), None);
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(&Cidr::parse("fd00:ec2::254/128").unwrap()));
        assert_eq!(v6.to_string(), "fd00::/8");
        assert!(Cidr::parse("::/0").unwrap().contains(&v6));
    }

    #[test]
    fn quantities_print_as_kubernetes_writes_them() {
        assert_eq!(Quantity::cpu_text(34_000), "34");
        assert_eq!(Quantity::cpu_text(2_500), "2500m");
        assert_eq!(Quantity::cpu_text(250), "250m");
        assert_eq!(Quantity::bytes_text(8 * (1 << 30) * 1000), "8Gi");
        assert_eq!(Quantity::bytes_text(3 * (1 << 29) * 1000), "1536Mi");
        assert_eq!(Quantity::bytes_text(1000 * 1000), "1000");
        assert_eq!(
            Quantity::bytes_text(0),
            "0",
            "nothing is nothing in any unit"
        );
    }
}
