//! What the macOS wait costs: wake latency of `region::poll_wait` (50 us doubling to 1 ms; macOS has no
//! public cross-process futex) next to a futex wait (Linux only), and the CPU a poller burns while
//! the word stays unchanged for 1 s. Both run here, side by side, in one process.
//!
//!   cargo run --release -p tmesh-shm --example poll-wake [wakes]
//!
//! A waker thread stores a new value into the word 0.2 to 3.2 ms after the previous one (long enough
//! for the poller to back off to its 1 ms nap) and the waiter reports how long it took to notice.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tmesh_shm::region::poll_wait;

#[cfg(target_os = "linux")]
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
  let ts = libc::timespec {
    tv_sec: timeout.as_secs() as libc::time_t,
    tv_nsec: timeout.subsec_nanos() as _,
  };
  // SAFETY: word is a valid aligned u32; FUTEX_WAIT only reads it.
  unsafe {
    libc::syscall(
      libc::SYS_futex,
      word.as_ptr(),
      libc::FUTEX_WAIT,
      expected,
      &ts as *const libc::timespec,
    )
  };
}

#[cfg(target_os = "linux")]
fn futex_wake(word: &AtomicU32) {
  // SAFETY: FUTEX_WAKE uses the address only as a key.
  unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
}

/// Sorted wake latencies in microseconds.
#[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
fn run(use_futex: bool, n: usize) -> Vec<f64> {
  let word = Arc::new(AtomicU32::new(0));
  let stamp = Arc::new(Mutex::new(Instant::now()));
  let (w2, s2) = (word.clone(), stamp.clone());
  let waker = std::thread::spawn(move || {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in 0..n {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::thread::sleep(Duration::from_micros(200 + x % 3000));
      *s2.lock().unwrap() = Instant::now();
      w2.store(i as u32 + 1, Ordering::Release);
      #[cfg(target_os = "linux")]
      if use_futex {
        futex_wake(&w2);
      }
    }
  });
  let mut lat = Vec::with_capacity(n);
  for i in 0..n as u32 {
    while word.load(Ordering::Acquire) == i {
      #[cfg(target_os = "linux")]
      if use_futex {
        futex_wait(&word, i, Duration::from_millis(100));
        continue;
      }
      poll_wait(&word, i, Duration::from_millis(100));
    }
    lat.push(stamp.lock().unwrap().elapsed().as_secs_f64() * 1e6);
  }
  waker.join().unwrap();
  lat.sort_by(|a, b| a.total_cmp(b));
  lat
}

fn main() {
  let n: usize = std::env::args()
    .nth(1)
    .and_then(|s| s.parse().ok())
    .unwrap_or(400)
    .clamp(10, 100_000);
  let kinds: &[bool] = if cfg!(target_os = "linux") {
    &[true, false]
  } else {
    &[false]
  };
  for round in 0..2 {
    for &futex in kinds {
      let l = run(futex, n);
      println!(
        "round {round} {:<5} wake latency p50 {:7.1} us  p90 {:7.1} us  p99 {:7.1} us  ({n} wakes)",
        if futex { "futex" } else { "poll" },
        l[n / 2],
        l[n * 9 / 10],
        l[n * 99 / 100]
      );
    }
  }
  if cfg!(unix) {
    let word = AtomicU32::new(0);
    let t0 = cpu_time();
    poll_wait(&word, 0, Duration::from_secs(1));
    let used = cpu_time().saturating_sub(t0);
    println!("poll, word unchanged for 1 s: {used:?} of CPU (only the polling thread runs then)");
  }
}

/// CPU time of this process (user + system), from getrusage.
#[cfg(unix)]
fn cpu_time() -> Duration {
  // SAFETY: zeroed rusage is a valid out-buffer.
  let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
  // SAFETY: ru is a valid out-pointer.
  unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
  let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
  tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(not(unix))]
fn cpu_time() -> Duration {
  Duration::ZERO
}
