//! `cluster.network` → `model::Network` (docs/security.md): who may reach the notebooks and
//! what they may reach. Pure. Never admits a range that is not one, and never lets a declared
//! destination open the cloud metadata addresses (they are cut out of every range instead).

use super::{Cx, openshift, ptr};
use crate::model::{Cidr, Egress, EgressTo, Network, Peer, Target, metadata_addresses};
use crate::spec::{RawNetwork, RawPeer};
use std::collections::BTreeMap;

/// Where Kubernetes' cluster DNS runs unless the spec says otherwise (CoreDNS keeps kube-dns's
/// label for compatibility).
pub const DEFAULT_DNS_NAMESPACE: &str = "kube-system";
pub const DEFAULT_DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

impl Cx<'_> {
    pub(super) fn network(&mut self, raw: &RawNetwork, target: Target) -> Network {
        let at = ptr(&["cluster", "network"]);
        let on_openshift = openshift::is_openshift(target);
        let (dns_namespace, dns_label) = if on_openshift {
            (openshift::DNS_NAMESPACE, openshift::DNS_LABEL)
        } else {
            (DEFAULT_DNS_NAMESPACE, DEFAULT_DNS_LABEL)
        };
        let dns = match &raw.dns {
            Some(p) => self.peer(&format!("{at}/dns"), p),
            None => Peer {
                namespace: dns_namespace.to_owned(),
                pod_selector: BTreeMap::from([(dns_label.0.to_owned(), dns_label.1.to_owned())]),
            },
        };
        let cluster_cidrs = self.cidrs(&format!("{at}/clusterCIDRs"), &raw.cluster_cidrs);
        let ingress_controller = raw
            .ingress_controller
            .as_ref()
            .map(|p| self.peer(&format!("{at}/ingressController"), p));
        let node_port_clients = raw.node_port.as_ref().map(|n| {
            let at = format!("{at}/nodePort/clientCIDRs");
            if n.client_cidrs.is_empty() {
                self.error(
                    &at,
                    "cluster.network.nodePort lists no client ranges",
                    "list the address ranges users connect from (e.g. the office or VPN range), or remove nodePort to expose the servers through Ingress only",
                );
            }
            let clients = self.cidrs(&at, &n.client_cidrs);
            for (i, text) in n.client_cidrs.iter().enumerate() {
                let Some(client) = Cidr::parse(text) else { continue };
                if let Some(cluster) = cluster_cidrs
                    .iter()
                    .find(|c| c.contains(&client) || client.contains(c))
                {
                    self.error(
                        &format!("{at}/{i}"),
                        format!("client range `{client}` overlaps the cluster range `{cluster}`"),
                        "NodePort clients come from outside the cluster; a range that overlaps the pod or node ranges would admit other namespaces' pods to the notebooks. Name only the ranges users connect from",
                    );
                }
            }
            clients
        });
        let mut egress = Vec::new();
        for (i, e) in raw.egress.iter().enumerate() {
            let at = format!("{at}/egress/{i}");
            let to = match (&e.cidr, e.internet) {
                (Some(c), None | Some(false)) => match self.cidr(&format!("{at}/cidr"), c) {
                    Some(cidr) => {
                        if metadata_addresses().iter().any(|m| m.contains(&cidr)) {
                            self.error(
                                    &format!("{at}/cidr"),
                                    format!("egress to `{c}` is the cloud metadata service"),
                                    "notebook pods may never reach the metadata address: it hands out the node's credentials. Remove this entry",
                                );
                            continue;
                        }
                        EgressTo::Cidr(cidr)
                    }
                    None => continue,
                },
                (None, Some(true)) => {
                    if raw.cluster_cidrs.is_empty() {
                        self.error(
                            &format!("{at}/internet"),
                            "egress to the internet needs cluster.network.clusterCIDRs",
                            "list the cluster's pod, service and node ranges in clusterCIDRs, so that `internet` can leave them out (other teams' pods and the API server must stay out of reach)",
                        );
                    }
                    EgressTo::Internet
                }
                _ => {
                    self.error_at_key(
                        &at,
                        "an egress entry needs exactly one of `cidr` or `internet: true`",
                        "write `{cidr: 10.30.0.7/32, ports: [3128]}` for one destination, or `{internet: true, ports: [443]}` for everything outside the cluster",
                    );
                    continue;
                }
            };
            let mut ports = Vec::new();
            for (j, p) in e.ports.iter().enumerate() {
                match u16::try_from(*p) {
                    Ok(port) if port > 0 => ports.push(port),
                    _ => self.error(
                        &format!("{at}/ports/{j}"),
                        format!("port {p} is not a TCP port"),
                        "ports are 1-65535",
                    ),
                }
            }
            ports.sort_unstable();
            ports.dedup();
            egress.push(Egress { to, ports });
        }
        Network {
            dns,
            cluster_cidrs,
            ingress_controller,
            node_port_clients,
            router_namespaces: openshift::router_namespaces(target),
            dns_port: if on_openshift {
                openshift::DNS_PORT
            } else {
                53
            },
            egress,
        }
    }

    fn peer(&mut self, at: &str, p: &RawPeer) -> Peer {
        if p.namespace.is_empty() {
            self.error(
                &format!("{at}/namespace"),
                "the namespace is empty",
                "name the namespace the pods run in",
            );
        }
        Peer {
            namespace: p.namespace.clone(),
            pod_selector: p.pod_selector.clone(),
        }
    }

    fn cidrs(&mut self, at: &str, texts: &[String]) -> Vec<Cidr> {
        let mut out: Vec<Cidr> = texts
            .iter()
            .enumerate()
            .filter_map(|(i, t)| self.cidr(&format!("{at}/{i}"), t))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn cidr(&mut self, at: &str, text: &str) -> Option<Cidr> {
        let cidr = Cidr::parse(text);
        if cidr.is_none() {
            let help = match text.split_once('/') {
                Some((addr, prefix)) if addr.parse::<std::net::IpAddr>().is_ok() => {
                    match prefix.parse::<u8>() {
                        Ok(p) if p <= 128 => format!(
                            "the address has bits set beyond the /{p} prefix: write the range's first address, or /32 (/128) for one host"
                        ),
                        _ => "the prefix length is 0-32 for IPv4, 0-128 for IPv6".to_owned(),
                    }
                }
                Some(_) => {
                    "write an IPv4 or IPv6 address, a slash and a prefix length, e.g. 10.20.0.0/16"
                        .to_owned()
                }
                None => format!(
                    "write it as a range: `{text}/32` for one IPv4 host, `{text}/128` for IPv6"
                ),
            };
            self.error(at, format!("`{text}` is not an address range"), help);
        }
        cidr
    }
}
