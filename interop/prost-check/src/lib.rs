//! Checks the tmesh universal wire against the real `prost`: length-delimited `tmesh.Envelope`
//! messages (test-vectors/universal/envelope.proto) carrying protobuf payloads of the sample schemas
//! (samples.proto, printed by the TypeScript `toProtoSource`). The expected values below are written
//! independently of the TypeScript ones (packages/codec-universal/src/vectors.ts); each side decodes
//! the other's file and compares every field against its own copy.

use std::collections::BTreeMap;

use prost::Message;

/// The types prost-build generated from envelope.proto and samples.proto.
#[allow(clippy::all)]
pub mod tmesh {
    include!(concat!(env!("OUT_DIR"), "/tmesh.rs"));
}

use tmesh::{op, AllTypes, Delete, Envelope, FileChunk, Inner, Metrics, Op, Rename, Unit};

/// Envelope flag bit: the frame answers a request.
pub const FLAG_RESPONSE: u32 = 0x08;
/// Envelope flag bit: the sender expects a response.
pub const FLAG_REQUEST: u32 = 0x10;
/// The envelope version both sides speak.
pub const VERSION: u32 = 1;
/// The path of the protoc binary prost-build used (from protoc-bin-vendored).
pub const PROTOC_PATH: &str = env!("PROTOC_PATH");

/// A payload of one of the sample message types.
#[allow(clippy::large_enum_variant)] // test data, built a handful of times
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    AllTypes(AllTypes),
    FileChunk(FileChunk),
    Metrics(Metrics),
}

impl Payload {
    /// The registry id and protobuf full name of the payload's type.
    pub fn type_id_and_name(&self) -> (u32, &'static str) {
        match self {
            Payload::FileChunk(_) => (1, "tmesh.FileChunk"),
            Payload::AllTypes(_) => (3, "tmesh.AllTypes"),
            Payload::Metrics(_) => (4, "tmesh.Metrics"),
        }
    }

    /// The payload bytes as prost encodes them.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Payload::AllTypes(m) => m.encode_to_vec(),
            Payload::FileChunk(m) => m.encode_to_vec(),
            Payload::Metrics(m) => m.encode_to_vec(),
        }
    }

    /// Decode payload bytes as the message type named `type_name`.
    pub fn decode(type_name: &str, bytes: &[u8]) -> Result<Payload, String> {
        let err = |e: prost::DecodeError| format!("{type_name}: {e}");
        Ok(match type_name {
            "tmesh.AllTypes" => Payload::AllTypes(AllTypes::decode(bytes).map_err(err)?),
            "tmesh.FileChunk" => Payload::FileChunk(FileChunk::decode(bytes).map_err(err)?),
            "tmesh.Metrics" => Payload::Metrics(Metrics::decode(bytes).map_err(err)?),
            other => return Err(format!("unknown type_name {other:?}")),
        })
    }
}

/// One vector: the payload and the envelope fields it travels with.
#[derive(Clone, Debug)]
pub struct Vector {
    pub payload: Payload,
    pub flags: u32,
    pub sequence: u32,
    pub timestamp: u64,
    pub source: &'static str,
    pub destination: &'static str,
    /// Whether the TypeScript payload bytes equal prost's (false where a map entry holds a default key or
    /// value: protobufjs writes it, prost leaves it out).
    pub canonical: bool,
}

fn inner(id: u32, label: &str) -> Inner {
    Inner {
        id,
        label: label.to_string(),
    }
}

fn variant(v: op::Value) -> Op {
    Op { value: Some(v) }
}

fn noop() -> Op {
    variant(op::Value::Noop(Unit {}))
}

fn delete(path: &str) -> Op {
    variant(op::Value::Delete(Delete {
        path: path.to_string(),
    }))
}

fn rename(from: &str, to: &str) -> Op {
    variant(op::Value::Rename(Rename {
        from: from.to_string(),
        to: to.to_string(),
    }))
}

