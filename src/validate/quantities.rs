//! Kubernetes quantities in the spec: parsed, more than zero, with the unit's example when not;
//! the sums quotas and capacity checks compare. Pure.

use super::*;

#[derive(Clone, Copy)]
pub(super) enum Unit {
    Cpu,
    Bytes,
}

impl Unit {
    fn example(self) -> &'static str {
        match self {
            Unit::Cpu => "write CPU as cores (\"2\", \"0.5\") or millicores (\"500m\")",
            Unit::Bytes => {
                "write sizes with a binary suffix, no space: \"512Mi\", \"8Gi\", \"1Ti\""
            }
        }
    }
}

/// Quantities are in milli-units and may be huge: a sum that does not fit saturates (and is
/// then over any quota) rather than overflowing.
pub(super) fn saturating_sum(values: impl Iterator<Item = i128>) -> i128 {
    values.fold(0, i128::saturating_add)
}

/// `prep-alice 2, job nightly-features 2`: what each server and job asks for.
pub(super) fn usage_list(
    servers: &[Server],
    jobs: &[&Job],
    server: impl Fn(&Server) -> &Quantity,
    job: impl Fn(&Job) -> &Quantity,
) -> String {
    servers
        .iter()
        .map(|s| format!("{} {}", s.name, server(s).text))
        .chain(
            jobs.iter()
                .map(|j| format!("job {} {}", j.name, job(j).text)),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

impl Cx<'_> {
    pub(super) fn quantity(&mut self, at: &str, raw: &RawQuantity, unit: Unit) -> Option<Quantity> {
        let text = raw.0.trim();
        match Quantity::milli(text) {
            Some(v) if v > 0 && !text.contains(char::is_whitespace) => Some(Quantity {
                text: text.to_owned(),
                value: v,
            }),
            Some(_) => {
                self.error(
                    at,
                    format!(
                        "{} must be more than zero, found `{text}`",
                        display_path(at)
                    ),
                    unit.example(),
                );
                None
            }
            None => {
                self.error(
                    at,
                    format!(
                        "{} is not a Kubernetes quantity: `{text}`",
                        display_path(at)
                    ),
                    unit.example(),
                );
                None
            }
        }
    }
}
