//! napi-rs binding of tmesh-shm: converts arguments, results and errors; all logic is in the ring crate.
//! Errors reach JS with `code` set to the tmesh error code and the message prefixed by it; the
//! TypeScript wrapper turns them into TmeshError.

#![deny(clippy::all)]

mod checksum;
mod compress;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tmesh_shm::layout::align8;
use tmesh_shm::region::Mapping;
use tmesh_shm::ring::{batch_entry_header, BATCH_ENTRY_HEADER};
use tmesh_shm::{Channel, ChannelOptions, Lend, MessageMeta, Payload, PeerState, ShmError};

fn js_err(e: ShmError) -> Error {
  Error::new(Status::GenericFailure, format!("{}: {}", e.code(), e.message()))
}

fn arg_err(msg: &str) -> Error {
  Error::new(Status::InvalidArg, format!("E_INVALID_ARGUMENT: {msg}"))
}

/// Options of createChannel / openChannel.
#[napi(object)]
pub struct NativeChannelOptions {
  /// Bytes per direction (create only); rounded up to a power of two, at least 4096.
  pub capacity: Option<f64>,
  /// 32 hex digits: stored on create (random when absent), checked on open when given.
  pub token: Option<String>,
  /// Largest incoming message in bytes.
  pub max_message_size: Option<f64>,
  /// A peer whose heartbeat is older than this many ms is gone.
  pub stale_after_ms: Option<f64>,
}

fn parse_token(t: &str) -> Result<[u8; 16]> {
  if t.len() != 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
    return Err(arg_err("token must be 32 hex digits"));
  }
  let mut out = [0u8; 16];
  for (i, o) in out.iter_mut().enumerate() {
    *o = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|_| arg_err("token must be hex"))?;
  }
  Ok(out)
}

fn to_options(o: Option<NativeChannelOptions>) -> Result<ChannelOptions> {
  let mut opts = ChannelOptions {
    doorbell: true,
    ..Default::default()
  };
  if let Some(o) = o {
    if let Some(c) = o.capacity {
      if !(c.is_finite() && c >= 0.0) {
        return Err(arg_err("capacity must be a positive number"));
      }
      opts.capacity = c as usize;
    }
    if let Some(t) = o.token {
      opts.token = Some(parse_token(&t)?);
    }
    if let Some(m) = o.max_message_size {
      opts.max_message_size = m.max(0.0) as usize;
    }
    if let Some(s) = o.stale_after_ms {
      opts.stale_after_ms = s.max(100.0) as u64;
    }
  }
  Ok(opts)
}

/// One end of a shared-memory channel, kept in the handle table.
struct NativeChannel {
  inner: Channel,
  mapping: Arc<Mapping>,
  /// Reused staging area of batch receives.
  batch: Vec<u8>,
}

// Channels live in a handle table and JS holds integer handles: napi-rs 3 class methods register
// every call in a global borrow map (about 0.5 us per call, measured), which is most of the budget
// of a 64-byte message. A mutex lock costs a few ns uncontended.
static CHANNELS: Mutex<Vec<Option<NativeChannel>>> = Mutex::new(Vec::new());

fn insert(ch: Channel) -> u32 {
  let entry = NativeChannel {
    mapping: ch.mapping().clone(),
    inner: ch,
    batch: Vec::new(),
  };
  let mut table = CHANNELS.lock().unwrap_or_else(|e| e.into_inner());
  if let Some(i) = table.iter().position(Option::is_none) {
    table[i] = Some(entry);
    return i as u32;
  }
  table.push(Some(entry));
  (table.len() - 1) as u32
}

fn with<T>(handle: u32, f: impl FnOnce(&mut NativeChannel) -> Result<T>) -> Result<T> {
  let mut table = CHANNELS.lock().unwrap_or_else(|e| e.into_inner());
  match table.get_mut(handle as usize).and_then(Option::as_mut) {
    Some(ch) => f(ch),
    None => Err(Error::new(
      Status::GenericFailure,
      "E_CLOSED: the channel handle is closed".to_owned(),
    )),
  }
}

