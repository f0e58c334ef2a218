//! What each fuzz target does with its input (fuzz/fuzz_targets/<name>.rs is a one-line call into here).
//!
//! Every target takes bytes a hostile or corrupt peer controls and asserts the parser's contract: an
//! error or a result that obeys the stated bounds, never a panic, an out-of-bounds access (the address
//! sanitizer watches every buffer, sized exactly) or an allocation the limits do not allow. The input
//! layouts are documented per function; `seeds` builds valid inputs of each layout for the corpus.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use tmesh_rust_peer::handshake::{self, MAX_HANDSHAKE_FRAME};
use tmesh_rust_peer::messages::{Body, Hello, Wire};
use tmesh_rust_peer::wire::{FrameReader, MAX_FRAME_SIZE, RUST_HEADER};
use tmesh_shm::layout::{
  region_size, MAX_CAPACITY, MIN_CAPACITY, RECORD_HEADER, USER_FLAGS_MASK, WAIT_FUTEX,
};
use tmesh_shm::ring::{Consumer, Lend, MessageMeta, Producer, RingView};

pub mod seeds;

/// A ring in heap memory: a 256-byte control block and a data area of exactly `capacity` bytes, so the
/// address sanitizer reports any access outside them.
pub struct HeapRing {
  ctl: Vec<u64>,
  data: Vec<u8>,
  /// The data area's address, taken once: the peer's writes go through it, as the consumer's reads do.
  data_ptr: *mut u8,
}

impl HeapRing {
  /// A zeroed ring of `capacity` bytes (a power of two).
  pub fn new(capacity: usize) -> HeapRing {
    let mut data = vec![0; capacity];
    let data_ptr = data.as_mut_ptr();
    HeapRing {
      ctl: vec![0; 32],
      data,
      data_ptr,
    }
  }

  /// The peer writes 8 bytes into the data area at `off` (wrapped to fit) while the consumer runs.
  pub fn poke(&self, off: usize, value: u64) {
    let off = off % (self.data.len() - 7);
    // SAFETY: off + 8 <= capacity; the buffer lives as long as self and is never resized.
    unsafe { std::ptr::copy_nonoverlapping(value.to_le_bytes().as_ptr(), self.data_ptr.add(off), 8) };
  }

  /// The view the producer and consumer work on. The HeapRing must outlive it and not move its buffers.
  pub fn view(&mut self) -> RingView {
    // SAFETY: ctl is 256 bytes, 8-aligned; data is `capacity` bytes, a power of two; both live as long
    // as self, and the Vecs are never resized.
    unsafe { RingView::new(self.ctl.as_mut_ptr().cast(), self.data_ptr, self.data.len()) }
  }

  /// The data area (for snapshots).
  pub fn data(&self) -> &[u8] {
    &self.data
  }
}

/// Ring capacities the ring targets use: small, so records wrap and fragment often.
pub fn ring_capacity(b: u8) -> usize {
  128 << (b as usize % 6)
}

/// Limits on an incoming message the consumer target is run with (usize::MAX: no limit at all).
pub const MAX_MESSAGES: [usize; 8] = [0, 64, 1000, 4096, 1 << 16, 1 << 20, 1 << 30, usize::MAX];

fn le64(b: &[u8]) -> u64 {
  let mut x = [0u8; 8];
  let n = b.len().min(8);
  x[..n].copy_from_slice(&b[..n]);
  u64::from_le_bytes(x)
}

