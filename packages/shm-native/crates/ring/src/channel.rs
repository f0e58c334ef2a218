//! A duplex channel between two processes: one region, two rings (creator -> opener on ring 0, opener ->
//! creator on ring 1), liveness lines with a heartbeat, and doorbells.

use crate::error::{Result, ShmError};
use crate::layout::*;
use crate::platform;
use crate::region::{self, Mapping};
use crate::ring::{Consumer, Lend, Message, MessageMeta, Payload, Producer, RingView};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often each end writes its heartbeat.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(100);

/// Settings of a channel end.
#[derive(Clone, Debug)]
pub struct ChannelOptions {
  /// Bytes per direction (create only), rounded up to a power of two, at least 4096. Default 4 MiB.
  pub capacity: usize,
  /// The per-channel token: create stores it (random when None); open requires it (E_SHM_TOKEN).
  pub token: Option<[u8; 16]>,
  /// Largest message accepted from the peer; bigger ones fail with E_FRAME_TOO_LARGE. Default 1 GiB.
  pub max_message_size: usize,
  /// Create a doorbell FIFO this end can watch from an event loop (the Node binding does). Default false.
  pub doorbell: bool,
  /// A peer whose heartbeat is older than this is gone even if its pid exists. Default 2000 ms.
  pub stale_after_ms: u64,
}

impl Default for ChannelOptions {
  fn default() -> Self {
    ChannelOptions {
      capacity: 4 << 20,
      token: None,
      max_message_size: 1 << 30,
      doorbell: false,
      stale_after_ms: 2000,
    }
  }
}

/// Which end of the channel this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
  /// Made the region; produces on ring 0.
  Creator,
  /// Opened it; produces on ring 1.
  Opener,
}

/// What this end knows about the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
  /// The opener has not attached yet (creator only).
  NotAttached,
  /// Running.
  Alive,
  /// Closed the channel normally.
  Closed,
  /// Died or stopped its heartbeat.
  Gone,
}

fn end_offset(creator: bool) -> usize {
  if creator {
    OFF_CREATOR
  } else {
    OFF_OPENER
  }
}

/// Liveness of one end from the header alone.
fn end_state(map: &Mapping, creator: bool, stale_after_ms: u64) -> PeerState {
  let base = end_offset(creator);
  match map.u32_at(base + END_STATE).load(Ordering::Acquire) {
    END_STATE_NONE => PeerState::NotAttached,
    END_STATE_CLOSED => PeerState::Closed,
    _ => {
      let pid = map.u32_at(base + END_PID).load(Ordering::Acquire);
      let beat = map.u64_at(base + END_HEARTBEAT).load(Ordering::Acquire);
      let now = platform::monotonic_ms();
      if !platform::pid_alive(pid) || now.saturating_sub(beat) > stale_after_ms {
        PeerState::Gone
      } else {
        PeerState::Alive
      }
    }
  }
}

struct Heartbeat {
  stop: Arc<AtomicBool>,
  thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
  fn start(map: Arc<Mapping>, creator: bool) -> Heartbeat {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let at = end_offset(creator) + END_HEARTBEAT;
    let thread = std::thread::Builder::new()
      .name("tmesh-shm-heartbeat".into())
      .spawn(move || {
        while !s.load(Ordering::Acquire) {
          map.u64_at(at).store(platform::monotonic_ms(), Ordering::Release);
          std::thread::park_timeout(HEARTBEAT_INTERVAL);
        }
      })
      .ok();
    Heartbeat { stop, thread }
  }

  fn stop(&mut self) {
    self.stop.store(true, Ordering::Release);
    if let Some(t) = self.thread.take() {
      t.thread().unpark();
      let _ = t.join();
    }
  }
}

/// One end of a duplex shared-memory channel. Not Sync: one thread at a time drives it.
pub struct Channel {
  name: String,
  role: Role,
  map: Arc<Mapping>,
  producer: Producer,
  consumer: Consumer,
  my_bell: i32,
  peer_bell: i32,
  heartbeat: Heartbeat,
  stale_after_ms: u64,
  next_peer_check: u64,
  peer: PeerState,
  token: [u8; 16],
  closed: bool,
  calls: u32,
}