/// Create a channel (the creator end); returns its handle.
#[napi]
pub fn create_channel(name: String, options: Option<NativeChannelOptions>) -> Result<u32> {
  Ok(insert(
    Channel::create(&name, &to_options(options)?).map_err(js_err)?,
  ))
}

/// Open a channel made by another process (the opener end); returns its handle.
#[napi]
pub fn open_channel(name: String, options: Option<NativeChannelOptions>) -> Result<u32> {
  Ok(insert(
    Channel::open(&name, &to_options(options)?).map_err(js_err)?,
  ))
}

fn meta_of(message_type: u32, flags: u32) -> Result<MessageMeta> {
  if message_type > 255 || flags > 0x0fff {
    return Err(arg_err("message type must be 0..255 and flags 0..0xfff"));
  }
  Ok(MessageMeta {
    message_type: message_type as u8,
    flags: flags as u16,
    ..Default::default()
  })
}

fn write_meta(out: &mut Uint32ArraySlice, m: &MessageMeta) {
  // SAFETY: the wrapper passes a Uint32Array of at least 8 elements that nothing else touches during
  // this synchronous call.
  let s = unsafe { out.as_mut() };
  if s.len() >= 5 {
    s[0] = m.message_type as u32;
    s[1] = m.flags as u32;
    s[2] = m.sequence;
    s[3] = m.timestamp as u32;
    s[4] = (m.timestamp >> 32) as u32;
  }
}

/// One copy from the ring into a Buffer that V8 allocates (napi_create_buffer_copy). Measured against
/// a pool of external Vec buffers returned by their finalizers: the pool was slower (6.3-7.3 against
/// 4.6-5.2 GB/s for 1 MiB), since finalizers run only when V8 collects and fresh pages fault in anyway.
fn copy_to_buffer<'e>(env: &'e Env, d: &[u8]) -> Result<BufferSlice<'e>> {
  BufferSlice::copy_from(env, d)
}

/// Messages at least this large are received by `try_recv_batch` as a batch of one, without staging.
const DIRECT_BATCH_MIN: u64 = 64 << 10;

/// A new Buffer of `len` bytes, not initialized (the caller writes every byte).
fn new_buffer(env: &Env, len: usize) -> Result<BufferSlice<'_>> {
  let mut raw = std::ptr::null_mut();
  let mut data = std::ptr::null_mut();
  // SAFETY: env is the live environment of this call; both out-pointers are valid.
  let status = unsafe { napi::sys::napi_create_buffer(env.raw(), len, &mut data, &mut raw) };
  if status != napi::sys::Status::napi_ok {
    return Err(Error::new(
      Status::GenericFailure,
      format!("E_INTERNAL: could not allocate a Buffer of {len} bytes"),
    ));
  }
  // SAFETY: raw is the Buffer just created in this environment.
  unsafe { BufferSlice::from_napi_value(env.raw(), raw) }
}

/// A received message as a new Buffer: one copy out of the ring, or none at all for a fragmented
/// message, whose reassembly buffer becomes the Buffer's memory (it was copied out of the ring once
/// already; copying it again cost a second pass over every byte).
fn payload_to_buffer<'e>(env: &'e Env, d: Payload<'_>) -> Result<BufferSlice<'e>> {
  match d {
    Payload::InRing(s) => copy_to_buffer(env, s),
    Payload::Assembled(v) => BufferSlice::from_data(env, v),
  }
}

impl NativeChannel {
  /// The per-channel token, 32 hex digits.
  fn token(&self) -> String {
    self.inner.token().iter().map(|b| format!("{b:02x}")).collect()
  }

  /// Bytes per direction.
  fn capacity(&self) -> f64 {
    self.inner.capacity() as f64
  }

  /// The largest message sent as one record.
  fn max_fragment(&self) -> f64 {
    self.inner.max_fragment() as f64
  }

  /// A duplicate of this end's doorbell FIFO descriptor (the caller owns and closes it), or -1.
  fn dup_bell_fd(&self) -> i32 {
    let fd = self.inner.bell_fd();
    if fd < 0 {
      return -1;
    }
    libc_dup(fd)
  }

