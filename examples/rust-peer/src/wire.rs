//! Frames on a byte stream: the 32-byte RUST header + bincode (docs/PROTOCOL.md sections 2 and 4), and
//! varint-length-delimited protobuf envelopes (section 5). `FrameReader` splits a stream into decoded
//! frames with the receiver checks of those sections, in their order, before anything is allocated.

use crate::compress::{self, Algorithm};
use crate::error::PeerError;
use crate::messages::{id_of, name_of, Body, Envelope, Wire};
use prost::Message as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// "RUST" as a little-endian u32.
pub const RUST_MAGIC: u32 = 0x5255_5354;
/// Size of a RUST frame header.
pub const RUST_HEADER: usize = 32;
/// Frame flag: this frame answers a request.
pub const FLAG_RESPONSE: u16 = 0x08;
/// Frame flag: this frame is a request.
pub const FLAG_REQUEST: u16 = 0x10;
/// Flag bits 0-2: payload compression.
pub const COMPRESSION_MASK: u16 = 0x07;
/// The largest frame this node accepts (header + payload), as announced in its Hello.
pub const MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
  SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// One decoded frame.
#[derive(Debug)]
pub struct Frame {
  /// Frame flags (REQUEST, RESPONSE).
  pub flags: u16,
  /// The header's or envelope's sequence field.
  pub sequence: u32,
  /// The message.
  pub body: Body,
  /// The algorithm its payload was compressed with (section 7.9), if any.
  pub compression: Option<Algorithm>,
}

/// Encode one complete frame of `body` in `wire`.
pub fn encode_frame(wire: Wire, body: &Body, sequence: u32, flags: u16) -> Vec<u8> {
  encode_payload(wire, body, body.encode(wire), sequence, flags)
}

/// Encode one frame of `body` with its payload compressed by `algorithm` when the payload is at least
/// `compress::THRESHOLD` bytes and compression shrinks it (flags bits 0-2 then name the algorithm).
/// Returns the frame and the algorithm it was compressed with.
pub fn encode_frame_compressed(
  wire: Wire,
  body: &Body,
  sequence: u32,
  flags: u16,
  algorithm: Option<Algorithm>,
) -> (Vec<u8>, Option<Algorithm>) {
  let payload = body.encode(wire);
  if let Some(a) = algorithm.filter(|_| payload.len() >= compress::THRESHOLD) {
    let packed = compress::compress(a, &payload);
    if packed.len() < payload.len() {
      return (encode_payload(wire, body, packed, sequence, (flags & !COMPRESSION_MASK) | a.flag()), Some(a));
    }
  }
  (encode_payload(wire, body, payload, sequence, flags), None)
}

/// A frame of `body`'s type carrying `payload` as it is (compressed when `flags` say so).
fn encode_payload(wire: Wire, body: &Body, payload: Vec<u8>, sequence: u32, flags: u16) -> Vec<u8> {
  let checksum = crc32fast::hash(&payload);
  match wire {
    Wire::Rust => {
      let mut out = Vec::with_capacity(RUST_HEADER + payload.len());
      out.extend_from_slice(&RUST_MAGIC.to_le_bytes());
      out.push(1);
      out.push(body.id());
      out.extend_from_slice(&flags.to_le_bytes());
      out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
      out.extend_from_slice(&sequence.to_le_bytes());
      out.extend_from_slice(&now_ms().to_le_bytes());
      out.extend_from_slice(&checksum.to_le_bytes());
      out.extend_from_slice(&[0; 4]);
      out.extend_from_slice(&payload);
      out
    }
    Wire::Universal => {
      let envelope = Envelope {
        version: 1,
        message_type: u32::from(body.id()),
        flags: u32::from(flags),
        compression: u32::from(flags & COMPRESSION_MASK),
        sequence,
        timestamp: now_ms(),
        type_name: name_of(body.id()).unwrap_or_default().to_owned(),
        checksum: Some(checksum),
        payload,
        ..Default::default()
      };
      envelope.encode_length_delimited_to_vec()
    }
  }
}

/// Splits a byte stream into frames of one wire. Poisoned after an error (the connection is dropped).
pub struct FrameReader {
  wire: Wire,
  max: usize,
  /// Compression algorithms the link agreed on; any other is refused (E_COMPRESSION).
  accepted: Vec<Algorithm>,
  buf: Vec<u8>,
  pos: usize,
}

