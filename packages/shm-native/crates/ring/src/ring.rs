//! Single-producer single-consumer byte ring over memory shared by two processes.
//!
//! Positions (`head`, `tail`) are u64 byte counts that only grow; the offset in the data area is
//! `pos & (capacity - 1)`. The producer writes a record (header + data, padded to 8 bytes) and only then
//! publishes it with a release store of `tail`, so a consumer never sees a partial record. A record is
//! contiguous: if it does not fit before the end of the data area, the producer writes a PAD record (or,
//! when fewer than 32 bytes remain, nothing: both sides skip such a tail implicitly) and starts at 0.
//! Messages larger than one record are split into fragments and reassembled by the consumer.

use crate::error::{Result, ShmError};
use crate::layout::*;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// Pointers to one ring: its control block and its data area, inside a mapping the caller keeps alive.
#[derive(Clone, Copy)]
pub struct RingView {
  ctl: *mut u8,
  data: *mut u8,
  capacity: usize,
}

// SAFETY: the view only hands out atomics and raw copies; the SPSC protocol decides who writes what.
unsafe impl Send for RingView {}

impl RingView {
  /// # Safety
  /// `ctl` must point at a 256-byte, 8-aligned control block and `data` at `capacity` bytes (a power of
  /// two), both valid for as long as the view and every Producer/Consumer made from it are used.
  pub unsafe fn new(ctl: *mut u8, data: *mut u8, capacity: usize) -> RingView {
    debug_assert!(capacity.is_power_of_two());
    RingView { ctl, data, capacity }
  }

  fn u64_at(&self, off: usize) -> &AtomicU64 {
    // SAFETY: off is one of the 8-aligned control-block offsets, inside the block (see `new`).
    unsafe { &*(self.ctl.add(off) as *const AtomicU64) }
  }

  fn u32_at(&self, off: usize) -> &AtomicU32 {
    // SAFETY: as above, 4-aligned.
    unsafe { &*(self.ctl.add(off) as *const AtomicU32) }
  }

  /// The producer's published position.
  pub fn tail(&self) -> &AtomicU64 {
    self.u64_at(RING_TAIL)
  }
  /// The consumer's released position.
  pub fn head(&self) -> &AtomicU64 {
    self.u64_at(RING_HEAD)
  }
  /// Wait flags of a producer waiting for space.
  pub fn producer_wait(&self) -> &AtomicU32 {
    self.u32_at(RING_PRODUCER_WAIT)
  }
  /// Futex word the producer sleeps on.
  pub fn space_futex(&self) -> &AtomicU32 {
    self.u32_at(RING_SPACE_FUTEX)
  }
  /// Wait flags of a consumer waiting for data.
  pub fn consumer_wait(&self) -> &AtomicU32 {
    self.u32_at(RING_CONSUMER_WAIT)
  }
  /// Futex word the consumer sleeps on.
  pub fn data_futex(&self) -> &AtomicU32 {
    self.u32_at(RING_DATA_FUTEX)
  }
  /// Bytes per direction.
  pub fn capacity(&self) -> usize {
    self.capacity
  }
  /// The largest data size of one record: bigger messages are fragmented.
  pub fn max_fragment(&self) -> usize {
    (self.capacity / 2 - RECORD_HEADER) & !7
  }
}

/// What a message carries besides its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageMeta {
  /// Application message type (the registry id), 0..=255.
  pub message_type: u8,
  /// Application flags, low 12 bits only.
  pub flags: u16,
  /// Per-direction sequence number, assigned by the producer.
  pub sequence: u32,
  /// Milliseconds since the Unix epoch when the message was sent.
  pub timestamp: u64,
}

/// A message copied out of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
  /// The bytes.
  pub data: Vec<u8>,
  /// Type, flags, sequence and timestamp.
  pub meta: MessageMeta,
}

