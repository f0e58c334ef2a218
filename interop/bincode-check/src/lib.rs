//! Rust mirror of the tmesh sample schemas (`sampleMessages` in @tmesh/core) and of the RUST frame,
//! using the real `bincode` 1.3, `serde` and `crc32fast`. The TypeScript codec's bytes are checked
//! against this crate in both directions (see `tests/vectors.rs` and the vitest interop test).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// ------------------------------------------------------------------------------------------------
// The sample schemas, as a Rust team would declare them.

/// `t.enum('EntryKind', ['File', 'Directory', 'Symlink'])`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
}

/// `t.struct('Rename', { from, to })`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// `t.struct('Delete', { path })`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Delete {
    pub path: String,
}

/// `t.union('Op', { Noop: null, Delete, Rename, Chmod: t.u32() })`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Op {
    Noop,
    Delete(Delete),
    Rename(Rename),
    Chmod(u32),
}

/// `t.struct('Inner', { id: t.u32(), label: t.string() })`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Inner {
    pub id: u32,
    pub label: String,
}

/// Every schema type in one struct (message id 3).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AllTypes {
    pub flag: bool,
    pub u8v: u8,
    pub u16v: u16,
    pub u32v: u32,
    pub u64v: u64,
    pub i8v: i8,
    pub i16v: i16,
    pub i32v: i32,
    pub i64v: i64,
    pub f32v: f32,
    pub f64v: f64,
    pub text: String,
    #[serde(with = "serde_bytes")]
    pub blob: Vec<u8>,
    #[serde(rename = "maybeText")]
    pub maybe_text: Option<String>,
    #[serde(rename = "maybeNumber")]
    pub maybe_number: Option<u64>,
    pub numbers: Vec<i32>,
    pub inner: Inner,
    pub inners: Vec<Inner>,
    pub counts: BTreeMap<String, u64>,
    pub kind: EntryKind,
    pub op: Op,
    pub ops: Vec<Op>,
}

/// The seed's file transfer message (message id 1).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FileChunk {
    pub path: String,
    pub offset: u64,
    pub sequence: u32,
    pub last: bool,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// The seed's performance metrics message (message id 4).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Metrics {
    pub node: String,
    pub at: u64,
    pub throughput: f64,
    #[serde(rename = "latencyMicros")]
    pub latency_micros: f64,
    pub counters: BTreeMap<String, u64>,
}

/// Message type ids of the samples (the frame's messageType byte).
pub const FILE_CHUNK_ID: u8 = 1;
pub const ALL_TYPES_ID: u8 = 3;
pub const METRICS_ID: u8 = 4;

/// One decoded or to-be-encoded sample message.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // test data, built a handful of times
pub enum Message {
    FileChunk(FileChunk),
    AllTypes(AllTypes),
    Metrics(Metrics),
}

impl Message {
    /// The messageType id of the frame that carries it.
    pub fn type_id(&self) -> u8 {
        match self {
            Message::FileChunk(_) => FILE_CHUNK_ID,
            Message::AllTypes(_) => ALL_TYPES_ID,
            Message::Metrics(_) => METRICS_ID,
        }
    }

    /// `bincode::serialize` of the payload (bincode 1.3 default config: fixint, little-endian).
    pub fn serialize(&self) -> Vec<u8> {
        match self {
            Message::FileChunk(m) => bincode::serialize(m),
            Message::AllTypes(m) => bincode::serialize(m),
            Message::Metrics(m) => bincode::serialize(m),
        }
        .expect("bincode::serialize")
    }