fn counts(entries: &[(&str, u64)]) -> BTreeMap<String, u64> {
    entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The committed vectors, in file order (the same values as the TypeScript `vectors`).
pub fn vectors() -> Vec<Vector> {
    use tmesh::EntryKind;
    vec![
        Vector {
            payload: Payload::AllTypes(AllTypes {
                flag: true,
                u8v: 255,
                u16v: 65535,
                u32v: u32::MAX,
                u64v: u64::MAX,
                i8v: -128,
                i16v: -32768,
                i32v: i32::MIN,
                i64v: i64::MIN,
                f32v: f32::NAN,
                f64v: f64::INFINITY,
                text: "héllo wörld ✓ 日本 🚀".to_string(),
                blob: vec![0, 1, 2, 0x7f, 0x80, 0xff],
                maybe_text: Some("présent".to_string()),
                maybe_number: Some(0),
                numbers: vec![-1, 0, 1, i32::MAX, i32::MIN],
                inner: Some(inner(u32::MAX, "ïnner")),
                inners: vec![inner(1, "a"), inner(2, "b")],
                counts: counts(&[("a", 1), ("max", u64::MAX), ("ü", 42)]),
                kind: EntryKind::Symlink as i32,
                op: Some(rename("/a", "/b")),
                ops: vec![
                    noop(),
                    delete("/tmp/x"),
                    rename("x", "ß"),
                    variant(op::Value::Chmod(0o755)),
                ],
            }),
            flags: FLAG_REQUEST,
            sequence: 1,
            timestamp: 1_700_000_000_001,
            source: "ts-node",
            destination: "rust-node",
            canonical: true,
        },
        Vector {
            payload: Payload::AllTypes(AllTypes {
                flag: false,
                u8v: 0,
                u16v: 0,
                u32v: 0,
                u64v: 0,
                i8v: 0,
                i16v: 0,
                i32v: 0,
                i64v: 0,
                f32v: f32::NEG_INFINITY,
                f64v: f64::NAN,
                text: String::new(),
                blob: vec![],
                maybe_text: None,
                maybe_number: None,
                numbers: vec![],
                inner: Some(inner(0, "")),
                inners: vec![],
                counts: BTreeMap::new(),
                kind: EntryKind::File as i32,
                op: Some(noop()),
                ops: vec![],
            }),
            flags: 0,
            sequence: 2,
            timestamp: 1_700_000_000_002,
            source: "",
            destination: "",
            canonical: true,
        },
        Vector {
            payload: Payload::AllTypes(AllTypes {
                flag: true,
                u8v: 1,
                u16v: 300,
                u32v: 70000,
                u64v: 9_007_199_254_740_993,
                i8v: 127,
                i16v: 32767,
                i32v: i32::MAX,
                i64v: i64::MAX,
                f32v: f32::INFINITY,
                f64v: f64::NEG_INFINITY,
                text: "Ω".to_string(),
                blob: vec![0],
                maybe_text: Some(String::new()),
                maybe_number: Some(u64::MAX),
                numbers: vec![7],
                inner: Some(inner(1, "x")),
                inners: vec![inner(0, "")],
                counts: counts(&[("", 0)]),
                kind: EntryKind::Directory as i32,
                op: Some(delete("")),
                ops: vec![variant(op::Value::Chmod(u32::MAX))],
            }),
            flags: FLAG_RESPONSE,
            sequence: 3,
            timestamp: 0,
            source: "ü",
            destination: "",
            canonical: false,
        },
        Vector {
            payload: Payload::AllTypes(AllTypes {
                flag: false,
                u8v: 128,
                u16v: 256,
                u32v: 1,
                u64v: 1,
                i8v: -1,
                i16v: -1,
                i32v: -1,
                i64v: -1,
                f32v: f32::MAX,
                f64v: 5e-324,
                text: "a\u{0}b".to_string(),
                blob: vec![0xde, 0xad, 0xbe, 0xef],
                maybe_text: None,
                maybe_number: None,
                numbers: vec![0, 0],
                inner: Some(inner(9, "nine")),
                inners: vec![],
                counts: counts(&[("k", 5)]),
                kind: EntryKind::File as i32,
                op: Some(variant(op::Value::Chmod(0))),
                ops: vec![noop(), delete("d")],
            }),
            flags: 0,
            sequence: u32::MAX,
            timestamp: 9_007_199_254_740_991,
            source: "",
            destination: "rust-node",
            canonical: true,
        },
        Vector {
            payload: Payload::FileChunk(FileChunk {
                path: "dir/ファイル.bin".to_string(),
                offset: 4_294_967_296,
                sequence: 3,
                last: true,
                data: (0u8..16).collect(),
            }),
            flags: 0,
            sequence: 5,
            timestamp: 1_700_000_000_005,
            source: "ts-node",
            destination: "",
            canonical: true,
        },
        Vector {
            payload: Payload::Metrics(Metrics {
                node: "node-α".to_string(),
                at: 1_700_000_000_000,
                throughput: 1.5e9,
                latency_micros: 0.25,
                counters: counts(&[("dropped", 0), ("sent", 10)]),
            }),
            flags: 0,
            sequence: 6,
            timestamp: 1_700_000_000_006,
            source: "",
            destination: "",
            canonical: false,
        },
    ]
}

/// Size of the big vector's data: 1 MiB.
pub const BIG_SIZE: usize = 1024 * 1024;

/// The 1 MiB FileChunk vector (data[i] = i * 131 + 7 mod 256), generated at test time on both sides.
pub fn big_vector() -> Vector {
    let data = (0..BIG_SIZE)
        .map(|i| (i.wrapping_mul(131).wrapping_add(7) & 0xff) as u8)
        .collect();
    Vector {
        payload: Payload::FileChunk(FileChunk {
            path: "big.bin".to_string(),
            offset: 1_048_576,
            sequence: 7,
            last: false,
            data,
        }),
        flags: 0,
        sequence: 7,
        timestamp: 1_700_000_000_007,
        source: "ts-node",
        destination: "rust-node",
        canonical: true,
    }
}

/// The envelope prost writes for a vector: checksum = crc32fast of the payload.
pub fn envelope_of(v: &Vector) -> Envelope {
    let payload = v.payload.encode();
    let (id, name) = v.payload.type_id_and_name();
    Envelope {
        version: VERSION,
        message_type: id,
        flags: v.flags,
        sequence: v.sequence,
        timestamp: v.timestamp,
        source: v.source.to_string(),
        destination: v.destination.to_string(),
        type_name: name.to_string(),
        compression: 0,
        checksum: Some(crc32fast::hash(&payload)),
        payload,
    }
}

/// Write vectors as a length-delimited stream of envelopes, the way prost does it.
pub fn write_stream(list: &[Vector]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in list {
        envelope_of(v)
            .encode_length_delimited(&mut out)
            .expect("Vec<u8> grows");
    }
    out
}

/// Split a length-delimited stream into envelopes.
pub fn read_stream(mut bytes: &[u8]) -> Result<Vec<Envelope>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        out.push(
            Envelope::decode_length_delimited(&mut bytes)
                .map_err(|e| format!("envelope {}: {e}", out.len()))?,
        );
    }
    Ok(out)
}

