//! Values → YAML text, byte for byte what `serde_saphyr::to_string` writes, several times faster.
//! It must never write a byte serde-saphyr would not: it writes itself only the block layout
//! serde-saphyr uses for maps and lists, integers, booleans, and identifiers no YAML reader can
//! mistake for anything else (`team-a`, `/data/models`, `app.kubernetes.io/part-of`). Every
//! other string is styled by serde-saphyr (once per distinct string, then remembered); and for
//! any shape it is not sure of (a string serde-saphyr writes as a block scalar, a list in a
//! list, floats, nulls, serde-saphyr's own wrappers) it gives up and the whole value is written
//! by serde-saphyr. Pure: the memory of styles changes only how fast the answer comes.
//!
//! Why: serde-saphyr re-checks every scalar for YAML ambiguities; at 1,000 teams that was about
//! a third of `nbgen render` (issue 7).

use serde::Serialize;
use serde::ser::{self, Impossible};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};

/// `value` as a YAML document: what `serde_saphyr::to_string` returns, written here when this
/// module is sure of every byte and by serde-saphyr otherwise.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::with_capacity(1024);
    match write(value, &mut out) {
        Ok(()) => Ok(out),
        Err(Unsupported) => serde_saphyr::to_string(value),
    }
}

/// Append `value` as a YAML document to `out`, or leave `out` as it was and say that the value
/// has a shape this module leaves to serde-saphyr.
pub fn write<T: Serialize + ?Sized>(value: &T, out: &mut String) -> Result<(), Unsupported> {
    let start = out.len();
    let result = value.serialize(Node {
        out: &mut *out,
        pos: Pos::Top,
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The value has a shape this module leaves to serde-saphyr.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a shape left to serde-saphyr")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

/// Longest string serde-saphyr writes on one line rather than folding it (`folded_wrap_chars`).
const FOLD_AFTER: usize = 80;
/// Longest key text serde-saphyr writes as `key:` rather than as an explicit `? key`.
const SIMPLE_KEY_MAX: usize = 1024;
/// Styles remembered per thread before the memory starts over, and the longest string
/// remembered: bounds the memory on hostile input.
const REMEMBERED: usize = 16 * 1024;
const REMEMBER_UP_TO: usize = 256;

/// Spellings YAML 1.1 or 1.2 readers take for booleans, nulls or numbers, in any letter case.
const RESERVED: [&str; 11] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
];

fn reserved(s: &str) -> bool {
    s.len() <= 5 && RESERVED.iter().any(|r| s.eq_ignore_ascii_case(r))
}

/// A value serde-saphyr certainly writes plain: a letter or `/`, then letters, digits and
/// `._/@-`, no reserved word, short enough not to be folded.
fn plain_value(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'/')
        && b.len() <= FOLD_AFTER
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'@' | b'-'))
        && !reserved(s)
}

/// A key serde-saphyr certainly writes plain: a letter, then letters, digits and `._/-`, no
/// reserved word, short enough to be a simple key.
fn plain_key(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic())
        && b.len() <= SIMPLE_KEY_MAX
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-'))
        && !reserved(s)
}

/// What serde-saphyr wrote for strings off the plain path: `None` when that was not one line.
#[derive(Default)]
struct Styles {
    values: HashMap<Box<str>, Option<Box<str>>>,
    keys: HashMap<Box<str>, Option<Box<str>>>,
}

thread_local! {
    static STYLES: RefCell<Styles> = RefCell::default();
}

/// Append `s` as serde-saphyr writes it as a value (a list item, a map value, a document).
fn push_value(out: &mut String, s: &str) -> Result<(), Unsupported> {
    if plain_value(s) {
        out.push_str(s);
        Ok(())
    } else {
        push_styled(out, s, Place::Value)
    }
}

/// Append `s` as serde-saphyr writes it as a map key (without the colon).
fn push_key(out: &mut String, s: &str) -> Result<(), Unsupported> {
    if plain_key(s) {
        out.push_str(s);
        Ok(())
    } else {
        push_styled(out, s, Place::Key)
    }
}

/// Where a string goes: serde-saphyr quotes keys by stricter rules than values.
#[derive(Clone, Copy)]
enum Place {
    Value,
    Key,
}