fn round_capacity(capacity: usize) -> Result<usize> {
  if capacity > MAX_CAPACITY {
    return Err(ShmError::InvalidArgument(format!(
      "capacity {capacity} exceeds the maximum of {MAX_CAPACITY} bytes"
    )));
  }
  Ok(capacity.max(MIN_CAPACITY).next_power_of_two())
}

impl Channel {
  /// Create a channel named `name` (1-24 characters of `[A-Za-z0-9_-]`). A stale region of the same
  /// name (its ends dead or closed) is reclaimed; a live one is E_SHM_EXISTS.
  pub fn create(name: &str, opts: &ChannelOptions) -> Result<Channel> {
    region::validate_name(name)?;
    let capacity = round_capacity(opts.capacity)?;
    let map = match region::create_region(name, capacity) {
      Ok(m) => m,
      Err(ShmError::Exists(_)) => {
        if !reclaim_if_stale(name, opts.stale_after_ms)? {
          return Err(ShmError::Exists(format!(
            "shared-memory channel '{name}' exists and is alive"
          )));
        }
        region::create_region(name, capacity)?
      }
      Err(e) => return Err(e),
    };
    let token = opts.token.unwrap_or_else(platform::random_token);
    // SAFETY: the region is ours alone until MAGIC is stored; offsets are inside the header page.
    unsafe {
      let p = map.ptr();
      std::ptr::write_unaligned(p.add(OFF_VERSION) as *mut u16, LAYOUT_VERSION);
      std::ptr::write_unaligned(p.add(OFF_HEADER_SIZE) as *mut u16, HEADER_SIZE as u16);
      std::ptr::write_unaligned(p.add(OFF_CAPACITY) as *mut u64, capacity as u64);
      std::ptr::copy_nonoverlapping(token.as_ptr(), p.add(OFF_TOKEN), 16);
      std::ptr::write_unaligned(p.add(OFF_CREATED_MS) as *mut u64, crate::ring::unix_ms());
    }
    let map = Arc::new(map);
    let ch = Self::attach(name, Role::Creator, map, opts, token);
    let ch = match ch {
      Ok(c) => c,
      Err(e) => {
        region::unlink_if_same(name, None);
        return Err(e);
      }
    };
    ch.map.u32_at(OFF_MAGIC).store(MAGIC, Ordering::Release);
    Ok(ch)
  }

  /// Open the channel `name` made by another process. Checks the owner (same uid, mode 0600), the
  /// header, and the token, which is required (E_SHM_TOKEN when absent or wrong). A region whose creator is dead is removed (E_PEER_GONE).
  pub fn open(name: &str, opts: &ChannelOptions) -> Result<Channel> {
    region::validate_name(name)?;
    let map = region::open_region(name)?;
    let mut token = [0u8; 16];
    // SAFETY: header page mapped; the token is written before MAGIC and never again.
    unsafe { std::ptr::copy_nonoverlapping(map.ptr().add(OFF_TOKEN), token.as_mut_ptr(), 16) };
    // The token is required: owning the same uid is not enough to attach to someone else's channel.
    let Some(t) = opts.token else {
      return Err(ShmError::Token(format!(
        "opening channel '{name}' needs its token (the creator's Channel::token(), passed out of band)"
      )));
    };
    if t != token {
      return Err(ShmError::Token(format!(
        "the token given does not match channel '{name}'"
      )));
    }
    match end_state(&map, true, opts.stale_after_ms) {
      PeerState::Alive => {}
      st => {
        region::unlink_if_same(name, Some(map.id()));
        let why = if st == PeerState::Closed {
          "closed it"
        } else {
          "is gone"
        };
        return Err(ShmError::PeerGone(format!(
          "the creator of channel '{name}' {why}; the stale region was removed"
        )));
      }
    }
    let pid_word = map.u32_at(OFF_OPENER + END_PID);
    if let Err(other) = pid_word.compare_exchange(0, platform::my_pid(), Ordering::AcqRel, Ordering::Acquire)
    {
      return Err(ShmError::Exists(format!(
        "channel '{name}' already has two ends (opener pid {other})"
      )));
    }
    let map = Arc::new(map);
    Self::attach(name, Role::Opener, map.clone(), opts, token).inspect_err(|_| {
      // Give the opener line back so another process can still open the channel.
      map.u32_at(OFF_OPENER + END_PID).store(0, Ordering::Release);
    })
  }