/// The bytes of a message as the consumer hands them to a sink: in place in the ring (a message that fit
/// one record), or the buffer its fragments were reassembled into, given away so no second copy is made.
#[derive(Debug)]
pub enum Payload<'a> {
  /// The record data inside the ring; valid only during the sink call.
  InRing(&'a [u8]),
  /// A fragmented message, reassembled; the sink owns it.
  Assembled(Vec<u8>),
}

impl Payload<'_> {
  /// The bytes, wherever they are.
  pub fn as_slice(&self) -> &[u8] {
    match self {
      Payload::InRing(d) => d,
      Payload::Assembled(v) => v,
    }
  }

  /// The bytes as an owned Vec: a copy for `InRing`, the reassembly buffer itself for `Assembled`.
  pub fn into_vec(self) -> Vec<u8> {
    match self {
      Payload::InRing(d) => d.to_vec(),
      Payload::Assembled(v) => v,
    }
  }
}

/// A record the consumer may read in place until it releases it.
#[derive(Debug, Clone, Copy)]
pub struct LentRecord {
  /// Start of the data inside the mapping.
  pub ptr: *const u8,
  /// Data length.
  pub len: usize,
  /// Type, flags, sequence and timestamp.
  pub meta: MessageMeta,
  /// Ring position just after this record: pass it to `Consumer::release`.
  pub end: u64,
}

/// Now, in milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
  std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .map(|d| d.as_millis() as u64)
    .unwrap_or(0)
}

/// The writing half of a ring. Only one may exist per ring.
pub struct Producer {
  view: RingView,
  tail: u64,
  cached_head: u64,
  sequence: u32,
}

impl Producer {
  /// Start producing at the ring's current tail.
  pub fn new(view: RingView) -> Producer {
    let tail = view.tail().load(Ordering::Acquire);
    let cached_head = view.head().load(Ordering::Acquire);
    Producer {
      view,
      tail,
      cached_head,
      sequence: 0,
    }
  }

  /// The view this producer writes.
  pub fn view(&self) -> &RingView {
    &self.view
  }

  fn free(&mut self, need: u64) -> bool {
    let cap = self.view.capacity as u64;
    if room(cap, self.tail, self.cached_head) >= need {
      return true;
    }
    self.cached_head = self.view.head().load(Ordering::Acquire);
    room(cap, self.tail, self.cached_head) >= need
  }

  /// Bytes a record of `data_len` would take at the current tail, wrap filler included.
  fn footprint(&self, data_len: usize) -> (u64, u64) {
    let size = align8(RECORD_HEADER + data_len) as u64;
    let off = self.tail as usize & (self.view.capacity - 1);
    let contig = (self.view.capacity - off) as u64;
    let skip = if contig < size { contig } else { 0 };
    (skip, size)
  }

  /// Write one record without publishing it; false when there is no room.
  fn write_record(&mut self, data: &[u8], meta: &MessageMeta, flags: u16, total: u64) -> bool {
    let (skip, size) = self.footprint(data.len());
    if !self.free(skip + size) {
      return false;
    }
    let cap = self.view.capacity;
    if skip > 0 {
      let off = self.tail as usize & (cap - 1);
      if skip as usize >= RECORD_HEADER {
        // SAFETY: off + 32 <= cap, inside the data area; the consumer does not read past the published tail.
        unsafe {
          write_header(
            self.view.data.add(off),
            0,
            FLAG_PAD,
            skip as u32 - RECORD_HEADER as u32,
            0,
            0,
            0,
          )
        };
      }
      self.tail = self.tail.wrapping_add(skip);
    }
    let off = self.tail as usize & (cap - 1);
    // SAFETY: free() proved `size` bytes from off are unpublished and owned by the producer; off + size <= cap.
    unsafe {
      let at = self.view.data.add(off);
      write_header(
        at,
        meta.message_type,
        flags,
        data.len() as u32,
        meta.sequence,
        meta.timestamp,
        total,
      );
      std::ptr::copy_nonoverlapping(data.as_ptr(), at.add(RECORD_HEADER), data.len());
    }
    self.tail = self.tail.wrapping_add(size);
    true
  }

