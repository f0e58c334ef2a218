//! POSIX shared-memory regions and doorbell FIFOs: naming, creation with O_EXCL and 0600, the owner
//! check on open, mapping, unlinking, listing and stale-region cleanup.

use crate::error::{Result, ShmError};
use crate::layout::*;
use crate::platform;
use std::ffi::CString;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

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

/// The shm_open name of a channel.
pub fn os_name(name: &str) -> String {
  format!("/{NAME_PREFIX}{name}")
}

/// Directory of the doorbell FIFOs (and, on Linux, where shm_open puts regions).
pub fn bell_dir() -> &'static str {
  if cfg!(target_os = "linux") {
    "/dev/shm"
  } else {
    "/tmp"
  }
}

/// Path of the doorbell FIFO read by one end (`creator` true: the creator's).
pub fn bell_path(name: &str, creator: bool) -> String {
  format!(
    "{}/{NAME_PREFIX}{name}.bell-{}",
    bell_dir(),
    if creator { 'c' } else { 'o' }
  )
}

fn cstr(s: &str) -> Result<CString> {
  CString::new(s).map_err(|_| ShmError::Name(format!("'{s}' contains a NUL byte")))
}

/// A mapped region; unmapped on drop (the binding keeps it alive while lent buffers exist).
pub struct Mapping {
  ptr: *mut u8,
  len: usize,
  /// Device and inode of the object, to unlink only the region we mapped.
  id: (u64, u64),
}

// SAFETY: the mapping is plain shared memory; all concurrent access goes through atomics or the SPSC
// protocol of ring.rs.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
  fn drop(&mut self) {
    // SAFETY: ptr/len came from a successful mmap and nothing uses them after drop.
    unsafe { libc::munmap(self.ptr.cast(), self.len) };
  }
}

impl Mapping {
  /// Base address.
  pub fn ptr(&self) -> *mut u8 {
    self.ptr
  }
  /// Length in bytes.
  pub fn len(&self) -> usize {
    self.len
  }
  /// Never true: a region has at least a header page.
  pub fn is_empty(&self) -> bool {
    self.len == 0
  }
  /// An atomic u32 of the header.
  pub fn u32_at(&self, off: usize) -> &AtomicU32 {
    assert!(off + 4 <= HEADER_SIZE && off % 4 == 0);
    // SAFETY: in bounds of the header page and aligned (asserted); the mapping outlives &self.
    unsafe { &*(self.ptr.add(off) as *const AtomicU32) }
  }
  /// An atomic u64 of the header.
  pub fn u64_at(&self, off: usize) -> &AtomicU64 {
    assert!(off + 8 <= HEADER_SIZE && off % 8 == 0);
    // SAFETY: as above.
    unsafe { &*(self.ptr.add(off) as *const AtomicU64) }
  }
  /// Device and inode of the mapped object.
  pub fn id(&self) -> (u64, u64) {
    self.id
  }
}

struct Fd(i32);
impl Drop for Fd {
  fn drop(&mut self) {
    // SAFETY: we own this descriptor.
    unsafe { libc::close(self.0) };
  }
}

fn fstat(fd: i32, what: &str) -> Result<libc::stat> {
  // SAFETY: zeroed stat is a valid out-buffer.
  let mut st: libc::stat = unsafe { std::mem::zeroed() };
  // SAFETY: fd is open; st is a valid out-pointer.
  if unsafe { libc::fstat(fd, &mut st) } != 0 {
    return Err(ShmError::last_os(what));
  }
  Ok(st)
}

/// Refuse objects of another user, or readable/writable by group or others.
pub fn check_owner(st: &libc::stat, what: &str) -> Result<()> {
  // SAFETY: geteuid has no preconditions.
  let me = unsafe { libc::geteuid() };
  if st.st_uid != me {
    return Err(ShmError::Owner(format!(
      "{what} is owned by uid {}, not by this process's uid {me}",
      st.st_uid
    )));
  }
  if st.st_mode & 0o077 != 0 {
    return Err(ShmError::Owner(format!(
      "{what} has mode {:o}; only 0600 is accepted",
      st.st_mode & 0o777
    )));
  }
  Ok(())
}

// st_dev/st_ino are u64 on Linux but i32/u64 on macOS: the casts are for portability.
#[allow(clippy::unnecessary_cast)]
fn map_fd(fd: &Fd, len: usize, what: &str, st: &libc::stat) -> Result<Mapping> {
  // SAFETY: fd is an open shm object of at least len bytes (checked or truncated by the caller).
  let p = unsafe {
    libc::mmap(
      std::ptr::null_mut(),
      len,
      libc::PROT_READ | libc::PROT_WRITE,
      libc::MAP_SHARED,
      fd.0,
      0,
    )
  };
  if p == libc::MAP_FAILED {
    return Err(ShmError::last_os(&format!("mmap of {what}")));
  }
  Ok(Mapping {
    ptr: p.cast(),
    len,
    id: (st.st_dev as u64, st.st_ino as u64),
  })
}