/// Append `s` as serde-saphyr styles it at `place`, asking it once per distinct short string.
fn push_styled(out: &mut String, s: &str, place: Place) -> Result<(), Unsupported> {
    if s.len() > REMEMBER_UP_TO {
        out.push_str(&style(s, place).ok_or(Unsupported)?);
        return Ok(());
    }
    STYLES.with_borrow_mut(|styles| {
        let memory = match place {
            Place::Value => &mut styles.values,
            Place::Key => &mut styles.keys,
        };
        let text = match memory.get(s) {
            Some(text) => text,
            None => {
                if memory.len() >= REMEMBERED {
                    memory.clear();
                }
                memory.entry(s.into()).or_insert(style(s, place))
            }
        };
        out.push_str(text.as_deref().ok_or(Unsupported)?);
        Ok(())
    })
}

/// How serde-saphyr writes `s` at `place`, if on one line of its own and without a `? `.
fn style(s: &str, place: Place) -> Option<Box<str>> {
    let text = match place {
        Place::Value => serde_saphyr::to_string(&s)
            .ok()?
            .strip_suffix('\n')?
            .to_owned(),
        Place::Key => {
            let map = serde_saphyr::to_string(&std::collections::BTreeMap::from([(s, 0)])).ok()?;
            let key = map.strip_suffix(": 0\n")?;
            // A longer key text may be written as an explicit `? key`.
            if key.len() > SIMPLE_KEY_MAX {
                return None;
            }
            key.to_owned()
        }
    };
    one_line(&text)
}

/// A scalar's text, if serde-saphyr wrote it on one line (not as a `|` or `>` block).
fn one_line(text: &str) -> Option<Box<str>> {
    let block = text.starts_with(['|', '>']) || text.contains('\n');
    (!block).then(|| text.into())
}

/// Where the next node goes.
#[derive(Clone, Copy)]
enum Pos {
    /// The document itself.
    Top,
    /// The value of a map key written at this column, right after its colon.
    Value(usize),
    /// A list item, right after the `- ` written at this column.
    Item(usize),
}

fn indent(out: &mut String, col: usize) {
    out.extend(std::iter::repeat_n(' ', col));
}

/// One node being written at `pos`.
struct Node<'a> {
    out: &'a mut String,
    pos: Pos,
}

impl Node<'_> {
    /// Start a scalar: a map value is separated from its colon by a space.
    fn start_scalar(&mut self) {
        if let Pos::Value(_) = self.pos {
            self.out.push(' ');
        }
    }

    fn scalar(mut self, text: fmt::Arguments<'_>) -> Result<(), Unsupported> {
        self.start_scalar();
        self.out.write_fmt(text).map_err(|_| Unsupported)?;
        self.out.push('\n');
        Ok(())
    }
}

/// Serializer methods for scalars whose `Display` text is already their plain YAML form.
macro_rules! plain_scalars {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<(), Unsupported> {
            self.scalar(format_args!("{v}"))
        })*
    };
}