  /// Write what fits of `data` from `offset`; returns the new offset, or -1 once the message is complete.
  fn send_partial(&mut self, data: BufferSlice, offset: f64, message_type: u32, flags: u32) -> Result<f64> {
    let mut off = offset as usize;
    if off > data.len() {
      return Err(arg_err("offset is past the end of the message"));
    }
    let done = self
      .inner
      .send_partial(&data, &mut off, meta_of(message_type, flags)?)
      .map_err(js_err)?;
    Ok(if done { -1.0 } else { off as f64 })
  }

  /// Send the whole message now, or return false (full) without writing anything.
  fn try_send(&mut self, data: BufferSlice, message_type: u32, flags: u32) -> Result<bool> {
    match self.inner.try_send(&data, meta_of(message_type, flags)?) {
      Ok(()) => Ok(true),
      Err(ShmError::Full) => Ok(false),
      Err(e) => Err(js_err(e)),
    }
  }

  /// The next message copied into a new Buffer (meta written to `meta`), or null.
  fn try_send_many(&mut self, messages: &[BufferSlice], message_type: u32, flags: u32) -> Result<u32> {
    // One clock read for the whole group: on this VM it costs as much as writing a 64-byte record.
    let meta = MessageMeta {
      timestamp: tmesh_shm::ring::unix_ms(),
      ..meta_of(message_type, flags)?
    };
    let mut sent = 0u32;
    for m in messages {
      match self.inner.try_send_unpublished(m, meta) {
        Ok(true) => sent += 1,
        Ok(false) => break,
        Err(err) => {
          self.inner.publish();
          return Err(js_err(err));
        }
      }
    }
    self.inner.publish();
    Ok(sent)
  }