/// Create a new region: O_CREAT|O_EXCL, mode 0600, sized for two rings of `capacity`. The header is
/// initialised except MAGIC, which the caller stores last. Err(Exists) if the name is taken.
pub fn create_region(name: &str, capacity: usize) -> Result<Mapping> {
  let os = os_name(name);
  let c = cstr(&os)?;
  // SAFETY: c is a valid C string.
  let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o600) };
  if fd < 0 {
    return Err(ShmError::last_os(&format!("shm_open({os}, O_CREAT|O_EXCL)")));
  }
  let fd = Fd(fd);
  let size = region_size(capacity);
  // SAFETY: fd is ours. fchmod makes the mode 0600 whatever the umask.
  let ok = unsafe { libc::fchmod(fd.0, 0o600) == 0 && libc::ftruncate(fd.0, size as libc::off_t) == 0 };
  if !ok {
    let e = ShmError::last_os(&format!("sizing {os} to {size} bytes"));
    // SAFETY: c is valid.
    unsafe { libc::shm_unlink(c.as_ptr()) };
    return Err(e);
  }
  let st = fstat(fd.0, &os)?;
  map_fd(&fd, size, &os, &st).inspect_err(|_| {
    // SAFETY: c is valid.
    unsafe { libc::shm_unlink(c.as_ptr()) };
  })
}

/// Open an existing region after the owner check; validates the header and size. `wait_ready` gives
/// a creator that is still initialising the header up to 200 ms.
pub fn open_region(name: &str) -> Result<Mapping> {
  let os = os_name(name);
  let c = cstr(&os)?;
  // SAFETY: c is a valid C string.
  let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDWR, 0) };
  if fd < 0 {
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    if errno == libc::ENOENT {
      return Err(ShmError::NotFound(format!(
        "no shared-memory channel '{name}' ({os})"
      )));
    }
    return Err(ShmError::from_errno(&format!("shm_open({os})"), errno));
  }
  let fd = Fd(fd);
  let st = fstat(fd.0, &os)?;
  check_owner(&st, &format!("shared-memory region {os}"))?;
  let size = st.st_size as usize;
  if size < HEADER_SIZE {
    return Err(ShmError::Corrupt(format!(
      "region {os} is {size} bytes, smaller than its header"
    )));
  }
  let head = map_fd(&fd, HEADER_SIZE, &os, &st)?;
  let deadline = platform::monotonic_ms() + 200;
  while head.u32_at(OFF_MAGIC).load(Ordering::Acquire) != MAGIC {
    if platform::monotonic_ms() > deadline {
      return Err(ShmError::Corrupt(format!("region {os} has no SMEM magic")));
    }
    std::thread::sleep(std::time::Duration::from_millis(1));
  }
  // SAFETY: the header page is mapped (HEADER_SIZE bytes); its identity fields are written before MAGIC
  // (release) and never again.
  let page = unsafe { std::slice::from_raw_parts(head.ptr().cast_const(), HEADER_SIZE) };
  let capacity = check_header(page, size, &os)?;
  drop(head);
  map_fd(&fd, region_size(capacity), &os, &st)
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
/// survives), and its doorbells. Missing objects are not an error.
#[allow(clippy::unnecessary_cast)]
pub fn unlink_if_same(name: &str, id: Option<(u64, u64)>) {
  let os = os_name(name);
  let Ok(c) = cstr(&os) else { return };
  if let Some(id) = id {
    // SAFETY: c is valid.
    let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDONLY, 0) };
    if fd < 0 {
      return;
    }
    let fd = Fd(fd);
    match fstat(fd.0, &os) {
      Ok(st) if (st.st_dev as u64, st.st_ino as u64) == id => {}
      _ => return,
    }
  }
  // SAFETY: c is valid.
  unsafe { libc::shm_unlink(c.as_ptr()) };
  let _ = std::fs::remove_file(bell_path(name, true));
  let _ = std::fs::remove_file(bell_path(name, false));
}

/// Create the doorbell FIFO of one end (0600), replacing a leftover one, and open it for reading
/// (O_RDWR, so it never reports end-of-file, and non-blocking).
pub fn create_bell(path: &str) -> Result<i32> {
  let c = cstr(path)?;
  let _ = std::fs::remove_file(path);
  // SAFETY: c is valid.
  if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
    return Err(ShmError::last_os(&format!("mkfifo({path})")));
  }
  open_bell(path, libc::O_RDWR)
}

/// Open a doorbell FIFO after checking it is a FIFO owned by us with mode 0600.
pub fn open_bell(path: &str, mode: i32) -> Result<i32> {
  let c = cstr(path)?;
  // SAFETY: c is valid.
  let fd = unsafe { libc::open(c.as_ptr(), mode | libc::O_NONBLOCK | libc::O_CLOEXEC) };
  if fd < 0 {
    return Err(ShmError::last_os(&format!("open({path})")));
  }
  let st = fstat(fd, path).inspect_err(|_| {
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
  })?;
  let fifo = st.st_mode & libc::S_IFMT == libc::S_IFIFO;
  if let Err(e) = check_owner(&st, &format!("doorbell {path}")).and_then(|_| {
    if fifo {
      Ok(())
    } else {
      Err(ShmError::Owner(format!("doorbell {path} is not a FIFO")))
    }
  }) {
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    return Err(e);
  }
  Ok(fd)
}

/// Ring a doorbell: one byte; a full FIFO already holds a pending wake, so EAGAIN is fine.
pub fn ring_bell(fd: i32) {
  let b = 1u8;
  // SAFETY: fd is an open FIFO write end; one byte from a valid buffer.
  unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// Close a descriptor this crate opened.
pub fn close_fd(fd: i32) {
  if fd >= 0 {
    // SAFETY: the caller owns fd.
    unsafe { libc::close(fd) };
  }
}
