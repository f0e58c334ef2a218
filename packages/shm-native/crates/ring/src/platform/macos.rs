//! macOS (and any other Unix that is not Linux): POSIX shm (names up to 31 bytes, PSHMNAMLEN; sized
//! by one ftruncate), FIFO doorbells in /tmp, `kill(pid, 0)` for liveness.
//!
//! There is no public cross-process futex on macOS (`__ulock_wait` with UL_COMPARE_AND_WAIT_SHARED is
//! private API that may change), so a blocking Rust call polls the shared word with a sleep that grows
//! from 50 us to 1 ms, and `wake` does nothing. A Node end still sleeps on its FIFO doorbell.
//! Compiled for x86_64-apple-darwin in CI; not run in this repository.

pub use super::unix::*;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Where the doorbell FIFOs go (macOS has no file system view of shm objects).
pub fn bell_dir() -> &'static str {
  "/tmp"
}

/// Names of regions found through their creators' doorbell FIFOs (`<prefix><name>.bell-c` in /tmp):
/// macOS cannot list shm objects, so a region whose creator has no doorbell is not found.
pub fn list_names(prefix: &str) -> Vec<String> {
  let Ok(dir) = std::fs::read_dir(bell_dir()) else {
    return Vec::new();
  };
  dir
    .flatten()
    .filter_map(|e| {
      let f = e.file_name().to_string_lossy().into_owned();
      f.strip_prefix(prefix)?.strip_suffix(".bell-c").map(str::to_owned)
    })
    .collect()
}

/// Nothing to open: waiters poll the word.
pub struct Waiters;

impl Waiters {
  /// No per-region objects.
  pub fn open(_os_name: &str) -> crate::error::Result<Waiters> {
    Ok(Waiters)
  }

  /// Poll `word` with a growing sleep until it changes or `timeout` passes.
  pub fn wait(&self, _slot: usize, word: &AtomicU32, expected: u32, timeout: Duration) {
    super::poll_wait(word, expected, timeout);
  }

  /// No-op: waiters poll.
  pub fn wake(&self, _slot: usize, _word: &AtomicU32) {}
}

/// False if there is no such process. (A zombie counts as alive until reaped: no /proc here.)
pub fn pid_alive(pid: u32) -> bool {
  pid_exists(pid)
}