    /// The JSON view of the value (see [`View`]).
    pub fn view(&self) -> J {
        match self {
            Message::FileChunk(m) => m.view(),
            Message::AllTypes(m) => m.view(),
            Message::Metrics(m) => m.view(),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The RUST frame header, laid out as the seed declares it.

/// The seed's Rust wire header: `#[repr(C)]`, so `size_of` is 32 (4 padding bytes after `checksum`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RustMessageHeader {
    pub magic: u32,
    pub version: u8,
    pub message_type: u8,
    pub flags: u16,
    pub payload_size: u32,
    pub sequence_number: u32,
    pub timestamp: u64,
    pub checksum: u32,
}

/// "RUST" read as a little-endian u32.
pub const RUST_MAGIC: u32 = 0x5255_5354;
/// Bytes of the header on the wire.
pub const HEADER_SIZE: usize = std::mem::size_of::<RustMessageHeader>();

impl RustMessageHeader {
    /// The 32 header bytes, little-endian, padding zero.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(&self.magic.to_le_bytes());
        b[4] = self.version;
        b[5] = self.message_type;
        b[6..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..12].copy_from_slice(&self.payload_size.to_le_bytes());
        b[12..16].copy_from_slice(&self.sequence_number.to_le_bytes());
        b[16..24].copy_from_slice(&self.timestamp.to_le_bytes());
        b[24..28].copy_from_slice(&self.checksum.to_le_bytes());
        b
    }

    /// Parse 32 header bytes (no checks beyond the length).
    pub fn from_bytes(b: &[u8]) -> Result<Self, String> {
        if b.len() < HEADER_SIZE {
            return Err(format!(
                "frame of {} bytes is shorter than the {HEADER_SIZE}-byte header",
                b.len()
            ));
        }
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        Ok(Self {
            magic: u32_at(0),
            version: b[4],
            message_type: b[5],
            flags: u16::from_le_bytes([b[6], b[7]]),
            payload_size: u32_at(8),
            sequence_number: u32_at(12),
            timestamp: u64::from_le_bytes(b[16..24].try_into().unwrap()),
            checksum: u32_at(24),
        })
    }
}

/// Build a RUST frame: header (CRC-32 by `crc32fast`) + `bincode::serialize` payload.
pub fn encode_frame(msg: &Message, sequence: u32, timestamp: u64, flags: u16) -> Vec<u8> {
    let payload = msg.serialize();
    let header = RustMessageHeader {
        magic: RUST_MAGIC,
        version: 1,
        message_type: msg.type_id(),
        flags,
        payload_size: payload.len() as u32,
        sequence_number: sequence,
        timestamp,
        checksum: crc32fast::hash(&payload),
    };
    let mut frame = header.to_bytes().to_vec();
    frame.extend_from_slice(&payload);
    frame
}

/// Strict bincode 1.x: what `bincode::deserialize` reads, but trailing bytes are an error.
fn strict<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .reject_trailing_bytes()
        .deserialize(payload)
        .map_err(|e| format!("bincode: {e}"))
}

/// Check a RUST frame completely (magic, version, size, padding, CRC-32) and deserialize its payload.
/// Also checks that `bincode::serialize` of the result gives back exactly the payload bytes.
pub fn decode_frame(frame: &[u8]) -> Result<(RustMessageHeader, Message), String> {
    let h = RustMessageHeader::from_bytes(frame)?;
    if h.magic != RUST_MAGIC {
        return Err(format!("bad magic 0x{:08x}", h.magic));
    }
    if h.version != 1 {
        return Err(format!("unsupported version {}", h.version));
    }
    if frame[28..32] != [0, 0, 0, 0] {
        return Err("padding bytes 28..32 are not zero".into());
    }
    let payload = &frame[HEADER_SIZE..];
    if payload.len() != h.payload_size as usize {
        return Err(format!(
            "header says {} payload bytes, frame has {}",
            h.payload_size,
            payload.len()
        ));
    }
    let crc = crc32fast::hash(payload);
    if crc != h.checksum {
        return Err(format!(
            "CRC-32 0x{crc:08x}, header says 0x{:08x}",
            h.checksum
        ));
    }
    let msg = match h.message_type {
        FILE_CHUNK_ID => Message::FileChunk(strict(payload)?),
        ALL_TYPES_ID => Message::AllTypes(strict(payload)?),
        METRICS_ID => Message::Metrics(strict(payload)?),
        other => return Err(format!("unknown message type {other}")),
    };
    if msg.serialize() != payload {
        return Err("bincode::serialize of the decoded value differs from the payload".into());
    }
    Ok((h, msg))
}