/// `ring_consume`: a consumer reading a ring whose every byte the producer (a hostile peer) wrote.
///
/// Input: `[0]` capacity (bits 0-2, see `ring_capacity`), max message (bits 5-7, `MAX_MESSAGES`);
/// `[1]` operations, one bit per step (0: copy out, 1: lend in place), cycling; `[2..10]` head (u64 LE,
/// the consumer's own released position, also in shared memory); `[10..18]` tail; the rest is the data
/// area (zero-filled or cut to the capacity). Bits 3-4 of `[0]`: 1 = receive in batches. Bytes past the
/// data area are the peer's writes while the consumer runs, 10 bytes each, one after every step: u16 LE
/// offset into the data area (0xffff: the tail word instead) and u64 LE value.
pub fn ring_consume(data: &[u8]) {
  if data.len() < 18 {
    return;
  }
  let cap = ring_capacity(data[0] & 7);
  let max_message = MAX_MESSAGES[(data[0] >> 5) as usize];
  let batch = (data[0] >> 3) & 3 == 1;
  let ops = data[1];
  let mut ring = HeapRing::new(cap);
  let body = &data[18..];
  let n = body.len().min(cap);
  // SAFETY: n <= capacity bytes of the data area (through its one raw pointer, as every access).
  unsafe { std::ptr::copy_nonoverlapping(body.as_ptr(), ring.data_ptr, n) };
  let mut writes = body.get(cap..).unwrap_or(&[]).chunks_exact(10);
  let view = ring.view();
  view.head().store(le64(&data[2..10]), Ordering::Release);
  view.tail().store(le64(&data[10..18]), Ordering::Release);
  let mut consumer = Consumer::new(view, max_message);
  let limit = cap.max(max_message.min(1 << 30));
  let mut failed = 0;
  let mut lent = Vec::new();
  for step in 0..64 {
    let lend = ops >> (step % 8) & 1 == 1;
    let got = if batch {
      let mut out = Vec::new();
      consumer.recv_batch(&mut out, 4, 1 << 16).map(|n| {
        // Each entry: a 24-byte header (u32 size first), then the data padded to 8.
        let mut at = 0;
        for _ in 0..n {
          let size = u32::from_le_bytes(out[at..at + 4].try_into().unwrap()) as usize;
          assert!(
            size <= limit,
            "batch entry of {size} bytes over the limit {limit}"
          );
          at += 24 + ((size + 7) & !7);
        }
        assert_eq!(at, out.len());
        let _ = consumer.release_consumed();
        n > 0
      })
    } else if lend {
      consumer.lend().map(|l| match l {
        Some(Lend::InPlace(r)) => {
          assert!(r.len <= cap - RECORD_HEADER);
          // SAFETY: the consumer vouches that the record lies inside the data area; ASan checks it.
          let bytes = unsafe { std::slice::from_raw_parts(r.ptr, r.len) };
          std::hint::black_box(bytes.iter().fold(0u8, |a, b| a ^ b));
          lent.push(r.end);
          if lent.len() > 2 {
            let end = lent.remove(0);
            consumer.release(end).expect("releasing a lent record");
          }
          true
        }
        Some(Lend::Copied(m, _)) => {
          assert!(m.data.len() <= limit);
          true
        }
        None => false,
      })
    } else {
      consumer.try_recv().map(|m| match m {
        Some((m, _)) => {
          assert!(
            m.data.len() <= limit,
            "message of {} bytes over the limit {limit}",
            m.data.len()
          );
          assert_eq!(m.meta.flags & !USER_FLAGS_MASK, 0);
          true
        }
        None => false,
      })
    };
    let write = writes.next();
    if let Some(w) = write {
      let value = le64(&w[2..10]);
      match u16::from_le_bytes([w[0], w[1]]) {
        0xffff => view.tail().store(value, Ordering::Release),
        off => ring.poke(off as usize, value),
      }
    }
    match got {
      Ok(true) => {}
      Ok(false) if write.is_some() => {}
      Ok(false) => {
        let _ = consumer.arm_wait(WAIT_FUTEX);
        break;
      }
      // An error leaves the channel broken, but further calls must still be safe.
      Err(_) => {
        failed += 1;
        if failed > 2 {
          break;
        }
      }
    }
  }
  for end in lent {
    let _ = consumer.release(end);
  }
  assert!(consumer.release(u64::MAX - 1).is_err() || consumer.lent_count() == 0);
}

