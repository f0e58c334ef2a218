//! Channel tests on real shared memory (POSIX shm; a file mapping on Windows): naming, owner and token
//! checks, blocking send/recv across threads with backpressure, close and unlink, stale-region reclaim,
//! listing and cleanup. Two-process tests are in tests/process.rs.

#[cfg(unix)]
use std::sync::atomic::Ordering;
use std::time::Duration;
#[cfg(unix)]
use tmesh_shm::layout::*;
use tmesh_shm::region;
#[cfg(unix)]
use tmesh_shm::{cleanup_stale, list_regions};
use tmesh_shm::{Channel, ChannelOptions, MessageMeta, PeerState};

fn uniq(tag: &str) -> String {
  format!("t{}-{tag}", std::process::id() % 100_000)
}

fn shm_exists(name: &str) -> bool {
  region::region_exists(name)
}

/// Held by the tests that leave a stale region behind and by the one that removes every stale region
/// of this user (`cleanup_stale`), which would otherwise delete the others' regions mid-test.
#[cfg(unix)]
static STALE_REGIONS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Both ends of a test channel use this token (open requires the creator's token).
const TOKEN: [u8; 16] = *b"tmesh-test-token";

fn opts() -> ChannelOptions {
  ChannelOptions {
    capacity: 1 << 16,
    token: Some(TOKEN),
    ..Default::default()
  }
}

#[test]
fn bad_names_are_refused_with_e_shm_name() {
  for bad in [
    "",
    "a/b",
    "with space",
    "dot.name",
    "x".repeat(25).as_str(),
    "ünï",
  ] {
    let e = Channel::create(bad, &opts()).err().expect(bad);
    assert_eq!(e.code(), "E_SHM_NAME", "{bad:?}");
    assert_eq!(Channel::open(bad, &opts()).err().unwrap().code(), "E_SHM_NAME");
  }
  assert!(region::validate_name(&"x".repeat(24)).is_ok());
}

#[test]
fn open_of_a_missing_channel_is_not_found() {
  assert_eq!(
    Channel::open(&uniq("missing"), &opts()).err().unwrap().code(),
    "E_SHM_NOT_FOUND"
  );
}

#[test]
fn duplex_send_and_receive_across_threads_with_backpressure() {
  let name = uniq("duplex");
  let mut a = Channel::create(&name, &opts()).unwrap();
  let token = a.token();
  let mut b = Channel::open(
    &name,
    &ChannelOptions {
      token: Some(token),
      ..opts()
    },
  )
  .unwrap();
  assert_eq!(a.peer_state(true), PeerState::Alive);
  let n = 20_000u32;
  let t = std::thread::spawn(move || {
    for i in 0..n {
      let len = (i as usize * 37) % 3000 + if i % 1000 == 0 { 200_000 } else { 0 };
      let data = vec![(i % 251) as u8; len];
      a.send(
        &data,
        MessageMeta {
          message_type: 9,
          ..Default::default()
        },
        Some(Duration::from_secs(20)),
      )
      .unwrap();
    }
    let reply = a.recv(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(reply.data, b"done");
    a
  });
  for i in 0..n {
    let m = b.recv(Some(Duration::from_secs(20))).unwrap();
    let len = (i as usize * 37) % 3000 + if i % 1000 == 0 { 200_000 } else { 0 };
    assert_eq!(m.data.len(), len);
    assert!(m.data.iter().all(|&x| x == (i % 251) as u8));
    assert_eq!((m.meta.sequence, m.meta.message_type), (i, 9));
  }
  b.try_send(b"done", MessageMeta::default()).unwrap();
  let mut a = t.join().unwrap();
  a.close();
  assert!(shm_exists(&name), "the region stays while the opener is open");
  assert_eq!(b.try_recv().err().unwrap().code(), "E_CLOSED");
  b.close();
  // Windows removes a mapping with its last handle, which the Channel values hold until dropped.
  drop((a, b));
  assert!(!shm_exists(&name), "unlinked when both ends closed");
}

#[test]
fn try_send_says_full_and_recv_times_out() {
  let name = uniq("full");
  let mut a = Channel::create(
    &name,
    &ChannelOptions {
      capacity: 4096,
      ..opts()
    },
  )
  .unwrap();
  let mut b = Channel::open(&name, &opts()).unwrap();
  let e = b.recv(Some(Duration::from_millis(50))).err().unwrap();
  assert_eq!(e.code(), "E_TIMEOUT");
  let mut sent = 0;
  loop {
    match a.try_send(&[1u8; 500], MessageMeta::default()) {
      Ok(()) => sent += 1,
      Err(e) => {
        assert_eq!(e.code(), "E_SHM_FULL");
        break;
      }
    }
  }
  assert!(sent >= 6);
  let e = a
    .send(
      &[1u8; 500],
      MessageMeta::default(),
      Some(Duration::from_millis(50)),
    )
    .err()
    .unwrap();
  assert_eq!(e.code(), "E_TIMEOUT");
}

#[test]
fn a_second_create_is_refused_and_a_third_end_too() {
  let name = uniq("exists");
  let _a = Channel::create(&name, &opts()).unwrap();
  assert_eq!(
    Channel::create(&name, &opts()).err().unwrap().code(),
    "E_SHM_EXISTS"
  );
  let _b = Channel::open(&name, &opts()).unwrap();
  assert_eq!(
    Channel::open(&name, &opts()).err().unwrap().code(),
    "E_SHM_EXISTS"
  );
}

#[test]
fn a_wrong_token_is_refused() {
  let name = uniq("token");
  let _a = Channel::create(
    &name,
    &ChannelOptions {
      token: Some([7; 16]),
      ..opts()
    },
  )
  .unwrap();
  let e = Channel::open(
    &name,
    &ChannelOptions {
      token: Some([8; 16]),
      ..opts()
    },
  )
  .err()
  .unwrap();
  assert_eq!(e.code(), "E_SHM_TOKEN");
  // No token at all is refused too: the same uid is not enough to attach.
  let e = Channel::open(
    &name,
    &ChannelOptions {
      token: None,
      ..opts()
    },
  )
  .err()
  .unwrap();
  assert_eq!(e.code(), "E_SHM_TOKEN");
  assert!(Channel::open(
    &name,
    &ChannelOptions {
      token: Some([7; 16]),
      ..opts()
    }
  )
  .is_ok());
}

#[cfg(target_os = "linux")] // changes the mode through /dev/shm; Windows: tests/process.rs
#[test]
fn a_region_of_another_user_or_with_a_wide_mode_is_refused() {
  let name = uniq("owner");
  let a = Channel::create(&name, &opts()).unwrap();
  let path = std::ffi::CString::new(format!("/dev/shm/tmesh-{name}")).unwrap();
  // SAFETY: path is a valid C string.
  unsafe { libc::chmod(path.as_ptr(), 0o644) };
  assert_eq!(Channel::open(&name, &opts()).err().unwrap().code(), "E_SHM_OWNER");
  // SAFETY: as above.
  unsafe { libc::chmod(path.as_ptr(), 0o600) };
  // SAFETY: geteuid has no preconditions.
  if unsafe { libc::geteuid() } == 0 {
    // SAFETY: as above.
    unsafe { libc::chown(path.as_ptr(), 65534, 65534) };
    assert_eq!(Channel::open(&name, &opts()).err().unwrap().code(), "E_SHM_OWNER");
  } else {
    eprintln!("skipped the other-uid case: needs root to chown");
  }
  drop(a);
}

// Forges a dead creator and leaks the handle: meaningful where regions are unlinked by name. Windows
// (gone with the last handle) is covered with real processes in tests/process.rs.
#[cfg(unix)]
#[test]
fn a_region_whose_creator_died_is_reclaimed_on_open_and_on_create() {
  let _serial = STALE_REGIONS.lock().unwrap_or_else(|e| e.into_inner());
  let name = uniq("stale");
  let a = Channel::create(&name, &opts()).unwrap();
  // Pretend the creator died: a pid above pid_max cannot exist.
  a.mapping()
    .u32_at(OFF_CREATOR + END_PID)
    .store(0x7fff_fff0, Ordering::Release);
  std::mem::forget(a);
  assert!(list_regions()
    .iter()
    .any(|r| r.name == name && r.status == "stale"));
  let e = Channel::open(&name, &opts()).err().unwrap();
  assert_eq!(e.code(), "E_PEER_GONE");
  assert!(!shm_exists(&name));

  let b = Channel::create(&name, &opts()).unwrap();
  b.mapping()
    .u32_at(OFF_CREATOR + END_PID)
    .store(0x7fff_fff0, Ordering::Release);
  std::mem::forget(b);
  let c = Channel::create(&name, &opts()).expect("create reclaims a stale region");
  drop(c);
  assert!(!shm_exists(&name));
}

#[cfg(unix)] // Windows cannot list named mappings
#[test]
fn cleanup_removes_stale_regions_only() {
  let _serial = STALE_REGIONS.lock().unwrap_or_else(|e| e.into_inner());
  let live = uniq("live");
  let dead = uniq("dead");
  let _l = Channel::create(&live, &opts()).unwrap();
  let d = Channel::create(
    &dead,
    &ChannelOptions {
      doorbell: true,
      ..opts()
    },
  )
  .unwrap();
  d.mapping()
    .u32_at(OFF_CREATOR + END_PID)
    .store(0x7fff_fff0, Ordering::Release);
  std::mem::forget(d);
  let removed = cleanup_stale();
  assert!(removed.contains(&dead));
  assert!(!removed.contains(&live));
  assert!(!shm_exists(&dead));
  assert!(!std::path::Path::new(&region::bell_path(&dead, true)).exists());
  assert!(shm_exists(&live));
}
