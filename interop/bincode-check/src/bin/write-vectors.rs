//! Writes the Rust-side vectors: test-vectors/rust/rs/<case>.bin (frames by `bincode::serialize`).
//! Run: `cargo run --release -p bincode-check --bin write-vectors`.

fn main() {
    let dir = bincode_check::vectors_dir().join("rs");
    std::fs::create_dir_all(&dir).expect("create test-vectors/rust/rs");
    for case in bincode_check::cases() {
        if !bincode_check::COMMITTED.contains(&case.name) {
            continue;
        }
        let path = dir.join(format!("{}.bin", case.name));
        let frame = bincode_check::case_frame(&case);
        std::fs::write(&path, &frame).expect("write vector");
        println!("{} ({} bytes)", path.display(), frame.len());
    }
}