  fn attach(
    name: &str,
    role: Role,
    map: Arc<Mapping>,
    opts: &ChannelOptions,
    token: [u8; 16],
  ) -> Result<Channel> {
    let creator = role == Role::Creator;
    let base = end_offset(creator);
    let cap = {
      // SAFETY: capacity is in the header page, written before MAGIC.
      unsafe { std::ptr::read_unaligned(map.ptr().add(OFF_CAPACITY) as *const u64) as usize }
    };
    let p = map.ptr();
    // SAFETY: control blocks at 512/768 and data areas at HEADER_SIZE(+cap) lie inside the mapping,
    // whose size region_size(cap) was set (create) or checked (open).
    let (ring0, ring1) = unsafe {
      (
        RingView::new(p.add(OFF_RING0), p.add(HEADER_SIZE), cap),
        RingView::new(p.add(OFF_RING1), p.add(HEADER_SIZE + cap), cap),
      )
    };
    let (out, inn) = if creator { (ring0, ring1) } else { (ring1, ring0) };
    let my_bell = if opts.doorbell {
      region::create_bell(&region::bell_path(name, creator))?
    } else {
      -1
    };
    map
      .u32_at(base + END_PID)
      .store(platform::my_pid(), Ordering::Release);
    map
      .u64_at(base + END_HEARTBEAT)
      .store(platform::monotonic_ms(), Ordering::Release);
    map
      .u32_at(base + END_BELL)
      .store(u32::from(opts.doorbell), Ordering::Release);
    map
      .u32_at(base + END_STATE)
      .store(END_STATE_ATTACHED, Ordering::SeqCst);
    let heartbeat = Heartbeat::start(map.clone(), creator);
    Ok(Channel {
      name: name.to_owned(),
      role,
      producer: Producer::new(out),
      consumer: Consumer::new(inn, opts.max_message_size),
      map,
      my_bell,
      peer_bell: -1,
      heartbeat,
      stale_after_ms: opts.stale_after_ms,
      next_peer_check: 0,
      peer: if creator {
        PeerState::NotAttached
      } else {
        PeerState::Alive
      },
      token,
      closed: false,
      calls: 0,
    })
  }

  /// The channel name.
  pub fn name(&self) -> &str {
    &self.name
  }
  /// Creator or opener.
  pub fn role(&self) -> Role {
    self.role
  }
  /// The per-channel token (give it to the opener out of band if it should check it).
  pub fn token(&self) -> [u8; 16] {
    self.token
  }
  /// Bytes per direction.
  pub fn capacity(&self) -> usize {
    self.producer.view().capacity()
  }
  /// The largest message sent as one record; larger ones are fragmented.
  pub fn max_fragment(&self) -> usize {
    self.producer.view().max_fragment()
  }
  /// The mapping, for bindings that lend views into it and must keep it mapped.
  pub fn mapping(&self) -> &Arc<Mapping> {
    &self.map
  }
  /// The read end of this end's doorbell FIFO, or -1 (without `doorbell`). Owned by the channel.
  pub fn bell_fd(&self) -> i32 {
    self.my_bell
  }

  /// The peer's state, re-read from the header; process checks (pid, heartbeat) at most every 50 ms
  /// unless `force`.
  pub fn peer_state(&mut self, force: bool) -> PeerState {
    self.peer_state_inner(force, true)
  }

