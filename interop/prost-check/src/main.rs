//! `prost-check`: the Rust side of the universal-wire interop tests, run by the TypeScript tests.
//!
//! prost-check check-vectors FILE   decode TS-written vectors, compare every field (exit 1 on mismatch)
//! prost-check check-big FILE       decode the TS-written 1 MiB FileChunk envelope and compare it
//! prost-check write-vectors FILE   write the vectors with prost
//! prost-check write-big FILE       write the 1 MiB FileChunk envelope with prost
//! prost-check protoc               print the path of the vendored protoc binary

use std::process::ExitCode;

use prost_check::{big_vector, check_stream, vectors, write_stream, PROTOC_PATH};

fn run(args: &[String]) -> Result<String, String> {
    let file = || args.get(1).ok_or_else(|| "missing FILE".to_string());
    let read = |p: &str| std::fs::read(p).map_err(|e| format!("{p}: {e}"));
    let write = |p: &str, b: Vec<u8>| {
        let n = b.len();
        std::fs::write(p, b)
            .map(|_| format!("wrote {n} bytes to {p}"))
            .map_err(|e| format!("{p}: {e}"))
    };
    match args.first().map(String::as_str) {
        Some("check-vectors") => {
            check_stream(&read(file()?)?, &vectors()).map(|n| format!("ok: {n} envelopes match"))
        }
        Some("check-big") => check_stream(&read(file()?)?, &[big_vector()])
            .map(|_| "ok: 1 MiB envelope matches".to_string()),
        Some("write-vectors") => write(file()?, write_stream(&vectors())),
        Some("write-big") => write(file()?, write_stream(&[big_vector()])),
        Some("protoc") => Ok(PROTOC_PATH.to_string()),
        _ => Err(
            "usage: prost-check check-vectors|check-big|write-vectors|write-big FILE | protoc"
                .to_string(),
        ),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("prost-check: {msg}");
            ExitCode::FAILURE
        }
    }
}
