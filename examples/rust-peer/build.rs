//! Compiles the committed .proto files (written from the tmesh schemas by scripts/write-protos.ts) with
//! prost-build and the protoc binary of `protoc-bin-vendored`, so no system protoc is needed. Every
//! generated struct also derives serde, so one struct serves both wires: prost for the universal wire,
//! bincode 1.3 for the Rust wire (prost declares fields in .proto order, which is the bincode order).

fn main() {
  let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
  let protos = ["envelope.proto", "samples.proto", "link.proto", "manager.proto"].map(|p| dir.join(p));
  for p in &protos {
    println!("cargo:rerun-if-changed={}", p.display());
  }
  let protoc = protoc_bin_vendored::protoc_bin_path().expect("protoc-bin-vendored has no protoc for this platform");
  // prost-build runs the protoc named by PROTOC; a build script is single-threaded.
  std::env::set_var("PROTOC", &protoc);
  let mut config = prost_build::Config::new();
  config.btree_map(["."]);
  config.type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]");
  // serde_bytes: bincode writes the same bytes (u64 length + bytes) but reads them in one copy, not
  // byte by byte through serde's sequence visitor.
  for field in ["tmesh.FileChunk.data", "tmesh.link.Hello.nonce", "tmesh.link.Auth.proof", "tmesh.manager.ShmOffer.token", "tmesh.manager.Echo.payload"] {
    config.field_attribute(field, "#[serde(with = \"serde_bytes\")]");
  }
  config.compile_protos(&protos, &[dir]).expect("prost-build failed on examples/rust-peer/proto");
}