  /// `quick`: the hot path of a send or receive that made progress; it reads the clock (for the
  /// 50 ms process check) only every 64 calls, since the clock costs more than a small message.
  fn peer_state_inner(&mut self, force: bool, with_clock: bool) -> PeerState {
    let peer_creator = self.role == Role::Opener;
    let base = end_offset(peer_creator);
    let st = self.map.u32_at(base + END_STATE).load(Ordering::Acquire);
    if st == END_STATE_CLOSED {
      self.peer = PeerState::Closed;
      return self.peer;
    }
    if st == END_STATE_NONE {
      self.peer = PeerState::NotAttached;
      return self.peer;
    }
    self.calls = self.calls.wrapping_add(1);
    if !force && !with_clock && self.peer == PeerState::Alive && self.calls % 64 != 0 {
      return PeerState::Alive;
    }
    let now = platform::monotonic_ms();
    if force || now >= self.next_peer_check || self.peer != PeerState::Alive {
      self.peer = end_state(&self.map, peer_creator, self.stale_after_ms);
      self.next_peer_check = now + 50;
    }
    self.peer
  }

  fn check_open(&self) -> Result<()> {
    if self.closed {
      return Err(ShmError::Closed(format!("channel '{}' is closed", self.name)));
    }
    Ok(())
  }

  fn peer_error(&mut self, with_clock: bool) -> Option<ShmError> {
    match self.peer_state_inner(false, with_clock) {
      PeerState::Closed => Some(ShmError::Closed(format!(
        "the peer closed channel '{}'",
        self.name
      ))),
      PeerState::Gone => Some(ShmError::PeerGone(format!(
        "the peer of channel '{}' died or stopped its heartbeat",
        self.name
      ))),
      _ => None,
    }
  }

  fn wake(&mut self, flags: u32, futex: bool) {
    if flags == 0 {
      return;
    }
    if flags & WAIT_FUTEX != 0 {
      let v = if futex {
        self.consumer_futex_of_peer()
      } else {
        self.producer_futex_of_peer()
      };
      self.map.wake(v);
    }
    if flags & WAIT_BELL != 0 {
      if self.peer_bell < 0 {
        let path = region::bell_path(&self.name, self.role == Role::Opener);
        self.peer_bell = region::open_peer_bell(&path).unwrap_or(-1);
      }
      if self.peer_bell >= 0 {
        region::ring_bell(self.peer_bell);
      }
    }
  }

  fn consumer_futex_of_peer(&self) -> &std::sync::atomic::AtomicU32 {
    self.producer.view().data_futex()
  }
  fn producer_futex_of_peer(&self) -> &std::sync::atomic::AtomicU32 {
    self.consumer.view().space_futex()
  }

  /// Write what fits of `msg` from `*offset` on and publish it. True when the message is complete.
  /// This is the streaming primitive: messages larger than the ring go out fragment by fragment.
  pub fn send_partial(&mut self, msg: &[u8], offset: &mut usize, meta: MessageMeta) -> Result<bool> {
    self.check_open()?;
    if let Some(e) = self.peer_error(false) {
      return Err(e);
    }
    let before = *offset;
    let done = self.producer.write_partial(msg, offset, meta)?;
    if done || *offset != before {
      let w = self.producer.publish();
      self.wake(w, true);
    } else if let Some(e) = self.peer_error(true) {
      // The ring is full: a dead consumer would keep it full forever.
      return Err(e);
    }
    Ok(done)
  }

  /// Send `msg` now if it fits entirely, else E_SHM_FULL and nothing is written.
  pub fn try_send(&mut self, msg: &[u8], meta: MessageMeta) -> Result<()> {
    self.check_open()?;
    if !self.producer.fits(msg.len()) {
      if let Some(e) = self.peer_error(true) {
        return Err(e);
      }
      return Err(ShmError::Full);
    }
    let mut off = 0;
    if self.send_partial(msg, &mut off, meta)? {
      Ok(())
    } else {
      Err(ShmError::Io("a message that fit could not be written".into()))
    }
  }

