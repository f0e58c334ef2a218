//! Linux: POSIX shm in /dev/shm, a real futex on the shared word (not FUTEX_PRIVATE: the word lives in
//! a shared mapping), FIFO doorbells in /dev/shm, zombie detection through /proc.

pub use super::unix::*;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Where shm_open puts regions, and where the doorbell FIFOs go.
pub fn bell_dir() -> &'static str {
  "/dev/shm"
}

/// Names of the shared-memory objects starting with `prefix` (without the leading '/').
pub fn list_names(prefix: &str) -> Vec<String> {
  let Ok(dir) = std::fs::read_dir("/dev/shm") else {
    return Vec::new();
  };
  dir
    .flatten()
    .filter_map(|e| {
      let f = e.file_name().to_string_lossy().into_owned();
      let rest = f.strip_prefix(prefix)?;
      (!rest.contains(".bell-")).then(|| rest.to_owned())
    })
    .collect()
}

/// The futex words of a region need no per-region setup on Linux.
pub struct Waiters;

impl Waiters {
  /// Nothing to open: the futex is keyed by the shared page and offset.
  pub fn open(_os_name: &str) -> crate::error::Result<Waiters> {
    Ok(Waiters)
  }

  /// Sleep while `*word == expected`, at most `timeout`. Spurious returns are allowed.
  #[inline]
  pub fn wait(&self, _slot: usize, word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
      tv_sec: timeout.as_secs() as libc::time_t,
      tv_nsec: timeout.subsec_nanos() as _,
    };
    // SAFETY: word is a valid, aligned u32 for the duration of the call; FUTEX_WAIT only reads it.
    unsafe {
      libc::syscall(
        libc::SYS_futex,
        word.as_ptr(),
        libc::FUTEX_WAIT,
        expected,
        &ts as *const libc::timespec,
      );
    }
  }

  /// Wake every thread sleeping in `wait` on `word`, in any process.
  #[inline]
  pub fn wake(&self, _slot: usize, word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE takes the address only as a key.
    unsafe {
      libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
  }
}

/// True unless the process is known to be dead: no such pid, or a zombie waiting to be reaped.
pub fn pid_alive(pid: u32) -> bool {
  if !pid_exists(pid) {
    return false;
  }
  if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
    // The state letter follows the last ')' (the command name may contain spaces and parentheses).
    if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.trim_start()) {
      return !matches!(rest.chars().next(), Some('Z') | Some('X') | Some('x'));
    }
  }
  true
}
