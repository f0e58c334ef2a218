//! Shared-memory regions and doorbells, portable part: naming, creation (exclusive, this user only),
//! the header check on open, mapping, the wait words, unlinking and listing. The system calls are in
//! `platform` (POSIX shm on Linux and macOS, file mappings on Windows).

use crate::error::{Result, ShmError};
use crate::layout::*;
use crate::platform;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Prefix of every region's OS name: `/tmesh-<name>`.
pub const NAME_PREFIX: &str = "tmesh-";
/// Longest channel name: `/tmesh-` + 24 characters = 31, macOS's PSHMNAMLEN.
pub const MAX_NAME_LEN: usize = 24;

/// Check a channel name: 1 to 24 characters from `[A-Za-z0-9_-]`.
pub fn validate_name(name: &str) -> Result<()> {
  if name.is_empty() {
    return Err(ShmError::Name("the channel name is empty".into()));
  }
  if name.len() > MAX_NAME_LEN {
    return Err(ShmError::Name(format!(
      "channel name '{name}' has {} bytes; the limit is {MAX_NAME_LEN} (macOS allows 31 with the '/tmesh-' prefix)",
      name.len()
    )));
  }
  if let Some(c) = name
    .chars()
    .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
  {
    return Err(ShmError::Name(format!(
      "channel name '{name}' contains '{c}'; use only A-Z a-z 0-9 _ -"
    )));
  }
  Ok(())
}

/// The OS name of a channel's region: `/tmesh-<name>` for shm_open; on Windows the mapping is
/// `Local\tmesh-<name>`.
pub fn os_name(name: &str) -> String {
  format!("/{NAME_PREFIX}{name}")
}

/// Directory of the doorbell FIFOs (and, on Linux, where shm_open puts regions). Windows has no
/// doorbell FIFOs.
pub fn bell_dir() -> &'static str {
  platform::bell_dir()
}

/// Path of the doorbell FIFO read by one end (`creator` true: the creator's).
pub fn bell_path(name: &str, creator: bool) -> String {
  format!(
    "{}/{NAME_PREFIX}{name}.bell-{}",
    bell_dir(),
    if creator { 'c' } else { 'o' }
  )
}

/// A mapped region; unmapped on drop (the binding keeps it alive while lent buffers exist).
pub struct Mapping {
  view: platform::View,
  /// Which object this is (Unix: device and inode), to unlink only the region we mapped.
  id: (u64, u64),
  /// The sleep/wake objects of the region's wait words (none on Linux and macOS).
  waiters: platform::Waiters,
}

// SAFETY: the mapping is plain shared memory; all concurrent access goes through atomics or the SPSC
// protocol of ring.rs. The platform handles (Windows) are usable from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
  /// Base address.
  pub fn ptr(&self) -> *mut u8 {
    self.view.ptr()
  }
  /// Length in bytes.
  pub fn len(&self) -> usize {
    self.view.len()
  }
  /// Never true: a region has at least a header page.
  pub fn is_empty(&self) -> bool {
    self.view.len() == 0
  }
  /// An atomic u32 of the header.
  pub fn u32_at(&self, off: usize) -> &AtomicU32 {
    assert!(off + 4 <= HEADER_SIZE && off % 4 == 0);
    // SAFETY: in bounds of the header page and aligned (asserted); the mapping outlives &self.
    unsafe { &*(self.ptr().add(off) as *const AtomicU32) }
  }
  /// An atomic u64 of the header.
  pub fn u64_at(&self, off: usize) -> &AtomicU64 {
    assert!(off + 8 <= HEADER_SIZE && off % 8 == 0);
    // SAFETY: as above.
    unsafe { &*(self.ptr().add(off) as *const AtomicU64) }
  }
  /// Which object is mapped: device and inode on Unix; (0, 0) on Windows, where nothing is unlinked.
  pub fn id(&self) -> (u64, u64) {
    self.id
  }

  /// Sleep while `*word == expected`, at most `timeout` (spurious returns allowed). `word` must be one
  /// of the region's wait words: a ring control block's space or data word.
  #[inline]
  pub fn wait(&self, word: &AtomicU32, expected: u32, timeout: Duration) {
    self.waiters.wait(self.wait_slot(word), word, expected, timeout);
  }

  /// Wake the threads sleeping in `wait` on `word`, in any process.
  #[inline]
  pub fn wake(&self, word: &AtomicU32) {
    self.waiters.wake(self.wait_slot(word), word);
  }

  /// 0-3 for the four wait words (ring 0 space, ring 0 data, ring 1 space, ring 1 data); `SLOTS` for
  /// any other address (the platform then polls).
  #[inline]
  fn wait_slot(&self, word: &AtomicU32) -> usize {
    const SPACE0: usize = OFF_RING0 + RING_SPACE_FUTEX;
    const DATA0: usize = OFF_RING0 + RING_DATA_FUTEX;
    const SPACE1: usize = OFF_RING1 + RING_SPACE_FUTEX;
    const DATA1: usize = OFF_RING1 + RING_DATA_FUTEX;
    match (word.as_ptr() as usize).wrapping_sub(self.ptr() as usize) {
      SPACE0 => 0,
      DATA0 => 1,
      SPACE1 => 2,
      DATA1 => 3,
      _ => platform::SLOTS,
    }
  }
}