  /// Write one whole message if it fits now, without publishing it (to batch several behind one
  /// `publish`); Ok(false) if it does not fit.
  pub fn try_send_unpublished(&mut self, msg: &[u8], meta: MessageMeta) -> Result<bool> {
    self.check_open()?;
    if let Some(e) = self.peer_error(false) {
      return Err(e);
    }
    if !self.producer.fits(msg.len()) {
      if let Some(e) = self.peer_error(true) {
        return Err(e);
      }
      return Ok(false);
    }
    let mut off = 0;
    self.producer.write_partial(msg, &mut off, meta)
  }

  /// Publish what `try_send_unpublished` wrote, waking the peer if it waits.
  pub fn publish(&mut self) {
    let w = self.producer.publish();
    self.wake(w, true);
  }

  /// Send `msg`, blocking this thread while the ring is full (futex wait), up to `timeout`.
  pub fn send(&mut self, msg: &[u8], meta: MessageMeta, timeout: Option<Duration>) -> Result<()> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut off = 0;
    loop {
      if self.send_partial(msg, &mut off, meta)? {
        return Ok(());
      }
      let need = (msg.len() - off).min(self.max_fragment());
      self.wait_space(need, deadline)?;
    }
  }

  /// Block until about `need` bytes are free, the deadline passes, or the peer goes.
  fn wait_space(&mut self, need: usize, deadline: Option<Instant>) -> Result<()> {
    let word_seq = self.producer.view().space_futex().load(Ordering::Acquire);
    if !self.producer.arm_wait(WAIT_FUTEX, need) {
      return Ok(());
    }
    let slice = wait_slice(deadline, &self.name)?;
    self.map.wait(self.producer.view().space_futex(), word_seq, slice);
    self
      .producer
      .view()
      .producer_wait()
      .fetch_and(!WAIT_FUTEX, Ordering::AcqRel);
    if let Some(e) = self.peer_error(true) {
      return Err(e);
    }
    Ok(())
  }

  /// The next message if one is complete. E_CLOSED or E_PEER_GONE once the peer is closed or gone and
  /// every complete message was delivered; a half-received fragmented message is dropped, never delivered.
  pub fn try_recv(&mut self) -> Result<Option<Message>> {
    self.try_recv_payload_with(|d, meta| Message {
      data: d.into_vec(),
      meta,
    })
  }

  /// Like `try_recv`, copying the data once into whatever `alloc` builds.
  pub fn try_recv_with<B>(&mut self, alloc: impl FnOnce(&[u8], MessageMeta) -> B) -> Result<Option<B>> {
    self.try_recv_payload_with(|d, meta| alloc(d.as_slice(), meta))
  }

  /// Like `try_recv_with`, but a fragmented message comes as the buffer it was reassembled into
  /// (`Payload::Assembled`), which the sink may keep: one copy in all, never two.
  pub fn try_recv_payload_with<B>(
    &mut self,
    sink: impl FnOnce(Payload<'_>, MessageMeta) -> B,
  ) -> Result<Option<B>> {
    self.check_open()?;
    let got = self.consumer.recv_payload_with(sink)?;
    let w = self.consumer.release_consumed();
    self.wake(w, false);
    match got {
      Some(b) => Ok(Some(b)),
      None => self.empty_result(),
    }
  }

  fn empty_result<T>(&mut self) -> Result<Option<T>> {
    if let Some(e) = self.peer_error(true) {
      // Re-check: the peer may have published just before closing.
      if self.consumer.has_data() {
        return Ok(None);
      }
      self.consumer.discard_partial();
      return Err(e);
    }
    Ok(None)
  }

  /// Append up to `max_messages` messages to `out` (see `Consumer::recv_batch` for the entry layout).
  /// Ok(0) when nothing is waiting; errors as `try_recv`.
  pub fn try_recv_batch(
    &mut self,
    out: &mut Vec<u8>,
    max_messages: usize,
    max_bytes: usize,
  ) -> Result<usize> {
    self.check_open()?;
    let n = self.consumer.recv_batch(out, max_messages, max_bytes)?;
    let w = self.consumer.release_consumed();
    self.wake(w, false);
    if n > 0 {
      return Ok(n);
    }
    self.empty_result::<()>().map(|_| 0)
  }

  /// Size of the next message without taking it (see `Consumer::peek_len`); None when nothing waits.
  pub fn peek_len(&mut self) -> Result<Option<u64>> {
    self.check_open()?;
    self.consumer.peek_len()
  }

  /// Lend the next message in place (see `Consumer::lend`).
  pub fn try_lend(&mut self) -> Result<Option<Lend>> {
    self.check_open()?;
    match self.consumer.lend()? {
      Some(Lend::Copied(m, w)) => {
        self.wake(w, false);
        Ok(Some(Lend::Copied(m, 0)))
      }
      Some(l) => Ok(Some(l)),
      None => self.empty_result(),
    }
  }

  /// Release a lent record (and all lent before it) so the producer may reuse its space.
  pub fn release(&mut self, end: u64) -> Result<()> {
    self.check_open()?;
    let w = self.consumer.release(end)?;
    self.wake(w, false);
    Ok(())
  }

  /// Block this thread until a message arrives (futex wait), up to `timeout`.
  pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Message> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
      if let Some(m) = self.try_recv()? {
        return Ok(m);
      }
      let seq = self.consumer.view().data_futex().load(Ordering::Acquire);
      if !self.consumer.arm_wait(WAIT_FUTEX) {
        continue;
      }
      let slice = wait_slice(deadline, &self.name)?;
      self.map.wait(self.consumer.view().data_futex(), seq, slice);
      self
        .consumer
        .view()
        .consumer_wait()
        .fetch_and(!WAIT_FUTEX, Ordering::AcqRel);
    }
  }

  /// Ask the producer to ring this end's doorbell when data arrives. False if data is already there
  /// (do not wait). For event loops that watch `bell_fd()`.
  pub fn arm_data_bell(&mut self) -> bool {
    self.my_bell >= 0 && self.consumer.arm_wait(WAIT_BELL)
  }

  /// Ask the consumer to ring this end's doorbell when `need` bytes are free. False if already free.
  pub fn arm_space_bell(&mut self, need: usize) -> bool {
    self.my_bell >= 0 && self.producer.arm_wait(WAIT_BELL, need.min(self.max_fragment()))
  }

  /// True if a message (or part of one) is waiting.
  pub fn has_data(&mut self) -> bool {
    self.consumer.has_data()
  }

  /// Close this end: stop the heartbeat, mark the end closed, wake the peer so it notices, and unlink
  /// the region and doorbells if the peer is closed, gone or never came. Idempotent.
  pub fn close(&mut self) {
    if self.closed {
      return;
    }
    self.closed = true;
    self.heartbeat.stop();
    let creator = self.role == Role::Creator;
    self
      .map
      .u32_at(end_offset(creator) + END_STATE)
      .store(END_STATE_CLOSED, Ordering::SeqCst);
    std::sync::atomic::fence(Ordering::SeqCst);
    // Wake a peer sleeping on either ring so it sees the close now.
    let wake_data = self.producer.view().consumer_wait().swap(0, Ordering::AcqRel);
    let wake_space = self.consumer.view().producer_wait().swap(0, Ordering::AcqRel);
    self.producer.view().data_futex().fetch_add(1, Ordering::Release);
    self.consumer.view().space_futex().fetch_add(1, Ordering::Release);
    self.wake(wake_data | WAIT_FUTEX, true);
    self.wake(wake_space | WAIT_FUTEX, false);
    if self.peer_state(true) != PeerState::Alive {
      region::unlink_if_same(&self.name, Some(self.map.id()));
    } else if self.my_bell >= 0 {
      let _ = std::fs::remove_file(region::bell_path(&self.name, creator));
    }
    region::close_fd(self.peer_bell);
    region::close_fd(self.my_bell);
    self.peer_bell = -1;
    self.my_bell = -1;
  }

  /// True after `close`.
  pub fn is_closed(&self) -> bool {
    self.closed
  }
}

