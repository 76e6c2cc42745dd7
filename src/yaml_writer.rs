//! Objects → YAML text, byte for byte what `serde_saphyr::to_string` writes, about ten times
//! faster. It never decides how to quote a scalar on its own, except for plain identifiers that
//! no YAML reader can mistake (`team-a`, `/data/models`, `app.kubernetes.io/part-of`); every
//! other scalar is styled by serde-saphyr itself, once, and cached. Shapes it does not handle (a
//! string serde-saphyr would write as a block scalar, a sequence directly inside a sequence,
//! floats, nulls) make it give up, so the caller falls back to serde-saphyr for that object.
//! Pure.
//!
//! Why: serde-saphyr spends ~95,000 instructions per object re-checking every scalar for YAML
//! ambiguities; at 20,000 objects that was 70% of a render (BENCHMARKS.md).

use serde::Serialize;
use serde::ser::{self, Impossible};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// Longest single-line string serde-saphyr writes as a plain scalar rather than folding it.
const FOLD_AFTER: usize = 80;

/// The writer keeps the styles serde-saphyr chose for scalars off the fast path.
#[derive(Default)]
pub struct Writer {
    values: Styles,
    keys: Styles,
}

/// Scalar → its styled text, or `None` when serde-saphyr writes it as a block scalar.
type Styles = HashMap<String, Option<Box<str>>, BuildHasherDefault<Fnv>>;

/// FNV-1a: the cached scalars are short (`8Gi`, `""`, image names), where SipHash's setup
/// dominates, and the writer's own data is no denial-of-service target.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The value has a shape this writer leaves to serde-saphyr.
#[derive(Debug)]
pub struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shape left to serde-saphyr")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

impl Writer {
    /// Append `value` as a YAML document to `out`. On `Err`, `out` is as it was.
    pub fn write<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        out: &mut String,
    ) -> Result<(), Unsupported> {
        let start = out.len();
        let result = value.serialize(Node {
            w: self,
            out,
            pos: Pos::Top,
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn value_style<'s>(&'s mut self, s: &'s str) -> Result<&'s str, Unsupported> {
        if plain_value(s) {
            return Ok(s);
        }
        let styled = self.values.entry(s.to_owned()).or_insert_with(|| {
            let text = serde_saphyr::to_string(&s).ok()?;
            single_line(text.strip_suffix('\n')?)
        });
        styled.as_deref().ok_or(Unsupported)
    }

    fn key_style<'s>(&'s mut self, s: &'s str) -> Result<&'s str, Unsupported> {
        if plain_key(s) {
            return Ok(s);
        }
        let styled = self.keys.entry(s.to_owned()).or_insert_with(|| {
            let text = serde_saphyr::to_string(&std::collections::BTreeMap::from([(s, 0)])).ok()?;
            single_line(text.strip_suffix(": 0\n")?)
        });
        styled.as_deref().ok_or(Unsupported)
    }
}

fn single_line(text: &str) -> Option<Box<str>> {
    let block = text.starts_with(['|', '>']) || text.contains('\n');
    (!block).then(|| text.into())
}

/// Spellings YAML 1.1 or 1.2 readers turn into booleans, nulls or numbers (any letter case).
const RESERVED: [&str; 11] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
];

fn reserved(s: &str) -> bool {
    s.len() <= 5 && RESERVED.iter().any(|r| s.eq_ignore_ascii_case(r))
}

/// A key serde-saphyr certainly writes plain: a letter, then letters, digits and `._/-`.
fn plain_key(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-'))
        && !reserved(s)
}

/// A value serde-saphyr certainly writes plain: up to 80 characters, starting with a letter or
/// `/`, then letters, digits and `._/@-`, and no reserved word.
fn plain_value(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= FOLD_AFTER
        && (b[0].is_ascii_alphabetic() || b[0] == b'/')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-' | b'@'))
        && !reserved(s)
}

/// Where the next node goes.
#[derive(Clone, Copy)]
enum Pos {
    /// The document itself.
    Top,
    /// The value of a mapping key written at this column.
    Value(usize),
    /// A sequence item, right after `- ` written at this column.
    Item(usize),
}

struct Node<'a> {
    w: &'a mut Writer,
    out: &'a mut String,
    pos: Pos,
}