/// Create a new region: exclusive (O_CREAT|O_EXCL, mode 0600; on Windows a new named mapping whose
/// DACL grants only this user), sized for two rings of `capacity`. The header is initialised except
/// MAGIC, which the caller stores last. Err(Exists) if the name is taken.
pub fn create_region(name: &str, capacity: usize) -> Result<Mapping> {
  let os = os_name(name);
  let size = region_size(capacity);
  let obj = platform::Object::create(&os, size)?;
  let mapped = obj.map(size).and_then(|view| {
    Ok(Mapping {
      view,
      id: obj.id(),
      waiters: platform::Waiters::open(&os)?,
    })
  });
  mapped.inspect_err(|_| platform::unlink(&os, Some(obj.id())))
}

/// Open an existing region after the owner check; validates the header and size. A creator that is
/// still initialising the header gets up to 200 ms.
pub fn open_region(name: &str) -> Result<Mapping> {
  let os = os_name(name);
  let obj = match platform::Object::open(&os) {
    Ok(o) => o,
    Err(ShmError::NotFound(_)) => {
      return Err(ShmError::NotFound(format!(
        "no shared-memory channel '{name}' ({os})"
      )))
    }
    Err(e) => return Err(e),
  };
  let size = obj.size()?;
  if size < HEADER_SIZE {
    return Err(ShmError::Corrupt(format!(
      "region {os} is {size} bytes, smaller than its header"
    )));
  }
  let head = obj.map(HEADER_SIZE)?;
  let magic = || {
    // SAFETY: the header page is mapped and MAGIC is an aligned u32 at its start.
    unsafe { &*(head.ptr().add(OFF_MAGIC) as *const AtomicU32) }.load(Ordering::Acquire)
  };
  let deadline = platform::monotonic_ms() + 200;
  while magic() != MAGIC {
    if platform::monotonic_ms() > deadline {
      return Err(ShmError::Corrupt(format!("region {os} has no SMEM magic")));
    }
    std::thread::sleep(Duration::from_millis(1));
  }
  // SAFETY: the header page is mapped (HEADER_SIZE bytes); its identity fields are written before MAGIC
  // (release) and never again.
  let page = unsafe { std::slice::from_raw_parts(head.ptr().cast_const(), HEADER_SIZE) };
  let capacity = check_header(page, size, &os)?;
  drop(head);
  Ok(Mapping {
    view: obj.map(region_size(capacity))?,
    id: obj.id(),
    waiters: platform::Waiters::open(&os)?,
  })
}