impl Drop for Channel {
  fn drop(&mut self) {
    self.close();
  }
}

fn wait_slice(deadline: Option<Instant>, name: &str) -> Result<Duration> {
  let slice = Duration::from_millis(100);
  match deadline {
    None => Ok(slice),
    Some(d) => {
      let now = Instant::now();
      if now >= d {
        return Err(ShmError::Timeout(format!("channel '{name}': deadline passed")));
      }
      Ok((d - now).min(slice))
    }
  }
}

/// If the region `name` is stale (creator closed or gone, opener not alive), unlink it and return true.
fn reclaim_if_stale(name: &str, stale_after_ms: u64) -> Result<bool> {
  let map = match region::open_region(name) {
    Ok(m) => m,
    Err(ShmError::NotFound(_)) => return Ok(true),
    Err(ShmError::Corrupt(_)) => {
      region::unlink_if_same(name, None);
      return Ok(true);
    }
    Err(e) => return Err(e),
  };
  if is_stale(&map, stale_after_ms) {
    region::unlink_if_same(name, Some(map.id()));
    return Ok(true);
  }
  Ok(false)
}

fn is_stale(map: &Mapping, stale_after_ms: u64) -> bool {
  let creator = end_state(map, true, stale_after_ms);
  let opener = end_state(map, false, stale_after_ms);
  creator != PeerState::Alive && opener != PeerState::Alive
}