  /// Publish everything written so far. Returns the consumer's wait flags if it must be woken (the caller
  /// rings its futex or doorbell), 0 otherwise.
  #[must_use]
  pub fn publish(&mut self) -> u32 {
    self.view.tail().store(self.tail, Ordering::Release);
    fence(Ordering::SeqCst);
    let w = self.view.consumer_wait();
    if w.load(Ordering::Relaxed) != 0 {
      let flags = w.swap(0, Ordering::AcqRel);
      if flags & WAIT_FUTEX != 0 {
        self.view.data_futex().fetch_add(1, Ordering::Release);
      }
      return flags;
    }
    0
  }

  /// Write as much of `msg` as fits now, starting at byte `*offset` (0 for a new message), without
  /// publishing; advances `*offset`. Returns true once the whole message is written.
  /// Messages up to `max_fragment()` bytes go in one record, all or nothing; larger ones in fragments.
  pub fn write_partial(&mut self, msg: &[u8], offset: &mut usize, meta: MessageMeta) -> Result<bool> {
    if meta.flags & !USER_FLAGS_MASK != 0 {
      return Err(ShmError::InvalidArgument(format!(
        "flags {:#x} use bits reserved by the ring",
        meta.flags
      )));
    }
    if msg.len() as u64 > u32::MAX as u64 * 16 {
      return Err(ShmError::InvalidArgument(format!(
        "a message of {} bytes is too large",
        msg.len()
      )));
    }
    let max = self.view.max_fragment();
    let timestamp = if meta.timestamp == 0 {
      unix_ms()
    } else {
      meta.timestamp
    };
    let m = MessageMeta {
      sequence: self.sequence,
      timestamp,
      ..meta
    };
    if *offset == 0 && msg.len() <= max {
      if !self.write_record(msg, &m, meta.flags, msg.len() as u64) {
        return Ok(false);
      }
      self.sequence = self.sequence.wrapping_add(1);
      *offset = msg.len();
      return Ok(true);
    }
    while *offset < msg.len() {
      let off = *offset;
      let n = (msg.len() - off).min(max);
      let last = off + n == msg.len();
      let flags = meta.flags | FLAG_FRAGMENT | if last { FLAG_LAST } else { 0 };
      if !self.write_record(&msg[off..off + n], &m, flags, msg.len() as u64) {
        return Ok(false);
      }
      *offset += n;
      if last {
        self.sequence = self.sequence.wrapping_add(1);
        return Ok(true);
      }
    }
    Ok(true)
  }

  /// True if a message of `len` bytes fits entirely right now.
  pub fn fits(&mut self, len: usize) -> bool {
    let max = self.view.max_fragment();
    if len <= max {
      let (skip, size) = self.footprint(len);
      return self.free(skip + size);
    }
    // Fragments: a conservative bound (each may need a wrap filler once).
    let frags = len.div_ceil(max);
    let need = (len + frags * (RECORD_HEADER + 8)) as u64 + (max + RECORD_HEADER) as u64;
    self.free(need)
  }

