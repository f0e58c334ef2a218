//! Every committed corpus and regression input through its target on stable Rust (no sanitizer): the
//! seeds are valid, and what the fuzzer once crashed on stays fixed.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
  let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
  let mut n = 0;
  for sub in ["corpus", "regressions"] {
    let Ok(dir) = std::fs::read_dir(root.join(sub).join(target)) else {
      continue;
    };
    for entry in dir {
      let path = entry.unwrap().path();
      run(&std::fs::read(&path).unwrap());
      n += 1;
    }
  }
  assert!(n > 0, "no corpus for {target}");
}

#[test]
fn ring_consume() {
  replay("ring_consume", tmesh_fuzz_harness::ring_consume);
}
#[test]
fn ring_produce() {
  replay("ring_produce", tmesh_fuzz_harness::ring_produce);
}
#[test]
fn region_header() {
  replay("region_header", tmesh_fuzz_harness::region_header);
}
#[test]
fn rust_frame() {
  replay("rust_frame", tmesh_fuzz_harness::rust_frame);
}
#[test]
fn universal_frame() {
  replay("universal_frame", tmesh_fuzz_harness::universal_frame);
}
#[test]
fn handshake() {
  replay("handshake", tmesh_fuzz_harness::handshake);
}
