//! `bincode-check decode <frame.bin>`: check a RUST frame with the real bincode/crc32fast and print
//! the JSON view of its header and value (exit 1 with the reason on stderr if anything is wrong).
//! `bincode-check write <case> <out.bin>`: write this crate's frame for one vector case.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["decode", path] => {
            let frame = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    eprintln!("read {path}: {e}");
                    return ExitCode::from(2);
                }
            };
            match bincode_check::decode_frame(&frame) {
                Ok((header, msg)) => {
                    println!("{}", bincode_check::frame_view(&header, &msg).to_json());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{path}: {e}");
                    ExitCode::from(1)
                }
            }
        }
        ["write", name, out] => {
            let Some(case) = bincode_check::cases().into_iter().find(|c| c.name == *name) else {
                eprintln!("no case named {name}");
                return ExitCode::from(2);
            };
            std::fs::write(out, bincode_check::case_frame(&case)).expect("write frame");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: bincode-check decode <frame.bin> | write <case> <out.bin>");
            ExitCode::from(2)
        }
    }
}