  /// Declare that this producer is about to wait for space; returns false if space already freed (do not
  /// wait). Must be followed by a re-check of `fits` by the caller, which this does.
  pub fn arm_wait(&mut self, flag: u32, need: usize) -> bool {
    self.view.producer_wait().fetch_or(flag, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    if self.fits(need) {
      self.view.producer_wait().fetch_and(!flag, Ordering::AcqRel);
      return false;
    }
    true
  }

  /// Bytes published and not yet released by the consumer.
  pub fn in_flight(&self) -> u64 {
    self.tail.wrapping_sub(self.view.head().load(Ordering::Acquire))
  }
}

/// Free bytes between the producer's `tail` and the consumer's `head`. Positions wrap at 2^64 (they never
/// get there, but the head is the peer's to write): a head ahead of the tail, or behind it by more than the
/// capacity, is corrupt and leaves no room rather than overflowing.
fn room(cap: u64, tail: u64, head: u64) -> u64 {
  cap.saturating_sub(tail.wrapping_sub(head))
}

/// Bytes of the header of one batch entry (see `Consumer::recv_batch`).
pub const BATCH_ENTRY_HEADER: usize = 24;

/// The header of a batch entry for a message of `len` bytes: u32 size, u8 type, u8 0, u16 flags, u32
/// sequence, u32 0, u64 timestamp, all little-endian (see `Consumer::recv_batch`).
pub fn batch_entry_header(len: usize, m: &MessageMeta) -> [u8; BATCH_ENTRY_HEADER] {
  let mut e = [0u8; BATCH_ENTRY_HEADER];
  e[0..4].copy_from_slice(&(len as u32).to_le_bytes());
  e[4] = m.message_type;
  e[6..8].copy_from_slice(&m.flags.to_le_bytes());
  e[8..12].copy_from_slice(&m.sequence.to_le_bytes());
  e[16..24].copy_from_slice(&m.timestamp.to_le_bytes());
  e
}

/// # Safety
/// `at` must be valid for 32 bytes of writes.
unsafe fn write_header(at: *mut u8, mtype: u8, flags: u16, size: u32, seq: u32, ts: u64, total: u64) {
  let mut h = [0u8; RECORD_HEADER];
  h[REC_MAGIC..REC_MAGIC + 4].copy_from_slice(&MAGIC.to_le_bytes());
  h[REC_VERSION] = 1;
  h[REC_TYPE] = mtype;
  h[REC_FLAGS..REC_FLAGS + 2].copy_from_slice(&flags.to_le_bytes());
  h[REC_SIZE..REC_SIZE + 4].copy_from_slice(&size.to_le_bytes());
  h[REC_SEQ..REC_SEQ + 4].copy_from_slice(&seq.to_le_bytes());
  h[REC_TIMESTAMP..REC_TIMESTAMP + 8].copy_from_slice(&ts.to_le_bytes());
  h[REC_TOTAL..REC_TOTAL + 8].copy_from_slice(&total.to_le_bytes());
  // SAFETY: the caller guarantees 32 writable bytes.
  unsafe { std::ptr::copy_nonoverlapping(h.as_ptr(), at, RECORD_HEADER) };
}

struct RecordHeader {
  mtype: u8,
  flags: u16,
  size: usize,
  seq: u32,
  ts: u64,
  total: u64,
}

/// Most bytes reserved up front for a fragmented message; beyond it the buffer grows as fragments arrive,
/// so a first fragment claiming a huge total (up to the configured maximum) costs no more than this.
const RESERVE_AHEAD: usize = 64 << 20;

/// The reading half of a ring. Only one may exist per ring.
pub struct Consumer {
  view: RingView,
  /// Next record to read.
  read: u64,
  cached_tail: u64,
  /// Lent records not yet released, oldest first, as (start, end); released space ends at the oldest start.
  lent: std::collections::VecDeque<(u64, u64)>,
  expect_seq: u32,
  assembling: Option<(Vec<u8>, MessageMeta, u64)>,
  max_message: usize,
}

impl Consumer {
  /// Start consuming at the ring's current head; messages above `max_message` bytes are refused
  /// (E_FRAME_TOO_LARGE) before any memory is reserved for them.
  pub fn new(view: RingView, max_message: usize) -> Consumer {
    let read = view.head().load(Ordering::Acquire);
    let cached_tail = view.tail().load(Ordering::Acquire);
    Consumer {
      view,
      read,
      cached_tail,
      lent: Default::default(),
      expect_seq: 0,
      assembling: None,
      max_message,
    }
  }

  /// The view this consumer reads.
  pub fn view(&self) -> &RingView {
    &self.view
  }