/// `ring_produce`: a producer whose consumer is honest (bit 7 of `[0]` clear: every message must come
/// back whole and in order, the ring starting at any position) or hostile (set: it writes any head).
///
/// Input: `[0]` capacity (bits 0-2) and mode (bit 7); `[1..9]` start position (honest) or the head the
/// hostile consumer writes; `[9..17]` the tail found at start (hostile only); then messages of 3 bytes:
/// u16 LE length (scaled to the ring: up to 3 capacities, so some fragment), u8 type; in hostile mode
/// each message is followed by 8 bytes, the next head the consumer writes.
pub fn ring_produce(data: &[u8]) {
  if data.len() < 17 {
    return;
  }
  let cap = ring_capacity(data[0] & 7);
  let hostile = data[0] & 0x80 != 0;
  let mut ring = HeapRing::new(cap);
  let view = ring.view();
  let start = le64(&data[1..9]);
  if hostile {
    view.head().store(start, Ordering::Release);
    view.tail().store(le64(&data[9..17]), Ordering::Release);
  } else {
    // Positions only grow from 0 in steps of 8 (records are padded to 8); 2^62 bytes is centuries of
    // traffic. (A peer that writes an unaligned position is the hostile case, below.)
    let start = start & ((1 << 62) - 1) & !7;
    view.head().store(start, Ordering::Release);
    view.tail().store(start, Ordering::Release);
  }
  let mut producer = Producer::new(view);
  let mut consumer = Consumer::new(view, 1 << 20);
  let mut rest = &data[17..];
  let mut sent: VecDeque<(Vec<u8>, u8)> = VecDeque::new();
  let mut messages = 0;
  while rest.len() >= 3 && messages < 32 {
    messages += 1;
    let len = u16::from_le_bytes([rest[0], rest[1]]) as usize % (3 * cap + 1);
    let mtype = rest[2];
    rest = &rest[3..];
    let msg: Vec<u8> = (0..len)
      .map(|i| (i as u8).wrapping_mul(31).wrapping_add(mtype))
      .collect();
    let meta = MessageMeta {
      message_type: mtype,
      flags: u16::from(mtype) & USER_FLAGS_MASK,
      ..Default::default()
    };
    let _ = producer.fits(len);
    let _ = producer.in_flight();
    if !hostile {
      sent.push_back((msg.clone(), mtype));
    }
    let mut offset = 0;
    let mut rounds = 0;
    loop {
      match producer.write_partial(&msg, &mut offset, meta) {
        Ok(true) => break,
        Ok(false) => {
          let _ = producer.publish();
          if hostile {
            break;
          }
          // The honest consumer drains what was published (the ring is then empty) and the producer
          // goes on: every round must make progress.
          drain(&mut consumer, &mut sent);
          let _ = producer.arm_wait(WAIT_FUTEX, len.min(view.max_fragment()));
          rounds += 1;
          assert!(
            rounds < 64,
            "a {len}-byte message made no progress in a drained {cap}-byte ring"
          );
        }
        Err(e) => panic!("write_partial refused a valid message: {e}"),
      }
    }
    let _ = producer.publish();
    if hostile {
      if rest.len() >= 8 {
        view.head().store(le64(&rest[..8]), Ordering::Release);
        rest = &rest[8..];
      }
    } else if len & 1 == 1 {
      // Odd lengths drain now, even ones leave the ring part full for the next message.
      drain(&mut consumer, &mut sent);
    }
  }
  if !hostile {
    drain(&mut consumer, &mut sent);
    assert!(
      sent.is_empty(),
      "{} messages sent were never received",
      sent.len()
    );
  }
}

/// Receive every complete message, each equal to the oldest one sent and not yet received.
fn drain(consumer: &mut Consumer, sent: &mut VecDeque<(Vec<u8>, u8)>) {
  while let Some((m, _)) = consumer
    .try_recv()
    .expect("an honest producer's ring is never corrupt")
  {
    let (want, mtype) = sent.pop_front().expect("a message arrived that was never sent");
    assert_eq!(m.data, want, "message data differs");
    assert_eq!(m.meta.message_type, mtype);
  }
}

/// `region_header`: the header check on open. Input: `[0..8]` object size (u64 LE), then the page.
pub fn region_header(data: &[u8]) {
  if data.len() < 8 {
    return;
  }
  let size = le64(&data[..8]) as usize;
  if let Ok(cap) = tmesh_shm::region::check_header(&data[8..], size, "/tmesh-fuzz") {
    assert!(cap.is_power_of_two() && (MIN_CAPACITY..=MAX_CAPACITY).contains(&cap));
    assert!(region_size(cap) <= size);
  }
}

/// Frame limits the frame targets use (bits 0-1 of the config byte).
const MAX_FRAMES: [usize; 4] = [64, 4096, MAX_HANDSHAKE_FRAME, MAX_FRAME_SIZE];

/// Push `stream` into `reader` in `chunk`-byte pieces and decode every frame until an error (after which
/// the connection would be dropped). Each decoded body must re-encode and decode to the same value.
fn frames(reader: &mut FrameReader, wire: Wire, stream: &[u8], chunk: usize) -> usize {
  let mut decoded = 0;
  for piece in stream.chunks(chunk.max(1)) {
    reader.push(piece);
    loop {
      match reader.next_frame() {
        Ok(Some(f)) => {
          decoded += 1;
          check_roundtrip(wire, &f.body);
        }
        Ok(None) => break,
        Err(e) => {
          assert!(e.code.starts_with("E_"), "error without a code: {e}");
          return decoded;
        }
      }
    }
  }
  decoded
}

/// decode(encode(body)) == body, compared by Debug text (Metrics skipped: its map prints in hash order).
fn check_roundtrip(wire: Wire, body: &Body) {
  if matches!(body, Body::Unknown(_) | Body::Metrics(_)) {
    return;
  }
  let again = Body::decode(wire, body.id(), &body.encode(wire)).expect("a decoded body re-encodes");
  assert_eq!(format!("{body:?}"), format!("{again:?}"));
}

