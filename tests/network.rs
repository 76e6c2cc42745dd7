//! The network policies nbgen renders, over generated `cluster.network` blocks: whatever the spec
//! declares, no notebook port is open to another team's namespace (or to every namespace), and
//! no egress rule reaches a cloud metadata address. Read from the rendered objects, as a
//! reviewer (or the CNI) would read them.

use nbgen::source::SourceFile;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

const METADATA: [&str; 2] = ["169.254.169.254", "fd00:ec2::254"];
/// The generated specs' cluster ranges.
const CLUSTER: [&str; 2] = ["10.0.0.0/8", "fd00:10::/64"];

/// Two teams (one perMember), each with servers, under the given network block.
fn spec(network: &str) -> String {
    format!(
        "apiVersion: nbgen.io/v1alpha1
kind: Environment
name: net
cluster:
  kubernetesVersion: \"1.33\"
  nodePortRange: 30000-30099
  network:
{network}images:
  notebook: quay.io/jupyter/scipy-notebook:2025-03-17
roles:
  prep: {{image: notebook, cpu: \"1\", memory: 2Gi}}
teams:
  research: {{members: [alice@example.com, bob@example.com], perMember: true, roles: [prep]}}
  training: {{groups: [ml], roles: [prep]}}
"
    )
}

fn parse(addr: &str) -> (IpAddr, u8) {
    let (a, p) = addr.split_once('/').unwrap_or((addr, ""));
    let ip: IpAddr = a.parse().expect("an address");
    let p = p.parse().unwrap_or(if ip.is_ipv4() { 32 } else { 128 });
    (ip, p)
}

/// Whether the range `cidr` contains the address `ip`.
fn contains(cidr: &str, ip: &str) -> bool {
    let ((net, prefix), (ip, _)) = (parse(cidr), parse(ip));
    let bits = |a: IpAddr| -> (u128, u8) {
        match a {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    };
    let ((n, width), (i, width2)) = (bits(net), bits(ip));
    if width != width2 {
        return false;
    }
    let shift = u32::from(width - prefix);
    prefix == 0 || (n >> shift) == (i >> shift)
}

/// Whether two ranges share an address.
fn overlaps(a: &str, b: &str) -> bool {
    let first = |c: &str| c.split('/').next().unwrap_or_default().to_owned();
    contains(a, &first(b)) || contains(b, &first(a))
}

fn policies(network: &str) -> Vec<Value> {
    let src = SourceFile::new("environments/net.yaml", spec(network));
    let render = nbgen::render(&src, "net", &BTreeMap::new()).unwrap_or_else(|diags| {
        let shown: Vec<String> = diags
            .iter()
            .map(|d| d.render(std::slice::from_ref(&src), false))
            .collect();
        panic!(
            "a generated network block is valid, but:\n{}",
            shown.join("\n")
        )
    });
    render
        .tree
        .values()
        .map(|f| serde_saphyr::from_str::<Value>(&f.text).expect("YAML"))
        .filter(|v| v["kind"] == "NetworkPolicy")
        .collect()
}

/// Check every rendered policy; `team_namespaces` may never be a source of notebook traffic.
fn check(network: &str) {
    let all = policies(network);
    let namespaces = ["research", "training"];
    for np in &all {
        let name = format!("{}/{}", np["metadata"]["namespace"], np["metadata"]["name"]);
        for rule in np["spec"]["ingress"].as_array().into_iter().flatten() {
            for peer in rule["from"]
                .as_array()
                .expect("ingress rules name their sources")
            {
                if let Some(sel) = peer.get("namespaceSelector") {
                    let labels = sel["matchLabels"].as_object();
                    let ns = labels
                        .and_then(|l| l.get("kubernetes.io/metadata.name"))
                        .and_then(Value::as_str);
                    assert!(
                        ns.is_some(),
                        "{name}: a namespaceSelector that is not one namespace: {peer}"
                    );
                    assert!(
                        !namespaces.contains(&ns.unwrap_or_default()),
                        "{name}: admits a team namespace: {peer}"
                    );
                } else if let Some(block) = peer.get("ipBlock") {
                    let cidr = block["cidr"].as_str().expect("a range");
                    for cluster in CLUSTER {
                        assert!(
                            !overlaps(cidr, cluster),
                            "{name}: admits the cluster's own range: {peer}"
                        );
                    }
                } else {
                    panic!(
                        "{name}: a source that is neither a namespace nor a range (same-namespace pods?): {peer}"
                    );
                }
            }
        }
        for rule in np["spec"]["egress"].as_array().into_iter().flatten() {
            for peer in rule["to"]
                .as_array()
                .expect("egress rules name their destinations")
            {
                let Some(block) = peer.get("ipBlock") else {
                    continue;
                };
                let cidr = block["cidr"].as_str().expect("a range");
                let except: Vec<&str> = block["except"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for m in METADATA {
                    assert!(
                        !contains(cidr, m) || except.iter().any(|e| contains(e, m)),
                        "{name}: egress reaches the metadata address {m}: {peer}"
                    );
                }
            }
        }
    }
    assert!(
        all.iter()
            .any(|np| np["metadata"]["name"] == "default-deny"),
        "every namespace has its default-deny"
    );
}

fn egress_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{internet: true}".to_owned()),
        Just("{internet: true, ports: [443]}".to_owned()),
        Just("{cidr: 169.254.0.0/16}".to_owned()),
        Just("{cidr: 0.0.0.0/0, ports: [80]}".to_owned()),
        Just("{cidr: ::/0}".to_owned()),
        Just("{cidr: fd00::/8}".to_owned()),
        Just("{cidr: 10.30.0.7/32, ports: [3128]}".to_owned()),
        (0u8..=32)
            .prop_map(|p| {
                let ip = u32::from(std::net::Ipv4Addr::new(169, 254, 169, 254));
                let net = if p == 0 {
                    0
                } else {
                    ip & (u32::MAX << (32 - u32::from(p)))
                };
                format!("{{cidr: {}/{p}}}", std::net::Ipv4Addr::from(net))
            })
            .prop_filter("the metadata host itself is refused", |s| !s
                .ends_with("/32}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_team_reaches_a_notebook_and_no_pod_reaches_the_metadata_service(
        entries in prop::collection::vec(egress_entry(), 0..4),
        ingress in any::<bool>(),
        node_port in any::<bool>(),
    ) {
        let mut network = format!("    clusterCIDRs: [{}]\n", CLUSTER.join(", "));
        if ingress {
            network.push_str("    ingressController: {namespace: ingress-nginx}\n");
        }
        if node_port {
            network.push_str("    nodePort: {clientCIDRs: [192.168.100.0/24, 2001:db8::/32]}\n");
        }
        if !entries.is_empty() {
            network.push_str("    egress:\n");
            for e in &entries {
                network.push_str(&format!("      - {e}\n"));
            }
        }
        check(&network);
    }
}

#[test]
fn the_example_environments_policies_hold_the_same_rules() {
    // The examples' own network blocks, as written in environments/.
    for env in ["dev", "prod"] {
        let text = std::fs::read_to_string(format!("environments/{env}.yaml")).expect("example");
        let block: String = text
            .lines()
            .skip_while(|l| !l.starts_with("  network:"))
            .skip(1)
            .take_while(|l| l.starts_with("    "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(!block.is_empty(), "{env} declares a network block");
        check(&block);
    }
}