impl<'a> ser::Serializer for Node<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Map<'a>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    plain_scalars! {
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
    }
    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(mut self, v: &str) -> Result<(), Unsupported> {
        self.start_scalar();
        push_value(self.out, v)?;
        self.out.push('\n');
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        // serde-saphyr's own wrappers (flow style, block strings, anchors) have such names.
        if name.starts_with("__") {
            return Err(Unsupported);
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, Unsupported> {
        // A list's dashes go under its key (serde-saphyr's compact lists).
        let col = match self.pos {
            Pos::Top => 0,
            Pos::Value(col) => col,
            Pos::Item(_) => return Err(Unsupported),
        };
        Ok(Seq {
            out: self.out,
            pos: self.pos,
            col,
            count: 0,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Map<'a>, Unsupported> {
        let col = match self.pos {
            Pos::Top => 0,
            Pos::Value(col) | Pos::Item(col) => col + 2,
        };
        Ok(Map {
            out: self.out,
            pos: self.pos,
            col,
            len,
            count: 0,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Map<'a>, Unsupported> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

/// A block map: its keys at `col`, the first one on the line of the `- ` when it is a list item.
struct Map<'a> {
    out: &'a mut String,
    pos: Pos,
    col: usize,
    /// The number of entries announced; serde-saphyr lays out an empty map by it.
    len: Option<usize>,
    count: usize,
}

impl Map<'_> {
    fn key(&mut self, key: &str) -> Result<(), Unsupported> {
        match (self.count, self.pos) {
            (0, Pos::Item(_) | Pos::Top) => {}
            (0, Pos::Value(_)) => {
                self.out.push('\n');
                indent(self.out, self.col);
            }
            _ => indent(self.out, self.col),
        }
        push_key(self.out, key)?;
        self.out.push(':');
        self.count += 1;
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(Node {
            out: &mut *self.out,
            pos: Pos::Value(self.col),
        })
    }

    fn finish(self) -> Result<(), Unsupported> {
        // A map that announced more (or fewer) entries than it wrote is laid out by serde-saphyr
        // in ways not copied here.
        if self.len.is_some_and(|len| len != self.count) {
            return Err(Unsupported);
        }
        if self.count == 0 {
            empty(self.out, self.pos, "{}");
        }
        Ok(())
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        key.serialize(Key(self))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

/// A block list: its `- ` at `col`.
struct Seq<'a> {
    out: &'a mut String,
    pos: Pos,
    col: usize,
    count: usize,
}

impl Seq<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        if self.count == 0
            && let Pos::Value(_) = self.pos
        {
            self.out.push('\n');
        }
        indent(self.out, self.col);
        self.out.push_str("- ");
        self.count += 1;
        value.serialize(Node {
            out: &mut *self.out,
            pos: Pos::Item(self.col),
        })
    }

    fn finish(self) -> Result<(), Unsupported> {
        if self.count == 0 {
            empty(self.out, self.pos, "[]");
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.item(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.item(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

/// A map key: strings only; any other key is left to serde-saphyr.
struct Key<'m, 'a>(&'m mut Map<'a>);

/// Refuse every key that is not a string.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ok:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, Unsupported> {
            Err(Unsupported)
        })*
    };
}

impl ser::Serializer for Key<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.0.key(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        if name.starts_with("__") {
            return Err(Unsupported);
        }
        value.serialize(self)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    refuse! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// An empty map or list, written in flow style (`{}`, `[]`) where its block would start: after
/// the key's colon, or as a document or list item of its own.
fn empty(out: &mut String, pos: Pos, marker: &str) {
    if matches!(pos, Pos::Value(_)) {
        out.push(' ');
    }
    out.push_str(marker);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Object;
    use crate::project::Project;
    use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec, Toleration};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    /// `to_string` writes what serde-saphyr writes, and `write` either does too or gives up
    /// without touching its output. Returns whether `write` wrote the value itself.
    fn check<T: Serialize>(value: &T) -> bool {
        let expected = serde_saphyr::to_string(value).expect("serializes");
        assert_eq!(to_string(value).expect("serializes"), expected);
        let mut out = String::from("# before\n");
        match write(value, &mut out) {
            Ok(()) => {
                assert_eq!(out.strip_prefix("# before\n"), Some(expected.as_str()));
                true
            }
            Err(Unsupported) => {
                assert_eq!(
                    out, "# before\n",
                    "a refused value leaves the output as it was"
                );
                false
            }
        }
    }

    /// Every object of an environment of this repository, as `render` builds them.
    fn objects_of(project: &Project, env: &str) -> Vec<Object> {
        let merged = project.read_merged(env).expect("the example reads");
        let templates = project.read_templates(&merged);
        let previous = project.out_dir(env).expect("a valid name").previous_ports();
        crate::pipeline::objects(&merged, &templates, &previous)
    }

    #[test]
    fn every_example_object_is_written_as_serde_saphyr_writes_it() {
        let project = Project::new(env!("CARGO_MANIFEST_DIR"));
        let envs = project.environments().expect("environments/ reads");
        assert!(envs.len() >= 3, "the examples: {envs:?}");
        let mut dynamic = 0;
        for env in &envs {
            for o in objects_of(&project, env) {
                let saphyr = serde_saphyr::to_string(&o).expect("objects serialize");
                let mut fast = String::new();
                let fast = write(&o, &mut fast).is_ok().then_some(fast);
                assert_eq!(
                    to_string(&o).expect("serializes"),
                    saphyr,
                    "{env}: {}",
                    o.id()
                );
                match fast {
                    Some(fast) => assert_eq!(fast, saphyr, "{env}: {}", o.id()),
                    // A job's parameters file is a block scalar, left to serde-saphyr.
                    None => assert!(has_block_scalar(&saphyr), "{env}: {} fell back", o.id()),
                }
                dynamic += usize::from(matches!(o, Object::Dynamic(_)));
            }
        }
        assert!(dynamic > 0, "the examples render a template's objects too");
    }

    fn has_block_scalar(yaml: &str) -> bool {
        yaml.lines().any(|line| {
            let last = line.rsplit(' ').next().unwrap_or("");
            last.starts_with(['|', '>']) && last.len() <= 3
        })
    }

    /// Strings YAML readers misread, or that need quotes, escapes, or a block.
    const TRICKY: &[&str] = &[
        "",
        " ",
        "yes",
        "No",
        "ON",
        "off",
        "y",
        "n",
        "true",
        "False",
        "null",
        "NULL",
        "Null",
        "~",
        "nan",
        ".nan",
        "inf",
        "-.inf",
        "0x10",
        "0o17",
        "0b101",
        "1e3",
        "1_000",
        "012",
        "+1",
        "-1",
        "3.14",
        ".5",
        "12:30",
        "1:20:30",
        "2024-01-02",
        "2024-01-02T03:04:05Z",
        "-",
        "?",
        "- a",
        "? a",
        "-a",
        "?a",
        "<<",
        "=",
        "---",
        "...",
        "--- a",
        "---a",
        " leading",
        "trailing ",
        "\tleading tab",
        "a: b",
        "a:b",
        "a:",
        "a #b",
        "a#b",
        "#a",
        "&a",
        "*a",
        "!a",
        "|a",
        ">a",
        "%a",
        "@a",
        "`a",
        "'a'",
        "\"a\"",
        "o'neil",
        "back\\slash",
        "[a]",
        "{a}",
        "a, b",
        "a,b",
        "two\nlines",
        "trailing newline\n",
        "\n",
        "cr\rlf",
        "tab\there",
        "nul\0byte",
        "bell\u{7}",
        "esc\u{1b}",
        "del\u{7f}",
        "c1\u{85}",
        "bom\u{feff}",
        "ls\u{2028}ps\u{2029}",
        "\u{fffe}",
        "ünïcödé",
        "日本語",
        "emoji 🚀",
        "app.kubernetes.io/part-of",
        "nvidia.com/gpu",
        "registry.example.com/ml/train:2.4.0-gpu",
        "alice@example.com",
        "/data/models",
        "0 2 * * *",
        "500m",
        "1Gi",
        "8",
        "a2345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "a23456789012345678901234567890123456789012345678901234567890123456789012345678901",
        "a very long sentence with spaces that goes past the eighty character limit of serde-saphyr folding",
        "a very long sentence with spaces that goes past the eighty character limit: and a colon",
    ];

    #[test]
    fn tricky_strings_match_serde_saphyr_everywhere() {
        let long_key = "k".repeat(1100);
        let escaped_key = "\u{1}".repeat(300);
        let keys = TRICKY
            .iter()
            .copied()
            .chain([long_key.as_str(), escaped_key.as_str()]);
        for s in keys {
            let plain = json!({
                "value": s,
                "items": [s, "x"],
                "maps": [{"a": s, "b": [s]}, {"name": s}],
                "nested": {"deeper": {"value": s}},
            });
            check(&plain);
            check(&json!({ s: s, "after": 1 }));
            check(&json!([{ s: [s] }, { s: { s: s } }]));
            check(&json!(s));
            check(&json!([s]));
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(s.to_owned()),
                    labels: Some(BTreeMap::from([(s.to_owned(), s.to_owned())])),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(s.to_owned(), s.to_owned())])),
                ..ConfigMap::default()
            };
            check(&cm);
        }
    }

    #[test]
    fn shapes_match_serde_saphyr() {
        for value in [
            json!({}),
            json!([]),
            json!({"a": {}, "b": [], "c": {"d": {}}, "e": [{}], "f": [{"g": []}]}),
            json!([{}, [], {"a": 1}]),
            json!({"a": [{"b": [{"c": [1, 2]}]}], "z": {"y": [{"x": {}}]}}),
            json!([{"a": {"b": {"c": "d"}}, "e": [{"f": "g"}]}]),
            json!({"i": i64::MIN, "j": -1, "u": u64::MAX, "z": 0, "t": true, "f": false}),
            json!({"after-block": {"a": 1}, "empty-list": [], "empty-map": {}}),
            json!({"after-list": [1], "empty-list": [], "x": [{"a": [1]}, {}]}),
            json!([[1, 2], [3]]),
            json!({"float": 1.5, "neg": -0.0, "big": 1e300}),
            json!({"null": null, "list": [null]}),
        ] {
            check(&value);
        }
        assert!(check(&json!({"a": [{"b": {}}], "c": []})));
        assert!(
            !check(&json!([[1]])),
            "a list in a list is left to serde-saphyr"
        );
        assert!(
            !check(&json!({"f": 1.5})),
            "floats are left to serde-saphyr"
        );
        assert!(
            !check(&json!({"n": null})),
            "nulls are left to serde-saphyr"
        );
        assert!(!check(&json!({"s": "two\nlines"})), "block scalars too");
    }

    /// Strings near every rule serde-saphyr applies, and beyond.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z/][a-zA-Z0-9._/@-]{0,90}",
            2 => "[ -~]{0,12}",
            2 => "(y|n|Y|N|yes|No|ON|off|True|FALSE|null|Null|NULL|Nan|INF|\\.inf|~|<<|=|-|\\?|\\.|#|---|\\.\\.\\.)",
            2 => "[0-9+._-][0-9a-fA-FxXoObB:._eE+-]{0,10}",
            1 => "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{2}:[0-9]{2}Z?)?",
            2 => "\\PC{0,8}",
            1 => "\\p{Cc}{1,3}",
            2 => "[a-z \t\n\r:#'\"\\\\,{}-]{0,10}",
            1 => "[a-z ]{70,130}",
        ]
    }

    /// Any JSON value: the objects of user templates.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            6 => any_text().prop_map(Value::String),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => any::<bool>().prop_map(Value::Bool),
            1 => any::<f64>().prop_map(Value::from),
            1 => Just(Value::Null),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((any_text(), inner), 0..5)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// JSON in the shapes Kubernetes objects have, which the writer writes itself.
    fn block_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            6 => any_text().prop_map(Value::String),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<bool>().prop_map(Value::Bool),
        ];
        let map = |inner: BoxedStrategy<Value>| {
            proptest::collection::vec((any_text(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect()))
        };
        leaf.prop_recursive(5, 48, 5, move |inner| {
            let item = prop_oneof![leaf_of(&inner), map(inner.clone().boxed())];
            prop_oneof![
                proptest::collection::vec(item, 0..4).prop_map(Value::Array),
                map(inner.boxed()),
            ]
        })
    }

    /// A scalar or a map, never a list: what a list item may be for the writer.
    fn leaf_of(inner: &BoxedStrategy<Value>) -> impl Strategy<Value = Value> + use<> {
        inner
            .clone()
            .prop_map(|v| if v.is_array() { json!({"list": v}) } else { v })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn any_json_matches_serde_saphyr(value in any_json()) {
            check(&value);
        }

        #[test]
        fn block_json_matches_serde_saphyr(value in block_json()) {
            check(&value);
        }

        #[test]
        fn kubernetes_objects_of_any_strings_match_serde_saphyr(
            labels in proptest::collection::btree_map(any_text(), any_text(), 0..4),
            data in proptest::collection::btree_map(any_text(), any_text(), 0..3),
            args in proptest::collection::vec(any_text(), 0..3),
            name in any_text(),
            tolerations in proptest::collection::vec(any_text(), 0..2),
        ) {
            check(&ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                },
                data: Some(data),
                ..ConfigMap::default()
            });
            check(&Pod {
                metadata: ObjectMeta { labels: Some(labels), ..ObjectMeta::default() },
                spec: Some(PodSpec {
                    containers: vec![Container { name, args: Some(args), ..Container::default() }],
                    tolerations: Some(
                        tolerations
                            .into_iter()
                            .map(|v| Toleration { value: Some(v), ..Toleration::default() })
                            .collect(),
                    ),
                    ..PodSpec::default()
                }),
                ..Pod::default()
            });
        }
    }
}
