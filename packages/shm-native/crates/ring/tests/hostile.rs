//! A ring whose control words and records a hostile or corrupt peer wrote: what the fuzz targets in
//! fuzz/ (ring_consume, ring_produce) found, kept as regression tests. Each must end in an error or "no
//! room", never a panic, an overflow or an allocation the peer chose.

use std::sync::atomic::Ordering;
use tmesh_shm::layout::*;
use tmesh_shm::ring::{Consumer, MessageMeta, Producer, RingView};

struct Mem {
  buf: Vec<u64>,
  cap: usize,
}

impl Mem {
  fn new(cap: usize) -> Mem {
    Mem {
      buf: vec![0u64; (256 + cap) / 8],
      cap,
    }
  }
  fn view(&mut self) -> RingView {
    let p = self.buf.as_mut_ptr() as *mut u8;
    // SAFETY: 256 bytes of control block then cap bytes of data, 8-aligned, alive as long as self.
    unsafe { RingView::new(p, p.add(256), self.cap) }
  }
  fn data(&mut self) -> &mut [u8] {
    // SAFETY: the data area follows the 256-byte control block inside buf.
    unsafe { std::slice::from_raw_parts_mut((self.buf.as_mut_ptr() as *mut u8).add(256), self.cap) }
  }
}

fn send(p: &mut Producer, msg: &[u8]) -> bool {
  let mut off = 0;
  let done = p.write_partial(msg, &mut off, MessageMeta::default()).unwrap();
  let _ = p.publish();
  done
}

#[test]
fn a_head_ahead_of_the_tail_leaves_the_producer_no_room() {
  // Found by the ring_produce target's hostile seed: `cap - (tail - head)` overflowed (a panic in debug
  // builds, a bogus amount of room in release) when the consumer's head passed the tail.
  let mut mem = Mem::new(4096);
  let view = mem.view();
  view.head().store(16, Ordering::Release);
  let mut p = Producer::new(view);
  assert!(!p.fits(8));
  assert!(!send(&mut p, b"hello"));
  assert_eq!(p.in_flight(), 0u64.wrapping_sub(16));
}

#[test]
fn a_head_more_than_a_ring_behind_leaves_the_producer_no_room() {
  let mut mem = Mem::new(4096);
  let view = mem.view();
  view.tail().store(10 * 4096, Ordering::Release);
  let mut p = Producer::new(view);
  assert!(!p.fits(8));
  assert!(!send(&mut p, b"hello"));
}

#[test]
fn a_tail_more_than_a_ring_ahead_is_corrupt() {
  let mut mem = Mem::new(4096);
  let view = mem.view();
  {
    let mut p = Producer::new(view);
    assert!(send(&mut p, b"valid record"));
  }
  view.tail().store(3 * 4096, Ordering::Release);
  let mut c = Consumer::new(view, 1 << 20);
  let e = c.try_recv().unwrap_err();
  assert_eq!(e.code(), "E_SHM_CORRUPT", "{e}");
}

#[test]
fn a_tail_behind_the_head_is_corrupt() {
  let mut mem = Mem::new(4096);
  let view = mem.view();
  view.head().store(1000, Ordering::Release);
  view.tail().store(8, Ordering::Release);
  let mut c = Consumer::new(view, 1 << 20);
  assert_eq!(c.try_recv().unwrap_err().code(), "E_SHM_CORRUPT");
}

#[test]
fn positions_wrap_at_two_to_the_64() {
  // A peer may write a position near u64::MAX (found reviewing the arithmetic ring_produce exercises):
  // `tail += size` overflowed. Positions are modulo 2^64 on both sides, so a ring that gets there keeps
  // working.
  let mut mem = Mem::new(4096);
  let view = mem.view();
  let start = u64::MAX - 100;
  view.head().store(start, Ordering::Release);
  view.tail().store(start, Ordering::Release);
  let mut p = Producer::new(view);
  let mut c = Consumer::new(view, 1 << 20);
  for i in 0..50u8 {
    let msg = vec![i; 40 + i as usize];
    assert!(send(&mut p, &msg));
    let (m, _) = c.try_recv().unwrap().expect("published");
    assert_eq!(m.data, msg);
  }
  assert!(view.tail().load(Ordering::Acquire) < start, "the position wrapped");
}

#[test]
fn a_fragment_claiming_a_huge_size_fails_without_reserving_it() {
  // Found by ring_consume with max_message = usize::MAX: Vec::with_capacity(total) on a lying fragment
  // header aborted the process (capacity overflow, or the allocator refusing 2^56 bytes). Now at most 64 MiB
  // is reserved up front, and the next fragment, which states the true total, fails the message.
  let mut mem = Mem::new(4096);
  let view = mem.view();
  let mut p = Producer::new(view);
  let big = vec![7u8; 5000];
  let mut off = 0;
  let _ = p.write_partial(&big, &mut off, MessageMeta::default()).unwrap();
  let _ = p.publish();
  // The first fragment now claims a total of 2^63 bytes.
  mem.data()[REC_TOTAL..REC_TOTAL + 8].copy_from_slice(&(1u64 << 63).to_le_bytes());
  let mut c = Consumer::new(mem.view(), usize::MAX);
  let e = c.try_recv().unwrap_err();
  assert_eq!(e.code(), "E_SHM_CORRUPT", "{e}");
  // Within the configured maximum, the same lie is refused before anything is reserved.
  let mut c = Consumer::new(mem.view(), 1 << 20);
  assert_eq!(c.try_recv().unwrap_err().code(), "E_FRAME_TOO_LARGE");
}