  fn try_recv<'e>(&mut self, env: &'e Env, mut meta: Uint32ArraySlice) -> Result<Option<BufferSlice<'e>>> {
    let mut m0 = MessageMeta::default();
    let got = self
      .inner
      .try_recv_payload_with(|d, m| {
        m0 = m;
        payload_to_buffer(env, d)
      })
      .map_err(js_err)?;
    match got {
      Some(b) => {
        write_meta(&mut meta, &m0);
        Ok(Some(b?))
      }
      None => Ok(None),
    }
  }

  /// The next message copied into the caller's `dst` (meta written to `meta`, its length to meta[5]):
  /// returns `dst` itself when the message fit, a new Buffer holding it when it is larger than `dst`,
  /// or null when nothing is waiting. No allocation when it fits: the caller reuses `dst`.
  fn try_recv_into<'e>(
    &mut self,
    env: &'e Env,
    mut dst: BufferSlice<'e>,
    mut meta: Uint32ArraySlice,
  ) -> Result<Option<BufferSlice<'e>>> {
    let mut m0 = MessageMeta::default();
    let mut len = 0usize;
    let got = self
      .inner
      .try_recv_payload_with(|d, m| {
        m0 = m;
        let s = d.as_slice();
        len = s.len();
        if s.len() > dst.len() {
          return payload_to_buffer(env, d).map(Some);
        }
        // SAFETY: both ranges are valid for `len` bytes (the ring record was checked by the consumer,
        // `dst` holds at least `len`); `copy` tolerates overlap, should the caller pass a lent view.
        unsafe { std::ptr::copy(s.as_ptr(), dst.as_mut_ptr(), s.len()) };
        Ok(None)
      })
      .map_err(js_err)?;
    match got {
      None => Ok(None),
      Some(fresh) => {
        write_meta(&mut meta, &m0);
        // SAFETY: see write_meta.
        unsafe { meta.as_mut()[5] = len as u32 };
        Ok(Some(match fresh? {
          Some(b) => b,
          None => dst,
        }))
      }
    }
  }

  /// Busy-poll for up to `budget_us` microseconds for the next message; null if none came.
  /// `yield_cpu`: every 64 polls, give the CPU to whatever else is runnable on it (sched_yield, which
  /// returns at once when nothing is), for 'adaptive': the peer it waits for may be queued behind the
  /// spinner on a busy machine (an 'adaptive' round trip took two whole spin budgets, 118 us at p50 on 2
  /// busy vCPUs, and 8.5 us with the yield). 'spin' does not yield: it keeps its CPU for the lowest p50.
  fn recv_spin<'e>(
    &mut self,
    env: &'e Env,
    meta: Uint32ArraySlice,
    budget_us: f64,
    yield_cpu: bool,
  ) -> Result<Option<BufferSlice<'e>>> {
    let deadline = Instant::now() + Duration::from_nanos((budget_us.max(0.0) * 1000.0) as u64);
    let mut spins = 0u32;
    loop {
      if self.inner.has_data() {
        return self.try_recv(env, meta);
      }
      spins += 1;
      if spins % 64 == 0 {
        if Instant::now() >= deadline {
          return self.try_recv(env, meta);
        }
        if yield_cpu {
          std::thread::yield_now();
        }
      } else {
        std::hint::spin_loop();
      }
    }
  }

  /// Up to `max_messages` messages in one Buffer of entries (24-byte header: u32 size, u8 type, u8 0,
  /// u16 flags, u32 sequence, u32 0, u64 timestamp; then the data padded to 8), or null if none.
  fn try_recv_batch<'e>(
    &mut self,
    env: &'e Env,
    max_messages: u32,
    max_bytes: f64,
  ) -> Result<Option<BufferSlice<'e>>> {
    // A large message gets a batch of its own, written straight into its Buffer: staging it in the
    // reused batch area first cost a second pass over every byte.
    if self.inner.peek_len().map_err(js_err)?.unwrap_or(0) >= DIRECT_BATCH_MIN {
      let got = self
        .inner
        .try_recv_payload_with(|d, m| {
          let s = d.as_slice();
          let mut b = new_buffer(env, BATCH_ENTRY_HEADER + align8(s.len()))?;
          let (head, rest) = b.split_at_mut(BATCH_ENTRY_HEADER);
          head.copy_from_slice(&batch_entry_header(s.len(), &m));
          rest[..s.len()].copy_from_slice(s);
          rest[s.len()..].fill(0);
          Ok(b)
        })
        .map_err(js_err)?;
      return got.transpose();
    }
    self.batch.clear();
    let n = self
      .inner
      .try_recv_batch(&mut self.batch, max_messages.max(1) as usize, max_bytes as usize)
      .map_err(js_err)?;
    if n == 0 {
      return Ok(None);
    }
    Ok(Some(copy_to_buffer(env, &self.batch)?))
  }

  fn try_lend<'e>(&mut self, env: &'e Env, mut meta: Uint32ArraySlice) -> Result<Option<BufferSlice<'e>>> {
    match self.inner.try_lend().map_err(js_err)? {
      None => Ok(None),
      Some(Lend::Copied(m, _)) => {
        write_meta(&mut meta, &m.meta);
        // SAFETY: see write_meta.
        unsafe { meta.as_mut()[7] = 1 };
        Ok(Some(BufferSlice::from_data(env, m.data)?))
      }
      Some(Lend::InPlace(r)) => {
        write_meta(&mut meta, &r.meta);
        // SAFETY: see write_meta.
        let s = unsafe { meta.as_mut() };
        s[5] = r.end as u32;
        s[6] = (r.end >> 32) as u32;
        s[7] = 0;
        if r.len == 0 {
          return Ok(Some(BufferSlice::copy_from(env, [])?));
        }
        let keep = self.mapping.clone();
        // SAFETY: the record lies inside the mapping, which `keep` holds mapped until the Buffer is
        // collected; the producer does not overwrite it before release (the caller's contract).
        Ok(Some(unsafe {
          BufferSlice::from_external(env, r.ptr as *mut u8, r.len, keep, |_, k| drop(k))?
        }))
      }
    }
  }

  /// Release a lent message (and every one lent before it).
  fn release(&mut self, end: f64) -> Result<()> {
    self.inner.release(end as u64).map_err(js_err)
  }

  /// Ask the peer to ring this end's doorbell when data arrives; false if data is already there.
  fn arm_data_bell(&mut self) -> bool {
    self.inner.arm_data_bell()
  }

  /// Ask the peer to ring this end's doorbell when `need` bytes are free; false if they already are.
  fn arm_space_bell(&mut self, need: f64) -> bool {
    self.inner.arm_space_bell(need as usize)
  }

  /// True if a message (or part of one) is waiting.
  fn has_data(&mut self) -> bool {
    self.inner.has_data()
  }

  /// 'not-attached' | 'alive' | 'closed' | 'gone'.
  fn peer_state(&mut self) -> &'static str {
    match self.inner.peer_state(true) {
      PeerState::NotAttached => "not-attached",
      PeerState::Alive => "alive",
      PeerState::Closed => "closed",
      PeerState::Gone => "gone",
    }
  }
}

