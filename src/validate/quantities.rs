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
        // CPU in mega- or gibi-units is a slip for millicores or cores: `500M` is 500 million
        // cores, which no node has.
        if let Unit::Cpu = unit
            && let Some(v) = Quantity::milli(text)
            && let (number, suffix @ ("M" | "Mi" | "G" | "Gi")) = split_number(text)
            && !number.is_empty()
        {
            let meant = if suffix.starts_with('M') {
                format!("{number}m")
            } else {
                number.to_owned()
            };
            self.error(
                at,
                format!(
                    "{} is `{text}`, that is {} cores",
                    display_path(at),
                    Quantity::cpu_text(v)
                ),
                format!(
                    "did you mean `{meant}`? CPU is counted in cores (\"2\") or millicores (\"500m\", lower-case m)"
                ),
            );
            return None;
        }
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

/// The least memory a role may give a server: Jupyter and a kernel alone need more.
pub(super) const MIN_MEMORY: (i128, &str) = (64 << 20, "64Mi");
/// The least size of a server's home volume.
pub(super) const MIN_HOME: (i128, &str) = (1 << 30, "1Gi");

/// `"8Mi"` → (`"8"`, `"Mi"`): a quantity's number and its suffix.
fn split_number(text: &str) -> (&str, &str) {
    let i = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(i)
}

impl Cx<'_> {
    /// Is `q` (bytes) at least `floor`? If not, an error with the likely fix: the same number in
    /// Mi if that reaches the floor, else in Gi (`8m`, 8 thousandths of a byte, → `8Gi`).
    pub(super) fn at_least(
        &mut self,
        at: &str,
        q: &Quantity,
        (floor, floor_text): (i128, &str),
        what: &str,
    ) -> bool {
        if q.value >= floor.saturating_mul(1000) {
            return true;
        }
        let amount = if q.value % 1000 == 0 {
            format!("{} bytes", q.value / 1000)
        } else {
            format!("{} bytes", q.value as f64 / 1000.0)
        };
        let (number, suffix) = split_number(&q.text);
        let unit = match suffix {
            "" => " (a plain number is bytes)",
            "m" => " (`m` is milli; mebibytes are `Mi`, gibibytes `Gi`)",
            "k" | "K" | "Ki" => " (kilobytes)",
            _ => "",
        };
        let meant = match number.parse::<f64>() {
            Ok(n) if n * (1u64 << 20) as f64 >= floor as f64 => Some(format!("{number}Mi")),
            Ok(_) => Some(format!("{number}Gi")),
            Err(_) => None,
        };
        let help = match meant {
            Some(m) => format!("did you mean `{m}`?{unit} {what} needs at least {floor_text}"),
            None => format!("{what} needs at least {floor_text}"),
        };
        self.error(
            at,
            format!(
                "{} is `{}`, that is {amount}: below the least of {floor_text}",
                display_path(at),
                q.text
            ),
            help,
        );
        false
    }
}
