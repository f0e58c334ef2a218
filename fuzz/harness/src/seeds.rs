//! Valid inputs of each target's layout, for the committed seed corpus (fuzz/corpus/<target>/): rings a
//! real Producer filled (wrapped, padded, fragmented), real region headers, frames and handshakes the
//! peer's own encoder wrote. `cargo run --manifest-path fuzz/Cargo.toml -p tmesh-fuzz-harness --bin
//! gen-corpus` writes them.

use crate::{acceptor_hello, HeapRing, FUZZ_TOKEN};
use std::sync::atomic::Ordering;
use tmesh_rust_peer::handshake::{auth_proof, WIRES};
use tmesh_rust_peer::messages::*;
use tmesh_rust_peer::wire::{encode_frame, FLAG_REQUEST, FLAG_RESPONSE};
use tmesh_shm::layout::*;
use tmesh_shm::ring::{Consumer, MessageMeta, Producer};

/// One seed: target name, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

fn ring_snapshot(ring: &mut HeapRing, cfg: u8, ops: u8) -> Vec<u8> {
  let view = ring.view();
  let mut out = vec![cfg, ops];
  out.extend_from_slice(&view.head().load(Ordering::Acquire).to_le_bytes());
  out.extend_from_slice(&view.tail().load(Ordering::Acquire).to_le_bytes());
  let data = ring.data();
  // Trailing zeros are implied (the target zero-fills the data area).
  let used = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
  out.extend_from_slice(&data[..used]);
  out
}

/// Fill a ring of capacity index `ci` from position `start`: `consumed` messages written and consumed
/// first (so the live ones wrap), then `sizes` written and left unread.
fn filled_ring(ci: u8, start: u64, consumed: &[usize], sizes: &[usize]) -> HeapRing {
  let cap = crate::ring_capacity(ci);
  let mut ring = HeapRing::new(cap);
  let view = ring.view();
  view.head().store(start, Ordering::Release);
  view.tail().store(start, Ordering::Release);
  let mut producer = Producer::new(view);
  let mut consumer = Consumer::new(view, 1 << 20);
  let write = |producer: &mut Producer, len: usize, t: u8| {
    let msg: Vec<u8> = (0..len).map(|i| (i as u8) ^ t).collect();
    let mut off = 0;
    let meta = MessageMeta {
      message_type: t,
      flags: u16::from(t) & USER_FLAGS_MASK,
      timestamp: 1_700_000_000_000,
      ..Default::default()
    };
    let done = producer
      .write_partial(&msg, &mut off, meta)
      .expect("valid message");
    let _ = producer.publish();
    done
  };
  for (i, &len) in consumed.iter().enumerate() {
    assert!(write(&mut producer, len, i as u8 + 1));
    while consumer.try_recv().expect("valid ring").is_some() {}
  }
  for (i, &len) in sizes.iter().enumerate() {
    if !write(&mut producer, len, i as u8 + 40) {
      break;
    }
  }
  ring
}