/// Check the identity line of a region header page (magic, layout version, ring capacity) against the
/// size of the object holding it; returns the ring capacity. Every value is the creator's, so possibly
/// hostile: the answer is a capacity that fits `size`, or E_SHM_CORRUPT. (fuzz/ runs this on random pages.)
pub fn check_header(page: &[u8], size: usize, os: &str) -> Result<usize> {
  if page.len() < OFF_CREATED_MS + 8 {
    return Err(ShmError::Corrupt(format!(
      "region {os} header is {} bytes, shorter than its identity line",
      page.len()
    )));
  }
  let magic = u32::from_ne_bytes(page[OFF_MAGIC..OFF_MAGIC + 4].try_into().unwrap());
  if magic != MAGIC {
    return Err(ShmError::Corrupt(format!("region {os} has no SMEM magic")));
  }
  let version = u16::from_ne_bytes(page[OFF_VERSION..OFF_VERSION + 2].try_into().unwrap());
  let capacity = u64::from_ne_bytes(page[OFF_CAPACITY..OFF_CAPACITY + 8].try_into().unwrap());
  if version != LAYOUT_VERSION {
    return Err(ShmError::Corrupt(format!(
      "region {os} has layout version {version}; this build speaks {LAYOUT_VERSION}"
    )));
  }
  let fits = usize::try_from(capacity)
    .ok()
    .filter(|&c| c.is_power_of_two() && (MIN_CAPACITY..=MAX_CAPACITY).contains(&c) && size >= region_size(c));
  fits.ok_or_else(|| {
    ShmError::Corrupt(format!(
      "region {os} declares capacity {capacity} but is {size} bytes"
    ))
  })
}

/// Unlink the region `name` if it is still the object `id` (so a newer region of the same name
/// survives), and its doorbells. Missing objects are not an error. On Windows there is nothing to
/// unlink: a mapping disappears with its last handle.
pub fn unlink_if_same(name: &str, id: Option<(u64, u64)>) {
  platform::unlink(&os_name(name), id);
  if platform::HAS_BELLS {
    let _ = std::fs::remove_file(bell_path(name, true));
    let _ = std::fs::remove_file(bell_path(name, false));
  }
}

/// True if a region named `name` exists (whoever owns it, whatever its state).
pub fn region_exists(name: &str) -> bool {
  validate_name(name).is_ok() && platform::exists(&os_name(name))
}

/// Names of the tmesh regions this platform can enumerate: Linux lists /dev/shm; macOS finds regions
/// through their creators' doorbell FIFOs (a region without one is not found); Windows reads the
/// session's named-object directory (ntdll's object-directory calls; Win32 has none). Sorted, valid
/// names only.
pub fn list_names() -> Vec<String> {
  let mut names: Vec<String> = platform::list_names(NAME_PREFIX)
    .into_iter()
    .filter(|n| validate_name(n).is_ok())
    .collect();
  names.sort();
  names.dedup();
  names
}

/// The portable wait used on macOS (and by Windows for an unknown word): poll the word with a sleep of
/// 50 us doubling to 1 ms. Public for examples/poll-wake.rs, which measures what it costs.
pub use crate::platform::poll_wait;

/// The Unix owner check (our uid, mode 0600) on a `stat`.
#[cfg(unix)]
pub use crate::platform::check_owner;

/// Create the doorbell FIFO of one end (0600), replacing a leftover one, and open it for reading
/// (O_RDWR, so it never reports end-of-file, and non-blocking). On Windows: Ok(-1), no doorbell (a
/// Node end then polls).
pub fn create_bell(path: &str) -> Result<i32> {
  platform::create_bell(path)
}

/// Open the peer's doorbell FIFO for writing, after checking it is a FIFO owned by us with mode 0600.
pub fn open_peer_bell(path: &str) -> Result<i32> {
  platform::open_peer_bell(path)
}

/// Ring a doorbell: one byte; a full FIFO already holds a pending wake, so EAGAIN is fine.
pub fn ring_bell(fd: i32) {
  platform::ring_bell(fd)
}

/// Close a descriptor this crate opened (negative: nothing).
pub fn close_fd(fd: i32) {
  platform::close_fd(fd)
}