fn indent(out: &mut String, col: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = col;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

fn put_scalar(out: &mut String, pos: Pos, text: &str) -> Result<(), Unsupported> {
    if let Pos::Value(_) = pos {
        out.push(' ');
    }
    out.push_str(text);
    out.push('\n');
    Ok(())
}

impl Node<'_> {
    fn scalar(self, text: &str) -> Result<(), Unsupported> {
        put_scalar(self.out, self.pos, text)
    }

    fn integer(self, v: i128) -> Result<(), Unsupported> {
        let mut buf = [0u8; 40];
        let mut i = buf.len();
        let mut n = v.unsigned_abs();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            i -= 1;
            buf[i] = b'-';
        }
        self.scalar(std::str::from_utf8(&buf[i..]).expect("ASCII digits"))
    }
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

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.scalar(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.integer(v.into())
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
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        let text = self.w.value_style(v)?;
        put_scalar(self.out, self.pos, text)
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
        // serde-saphyr gives its own wrappers (flow style, block strings) reserved names.
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
        let col = match self.pos {
            Pos::Top => 0,
            Pos::Value(c) => c,
            Pos::Item(_) => return Err(Unsupported),
        };
        Ok(Seq {
            out: self.out,
            w: self.w,
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
    fn serialize_map(self, _: Option<usize>) -> Result<Map<'a>, Unsupported> {
        let col = match self.pos {
            Pos::Top => 0,
            Pos::Value(c) | Pos::Item(c) => c + 2,
        };
        Ok(Map {
            w: self.w,
            out: self.out,
            pos: self.pos,
            col,
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

/// A block mapping; its keys at `col`, the first one inline when it follows `- `.
struct Map<'a> {
    w: &'a mut Writer,
    out: &'a mut String,
    pos: Pos,
    col: usize,
    count: usize,
}

impl Map<'_> {
    fn key(&mut self, key: &str) -> Result<(), Unsupported> {
        let styled = self.w.key_style(key)?;
        match (self.count, self.pos) {
            (0, Pos::Item(_)) => {}
            (0, Pos::Value(_)) => {
                self.out.push('\n');
                indent(self.out, self.col);
            }
            _ => indent(self.out, self.col),
        }
        self.out.push_str(styled);
        self.out.push(':');
        self.count += 1;
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(Node {
            w: self.w,
            out: self.out,
            pos: Pos::Value(self.col),
        })
    }

    fn finish(self) -> Result<(), Unsupported> {
        if self.count == 0 {
            self.out.push_str(match self.pos {
                Pos::Value(_) => " {}\n",
                Pos::Top | Pos::Item(_) => "{}\n",
            });
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
        key.serialize(KeyText(self))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

/// A block sequence; its `- ` at `col` (under its key, as serde-saphyr's compact lists do).
struct Seq<'a> {
    w: &'a mut Writer,
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
            w: self.w,
            out: self.out,
            pos: Pos::Item(self.col),
        })
    }

    fn finish(self) -> Result<(), Unsupported> {
        if self.count == 0 {
            self.out.push_str(match self.pos {
                Pos::Value(_) => " []\n",
                Pos::Top | Pos::Item(_) => "[]\n",
            });
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

/// Map keys: strings only.
struct KeyText<'m, 'a>(&'m mut Map<'a>);

impl ser::Serializer for KeyText<'_, '_> {
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
    fn serialize_bool(self, _: bool) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i8(self, _: i8) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i16(self, _: i16) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i32(self, _: i32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i64(self, _: i64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u8(self, _: u8) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u16(self, _: u16) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u32(self, _: u32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u64(self, _: u64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_char(self, _: char) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported)
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
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
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
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;
    use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec, Toleration};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The writer either gives up or writes exactly what serde-saphyr writes.
    fn same_as_saphyr<T: Serialize>(w: &mut Writer, value: &T) -> bool {
        let expected = serde_saphyr::to_string(value).unwrap();
        let mut out = String::from("# header\n");
        match w.write(value, &mut out) {
            Ok(()) => {
                assert_eq!(out.strip_prefix("# header\n").unwrap(), expected);
                true
            }
            Err(Unsupported) => {
                assert_eq!(
                    out, "# header\n",
                    "a refused write leaves the output as it was"
                );
                false
            }
        }
    }

    fn objects(name: &str, text: &str) -> Vec<crate::manifest::Object> {
        let src = SourceFile::new(format!("environments/{name}.yaml"), text);
        let r = crate::validate::validate(&src, name, &BTreeMap::new()).unwrap();
        crate::expand::expand(&r.env)
    }

    #[test]
    fn example_environments_are_written_without_falling_back() {
        let mut w = Writer::default();
        for (name, text) in [
            ("prod", include_str!("../environments/prod.yaml")),
            ("dev", include_str!("../environments/dev.yaml")),
        ] {
            for o in objects(name, text) {
                let mut out = String::new();
                o.write_yaml(&mut w, &mut out);
                assert_eq!(out, o.to_yaml());
                assert!(each(&o, &mut w), "{} fell back to serde-saphyr", o.id());
            }
        }
    }

    fn each(o: &crate::manifest::Object, w: &mut Writer) -> bool {
        use crate::manifest::Object::*;
        match o {
            Namespace(x) => same_as_saphyr(w, x),
            ResourceQuota(x) => same_as_saphyr(w, x),
            Role(x) => same_as_saphyr(w, x),
            RoleBinding(x) => same_as_saphyr(w, x),
            NetworkPolicy(x) => same_as_saphyr(w, x),
            ServiceAccount(x) => same_as_saphyr(w, x),
            PersistentVolume(x) => same_as_saphyr(w, x),
            PersistentVolumeClaim(x) => same_as_saphyr(w, x),
            Deployment(x) => same_as_saphyr(w, x),
            Service(x) => same_as_saphyr(w, x),
        }
    }

    /// Names YAML readers misread, odd e-mails, a long image and NFS path: every object still
    /// comes out as serde-saphyr writes it (some by falling back to it).
    #[test]
    fn awkward_specs_match_serde_saphyr() {
        let spec = r##"
apiVersion: nbgen.io/v1alpha1
kind: Environment
name: "on"
cluster: {kubernetesVersion: "1.33", nodePortRange: 30000-30100, namespacePrefix: "1-"}
images:
  "yes": registry.example.com/ml/an-image-with-a-very-long-name-that-goes-past-eighty-characters:1.0.0
  "no": "registry.example.com/ml/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
gpuPools:
  "true":
    resource: nvidia.com/gpu
    capacity: 8
    nodeSelector: {"null": "true", "a.b/c": "123", "x": "on"}
    tolerations: [{key: "y", operator: Equal, value: "off", effect: NoExecute, tolerationSeconds: 30}]
storage:
  "123":
    size: "1e3"
    nfs: {server: "10.0.0.1", path: "/exports/a b: c #d"}
  "null":
    size: 1Ti
    nfs: {server: "nfs", path: "/x"}
roles:
  "n":
    image: "yes"
    cpu: "0.5"
    memory: 512Mi
    gpu: {pool: "true", count: 1}
    mounts: {"123": readWrite, "null": readOnly}
  "off":
    image: "no"
    cpu: 100m
    memory: "1073741824"
    homeSize: 1.5Gi
    mounts: {"null": readWrite}
teams:
  "123":
    members: ["o'neil@example.com", "x:y@example.com", "a#b@example.com", "-dash@example.com"]
    groups: ["true", "a: b", "#c", "@d", "~"]
    roles: ["n", "off"]
    perMember: true
    quota: {cpu: "8", memory: 100Gi, gpu: 4}
  "yes":
    groups: [g]
    roles: ["off"]
"##;
        let mut w = Writer::default();
        let mut fast = 0;
        let all = objects("on", spec);
        for o in &all {
            let mut out = String::new();
            o.write_yaml(&mut w, &mut out);
            assert_eq!(out, o.to_yaml());
            fast += usize::from(each(o, &mut w));
        }
        assert!(
            fast > all.len() / 2,
            "only {fast} of {} written fast",
            all.len()
        );
    }

    #[test]
    fn shapes_match_serde_saphyr() {
        let mut w = Writer::default();
        let empty: BTreeMap<String, String> = BTreeMap::new();
        let nested = BTreeMap::from([
            (
                "a",
                BTreeMap::from([("b", vec![BTreeMap::from([("c", vec!["d"])])])]),
            ),
            ("e", BTreeMap::new()),
        ]);
        let seq_of_maps = vec![
            BTreeMap::from([("x", BTreeMap::<String, String>::new())]),
            BTreeMap::new(),
        ];
        assert!(same_as_saphyr(&mut w, &empty));
        assert!(same_as_saphyr(&mut w, &Vec::<String>::new()));
        assert!(same_as_saphyr(&mut w, &nested));
        assert!(same_as_saphyr(&mut w, &seq_of_maps));
        // A sequence in a sequence is left to serde-saphyr.
        assert!(!same_as_saphyr(&mut w, &vec![vec![1, 2]]));
        assert!(!same_as_saphyr(&mut w, &BTreeMap::from([("f", 1.5)])));
        assert!(!same_as_saphyr(&mut w, &"two\nlines"));
        assert!(same_as_saphyr(&mut w, &BTreeMap::from([("i", i64::MIN)])));
        assert!(same_as_saphyr(&mut w, &BTreeMap::from([("u", u64::MAX)])));
        assert!(same_as_saphyr(&mut w, &BTreeMap::from([("b", true)])));
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z/][a-zA-Z0-9._/@-]{0,90}",
            "[ -~]{0,12}",
            "(y|n|yes|No|ON|off|True|FALSE|null|Nan|INF|~|<<|=|-|\\.|#)",
            "[0-9+._-][0-9a-fA-FxXoObB:._eE+-]{0,10}",
            "\\PC{0,8}",
            "[a-z \t\n:#'\"]{0,10}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_strings_match_serde_saphyr(
            labels in proptest::collection::btree_map(any_text(), any_text(), 0..4),
            data in proptest::collection::btree_map(any_text(), any_text(), 0..3),
            args in proptest::collection::vec(any_text(), 0..3),
            name in any_text(),
            tolerations in proptest::collection::vec(any_text(), 0..2),
        ) {
            let mut w = Writer::default();
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                },
                data: Some(data),
                ..ConfigMap::default()
            };
            same_as_saphyr(&mut w, &cm);
            let pod = Pod {
                metadata: ObjectMeta { labels: Some(labels), ..ObjectMeta::default() },
                spec: Some(PodSpec {
                    containers: vec![Container { name, args: Some(args), ..Container::default() }],
                    tolerations: Some(tolerations.into_iter().map(|v| Toleration { value: Some(v), ..Toleration::default() }).collect()),
                    ..PodSpec::default()
                }),
                ..Pod::default()
            };
            same_as_saphyr(&mut w, &pod);
        }
    }
}