  /// True if a published record is waiting (pad records included).
  pub fn has_data(&mut self) -> bool {
    if self.read != self.cached_tail {
      return true;
    }
    self.cached_tail = self.view.tail().load(Ordering::Acquire);
    self.read != self.cached_tail
  }

  /// True while a fragmented message is half received.
  pub fn is_assembling(&self) -> bool {
    self.assembling.is_some()
  }

  /// Drop a half-received fragmented message (the peer died: never deliver it torn).
  pub fn discard_partial(&mut self) {
    self.assembling = None;
  }

  /// Declare that this consumer is about to wait for data; false if data arrived meanwhile.
  pub fn arm_wait(&mut self, flag: u32) -> bool {
    self.view.consumer_wait().fetch_or(flag, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    if self.has_data() {
      self.view.consumer_wait().fetch_and(!flag, Ordering::AcqRel);
      return false;
    }
    true
  }

  /// Next record header at `read`, skipping wrap filler; None when nothing is published.
  fn next_header(&mut self) -> Result<Option<(RecordHeader, *const u8)>> {
    loop {
      if !self.has_data() {
        return Ok(None);
      }
      let cap = self.view.capacity;
      let off = self.read as usize & (cap - 1);
      // Everything here is the producer's to write, so possibly hostile: positions wrap rather than
      // overflow, and a tail more than a ring ahead of the reader (or behind it) is corrupt.
      let published = self.cached_tail.wrapping_sub(self.read);
      if published > cap as u64 {
        return Err(ShmError::Corrupt(format!(
          "ring tail {} is not within {cap} bytes after the reader's position {}",
          self.cached_tail, self.read
        )));
      }
      if cap - off < RECORD_HEADER {
        self.read = self.read.wrapping_add((cap - off) as u64);
        continue;
      }
      // SAFETY: off + 32 <= cap and the record is published (read < tail, acquire-loaded).
      let at = unsafe { self.view.data.add(off) };
      let mut h = [0u8; RECORD_HEADER];
      // SAFETY: 32 readable bytes at `at`.
      unsafe { std::ptr::copy_nonoverlapping(at, h.as_mut_ptr(), RECORD_HEADER) };
      let le32 = |o: usize| u32::from_le_bytes(h[o..o + 4].try_into().unwrap());
      let le64 = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
      if le32(REC_MAGIC) != MAGIC {
        return Err(ShmError::Corrupt(format!(
          "record at ring position {} has no SMEM magic",
          self.read
        )));
      }
      let hdr = RecordHeader {
        mtype: h[REC_TYPE],
        flags: u16::from_le_bytes([h[REC_FLAGS], h[REC_FLAGS + 1]]),
        size: le32(REC_SIZE) as usize,
        seq: le32(REC_SEQ),
        ts: le64(REC_TIMESTAMP),
        total: le64(REC_TOTAL),
      };
      let size = align8(RECORD_HEADER + hdr.size);
      if off + size > cap || size as u64 > published {
        return Err(ShmError::Corrupt(format!(
          "record at ring position {} overruns the ring",
          self.read
        )));
      }
      if hdr.flags & FLAG_PAD != 0 {
        self.read = self.read.wrapping_add(size as u64);
        continue;
      }
      if hdr.seq != self.expect_seq {
        return Err(ShmError::Corrupt(format!(
          "sequence {} where {} was expected",
          hdr.seq, self.expect_seq
        )));
      }
      return Ok(Some((hdr, at)));
    }
  }

  fn meta_of(h: &RecordHeader) -> MessageMeta {
    MessageMeta {
      message_type: h.mtype,
      flags: h.flags & USER_FLAGS_MASK,
      sequence: h.seq,
      timestamp: h.ts,
    }
  }

  /// Step past the record just read. Space is released at once unless records are lent.
  fn consume(&mut self, h: &RecordHeader) {
    self.read = self.read.wrapping_add(align8(RECORD_HEADER + h.size) as u64);
  }

  /// Release consumed space to the producer. Returns the producer's wait flags if it must be woken.
  #[must_use]
  pub fn release_consumed(&mut self) -> u32 {
    let to = self.lent.front().map(|l| l.0).unwrap_or(self.read);
    let head = self.view.head();
    if head.load(Ordering::Relaxed) == to {
      return 0;
    }
    head.store(to, Ordering::Release);
    fence(Ordering::SeqCst);
    let w = self.view.producer_wait();
    if w.load(Ordering::Relaxed) != 0 {
      let flags = w.swap(0, Ordering::AcqRel);
      if flags & WAIT_FUTEX != 0 {
        self.view.space_futex().fetch_add(1, Ordering::Release);
      }
      return flags;
    }
    0
  }

  /// Read the next complete message with `sink(payload, meta)`: the record data in place, or the
  /// reassembled message handed over. Does not release space (call `release_consumed`).
  fn next_with<R>(&mut self, sink: impl FnOnce(Payload<'_>, MessageMeta) -> R) -> Result<Option<R>> {
    loop {
      let Some((h, at)) = self.next_header()? else {
        return Ok(None);
      };
      // SAFETY: next_header checked the record lies inside the data area and is published.
      let data = unsafe { std::slice::from_raw_parts(at.add(RECORD_HEADER), h.size) };
      if h.flags & FLAG_FRAGMENT == 0 {
        if self.assembling.is_some() {
          return Err(ShmError::Corrupt(
            "a whole message arrived inside a fragmented one".into(),
          ));
        }
        let meta = Self::meta_of(&h);
        let r = sink(Payload::InRing(data), meta);
        self.consume(&h);
        self.expect_seq = self.expect_seq.wrapping_add(1);
        return Ok(Some(r));
      }
      if self.assembling.is_none() {
        if h.total as usize > self.max_message || h.total > usize::MAX as u64 {
          return Err(ShmError::TooLarge(format!(
            "incoming message of {} bytes exceeds the maximum of {} bytes",
            h.total, self.max_message
          )));
        }
        // The size is the peer's claim: reserve at most RESERVE_AHEAD now (the buffer grows with the
        // fragments that really arrive), and a reservation the allocator refuses is an error, not an abort.
        let mut buf = Vec::new();
        let ahead = (h.total as usize).min(RESERVE_AHEAD);
        buf.try_reserve_exact(ahead).map_err(|_| {
          ShmError::TooLarge(format!(
            "cannot reserve {} bytes for an incoming message",
            h.total
          ))
        })?;
        self.assembling = Some((buf, Self::meta_of(&h), h.total));
      }
      let (buf, _, total) = self.assembling.as_mut().unwrap();
      if *total != h.total || buf.len() + data.len() > *total as usize {
        return Err(ShmError::Corrupt(
          "fragment sizes disagree with the message size".into(),
        ));
      }
      buf.extend_from_slice(data);
      self.consume(&h);
      if h.flags & FLAG_LAST != 0 {
        let (buf, meta, total) = self.assembling.take().unwrap();
        if buf.len() as u64 != total {
          return Err(ShmError::Corrupt(
            "last fragment arrived before the message was complete".into(),
          ));
        }
        self.expect_seq = self.expect_seq.wrapping_add(1);
        return Ok(Some(sink(Payload::Assembled(buf), meta)));
      }
    }
  }

  /// Copy out the next complete message, if any. Releases its space.
  pub fn try_recv(&mut self) -> Result<Option<(Message, u32)>> {
    let r = self.next_with(|d, meta| Message {
      data: d.into_vec(),
      meta,
    })?;
    // Fragments consumed while assembling free their space even when no message is complete yet.
    let wake = self.release_consumed();
    Ok(r.map(|m| (m, wake)))
  }

  /// Copy out the next message into a buffer made by `alloc(len)` (so a binding can allocate its own
  /// buffer type and copy once). Does not release space.
  pub fn recv_with<B>(&mut self, alloc: impl FnOnce(&[u8], MessageMeta) -> B) -> Result<Option<B>> {
    self.next_with(|d, meta| alloc(d.as_slice(), meta))
  }

  /// Like `recv_with`, but a reassembled fragmented message is handed over (`Payload::Assembled`) rather
  /// than lent, so the sink can keep it without copying it again. Does not release space.
  pub fn recv_payload_with<B>(
    &mut self,
    sink: impl FnOnce(Payload<'_>, MessageMeta) -> B,
  ) -> Result<Option<B>> {
    self.next_with(sink)
  }

  /// Append up to `max_messages` messages (and about `max_bytes`) to `out`, each as a 24-byte entry
  /// header (u32 size, u8 type, u8 0, u16 flags, u32 sequence, u32 0, u64 timestamp) then the data padded
  /// to 8 bytes. Returns how many were appended. Does not release space.
  pub fn recv_batch(&mut self, out: &mut Vec<u8>, max_messages: usize, max_bytes: usize) -> Result<usize> {
    let mut n = 0;
    while n < max_messages && (n == 0 || out.len() < max_bytes) {
      let got = self.next_with(|d, m| {
        let d = d.as_slice();
        out.extend_from_slice(&batch_entry_header(d.len(), &m));
        out.extend_from_slice(d);
        let pad = align8(d.len()) - d.len();
        out.extend_from_slice(&[0u8; 8][..pad]);
      })?;
      if got.is_none() {
        break;
      }
      n += 1;
    }
    Ok(n)
  }

  /// Size of the next message (of the whole message when it is fragmented) without taking it; None when
  /// nothing is published. Steps over wrap filler as a receive would. Lets a binding choose how to
  /// receive a message by its size; the size is the producer's claim until the message is received.
  pub fn peek_len(&mut self) -> Result<Option<u64>> {
    Ok(self.next_header()?.map(|(h, _)| {
      if h.flags & FLAG_FRAGMENT != 0 {
        h.total
      } else {
        h.size as u64
      }
    }))
  }

  /// Lend the next message in place; a fragmented message cannot be lent and comes back copied
  /// (`Lend::Copied`). Lent records keep their space until released.
  pub fn lend(&mut self) -> Result<Option<Lend>> {
    let Some((h, at)) = self.next_header()? else {
      return Ok(None);
    };
    if h.flags & FLAG_FRAGMENT == 0 && self.assembling.is_none() {
      let meta = Self::meta_of(&h);
      let start = self.read;
      self.consume(&h);
      self.expect_seq = self.expect_seq.wrapping_add(1);
      let end = self.read;
      self.lent.push_back((start, end));
      // SAFETY: the record data lies inside the data area (checked by next_header).
      let ptr = unsafe { at.add(RECORD_HEADER) };
      return Ok(Some(Lend::InPlace(LentRecord {
        ptr,
        len: h.size,
        meta,
        end,
      })));
    }
    Ok(self.try_recv()?.map(|(m, wake)| Lend::Copied(m, wake)))
  }

  /// Release a lent record (and every one lent before it). Returns the producer's wait flags to wake.
  pub fn release(&mut self, end: u64) -> Result<u32> {
    if !self.lent.iter().any(|l| l.1 == end) {
      return Err(ShmError::InvalidArgument(
        "this lent message was already released".into(),
      ));
    }
    while let Some((_, e)) = self.lent.pop_front() {
      if e == end {
        break;
      }
    }
    Ok(self.release_consumed())
  }

  /// Number of lent records not yet released.
  pub fn lent_count(&self) -> usize {
    self.lent.len()
  }
}

/// The result of `Consumer::lend`.
#[derive(Debug)]
pub enum Lend {
  /// A view into the ring, valid until released.
  InPlace(LentRecord),
  /// A fragmented message, copied (nothing to release); the u32 is the producer wake flags.
  Copied(Message, u32),
}
