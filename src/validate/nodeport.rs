//! NodePort assignment: ports never move under users' feet. Pure: the previous assignment is an
//! input, read from the committed output by the caller.
//!
//! Rule (DESIGN.md, "NodePort stability"): a port pinned in the spec wins; otherwise the port the
//! server already has in the previous output is kept; otherwise the server gets the first free
//! port at or after a stable hash of `<team>/<server>`, wrapping within the range.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// A server, identified by team and server name.
pub type ServerKey = (String, String);

/// What went wrong, per server; the caller turns it into a positioned diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortError {
    PinOutOfRange {
        server: ServerKey,
        port: u32,
    },
    PinTaken {
        server: ServerKey,
        other: ServerKey,
        port: u16,
    },
    Exhausted {
        needed: usize,
        available: usize,
    },
}

/// A previous port that could not be kept, so the server moved: worth a warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    pub server: ServerKey,
    pub from: u16,
    pub to: u16,
    pub why: String,
}

#[derive(Debug, Default)]
pub struct Assignment {
    pub ports: BTreeMap<ServerKey, u16>,
    pub moved: Vec<Moved>,
}

/// Assign a port to every server in `servers` (sorted, unique).
pub fn assign(
    range: (u16, u16),
    servers: &BTreeSet<ServerKey>,
    pins: &BTreeMap<ServerKey, u32>,
    previous: &BTreeMap<ServerKey, u16>,
) -> Result<Assignment, Vec<PortError>> {
    let (lo, hi) = range;
    let size = usize::from(hi - lo) + 1;
    let mut errors = Vec::new();
    if servers.len() > size {
        errors.push(PortError::Exhausted {
            needed: servers.len(),
            available: size,
        });
    }
    let mut taken: BTreeMap<u16, &ServerKey> = BTreeMap::new();
    let mut out = Assignment::default();

    for (server, &port) in pins {
        if !servers.contains(server) {
            continue; // an unknown server name is reported by validation, with a suggestion
        }
        let Some(p) = u16::try_from(port).ok().filter(|p| (lo..=hi).contains(p)) else {
            errors.push(PortError::PinOutOfRange {
                server: server.clone(),
                port,
            });
            continue;
        };
        if let Some(other) = taken.get(&p) {
            errors.push(PortError::PinTaken {
                server: server.clone(),
                other: (*other).clone(),
                port: p,
            });
            continue;
        }
        taken.insert(p, server);
        out.ports.insert(server.clone(), p);
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    for server in servers {
        if out.ports.contains_key(server) {
            continue;
        }
        let Some(&p) = previous.get(server) else {
            continue;
        };
        if !(lo..=hi).contains(&p) {
            continue; // moved below, with a warning
        }
        if taken.contains_key(&p) {
            continue;
        }
        taken.insert(p, server);
        out.ports.insert(server.clone(), p);
    }

    for server in servers {
        if out.ports.contains_key(server) {
            continue;
        }
        let start = hash(server) % size as u64;
        let p = (0..size as u64)
            .map(|i| lo + ((start + i) % size as u64) as u16)
            .find(|p| !taken.contains_key(p))
            .expect("servers.len() <= size was checked, so a free port exists");
        taken.insert(p, server);
        out.ports.insert(server.clone(), p);
        if let Some(&old) = previous.get(server) {
            let why = if !(lo..=hi).contains(&old) {
                format!("{old} is outside cluster.nodePortRange {lo}-{hi}")
            } else {
                let holder = out
                    .ports
                    .iter()
                    .find(|(k, v)| **v == old && *k != server)
                    .map_or_else(String::new, |(k, _)| format!("{}/{}", k.0, k.1));
                format!("{old} is now pinned by {holder}")
            };
            out.moved.push(Moved {
                server: server.clone(),
                from: old,
                to: p,
                why,
            });
        }
    }
    Ok(out)
}

/// A stable hash of `<team>/<server>`: the first 8 bytes of its SHA-256, big-endian.
fn hash((team, server): &ServerKey) -> u64 {
    let digest = Sha256::digest(format!("{team}/{server}").as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 is 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &str, s: &str) -> ServerKey {
        (t.to_owned(), s.to_owned())
    }

    fn set(keys: &[(&str, &str)]) -> BTreeSet<ServerKey> {
        keys.iter().map(|(t, s)| key(t, s)).collect()
    }

    #[test]
    fn pinned_wins_over_previous() {
        let servers = set(&[("a", "x"), ("b", "y")]);
        let pins = BTreeMap::from([(key("b", "y"), 30005)]);
        let previous = BTreeMap::from([(key("a", "x"), 30005)]);
        let got = assign((30000, 30010), &servers, &pins, &previous).unwrap();
        assert_eq!(got.ports[&key("b", "y")], 30005);
        assert_ne!(got.ports[&key("a", "x")], 30005);
        assert_eq!(got.moved.len(), 1);
        assert_eq!(got.moved[0].why, "30005 is now pinned by b/y");
    }

    #[test]
    fn previous_ports_are_kept() {
        let servers = set(&[("a", "x"), ("a", "z")]);
        let previous = BTreeMap::from([(key("a", "x"), 30007)]);
        let got = assign((30000, 30010), &servers, &BTreeMap::new(), &previous).unwrap();
        assert_eq!(got.ports[&key("a", "x")], 30007);
        assert!(got.moved.is_empty());
    }

    #[test]
    fn new_servers_start_at_their_hash() {
        let servers = set(&[("a", "x")]);
        let got = assign((30000, 32767), &servers, &BTreeMap::new(), &BTreeMap::new()).unwrap();
        let expected = 30000 + (hash(&key("a", "x")) % 2768) as u16;
        assert_eq!(got.ports[&key("a", "x")], expected);
    }

    #[test]
    fn exhausted_range_is_an_error() {
        let servers = set(&[("a", "x"), ("a", "y"), ("a", "z")]);
        let err = assign((30000, 30001), &servers, &BTreeMap::new(), &BTreeMap::new()).unwrap_err();
        assert_eq!(
            err,
            vec![PortError::Exhausted {
                needed: 3,
                available: 2
            }]
        );
    }

    #[test]
    fn a_full_range_is_used_completely() {
        let servers = set(&[("a", "1"), ("a", "2"), ("a", "3")]);
        let got = assign((30000, 30002), &servers, &BTreeMap::new(), &BTreeMap::new()).unwrap();
        let ports: BTreeSet<u16> = got.ports.values().copied().collect();
        assert_eq!(ports, BTreeSet::from([30000, 30001, 30002]));
    }

    #[test]
    fn pins_out_of_range_or_twice_are_errors() {
        let servers = set(&[("a", "x"), ("b", "y"), ("c", "z")]);
        let pins = BTreeMap::from([
            (key("a", "x"), 80),
            (key("b", "y"), 30001),
            (key("c", "z"), 30001),
        ]);
        let err = assign((30000, 30010), &servers, &pins, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            err,
            vec![
                PortError::PinOutOfRange {
                    server: key("a", "x"),
                    port: 80
                },
                PortError::PinTaken {
                    server: key("c", "z"),
                    other: key("b", "y"),
                    port: 30001
                },
            ]
        );
    }
}