/// The per-channel token, 32 hex digits.
#[napi]
pub fn ch_token(handle: u32) -> Result<String> {
  with(handle, |c| Ok(c.token()))
}

/// Bytes per direction.
#[napi]
pub fn ch_capacity(handle: u32) -> Result<f64> {
  with(handle, |c| Ok(c.capacity()))
}

/// The largest message sent as one record.
#[napi]
pub fn ch_max_fragment(handle: u32) -> Result<f64> {
  with(handle, |c| Ok(c.max_fragment()))
}

/// A duplicate of this end's doorbell FIFO descriptor (the caller owns and closes it), or -1.
#[napi]
pub fn ch_dup_bell_fd(handle: u32) -> Result<i32> {
  with(handle, |c| Ok(c.dup_bell_fd()))
}

/// Write what fits of `data` from `offset`; returns the new offset, or -1 once the message is complete.
#[napi]
pub fn ch_send_partial(
  handle: u32,
  data: BufferSlice,
  offset: f64,
  message_type: u32,
  flags: u32,
) -> Result<f64> {
  with(handle, |c| c.send_partial(data, offset, message_type, flags))
}

/// Send the whole message now, or return false (full) without writing anything.
#[napi]
pub fn ch_try_send(handle: u32, data: BufferSlice, message_type: u32, flags: u32) -> Result<bool> {
  with(handle, |c| c.try_send(data, message_type, flags))
}

/// Send as many of `messages` as fit now, in order, behind one publish; returns how many were sent.
#[napi]
pub fn ch_try_send_many(
  handle: u32,
  messages: Vec<BufferSlice>,
  message_type: u32,
  flags: u32,
) -> Result<u32> {
  with(handle, |c| c.try_send_many(&messages, message_type, flags))
}

/// The next message copied into a new Buffer (meta written to `meta`), or null.
#[napi]
pub fn ch_try_recv<'e>(env: &'e Env, handle: u32, meta: Uint32ArraySlice) -> Result<Option<BufferSlice<'e>>> {
  with(handle, |c| c.try_recv(env, meta))
}

/// The next message copied into `dst` (see `tryRecvInto`): returns `dst` when it fit (its length in
/// meta[5]), a new Buffer when the message is larger than `dst`, or null when nothing is waiting.
#[napi]
pub fn ch_try_recv_into<'e>(
  env: &'e Env,
  handle: u32,
  dst: BufferSlice<'e>,
  meta: Uint32ArraySlice,
) -> Result<Option<BufferSlice<'e>>> {
  with(handle, |c| c.try_recv_into(env, dst, meta))
}

/// Busy-poll for up to `budget_us` microseconds for the next message; null if none came. See
/// `NativeChannel::recv_spin` for `yield_cpu`.
#[napi]
pub fn ch_recv_spin<'e>(
  env: &'e Env,
  handle: u32,
  meta: Uint32ArraySlice,
  budget_us: f64,
  yield_cpu: bool,
) -> Result<Option<BufferSlice<'e>>> {
  with(handle, |c| c.recv_spin(env, meta, budget_us, yield_cpu))
}

/// Up to `max_messages` messages in one Buffer of entries (24-byte header: u32 size, u8 type, u8 0,
/// u16 flags, u32 sequence, u32 0, u64 timestamp; then the data padded to 8), or null if none.
#[napi]
pub fn ch_try_recv_batch<'e>(
  env: &'e Env,
  handle: u32,
  max_messages: u32,
  max_bytes: f64,
) -> Result<Option<BufferSlice<'e>>> {
  with(handle, |c| c.try_recv_batch(env, max_messages, max_bytes))
}

/// Lend the next message in place (see the wrapper's `tryLend`): meta[5..7] get the release position,
/// meta[7] is 1 when the message had to be copied.
#[napi]
pub fn ch_try_lend<'e>(env: &'e Env, handle: u32, meta: Uint32ArraySlice) -> Result<Option<BufferSlice<'e>>> {
  with(handle, |c| c.try_lend(env, meta))
}