impl FrameReader {
  /// A reader of `wire` frames no larger than `max` bytes (length prefix or header included).
  pub fn new(wire: Wire, max: usize) -> FrameReader {
    FrameReader { wire, max, accepted: Vec::new(), buf: Vec::new(), pos: 0 }
  }

  /// Accept payloads compressed with these algorithms from now on (what the handshake agreed on).
  pub fn accept(&mut self, algorithms: &[Algorithm]) {
    self.accepted = algorithms.to_vec();
  }

  /// The same bytes read as another wire from now on (after the handshake), with another size limit.
  pub fn switch(&mut self, wire: Wire, max: usize) {
    self.wire = wire;
    self.max = max;
  }

  /// Append received bytes.
  pub fn push(&mut self, chunk: &[u8]) {
    if self.pos > 0 && self.pos == self.buf.len() {
      self.buf.clear();
      self.pos = 0;
    } else if self.pos > 64 * 1024 && self.pos * 2 > self.buf.len() {
      self.buf.drain(..self.pos);
      self.pos = 0;
    }
    self.buf.extend_from_slice(chunk);
  }

  /// The next complete frame, or None until more bytes arrive.
  pub fn next_frame(&mut self) -> Result<Option<Frame>, PeerError> {
    let rest = &self.buf[self.pos..];
    let (used, frame) = match self.wire {
      Wire::Rust => match read_rust(rest, self.max, &self.accepted)? {
        Some(x) => x,
        None => return Ok(None),
      },
      Wire::Universal => match read_universal(rest, self.max, &self.accepted)? {
        Some(x) => x,
        None => return Ok(None),
      },
    };
    self.pos += used;
    Ok(Some(frame))
  }
}

fn read_rust(b: &[u8], max: usize, accepted: &[Algorithm]) -> Result<Option<(usize, Frame)>, PeerError> {
  if b.len() < RUST_HEADER {
    return Ok(None);
  }
  let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
  let magic = u32_at(0);
  if magic != RUST_MAGIC {
    return Err(PeerError::new("E_BAD_MAGIC", format!("frame magic 0x{magic:08x} is not RUST (0x52555354)")));
  }
  if b[4] != 1 {
    return Err(PeerError::new("E_UNSUPPORTED_VERSION", format!("frame version {} (this node speaks 1)", b[4])));
  }
  let id = b[5];
  let flags = u16::from_le_bytes([b[6], b[7]]);
  let size = u32_at(8) as usize;
  if RUST_HEADER + size > max {
    return Err(PeerError::new(
      "E_FRAME_TOO_LARGE",
      format!("frame of {} bytes exceeds the limit of {max}", RUST_HEADER + size),
    ));
  }
  if b.len() < RUST_HEADER + size {
    return Ok(None);
  }
  let sequence = u32_at(12);
  let checksum = u32_at(24);
  let payload = &b[RUST_HEADER..RUST_HEADER + size];
  let actual = crc32fast::hash(payload);
  if actual != checksum {
    return Err(PeerError::new(
      "E_CHECKSUM",
      format!("frame type {id} seq {sequence}: payload CRC-32 0x{actual:08x}, header says 0x{checksum:08x}"),
    ));
  }
  let compression = Algorithm::from_flag(flags);
  let body = if flags & COMPRESSION_MASK != 0 {
    Body::decode(Wire::Rust, id, &compress::decompress(flags, payload, max, accepted)?)?
  } else {
    Body::decode(Wire::Rust, id, payload)?
  };
  Ok(Some((RUST_HEADER + size, Frame { flags, sequence, body, compression })))
}