/// Seeds of every target.
pub fn all() -> Vec<Seed> {
  let mut seeds: Vec<Seed> = Vec::new();
  // ring_consume: capacity index, start, consumed, live sizes, max-message index, ops, batch.
  let rings: [(u8, u64, &[usize], &[usize], u8, u8, bool); 12] = [
    (0, 0, &[], &[0], 4, 0, false),
    (0, 0, &[], &[5, 17, 3], 4, 0, false),
    (0, 0, &[40], &[30, 20], 4, 0b1010, false),
    (0, 0, &[], &[200], 4, 0, false),
    (1, 0, &[100], &[90, 1, 2], 5, 0xff, false),
    (1, 1 << 40, &[64, 64], &[64, 64], 5, 0, true),
    (2, 0, &[], &[1000], 3, 0, false),
    (2, 0, &[300], &[180, 180], 2, 0b0101, false),
    (3, 4096, &[], &[7; 20], 5, 0, true),
    (3, 0, &[600, 300], &[700, 2000], 6, 0, false),
    (5, 0, &[], &[3000, 100, 100], 5, 0x0f, false),
    (5, 0, &[4000], &[16, 32, 48, 64], 6, 0xaa, false),
  ];
  for (i, (ci, start, consumed, sizes, mi, ops, batch)) in rings.into_iter().enumerate() {
    let mut ring = filled_ring(ci, start, consumed, sizes);
    let cfg = ci | (u8::from(batch) << 3) | (mi << 5);
    seeds.push((
      "ring_consume",
      format!("seed-{i:02}"),
      ring_snapshot(&mut ring, cfg, ops),
    ));
  }
  // ring_consume with the peer writing while the consumer runs: the tail starts at the first record and
  // moves up one record per step (a producer publishing), then a record's bytes change under the reader.
  for (i, (ci, sizes)) in [(1u8, &[24usize, 8, 40, 16][..]), (0, &[200][..])]
    .into_iter()
    .enumerate()
  {
    let mut ring = filled_ring(ci, 0, &[], sizes);
    let cap = crate::ring_capacity(ci);
    let mut b = ring_snapshot(&mut ring, ci | (5 << 5), 0);
    let tail = u64::from_le_bytes(b[10..18].try_into().unwrap());
    b[10..18].copy_from_slice(&0u64.to_le_bytes());
    b.resize(18 + cap, 0);
    for step in 1..=4u64 {
      b.extend_from_slice(&0xffffu16.to_le_bytes());
      b.extend_from_slice(&((tail * step / 4) & !7).to_le_bytes());
    }
    b.extend_from_slice(&12u16.to_le_bytes());
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    seeds.push(("ring_consume", format!("seed-writes-{i:02}"), b));
  }
  // ring_produce: honest runs of mixed sizes, and a hostile consumer.
  let produce: [(u8, u64, &[(u16, u8)]); 6] = [
    (0, 0, &[(10, 1), (11, 2), (100, 3), (300, 4)]),
    (1, 1 << 33, &[(200, 1), (201, 2), (600, 3), (1, 4), (2, 5)]),
    (3, 77 * 8, &[(1000, 9), (2500, 8), (3001, 7)]),
    (5, 0, &[(4000, 1), (4001, 2), (12000, 3), (0, 4)]),
    (2, u64::MAX - 4096, &[(8, 1), (9, 2)]),
    (0x80, 16, &[(10, 1), (70, 2)]),
  ];
  for (i, (cfg, start, msgs)) in produce.into_iter().enumerate() {
    let mut b = vec![cfg];
    b.extend_from_slice(&start.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    for &(len, t) in msgs {
      b.extend_from_slice(&len.to_le_bytes());
      b.push(t);
      if cfg & 0x80 != 0 {
        b.extend_from_slice(&(u64::from(len) * 2).to_le_bytes());
      }
    }
    seeds.push(("ring_produce", format!("seed-{i:02}"), b));
  }
  // region_header: size, then the identity line as Channel::create writes it.
  for (i, (cap, size, version)) in [
    (4096u64, 12288u64, 1u16),
    (1 << 20, 4096 + (2 << 20), 1),
    (1 << 30, 4096 + (2 << 30), 1),
    (8192, 8192, 1),
    (4096, 12288, 2),
  ]
  .into_iter()
  .enumerate()
  {
    let mut page = vec![0u8; OFF_CREATED_MS + 8];
    page[OFF_MAGIC..OFF_MAGIC + 4].copy_from_slice(&MAGIC.to_ne_bytes());
    page[OFF_VERSION..OFF_VERSION + 2].copy_from_slice(&version.to_ne_bytes());
    page[OFF_HEADER_SIZE..OFF_HEADER_SIZE + 2].copy_from_slice(&(HEADER_SIZE as u16).to_ne_bytes());
    page[OFF_CAPACITY..OFF_CAPACITY + 8].copy_from_slice(&cap.to_ne_bytes());
    page[OFF_TOKEN..OFF_TOKEN + 16].copy_from_slice(&[0x5a; 16]);
    let mut b = size.to_le_bytes().to_vec();
    b.extend(page);
    seeds.push(("region_header", format!("seed-{i:02}"), b));
  }
  // Frames of every body the peer knows, one per file, and a stream of several.
  let bodies = sample_bodies();
  for (target, wire, cfg) in [
    ("rust_frame", Wire::Rust, 3u8 | 0xf8),
    ("universal_frame", Wire::Universal, 3u8 | 0xf8),
  ] {
    for (i, (body, flags)) in bodies.iter().enumerate() {
      let mut b = vec![cfg];
      b.extend(encode_frame(wire, body, i as u32, *flags));
      seeds.push((target, format!("seed-{i:02}"), b));
    }
    let mut b = vec![3u8 | (2 << 3)];
    for (i, (body, flags)) in bodies.iter().enumerate().take(6) {
      b.extend(encode_frame(wire, body, i as u32, *flags));
    }
    seeds.push((target, "seed-stream".into(), b));
  }
  // handshake: Hello + Auth (+ frames in the agreed wire), with and without the token.
  let me = acceptor_hello();
  for (i, (wires, token, after)) in [
    (vec!["rust", "universal"], false, Wire::Rust),
    (vec!["universal"], false, Wire::Universal),
    (vec!["swift", "universal", "rust"], true, Wire::Universal),
    (vec!["rust"], true, Wire::Rust),
  ]
  .into_iter()
  .enumerate()
  {
    let hello = Hello {
      node_id: format!("init-{i}"),
      language: "typescript".into(),
      machine_id: "m".into(),
      protocol_versions: vec![1],
      wires: wires.iter().map(|w| w.to_string()).collect(),
      compression: vec![],
      max_frame_size: 1 << 20,
      session_id: "aabbccddeeff001122334455".into(),
      nonce: vec![0xab; 16],
    };
    let proof = if token {
      auth_proof(FUZZ_TOKEN, &hello.node_id, &hello.nonce, &me.nonce)
    } else {
      vec![]
    };
    let mut b = vec![u8::from(token) | (31 << 3)];
    b.extend(encode_frame(Wire::Universal, &Body::Hello(hello), 0, 0));
    b.extend(encode_frame(
      Wire::Universal,
      &Body::Auth(Auth {
        proof,
        ..Default::default()
      }),
      0,
      0,
    ));
    b.extend(encode_frame(after, &Body::Ping(Ping { id: 1 }), 0, 0));
    b.extend(encode_frame(after, &bodies[0].0, 1, FLAG_REQUEST));
    seeds.push(("handshake", format!("seed-{i:02}"), b));
  }
  let _ = WIRES;
  seeds
}

/// One value of every message type, with the flags it travels with.
pub fn sample_bodies() -> Vec<(Body, u16)> {
  vec![
    (
      Body::FileChunk(FileChunk {
        path: "dir/a.txt".into(),
        offset: 4096,
        sequence: 3,
        last: true,
        data: vec![1, 2, 3, 4, 5],
      }),
      FLAG_REQUEST,
    ),
    (
      Body::Metrics(Metrics {
        node: "n1".into(),
        at: 1_700_000_000_000,
        throughput: 1.5,
        latency_micros: 20.25,
        counters: [("chunks".to_string(), 7u64)].into_iter().collect(),
      }),
      FLAG_RESPONSE,
    ),
    (Body::Hello(acceptor_hello()), 0),
    (
      Body::Auth(Auth {
        proof: vec![9; 32],
        resume_session: "s".into(),
        resume_received: 5,
      }),
      0,
    ),
    (
      Body::Close(Close {
        code: "E_AUTH".into(),
        message: "no".into(),
      }),
      0,
    ),
    (Body::Ack(Ack { received: 12 }), 0),
    (Body::Ping(Ping { id: 3 }), 0),
    (Body::Pong(Pong { id: 3 }), 0),
    (Body::ReplyTo(ReplyTo { request: 2 }), 0),
    (
      Body::ErrorReply(ErrorReply {
        request: 2,
        code: "E_UNKNOWN_MESSAGE_TYPE".into(),
        message: "m".into(),
      }),
      FLAG_RESPONSE,
    ),
    (
      Body::ShmOffer(ShmOffer {
        name: "chan-1".into(),
        token: vec![7; 16],
        ring_bytes: 1 << 20,
      }),
      FLAG_REQUEST,
    ),
    (
      Body::ShmAnswer(ShmAnswer {
        accepted: true,
        reason: String::new(),
      }),
      FLAG_RESPONSE,
    ),
    (
      Body::Echo(Echo {
        payload: b"ping".to_vec(),
      }),
      FLAG_REQUEST,
    ),
  ]
}