/// Busy-poll up to `budget_us` microseconds until a message (or part of one) is waiting. See
/// `NativeChannel::recv_spin` for `yield_cpu`.
#[napi]
pub fn ch_spin_until_data(handle: u32, budget_us: f64, yield_cpu: bool) -> Result<bool> {
  with(handle, |c| {
    let deadline = Instant::now() + Duration::from_nanos((budget_us.max(0.0) * 1000.0) as u64);
    let mut spins = 0u32;
    loop {
      if c.inner.has_data() {
        return Ok(true);
      }
      spins = spins.wrapping_add(1);
      if spins % 64 == 0 {
        if Instant::now() >= deadline {
          return Ok(false);
        }
        if yield_cpu {
          std::thread::yield_now();
        }
      } else {
        std::hint::spin_loop();
      }
    }
  })
}

/// Release a lent message (and every one lent before it).
#[napi]
pub fn ch_release(handle: u32, end: f64) -> Result<()> {
  with(handle, |c| c.release(end))
}

/// Ask the peer to ring this end's doorbell when data arrives; false if data is already there.
#[napi]
pub fn ch_arm_data_bell(handle: u32) -> Result<bool> {
  with(handle, |c| Ok(c.arm_data_bell()))
}

/// Ask the peer to ring this end's doorbell when `need` bytes are free; false if they already are.
#[napi]
pub fn ch_arm_space_bell(handle: u32, need: f64) -> Result<bool> {
  with(handle, |c| Ok(c.arm_space_bell(need)))
}

/// True if a message (or part of one) is waiting.
#[napi]
pub fn ch_has_data(handle: u32) -> Result<bool> {
  with(handle, |c| Ok(c.has_data()))
}

/// 'not-attached' | 'alive' | 'closed' | 'gone'.
#[napi]
pub fn ch_peer_state(handle: u32) -> Result<String> {
  with(handle, |c| Ok(c.peer_state().to_owned()))
}

/// Close this end and free its handle; unlinks the region when the peer is closed or gone. Idempotent.
#[napi]
pub fn ch_close(handle: u32) {
  let taken = {
    let mut table = CHANNELS.lock().unwrap_or_else(|e| e.into_inner());
    table.get_mut(handle as usize).and_then(Option::take)
  };
  if let Some(mut c) = taken {
    c.inner.close();
  }
}

fn libc_dup(fd: i32) -> i32 {
  extern "C" {
    fn dup(fd: i32) -> i32;
  }
  // SAFETY: dup has no memory-safety preconditions.
  unsafe { dup(fd) }
}

/// A region found by listRegions.
#[napi(object)]
pub struct NativeRegionInfo {
  /// Channel name.
  pub name: String,
  /// Bytes per direction.
  pub capacity: f64,
  /// Creator pid.
  pub creator_pid: u32,
  /// Creator state.
  pub creator: String,
  /// Opener pid (0 if none).
  pub opener_pid: u32,
  /// Opener state.
  pub opener: String,
  /// 'live', 'stale', 'foreign: ...' or 'corrupt: ...'.
  pub status: String,
}

fn state_name(s: PeerState) -> String {
  match s {
    PeerState::NotAttached => "not-attached",
    PeerState::Alive => "alive",
    PeerState::Closed => "closed",
    PeerState::Gone => "gone",
  }
  .into()
}

/// Every tmesh region on this machine.
#[napi]
pub fn list_regions() -> Vec<NativeRegionInfo> {
  tmesh_shm::list_regions()
    .into_iter()
    .map(|r| NativeRegionInfo {
      name: r.name,
      capacity: r.capacity as f64,
      creator_pid: r.creator_pid,
      creator: state_name(r.creator),
      opener_pid: r.opener_pid,
      opener: state_name(r.opener),
      status: r.status,
    })
    .collect()
}

/// Remove stale and corrupt regions of this user; returns their names.
#[napi]
pub fn cleanup_stale_regions() -> Vec<String> {
  tmesh_shm::cleanup_stale()
}
