//! What reaches a person's terminal, for diagnostics and reports alike: colour (anstyle styles,
//! written only when the caller asks: `main.rs` decides from `--color`, `NO_COLOR` and whether
//! the stream is a terminal) and text from files made safe to print. Pure: never looks at the
//! environment or a stream itself.

use anstyle::{AnsiColor, Color, Style};
use std::borrow::Cow;

const fn fg(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(Color::Ansi(color)))
}

/// The styles nbgen uses, named by what they mean.
pub const ERROR: Style = fg(AnsiColor::Red).bold();
pub const WARNING: Style = fg(AnsiColor::Yellow).bold();
/// A diagnostic's `-->` and gutter.
pub const LOCATION: Style = fg(AnsiColor::Blue).bold();
pub const EMPHASIS: Style = Style::new().bold();
pub const GOOD: Style = fg(AnsiColor::Green).bold();
pub const ADDED: Style = fg(AnsiColor::Green).bold();
pub const CHANGED: Style = fg(AnsiColor::Yellow).bold();
pub const REMOVED: Style = fg(AnsiColor::Red).bold();
/// Lines of a unified diff.
pub const LINE_ADDED: Style = fg(AnsiColor::Green);
pub const LINE_REMOVED: Style = fg(AnsiColor::Red);
pub const HUNK: Style = fg(AnsiColor::Cyan);

/// Colour on or off: the one switch every renderer takes.
#[derive(Clone, Copy, Debug)]
pub struct Paint(pub bool);

impl Paint {
    /// `text` in `style` when colour is on; as it is otherwise (and when empty).
    pub fn style(self, style: Style, text: &str) -> String {
        if self.0 && !text.is_empty() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }
}

/// One line of text from a file or the spec (a name, a path, a YAML value, a diff line) as it
/// may be printed: every control character is shown as its Rust escape (`\u{1b}`, `\t`, `\r`),
/// so a hostile value can neither send a control sequence to the reader's terminal or CI log
/// nor start a line of its own. Text of several lines is escaped line by line.
pub fn escape(line: &str) -> Cow<'_, str> {
    if line.chars().any(char::is_control) {
        line.chars()
            .flat_map(|c| {
                let escaped = c.is_control().then(|| c.escape_default());
                let plain = (!c.is_control()).then_some(c);
                escaped.into_iter().flatten().chain(plain)
            })
            .collect::<String>()
            .into()
    } else {
        line.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(escape("a\x1b[31mb\tc\r"), "a\\u{1b}[31mb\\tc\\r");
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(Paint(false).style(ERROR, "error"), "error");
        assert_eq!(Paint(true).style(EMPHASIS, ""), "");
        assert_eq!(
            Paint(true).style(ERROR, "error"),
            "\x1b[1m\x1b[31merror\x1b[0m"
        );
    }
}
