//! What Linux and macOS share: POSIX shared-memory objects, the uid/mode owner check, FIFO doorbells,
//! `kill(pid, 0)`, CLOCK_MONOTONIC and /dev/urandom.

use crate::error::{Result, ShmError};
use std::ffi::CString;

fn cstr(s: &str) -> Result<CString> {
  CString::new(s).map_err(|_| ShmError::Name(format!("'{s}' contains a NUL byte")))
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

// st_dev/st_ino are u64 on Linux but i32/u64 on macOS: the casts are for portability.
#[allow(clippy::unnecessary_cast)]
fn file_id(st: &libc::stat) -> (u64, u64) {
  (st.st_dev as u64, st.st_ino as u64)
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

/// An open POSIX shared-memory object.
pub struct Object {
  fd: Fd,
  name: String,
  st: libc::stat,
}

/// A mapped view; unmapped on drop.
pub struct View {
  ptr: *mut u8,
  len: usize,
}

impl Drop for View {
  fn drop(&mut self) {
    // SAFETY: ptr/len came from a successful mmap and nothing uses them after drop.
    unsafe { libc::munmap(self.ptr.cast(), self.len) };
  }
}

impl View {
  /// Base address.
  pub fn ptr(&self) -> *mut u8 {
    self.ptr
  }
  /// Length in bytes.
  pub fn len(&self) -> usize {
    self.len
  }
}

impl Object {
  /// `shm_open(O_CREAT|O_EXCL, 0600)`, `fchmod` 0600 whatever the umask, `ftruncate` once to `size`
  /// (macOS refuses a second ftruncate). Err(Exists) if the name is taken.
  pub fn create(name: &str, size: usize) -> Result<Object> {
    let c = cstr(name)?;
    // SAFETY: c is a valid C string.
    let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o600) };
    if fd < 0 {
      return Err(ShmError::last_os(&format!("shm_open({name}, O_CREAT|O_EXCL)")));
    }
    let fd = Fd(fd);
    // SAFETY: fd is ours.
    let ok = unsafe { libc::fchmod(fd.0, 0o600) == 0 && libc::ftruncate(fd.0, size as libc::off_t) == 0 };
    let st = if ok {
      fstat(fd.0, name)
    } else {
      Err(ShmError::last_os(&format!("sizing {name} to {size} bytes")))
    };
    match st {
      Ok(st) => Ok(Object {
        fd,
        name: name.to_owned(),
        st,
      }),
      Err(e) => {
        // SAFETY: c is valid.
        unsafe { libc::shm_unlink(c.as_ptr()) };
        Err(e)
      }
    }
  }

  /// Open an existing object read-write after the owner check (our uid, mode 0600).
  pub fn open(name: &str) -> Result<Object> {
    let c = cstr(name)?;
    // SAFETY: c is a valid C string.
    let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDWR, 0) };
    if fd < 0 {
      return Err(ShmError::last_os(&format!("shm_open({name})")));
    }
    let fd = Fd(fd);
    let st = fstat(fd.0, name)?;
    check_owner(&st, &format!("shared-memory region {name}"))?;
    Ok(Object {
      fd,
      name: name.to_owned(),
      st,
    })
  }

  /// Size in bytes.
  pub fn size(&self) -> Result<usize> {
    Ok(self.st.st_size as usize)
  }

  /// Device and inode: which object this is, to unlink only the one we mapped.
  pub fn id(&self) -> (u64, u64) {
    file_id(&self.st)
  }

  /// Map the first `len` bytes read-write, shared.
  pub fn map(&self, len: usize) -> Result<View> {
    // SAFETY: fd is an open shm object of at least len bytes (sized by create or checked by the caller).
    let p = unsafe {
      libc::mmap(
        std::ptr::null_mut(),
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        self.fd.0,
        0,
      )
    };
    if p == libc::MAP_FAILED {
      return Err(ShmError::last_os(&format!("mmap of {}", self.name)));
    }
    Ok(View { ptr: p.cast(), len })
  }
}

/// `shm_unlink(name)` if it still names the object `id` (so a newer region of the same name survives).
/// Missing objects are not an error.
pub fn unlink(name: &str, id: Option<(u64, u64)>) {
  let Ok(c) = cstr(name) else { return };
  if let Some(id) = id {
    // SAFETY: c is valid.
    let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDONLY, 0) };
    if fd < 0 {
      return;
    }
    let fd = Fd(fd);
    match fstat(fd.0, name) {
      Ok(st) if file_id(&st) == id => {}
      _ => return,
    }
  }
  // SAFETY: c is valid.
  unsafe { libc::shm_unlink(c.as_ptr()) };
}

/// True if a shared-memory object `name` exists (whoever owns it).
pub fn exists(name: &str) -> bool {
  let Ok(c) = cstr(name) else { return false };
  // SAFETY: c is valid.
  let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDONLY, 0) };
  if fd >= 0 {
    drop(Fd(fd));
    return true;
  }
  std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT)
}

/// Unix ends can have a FIFO doorbell an event loop watches.
pub const HAS_BELLS: bool = true;

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

/// Open the peer's doorbell FIFO for writing.
pub fn open_peer_bell(path: &str) -> Result<i32> {
  open_bell(path, libc::O_WRONLY)
}

/// Open a doorbell FIFO after checking it is a FIFO owned by us with mode 0600.
fn open_bell(path: &str, mode: i32) -> Result<i32> {
  let c = cstr(path)?;
  // SAFETY: c is valid.
  let fd = unsafe { libc::open(c.as_ptr(), mode | libc::O_NONBLOCK | libc::O_CLOEXEC) };
  if fd < 0 {
    return Err(ShmError::last_os(&format!("open({path})")));
  }
  let fd = Fd(fd);
  let st = fstat(fd.0, path)?;
  check_owner(&st, &format!("doorbell {path}"))?;
  if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
    return Err(ShmError::Owner(format!("doorbell {path} is not a FIFO")));
  }
  let raw = fd.0;
  std::mem::forget(fd);
  Ok(raw)
}

/// Ring a doorbell: one byte; a full FIFO already holds a pending wake, so EAGAIN is fine.
pub fn ring_bell(fd: i32) {
  let b = 1u8;
  // SAFETY: fd is an open FIFO write end; one byte from a valid buffer.
  unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// Close a descriptor this crate opened (negative: nothing).
pub fn close_fd(fd: i32) {
  if fd >= 0 {
    // SAFETY: the caller owns fd.
    unsafe { libc::close(fd) };
  }
}

/// Milliseconds of CLOCK_MONOTONIC: the same clock in every process of the machine.
pub fn monotonic_ms() -> u64 {
  let mut ts = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
  };
  // SAFETY: ts is a valid out-pointer.
  unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
  ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// False if `kill(pid, 0)` says there is no such process.
pub fn pid_exists(pid: u32) -> bool {
  if pid == 0 || pid > i32::MAX as u32 {
    return false;
  }
  // SAFETY: signal 0 only checks existence and permission.
  let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
  !(r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH))
}

/// 16 random bytes from the OS.
pub fn random_token() -> [u8; 16] {
  use std::io::Read;
  let mut t = [0u8; 16];
  if std::fs::File::open("/dev/urandom")
    .and_then(|mut f| f.read_exact(&mut t))
    .is_ok()
  {
    return t;
  }
  super::fallback_token()
}
