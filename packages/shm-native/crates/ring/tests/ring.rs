//! Ring protocol tests over heap memory: wrap-around, padding, fragments, lending, and a two-thread
//! stress test of the head/tail protocol with random sizes and content checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tmesh_shm::layout::*;
use tmesh_shm::ring::{Consumer, Lend, MessageMeta, Payload, Producer, RingView};

struct Mem {
  buf: Vec<u64>,
  cap: usize,
}

impl Mem {
  fn new(cap: usize) -> Arc<Mem> {
    Arc::new(Mem {
      buf: vec![0u64; (256 + cap) / 8],
      cap,
    })
  }
  fn view(&self) -> RingView {
    let p = self.buf.as_ptr() as *mut u8;
    // SAFETY: 256 bytes of control block then cap bytes of data, 8-aligned, alive as long as Arc<Mem>.
    unsafe { RingView::new(p, p.add(256), self.cap) }
  }
}

struct Rng(u64);
impl Rng {
  fn next(&mut self) -> u64 {
    self.0 ^= self.0 << 13;
    self.0 ^= self.0 >> 7;
    self.0 ^= self.0 << 17;
    self.0
  }
}

fn payload(seq: u64, len: usize) -> Vec<u8> {
  let mut r = Rng(seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
  (0..len).map(|_| r.next() as u8).collect()
}

fn meta(t: u8) -> MessageMeta {
  MessageMeta {
    message_type: t,
    flags: 0x5,
    ..Default::default()
  }
}

#[test]
fn one_message_round_trips_with_its_metadata() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 1 << 20);
  assert!(c.try_recv().unwrap().is_none());
  let mut off = 0;
  assert!(p.write_partial(b"hello", &mut off, meta(7)).unwrap());
  // Not visible before publish.
  assert!(c.try_recv().unwrap().is_none());
  let _ = p.publish();
  let (m, _) = c.try_recv().unwrap().unwrap();
  assert_eq!(m.data, b"hello");
  assert_eq!((m.meta.message_type, m.meta.flags, m.meta.sequence), (7, 5, 0));
  assert!(m.meta.timestamp > 1_600_000_000_000);
  assert!(c.try_recv().unwrap().is_none());
}

#[test]
fn record_bytes_follow_the_documented_layout() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut off = 0;
  let m = MessageMeta {
    message_type: 3,
    flags: 0x10,
    sequence: 0,
    timestamp: 0x0102_0304_0506_0708,
  };
  p.write_partial(b"abc", &mut off, m).unwrap();
  let _ = p.publish();
  let bytes: Vec<u8> = mem.buf.iter().flat_map(|w| w.to_le_bytes()).collect();
  let tail = u64::from_le_bytes(bytes[0..8].try_into().unwrap());
  assert_eq!(tail, 40, "32-byte header + 3 bytes padded to 8");
  let rec = &bytes[256..256 + 40];
  assert_eq!(&rec[0..4], b"MEMS", "magic 0x534D454D little-endian");
  assert_eq!(rec[4], 1);
  assert_eq!(rec[5], 3);
  assert_eq!(u16::from_le_bytes([rec[6], rec[7]]), 0x10);
  assert_eq!(u32::from_le_bytes(rec[8..12].try_into().unwrap()), 3);
  assert_eq!(u32::from_le_bytes(rec[12..16].try_into().unwrap()), 0);
  assert_eq!(
    u64::from_le_bytes(rec[16..24].try_into().unwrap()),
    0x0102_0304_0506_0708
  );
  assert_eq!(u64::from_le_bytes(rec[24..32].try_into().unwrap()), 3);
  assert_eq!(&rec[32..35], b"abc");
}

#[test]
fn full_ring_refuses_then_accepts_after_release() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 1 << 20);
  let msg = vec![9u8; 1000 - 32];
  let mut sent = 0;
  loop {
    let mut off = 0;
    if !p.write_partial(&msg, &mut off, meta(1)).unwrap() {
      assert_eq!(off, 0, "all or nothing for a one-record message");
      break;
    }
    sent += 1;
  }
  assert_eq!(sent, 4, "4 records of 1000 bytes fit in 4096");
  assert!(!p.fits(msg.len()));
  let _ = p.publish();
  c.try_recv().unwrap().unwrap();
  assert!(p.fits(msg.len()));
}

#[test]
fn wrap_around_uses_pad_records_and_implicit_skips() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 1 << 20);
  let mut rng = Rng(42);
  for seq in 0..20_000u64 {
    // Sizes chosen to land at every distance from the end, including < 32 bytes left.
    let len = (rng.next() % 1500) as usize;
    let data = payload(seq, len);
    let mut off = 0;
    assert!(p.write_partial(&data, &mut off, meta((seq % 251) as u8)).unwrap());
    let _ = p.publish();
    let (m, _) = c.try_recv().unwrap().unwrap();
    assert_eq!(m.data, data, "message {seq}");
    assert_eq!(m.meta.sequence, seq as u32);
  }
}