/// Float fields compared by bit pattern (NaN == NaN, -0 != +0); the Debug text covers every other field.
fn float_bits(p: &Payload) -> Vec<u64> {
    match p {
        Payload::AllTypes(m) => vec![m.f32v.to_bits() as u64, m.f64v.to_bits()],
        Payload::Metrics(m) => vec![m.throughput.to_bits(), m.latency_micros.to_bits()],
        Payload::FileChunk(_) => vec![],
    }
}

/// Check one envelope written by TypeScript against a vector: every envelope field, the CRC-32, every
/// payload field, and (when `v.canonical`) that prost re-encodes the payload to the very same bytes.
pub fn check_envelope(index: usize, env: &Envelope, v: &Vector) -> Result<(), String> {
    let (id, name) = v.payload.type_id_and_name();
    let ctx = |what: &str| format!("vector {index}: {what}");
    let eq = |what: &str, ok: bool, detail: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{}: {detail}", ctx(what)))
        }
    };
    eq(
        "version",
        env.version == VERSION,
        format!("{}", env.version),
    )?;
    eq(
        "message_type",
        env.message_type == id,
        format!("{} != {id}", env.message_type),
    )?;
    eq(
        "type_name",
        env.type_name == name,
        format!("{:?} != {name:?}", env.type_name),
    )?;
    eq(
        "flags",
        env.flags == v.flags,
        format!("{} != {}", env.flags, v.flags),
    )?;
    eq(
        "sequence",
        env.sequence == v.sequence,
        format!("{} != {}", env.sequence, v.sequence),
    )?;
    eq(
        "timestamp",
        env.timestamp == v.timestamp,
        format!("{} != {}", env.timestamp, v.timestamp),
    )?;
    eq(
        "source",
        env.source == v.source,
        format!("{:?} != {:?}", env.source, v.source),
    )?;
    eq(
        "destination",
        env.destination == v.destination,
        format!("{:?} != {:?}", env.destination, v.destination),
    )?;
    eq(
        "compression",
        env.compression == 0,
        format!("{}", env.compression),
    )?;
    let crc = crc32fast::hash(&env.payload);
    eq(
        "checksum",
        env.checksum == Some(crc),
        format!("{:?} != crc32fast {crc:#x}", env.checksum),
    )?;
    let decoded = Payload::decode(&env.type_name, &env.payload).map_err(|e| ctx(&e))?;
    let (got, want) = (format!("{decoded:?}"), format!("{:?}", v.payload));
    eq(
        "payload",
        got == want,
        format!("\n  decoded  {got}\n  expected {want}"),
    )?;
    eq(
        "float bits",
        float_bits(&decoded) == float_bits(&v.payload),
        format!("{:x?}", float_bits(&decoded)),
    )?;
    if v.canonical {
        let ours = v.payload.encode();
        eq(
            "payload bytes",
            ours == env.payload,
            format!("prost {:02x?}\n  ts    {:02x?}", ours, env.payload),
        )?;
    }
    Ok(())
}

/// Decode a TypeScript-written stream and check it against `list`, envelope by envelope.
pub fn check_stream(bytes: &[u8], list: &[Vector]) -> Result<usize, String> {
    let envs = read_stream(bytes)?;
    if envs.len() != list.len() {
        return Err(format!("{} envelopes, expected {}", envs.len(), list.len()));
    }
    for (i, (env, v)) in envs.iter().zip(list).enumerate() {
        check_envelope(i, env, v)?;
    }
    // The envelope itself is canonical on both sides: prost re-encodes the stream to the same bytes.
    let mut again = Vec::new();
    for env in &envs {
        env.encode_length_delimited(&mut again)
            .expect("Vec<u8> grows");
    }
    if again != bytes {
        return Err("prost re-encodes the envelopes to different bytes".to_string());
    }
    Ok(envs.len())
}
