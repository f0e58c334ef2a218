//! The TypeScript -> Rust direction on the committed files, and the Rust-written file kept current.

use prost_check::{big_vector, check_stream, read_stream, vectors, write_stream};

fn vector_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test-vectors/universal")
        .join(name)
}

#[test]
fn prost_decodes_every_typescript_vector() {
    let bytes = std::fs::read(vector_file("ts-vectors.bin")).expect("ts-vectors.bin is committed");
    let n = check_stream(&bytes, &vectors()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 6);
}

#[test]
fn committed_rust_vectors_are_what_prost_writes() {
    let committed =
        std::fs::read(vector_file("rust-vectors.bin")).expect("rust-vectors.bin is committed");
    assert!(committed == write_stream(&vectors()), "regenerate: cargo run --release -p prost-check -- write-vectors test-vectors/universal/rust-vectors.bin");
}

#[test]
fn a_corrupted_typescript_vector_is_caught() {
    let mut bytes = std::fs::read(vector_file("ts-vectors.bin")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    assert!(check_stream(&bytes, &vectors()).is_err());
}

#[test]
fn big_vector_round_trips_through_prost() {
    let bytes = write_stream(&[big_vector()]);
    assert!(bytes.len() > prost_check::BIG_SIZE);
    let envs = read_stream(&bytes).unwrap();
    assert_eq!(envs.len(), 1);
    assert!(envs[0].payload.len() > prost_check::BIG_SIZE);
    check_stream(&bytes, &[big_vector()]).unwrap();
}