/// `rust_frame`: RUST-header frames (32-byte header + bincode). Input: `[0]` config: frame limit (bits 0-1,
/// 64 B / 4 KiB / 64 KiB / 64 MiB), bit 2: patch the first frame's CRC-32 so the payload decoder is
/// reached, bits 3-7: push size (1 + 7 * n bytes); the rest is the byte stream.
pub fn rust_frame(data: &[u8]) {
  let Some((&cfg, stream)) = data.split_first() else {
    return;
  };
  let max = MAX_FRAMES[(cfg & 3) as usize];
  let mut stream = stream.to_vec();
  if cfg & 4 != 0 && stream.len() >= RUST_HEADER {
    let size = u32::from_le_bytes(stream[8..12].try_into().unwrap()) as usize;
    let end = stream.len().min(RUST_HEADER.saturating_add(size));
    let sum = crc32(&stream[RUST_HEADER..end]);
    stream[24..28].copy_from_slice(&sum.to_le_bytes());
  }
  let chunk = 1 + 7 * (cfg >> 3) as usize;
  let mut reader = FrameReader::new(Wire::Rust, max);
  frames(&mut reader, Wire::Rust, &stream, chunk);
}

/// `universal_frame`: varint-length-delimited protobuf envelopes. Input: `[0]` config as in `rust_frame`
/// (bit 2 unused); the rest is the byte stream.
pub fn universal_frame(data: &[u8]) {
  let Some((&cfg, stream)) = data.split_first() else {
    return;
  };
  let max = MAX_FRAMES[(cfg & 3) as usize];
  let chunk = 1 + 7 * (cfg >> 3) as usize;
  let mut reader = FrameReader::new(Wire::Universal, max);
  frames(&mut reader, Wire::Universal, stream, chunk);
}

/// The acceptor's Hello in the handshake target (fixed nonce, so runs are repeatable).
pub fn acceptor_hello() -> Hello {
  Hello {
    node_id: "fuzz-acceptor".into(),
    language: "rust".into(),
    machine_id: "m".into(),
    protocol_versions: handshake::PROTOCOL_VERSIONS.to_vec(),
    wires: handshake::WIRES.iter().map(|w| w.name().to_owned()).collect(),
    compression: Vec::new(),
    max_frame_size: MAX_FRAME_SIZE as u32,
    session_id: "00112233445566778899aabb".into(),
    nonce: vec![0xcd; 16],
  }
}

/// The token the handshake target's acceptor holds when bit 0 of its config byte is set.
pub const FUZZ_TOKEN: &str = "fuzz-token";

/// `handshake`: the acceptor's side of section 7 on a hostile initiator's bytes, without the socket: a
/// Hello (universal wire, 64 KiB limit), the agreement, an Auth checked against the token, then frames in
/// the agreed wire under the agreed limit. Input: `[0]` config: bit 0 token, bits 3-7 push size; the rest
/// is the initiator's byte stream.
pub fn handshake(data: &[u8]) {
  let Some((&cfg, stream)) = data.split_first() else {
    return;
  };
  let token = (cfg & 1 == 1).then_some(FUZZ_TOKEN);
  let chunk = 1 + 7 * (cfg >> 3) as usize;
  let me = acceptor_hello();
  let mut reader = FrameReader::new(Wire::Universal, MAX_HANDSHAKE_FRAME);
  let mut pieces = stream.chunks(chunk);
  let mut next = |reader: &mut FrameReader| -> Option<Body> {
    loop {
      match reader.next_frame() {
        Ok(Some(f)) => return Some(f.body),
        Ok(None) => reader.push(pieces.next()?),
        Err(e) => {
          // The acceptor answers with a Close naming the code; it must encode.
          let close = handshake::close_frame(Wire::Universal, &e);
          assert!(!close.is_empty());
          return None;
        }
      }
    }
  };
  let Some(Body::Hello(peer)) = next(&mut reader) else {
    return;
  };
  let (version, wire, max) = match handshake::agree(&peer, &me) {
    Ok(a) => a,
    Err(e) => {
      assert!(e.code == "E_VERSION_MISMATCH" || e.code == "E_NO_COMMON_WIRE");
      return;
    }
  };
  assert!(me.protocol_versions.contains(&version));
  assert!(max <= MAX_FRAME_SIZE);
  // The other direction too: the agreement is computed by the initiator from the same two Hellos.
  let _ = handshake::agree(&me, &peer);
  let Some(Body::Auth(auth)) = next(&mut reader) else {
    return;
  };
  if handshake::verify_proof(token, &peer, &me.nonce, &auth.proof).is_err() {
    return;
  }
  reader.switch(wire, max.min(MAX_FRAME_SIZE));
  for _ in 0..16 {
    if next(&mut reader).is_none() {
      break;
    }
  }
}

/// CRC-32 (IEEE), bitwise: the harness's own, so a bug in the peer's checksum use is not mirrored.
pub fn crc32(bytes: &[u8]) -> u32 {
  let mut c = !0u32;
  for &b in bytes {
    c ^= u32::from(b);
    for _ in 0..8 {
      c = if c & 1 != 0 {
        (c >> 1) ^ 0xEDB8_8320
      } else {
        c >> 1
      };
    }
  }
  !c
}
