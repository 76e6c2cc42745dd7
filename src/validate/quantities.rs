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

/// CPU in milli-cores, as Kubernetes would write it.
pub(super) fn milli_text(milli: i128) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

pub(super) fn bytes_text(milli: i128) -> String {
    let b = milli / 1000;
    const GI: i128 = 1 << 30;
    const MI: i128 = 1 << 20;
    if b % GI == 0 {
        format!("{}Gi", b / GI)
    } else if b % MI == 0 {
        format!("{}Mi", b / MI)
    } else {
        b.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_print_readably() {
        assert_eq!(milli_text(34_000), "34");
        assert_eq!(milli_text(2_500), "2500m");
        assert_eq!(bytes_text(8 * (1 << 30) * 1000), "8Gi");
    }
}