fn read_universal(b: &[u8], max: usize, accepted: &[Algorithm]) -> Result<Option<(usize, Frame)>, PeerError> {
  let mut length: u64 = 0;
  let mut prefix = 0;
  loop {
    if prefix >= b.len() {
      return Ok(None);
    }
    let byte = b[prefix];
    if prefix == 9 && byte > 1 {
      return Err(PeerError::new("E_VARINT_OVERFLOW", "envelope length varint overflows 64 bits"));
    }
    length |= u64::from(byte & 0x7f) << (7 * prefix);
    prefix += 1;
    if byte < 0x80 {
      break;
    }
    if prefix == 10 {
      return Err(PeerError::new("E_VARINT_OVERFLOW", "envelope length varint longer than 10 bytes"));
    }
  }
  // The length is the peer's: a 10-byte varint near 2^64 must not wrap past the limit check.
  let total = (prefix as u64).saturating_add(length);
  if total > max as u64 {
    return Err(PeerError::new("E_FRAME_TOO_LARGE", format!("frame of {total} bytes exceeds the limit of {max}")));
  }
  let total = total as usize;
  if b.len() < total {
    return Ok(None);
  }
  let env = Envelope::decode(&b[prefix..total]).map_err(|e| PeerError::new("E_DECODE", format!("envelope: {e}")))?;
  if env.version != 1 {
    return Err(PeerError::new("E_UNSUPPORTED_VERSION", format!("envelope version {} (this node speaks 1)", env.version)));
  }
  if let Some(sum) = env.checksum {
    let actual = crc32fast::hash(&env.payload);
    if actual != sum {
      return Err(PeerError::new(
        "E_CHECKSUM",
        format!("envelope {}: payload CRC-32 0x{actual:08x}, envelope says 0x{sum:08x}", env.type_name),
      ));
    }
  }
  if env.flags > 0xffff || env.compression != env.flags & u32::from(COMPRESSION_MASK) {
    return Err(PeerError::new("E_DECODE", "envelope compression disagrees with its flags"));
  }
  let id = if env.type_name.is_empty() {
    u8::try_from(env.message_type).ok()
  } else {
    match id_of(&env.type_name) {
      Some(id) if u32::from(id) == env.message_type => Some(id),
      Some(_) => None,
      // A type this node has no schema for: known only by its id.
      None => u8::try_from(env.message_type).ok(),
    }
  };
  let Some(id) = id.filter(|&i| i != 0) else {
    return Err(PeerError::new(
      "E_UNKNOWN_MESSAGE_TYPE",
      format!("envelope type {:?} / id {} is not a valid type", env.type_name, env.message_type),
    ));
  };
  let flags = env.flags as u16;
  let body = if env.compression != 0 {
    Body::decode(Wire::Universal, id, &compress::decompress(flags, &env.payload, max, accepted)?)?
  } else {
    Body::decode(Wire::Universal, id, &env.payload)?
  };
  let compression = Algorithm::from_flag(flags);
  Ok(Some((total, Frame { flags, sequence: env.sequence, body, compression })))
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::messages::{FileChunk, Ping};

  fn roundtrip(wire: Wire) {
    let chunk = FileChunk { path: "p".into(), offset: 9, sequence: 3, last: true, data: vec![7; 1000] };
    let mut stream = encode_frame(wire, &Body::FileChunk(chunk.clone()), 5, FLAG_REQUEST);
    stream.extend(encode_frame(wire, &Body::Ping(Ping { id: 2 }), 0, 0));
    let mut reader = FrameReader::new(wire, MAX_FRAME_SIZE);
    // Byte by byte: frames spanning pushes are reassembled.
    let mut frames = Vec::new();
    for b in &stream {
      reader.push(std::slice::from_ref(b));
      while let Some(f) = reader.next_frame().unwrap() {
        frames.push(f);
      }
    }
    assert_eq!(frames.len(), 2);
    assert_eq!((frames[0].flags, frames[0].sequence), (FLAG_REQUEST, 5));
    assert!(matches!(&frames[0].body, Body::FileChunk(c) if *c == chunk));
    assert!(matches!(&frames[1].body, Body::Ping(Ping { id: 2 })));
  }

  #[test]
  fn rust_frames_roundtrip() {
    roundtrip(Wire::Rust);
  }

  #[test]
  fn universal_frames_roundtrip() {
    roundtrip(Wire::Universal);
  }

  #[test]
  fn compressed_frames_read_back_and_unnegotiated_ones_are_refused() {
    let chunk = FileChunk { path: "p".into(), offset: 1, sequence: 2, last: false, data: b"abcdefgh".repeat(2000) };
    let body = Body::FileChunk(chunk.clone());
    for wire in [Wire::Rust, Wire::Universal] {
      for a in crate::compress::OFFERED {
        let (bytes, used) = encode_frame_compressed(wire, &body, 1, FLAG_REQUEST, Some(a));
        assert_eq!(used, Some(a));
        assert!(bytes.len() < 2000);
        let mut r = FrameReader::new(wire, MAX_FRAME_SIZE);
        r.accept(&[a]);
        r.push(&bytes);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!((f.flags, f.compression), (FLAG_REQUEST | a.flag(), Some(a)));
        assert!(matches!(f.body, Body::FileChunk(c) if c == chunk));
        let mut r = FrameReader::new(wire, MAX_FRAME_SIZE);
        r.accept(&crate::compress::OFFERED.into_iter().filter(|&o| o != a).collect::<Vec<_>>());
        r.push(&bytes);
        assert_eq!(r.next_frame().unwrap_err().code, "E_COMPRESSION");
        // The frame limit bounds the decompressed payload too.
        let mut r = FrameReader::new(wire, bytes.len() + 10);
        r.accept(&[a]);
        r.push(&bytes);
        assert_eq!(r.next_frame().unwrap_err().code, "E_COMPRESSION");
      }
      // Small payloads stay plain.
      let (bytes, used) = encode_frame_compressed(wire, &Body::Ping(Ping { id: 1 }), 0, 0, Some(crate::compress::Algorithm::Zstd));
      assert_eq!(used, None);
      assert_eq!(bytes, encode_frame(wire, &Body::Ping(Ping { id: 1 }), 0, 0));
    }
  }

  #[test]
  fn rust_header_checks_in_order() {
    let frame = encode_frame(Wire::Rust, &Body::Ping(Ping { id: 1 }), 0, 0);
    let check = |bytes: &[u8], max: usize| {
      let mut r = FrameReader::new(Wire::Rust, max);
      r.push(bytes);
      r.next_frame().unwrap_err().code
    };
    let mut bad = frame.clone();
    bad[0] = b'X';
    assert_eq!(check(&bad, MAX_FRAME_SIZE), "E_BAD_MAGIC");
    let mut bad = frame.clone();
    bad[4] = 2;
    assert_eq!(check(&bad, MAX_FRAME_SIZE), "E_UNSUPPORTED_VERSION");
    // A header claiming 4 GiB fails before its payload arrives.
    let mut bad = frame[..RUST_HEADER].to_vec();
    bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(check(&bad, MAX_FRAME_SIZE), "E_FRAME_TOO_LARGE");
    let mut bad = frame.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(check(&bad, MAX_FRAME_SIZE), "E_CHECKSUM");
  }

  #[test]
  fn a_length_prefix_near_2_pow_64_is_too_large_not_an_overflow() {
    // Found by fuzz/ (universal_frame, handshake): prefix + length overflowed, a panic in debug builds and
    // in release a wrapped total that passed the limit check and then sliced out of bounds.
    for bytes in [&[0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0][..], &[0xff; 9][..]] {
      let mut bytes = bytes.to_vec();
      if bytes.len() == 9 {
        bytes.push(0x01);
      }
      let mut r = FrameReader::new(Wire::Universal, MAX_FRAME_SIZE);
      r.push(&bytes);
      assert_eq!(r.next_frame().unwrap_err().code, "E_FRAME_TOO_LARGE");
    }
  }

  #[test]
  fn universal_example_from_protocol_decodes() {
    // docs/PROTOCOL.md section 5, worked example (63 bytes).
    let bytes: Vec<u8> = [
      &[0x3e, 0x08, 0x01, 0x10, 0x01, 0x18, 0x10, 0x20, 0x09, 0x28, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31][..],
      &[0x32, 0x02, b'n', b'1', 0x42, 0x0f],
      b"tmesh.FileChunk",
      &[0x55, 0x8b, 0xff, 0xc1, 0x6a, 0x5a, 0x13],
      &[0x0a, 5, b'a', b'.', b't', b'x', b't', 0x10, 5, 0x18, 1, 0x20, 1, 0x2a, 4, 1, 2, 3, 4],
    ]
    .concat();
    assert_eq!(bytes.len(), 63);
    let mut r = FrameReader::new(Wire::Universal, MAX_FRAME_SIZE);
    r.push(&bytes);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!((f.flags, f.sequence), (FLAG_REQUEST, 9));
    assert!(matches!(f.body, Body::FileChunk(c) if c.path == "a.txt" && c.data == [1, 2, 3, 4] && c.last));
  }
}
