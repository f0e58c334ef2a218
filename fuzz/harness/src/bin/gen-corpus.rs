//! Write the seed corpus: fuzz/corpus/<target>/seed-* (existing seed files are replaced; inputs the
//! fuzzer added are left alone). Usage: gen-corpus [corpus dir, default fuzz/corpus].

fn main() -> std::io::Result<()> {
  let dir = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus".into());
  let mut n = 0;
  for (target, name, bytes) in tmesh_fuzz_harness::seeds::all() {
    let d = std::path::Path::new(&dir).join(target);
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join(name), bytes)?;
    n += 1;
  }
  println!("wrote {n} seeds under {dir}");
  Ok(())
}