/// One region as `list_regions` sees it.
#[derive(Clone, Debug)]
pub struct RegionInfo {
  /// Channel name.
  pub name: String,
  /// Bytes per direction (0 if unreadable).
  pub capacity: usize,
  /// Creator pid and state.
  pub creator_pid: u32,
  /// Creator liveness.
  pub creator: PeerState,
  /// Opener pid (0 if none).
  pub opener_pid: u32,
  /// Opener liveness.
  pub opener: PeerState,
  /// "live", "stale", or why it could not be inspected ("foreign: ...", "corrupt: ...").
  pub status: String,
}

/// Every tmesh region on this machine (Linux: /dev/shm; macOS: found through the creators' doorbells;
/// Windows: the session's named-object directory), with the liveness of both ends. For `tmesh doctor`.
pub fn list_regions() -> Vec<RegionInfo> {
  let stale_ms = ChannelOptions::default().stale_after_ms;
  region::list_names()
    .into_iter()
    .map(|name| match region::open_region(&name) {
      Ok(map) => {
        // SAFETY: header page is mapped; capacity is written before MAGIC.
        let capacity =
          unsafe { std::ptr::read_unaligned(map.ptr().add(OFF_CAPACITY) as *const u64) as usize };
        let creator = end_state(&map, true, stale_ms);
        let opener = end_state(&map, false, stale_ms);
        RegionInfo {
          capacity,
          creator_pid: map.u32_at(OFF_CREATOR + END_PID).load(Ordering::Acquire),
          opener_pid: map.u32_at(OFF_OPENER + END_PID).load(Ordering::Acquire),
          status: if is_stale(&map, stale_ms) {
            "stale".into()
          } else {
            "live".into()
          },
          creator,
          opener,
          name,
        }
      }
      Err(e) => RegionInfo {
        name,
        capacity: 0,
        creator_pid: 0,
        creator: PeerState::Gone,
        opener_pid: 0,
        opener: PeerState::Gone,
        status: match &e {
          ShmError::Owner(_) | ShmError::Permission(_) => format!("foreign: {}", e.message()),
          _ => format!("corrupt: {}", e.message()),
        },
      },
    })
    .collect()
}

/// Remove every stale region of this user (both ends dead or closed) and every corrupt one, with their
/// doorbells. Regions of other users are left alone. Returns the names removed.
pub fn cleanup_stale() -> Vec<String> {
  let mut removed = Vec::new();
  for info in list_regions() {
    if info.status == "stale" || info.status.starts_with("corrupt") {
      let id = region::open_region(&info.name).ok().map(|m| m.id());
      if info.status == "stale" && id.is_none() {
        continue;
      }
      region::unlink_if_same(&info.name, id);
      // On Windows nothing is unlinked: a mapping goes when the last process holding it closes it.
      if !region::region_exists(&info.name) {
        removed.push(info.name);
      }
    }
  }
  removed
}