#[test]
fn messages_larger_than_the_ring_are_fragmented_and_reassembled() {
  let mem = Mem::new(8192);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 1 << 20);
  let big = payload(1, 100_000);
  let mut off = 0;
  let mut got = None;
  let mut rounds = 0;
  while got.is_none() {
    let done = p.write_partial(&big, &mut off, meta(2)).unwrap();
    let _ = p.publish();
    if let Some((m, _)) = c.try_recv().unwrap() {
      got = Some(m);
    } else {
      assert!(!done);
      assert!(c.is_assembling());
    }
    rounds += 1;
  }
  assert!(rounds > 10);
  assert_eq!(got.unwrap().data, big);
  // The next message gets the next sequence number.
  let mut off = 0;
  p.write_partial(b"x", &mut off, meta(2)).unwrap();
  let _ = p.publish();
  assert_eq!(c.try_recv().unwrap().unwrap().0.meta.sequence, 1);
}

#[test]
fn a_whole_record_is_lent_to_the_sink_and_a_fragmented_message_is_handed_over() {
  let mem = Mem::new(8192);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 1 << 20);
  let small = payload(3, 1000);
  let mut off = 0;
  assert!(p.write_partial(&small, &mut off, meta(4)).unwrap());
  let _ = p.publish();
  // The data is read in place from the ring, inside the data area of the view.
  let ring = mem.buf.as_ptr() as usize + 256..mem.buf.as_ptr() as usize + 256 + 8192;
  let got = c
    .recv_payload_with(|d, m| match d {
      Payload::InRing(s) => {
        assert!(ring.contains(&(s.as_ptr() as usize)));
        (s.to_vec(), m)
      }
      Payload::Assembled(_) => panic!("a message of one record was reassembled"),
    })
    .unwrap()
    .unwrap();
  assert_eq!(got.0, small);
  assert_eq!(got.1.message_type, 4);
  let _ = c.release_consumed();
  // Larger than one record: fragments, reassembled once; the sink gets that very buffer.
  let big = payload(4, 30_000);
  let mut off = 0;
  let mut got = None;
  for _ in 0..1000 {
    let _ = p.write_partial(&big, &mut off, meta(5)).unwrap();
    let _ = p.publish();
    got = c
      .recv_payload_with(|d, m| match d {
        Payload::Assembled(v) => (v, m),
        Payload::InRing(_) => panic!("a fragmented message was lent in place"),
      })
      .unwrap();
    let _ = c.release_consumed();
    if got.is_some() {
      break;
    }
  }
  let (v, m) = got.expect("the fragmented message completed");
  assert_eq!(v, big);
  assert_eq!(v.capacity(), big.len(), "reassembled into one exact allocation");
  assert_eq!((m.message_type, m.sequence), (5, 1));
}

#[test]
fn peek_len_gives_the_next_message_size_without_taking_it_across_wraps_and_fragments() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 1 << 20);
  assert_eq!(c.peek_len().unwrap(), None);
  // Whole records of random sizes: the ring wraps often, behind pad records and implicit skips.
  let mut r = Rng(7);
  for seq in 0..2000u64 {
    let len = (r.next() % 2017) as usize;
    let data = payload(seq, len);
    let mut off = 0;
    assert!(p.write_partial(&data, &mut off, meta(1)).unwrap());
    let _ = p.publish();
    assert_eq!(c.peek_len().unwrap(), Some(len as u64), "message {seq}");
    assert_eq!(
      c.peek_len().unwrap(),
      Some(len as u64),
      "peeking twice takes nothing"
    );
    let (m, _) = c.try_recv().unwrap().unwrap();
    assert_eq!(m.data, data);
    assert_eq!(c.peek_len().unwrap(), None);
  }
  // A fragmented message: the whole size, from its first fragment on.
  let big = payload(9, 10_000);
  let mut off = 0;
  let mut peeked = Vec::new();
  let mut got = None;
  for _ in 0..100 {
    let _ = p.write_partial(&big, &mut off, meta(2)).unwrap();
    let _ = p.publish();
    peeked.push(c.peek_len().unwrap());
    if let Some((m, _)) = c.try_recv().unwrap() {
      got = Some(m);
      break;
    }
  }
  assert!(peeked.len() > 2);
  assert!(peeked.iter().all(|x| *x == Some(10_000)), "{peeked:?}");
  assert_eq!(got.unwrap().data, big);
}

#[test]
fn a_fragmented_message_above_the_maximum_is_refused_before_allocating() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 10_000);
  let big = vec![0u8; 20_000];
  let mut off = 0;
  p.write_partial(&big, &mut off, meta(2)).unwrap();
  let _ = p.publish();
  assert_eq!(c.try_recv().unwrap_err().code(), "E_FRAME_TOO_LARGE");
}

#[test]
fn garbage_in_the_ring_is_reported_as_corrupt() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut off = 0;
  p.write_partial(b"hello", &mut off, meta(1)).unwrap();
  let _ = p.publish();
  // SAFETY: test-only write into the data area, overwriting the magic.
  unsafe { *(mem.buf.as_ptr() as *mut u8).add(256) = 0 };
  let mut c = Consumer::new(mem.view(), 1 << 20);
  assert_eq!(c.try_recv().unwrap_err().code(), "E_SHM_CORRUPT");
}

