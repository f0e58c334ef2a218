//! The OS-specific parts behind one small interface: sleeping on and waking a shared u32 word, process
//! liveness, clocks and randomness.
//!
//! Linux: a real futex (not FUTEX_PRIVATE: the word lives in a shared mapping).
//! macOS and other Unix: no cross-process futex is public API, so `wait` polls the word with a short
//! sleep backoff (50 us up to 1 ms) and `wake` does nothing; compiled by cfg, untested in this repo.

use std::sync::atomic::AtomicU32;
#[cfg(not(target_os = "linux"))]
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Sleep while `*word == expected`, at most `timeout`. Spurious returns are allowed.
#[cfg(target_os = "linux")]
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
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
#[cfg(target_os = "linux")]
pub fn wake(word: &AtomicU32) {
  // SAFETY: FUTEX_WAKE takes the address only as a key.
  unsafe {
    libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
  }
}

/// Poll `word` with a growing sleep until it changes or `timeout` passes.
#[cfg(not(target_os = "linux"))]
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
  let deadline = std::time::Instant::now() + timeout;
  let mut nap = Duration::from_micros(50);
  while word.load(Ordering::Acquire) == expected && std::time::Instant::now() < deadline {
    std::thread::sleep(nap);
    nap = (nap * 2).min(Duration::from_millis(1));
  }
}

/// No-op: waiters poll (see `wait`).
#[cfg(not(target_os = "linux"))]
pub fn wake(_word: &AtomicU32) {}

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

/// True unless the process is known to be dead: no such pid, or (Linux) a zombie waiting to be reaped.
pub fn pid_alive(pid: u32) -> bool {
  if pid == 0 || pid > i32::MAX as u32 {
    return false;
  }
  // SAFETY: signal 0 only checks existence and permission.
  let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
  if r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
    return false;
  }
  #[cfg(target_os = "linux")]
  {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
      // The state letter follows the last ')' (the command name may contain spaces and parentheses).
      if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.trim_start()) {
        return !matches!(rest.chars().next(), Some('Z') | Some('X') | Some('x'));
      }
    }
  }
  true
}

/// This process's id.
pub fn my_pid() -> u32 {
  std::process::id()
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
  // Fallback that is unique, not secret: the token guards against mix-ups; OS permissions guard access.
  let n = std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .unwrap_or_default()
    .as_nanos();
  (n ^ ((my_pid() as u128) << 64)).to_le_bytes()
}
