//! Compiles the committed .proto files of the universal wire with the real prost-build, using the
//! protoc binary shipped inside the `protoc-bin-vendored` crate so no system package is needed.

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors/universal");
    let protos = [dir.join("envelope.proto"), dir.join("samples.proto")];
    for p in &protos {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .expect("protoc-bin-vendored has no protoc for this platform");
    // prost-build runs the protoc named by PROTOC; a build script is single-threaded.
    std::env::set_var("PROTOC", &protoc);
    println!("cargo:rustc-env=PROTOC_PATH={}", protoc.display());
    let mut config = prost_build::Config::new();
    // BTreeMap keeps map entries sorted, so re-encoding is byte-for-byte comparable with the TS encoder.
    config.btree_map(["."]);
    config
        .compile_protos(&protos, &[dir])
        .expect("prost-build failed on the universal .proto files");
}