#[test]
fn reserved_flag_bits_are_refused() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut off = 0;
  let e = p
    .write_partial(
      b"x",
      &mut off,
      MessageMeta {
        flags: 0x8000,
        ..Default::default()
      },
    )
    .unwrap_err();
  assert_eq!(e.code(), "E_INVALID_ARGUMENT");
}

#[test]
fn lent_records_hold_their_space_until_released_in_order() {
  let mem = Mem::new(4096);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 1 << 20);
  for i in 0..3u8 {
    let mut off = 0;
    p.write_partial(&[i; 1000], &mut off, meta(1)).unwrap();
  }
  let _ = p.publish();
  let a = match c.lend().unwrap().unwrap() {
    Lend::InPlace(r) => r,
    _ => panic!("expected in place"),
  };
  // SAFETY: the record is lent and not released.
  assert_eq!(
    unsafe { std::slice::from_raw_parts(a.ptr, a.len) },
    &[0u8; 1000][..]
  );
  let b = match c.lend().unwrap().unwrap() {
    Lend::InPlace(r) => r,
    _ => panic!("expected in place"),
  };
  // A copying receive while records are lent must not free their space.
  let (m, _) = c.try_recv().unwrap().unwrap();
  assert_eq!(m.data, vec![2u8; 1000]);
  assert_eq!(mem.view().head().load(Ordering::Acquire), 0);
  c.release(a.end).unwrap();
  assert_eq!(mem.view().head().load(Ordering::Acquire), a.end);
  c.release(b.end).unwrap();
  assert_eq!(
    mem.view().head().load(Ordering::Acquire),
    mem.view().tail().load(Ordering::Acquire)
  );
  assert_eq!(c.release(b.end).unwrap_err().code(), "E_INVALID_ARGUMENT");
}

#[test]
fn batch_receive_writes_length_prefixed_entries() {
  let mem = Mem::new(1 << 16);
  let mut p = Producer::new(mem.view());
  let mut c = Consumer::new(mem.view(), 1 << 20);
  for i in 0..10u8 {
    let mut off = 0;
    p.write_partial(&vec![i; i as usize], &mut off, meta(i)).unwrap();
  }
  let _ = p.publish();
  let mut out = Vec::new();
  assert_eq!(c.recv_batch(&mut out, 4, 1 << 20).unwrap(), 4);
  assert_eq!(c.recv_batch(&mut out, 100, 1 << 20).unwrap(), 6);
  let mut at = 0;
  for i in 0..10u8 {
    let len = u32::from_le_bytes(out[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(len, i as usize);
    assert_eq!(out[at + 4], i);
    assert_eq!(
      u32::from_le_bytes(out[at + 8..at + 12].try_into().unwrap()),
      i as u32
    );
    assert_eq!(&out[at + 24..at + 24 + len], &vec![i; len][..]);
    at += 24 + align8(len);
  }
  assert_eq!(at, out.len());
}

/// Two threads, random sizes from 0 to 3x the ring (so some messages are fragmented), a content check
/// on every byte, waiting through the same arm/publish flags the processes use.
#[test]
fn stress_two_threads_random_sizes_in_order() {
  for &cap in &[4096usize, 65536] {
    let mem = Mem::new(cap);
    let count = if cap == 4096 { 30_000u64 } else { 100_000 };
    let done = Arc::new(AtomicBool::new(false));
    let m2 = mem.clone();
    let d2 = done.clone();
    let producer = std::thread::spawn(move || {
      let mut p = Producer::new(m2.view());
      let mut rng = Rng(7);
      for seq in 0..count {
        let len = match rng.next() % 10 {
          0 => (rng.next() % (3 * cap as u64)) as usize,
          _ => (rng.next() % 200) as usize,
        };
        let data = payload(seq, len);
        let mut off = 0;
        while !p.write_partial(&data, &mut off, meta(1)).unwrap() {
          let _ = p.publish();
          std::hint::spin_loop();
          std::thread::yield_now();
        }
        let _ = p.publish();
      }
      d2.store(true, Ordering::Release);
    });
    let mut c = Consumer::new(mem.view(), 1 << 20);
    let mut rng = Rng(7);
    let mut seq = 0u64;
    while seq < count {
      match c.try_recv().unwrap() {
        Some((m, _)) => {
          let len = match rng.next() % 10 {
            0 => (rng.next() % (3 * cap as u64)) as usize,
            _ => (rng.next() % 200) as usize,
          };
          assert_eq!(m.data.len(), len, "length of message {seq}");
          assert!(m.data == payload(seq, len), "content of message {seq}");
          assert_eq!(m.meta.sequence, seq as u32);
          seq += 1;
        }
        None => std::thread::yield_now(),
      }
    }
    producer.join().unwrap();
    assert!(done.load(Ordering::Acquire));
    assert!(
      c.try_recv().unwrap().is_none(),
      "nothing duplicated after the last message"
    );
  }
}