// ------------------------------------------------------------------------------------------------
// A JSON view of values that survives the trip to JavaScript exactly: 64-bit integers as decimal
// strings, floats as their IEEE bit patterns in hex (so NaN, -0 and infinities compare exactly),
// bytes as hex, maps as [key, value] pairs in order, unions as { kind, value }.

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Num(i64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl J {
    /// Serialize as compact JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Str(s) => write_str(out, s),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Conversion into the JSON view.
pub trait View {
    fn view(&self) -> J;
}

macro_rules! view_small_int {
    ($($t:ty),*) => { $(impl View for $t { fn view(&self) -> J { J::Num(*self as i64) } })* };
}
view_small_int!(u8, u16, u32, i8, i16, i32);

impl View for bool {
    fn view(&self) -> J {
        J::Bool(*self)
    }
}
impl View for u64 {
    fn view(&self) -> J {
        J::Str(self.to_string())
    }
}
impl View for i64 {
    fn view(&self) -> J {
        J::Str(self.to_string())
    }
}
impl View for f32 {
    fn view(&self) -> J {
        J::Str(format!("{:08x}", self.to_bits()))
    }
}
impl View for f64 {
    fn view(&self) -> J {
        J::Str(format!("{:016x}", self.to_bits()))
    }
}
impl View for String {
    fn view(&self) -> J {
        J::Str(self.clone())
    }
}
impl<T: View> View for Option<T> {
    fn view(&self) -> J {
        self.as_ref().map_or(J::Null, View::view)
    }
}
impl<T: View> View for Vec<T> {
    fn view(&self) -> J {
        J::Arr(self.iter().map(View::view).collect())
    }
}
impl<K: View, V: View> View for BTreeMap<K, V> {
    fn view(&self) -> J {
        J::Arr(
            self.iter()
                .map(|(k, v)| J::Arr(vec![k.view(), v.view()]))
                .collect(),
        )
    }
}
impl View for EntryKind {
    fn view(&self) -> J {
        J::Str(format!("{self:?}"))
    }
}
impl View for Rename {
    fn view(&self) -> J {
        J::Obj(vec![("from", self.from.view()), ("to", self.to.view())])
    }
}
impl View for Delete {
    fn view(&self) -> J {
        J::Obj(vec![("path", self.path.view())])
    }
}
impl View for Op {
    fn view(&self) -> J {
        let (kind, value) = match self {
            Op::Noop => ("Noop", None),
            Op::Delete(d) => ("Delete", Some(d.view())),
            Op::Rename(r) => ("Rename", Some(r.view())),
            Op::Chmod(m) => ("Chmod", Some(m.view())),
        };
        let mut fields = vec![("kind", J::Str(kind.into()))];
        if let Some(v) = value {
            fields.push(("value", v));
        }
        J::Obj(fields)
    }
}
impl View for Inner {
    fn view(&self) -> J {
        J::Obj(vec![("id", self.id.view()), ("label", self.label.view())])
    }
}
impl View for AllTypes {
    fn view(&self) -> J {
        J::Obj(vec![
            ("flag", self.flag.view()),
            ("u8v", self.u8v.view()),
            ("u16v", self.u16v.view()),
            ("u32v", self.u32v.view()),
            ("u64v", self.u64v.view()),
            ("i8v", self.i8v.view()),
            ("i16v", self.i16v.view()),
            ("i32v", self.i32v.view()),
            ("i64v", self.i64v.view()),
            ("f32v", self.f32v.view()),
            ("f64v", self.f64v.view()),
            ("text", self.text.view()),
            ("blob", J::Str(hex(&self.blob))),
            ("maybeText", self.maybe_text.view()),
            ("maybeNumber", self.maybe_number.view()),
            ("numbers", self.numbers.view()),
            ("inner", self.inner.view()),
            ("inners", self.inners.view()),
            ("counts", self.counts.view()),
            ("kind", self.kind.view()),
            ("op", self.op.view()),
            ("ops", self.ops.view()),
        ])
    }
}
impl View for FileChunk {
    fn view(&self) -> J {
        J::Obj(vec![
            ("path", self.path.view()),
            ("offset", self.offset.view()),
            ("sequence", self.sequence.view()),
            ("last", self.last.view()),
            ("data", J::Str(hex(&self.data))),
        ])
    }
}
impl View for Metrics {
    fn view(&self) -> J {
        J::Obj(vec![
            ("node", self.node.view()),
            ("at", self.at.view()),
            ("throughput", self.throughput.view()),
            ("latencyMicros", self.latency_micros.view()),
            ("counters", self.counters.view()),
        ])
    }
}

/// The JSON the `bincode-check decode` binary prints for a frame.
pub fn frame_view(h: &RustMessageHeader, msg: &Message) -> J {
    J::Obj(vec![
        ("messageType", J::Num(h.message_type as i64)),
        ("flags", J::Num(h.flags as i64)),
        ("sequence", J::Num(h.sequence_number as i64)),
        ("timestamp", h.timestamp.view()),
        ("value", msg.view()),
    ])
}

// ------------------------------------------------------------------------------------------------
// The shared test-vector cases. packages/codec-rust/src/vector-cases.ts declares the same values on
// the TypeScript side, independently; each side compares what it decodes with its own declaration.

/// One vector case: a file name, the frame header fields and the message.
pub struct Case {
    pub name: &'static str,
    pub sequence: u32,
    pub timestamp: u64,
    pub flags: u16,
    pub message: Message,
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The 1 MiB data pattern of the `file_chunk_1mib` case: byte i is (i * 31 + 7) mod 256.
pub fn big_data() -> Vec<u8> {
    (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(7) & 0xff) as u8)
        .collect()
}

/// Every case, in order. `file_chunk_1mib` is not committed as a file (it is written at test time).
pub fn cases() -> Vec<Case> {
    let full = AllTypes {
        flag: true,
        u8v: u8::MAX,
        u16v: u16::MAX,
        u32v: u32::MAX,
        u64v: u64::MAX,
        i8v: i8::MIN,
        i16v: i16::MIN,
        i32v: i32::MIN,
        i64v: i64::MIN,
        f32v: f32::NAN,
        f64v: f64::INFINITY,
        text: "héllo wörld ✓ 🚀 日本".into(),
        blob: vec![0, 1, 2, 0xfe, 0xff],
        maybe_text: Some("present".into()),
        maybe_number: Some(u64::MAX),
        numbers: vec![-1, 0, 1, i32::MAX, i32::MIN],
        inner: Inner {
            id: 7,
            label: "inner".into(),
        },
        inners: vec![
            Inner {
                id: 1,
                label: "a".into(),
            },
            Inner {
                id: 2,
                label: String::new(),
            },
        ],
        counts: counts(&[("alpha", 1), ("beta", u64::MAX)]),
        kind: EntryKind::Directory,
        op: Op::Rename(Rename {
            from: "a".into(),
            to: "b".into(),
        }),
        ops: vec![
            Op::Noop,
            Op::Delete(Delete {
                path: "/tmp/x".into(),
            }),
            Op::Rename(Rename {
                from: "ü".into(),
                to: "🚀".into(),
            }),
            Op::Chmod(0o755),
        ],
    };
    let empty = AllTypes {
        flag: false,
        u8v: 0,
        u16v: 0,
        u32v: 0,
        u64v: 0,
        i8v: i8::MAX,
        i16v: i16::MAX,
        i32v: i32::MAX,
        i64v: i64::MAX,
        f32v: f32::NEG_INFINITY,
        f64v: f64::NAN,
        text: String::new(),
        blob: vec![],
        maybe_text: None,
        maybe_number: None,
        numbers: vec![],
        inner: Inner {
            id: 0,
            label: String::new(),
        },
        inners: vec![],
        counts: BTreeMap::new(),
        kind: EntryKind::File,
        op: Op::Noop,
        ops: vec![],
    };
    let mixed = AllTypes {
        flag: true,
        u8v: 1,
        u16v: 258,
        u32v: 0x0102_0304,
        u64v: 0x0102_0304_0506_0708,
        i8v: -1,
        i16v: -2,
        i32v: -3,
        i64v: -1,
        f32v: f32::INFINITY,
        f64v: f64::NEG_INFINITY,
        text: "\u{feff}bom stays, \0 nul and \"quotes\"".into(),
        blob: vec![0x80],
        maybe_text: Some(String::new()),
        maybe_number: Some(0),
        numbers: vec![42],
        inner: Inner {
            id: u32::MAX,
            label: "ünïcødé".into(),
        },
        inners: vec![Inner {
            id: 3,
            label: "c".into(),
        }],
        counts: counts(&[("", 0)]),
        kind: EntryKind::Symlink,
        op: Op::Chmod(u32::MAX),
        ops: vec![
            Op::Delete(Delete {
                path: String::new(),
            }),
            Op::Noop,
        ],
    };
    vec![
        Case {
            name: "all_types_full",
            sequence: 101,
            timestamp: 1_700_000_000_001,
            flags: 0,
            message: Message::AllTypes(full),
        },
        Case {
            name: "all_types_empty",
            sequence: 102,
            timestamp: 1_700_000_000_002,
            flags: 0,
            message: Message::AllTypes(empty),
        },
        Case {
            name: "all_types_mixed",
            sequence: 103,
            timestamp: 1_700_000_000_003,
            flags: 0x10,
            message: Message::AllTypes(mixed),
        },
        Case {
            name: "file_chunk_small",
            sequence: 104,
            timestamp: 1_700_000_000_004,
            flags: 0,
            message: Message::FileChunk(FileChunk {
                path: "docs/a.txt".into(),
                offset: 1_234_567_890_123,
                sequence: 42,
                last: true,
                data: (0..16).collect(),
            }),
        },
        Case {
            name: "metrics",
            sequence: 105,
            timestamp: 1_700_000_000_005,
            flags: 0x08,
            message: Message::Metrics(Metrics {
                node: "node-1".into(),
                at: 1_700_000_000_000,
                throughput: 1.25e9,
                latency_micros: -0.0,
                counters: counts(&[("errors", 0), ("frames", 123_456_789)]),
            }),
        },
        Case {
            name: "file_chunk_1mib",
            sequence: 106,
            timestamp: 1_700_000_000_006,
            flags: 0,
            message: Message::FileChunk(FileChunk {
                path: "big.bin".into(),
                offset: 0,
                sequence: 0,
                last: true,
                data: big_data(),
            }),
        },
    ]
}

/// Cases small enough to commit under test-vectors/rust/.
pub const COMMITTED: &[&str] = &[
    "all_types_full",
    "all_types_empty",
    "all_types_mixed",
    "file_chunk_small",
    "metrics",
];

/// Frame bytes this crate writes for a case.
pub fn case_frame(case: &Case) -> Vec<u8> {
    encode_frame(&case.message, case.sequence, case.timestamp, case.flags)
}

/// The test-vectors/rust directory of the repository.
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors/rust")
}
