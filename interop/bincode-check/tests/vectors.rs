//! Decodes the RUST frames the TypeScript codec wrote (test-vectors/rust/ts) with the real bincode 1.3
//! and crc32fast, and compares every field with this crate's own declaration of the cases.

use bincode_check::*;
use std::mem::{offset_of, size_of};

#[test]
fn header_layout_is_the_seeds_repr_c() {
    assert_eq!(size_of::<RustMessageHeader>(), 32);
    assert_eq!(offset_of!(RustMessageHeader, magic), 0);
    assert_eq!(offset_of!(RustMessageHeader, version), 4);
    assert_eq!(offset_of!(RustMessageHeader, message_type), 5);
    assert_eq!(offset_of!(RustMessageHeader, flags), 6);
    assert_eq!(offset_of!(RustMessageHeader, payload_size), 8);
    assert_eq!(offset_of!(RustMessageHeader, sequence_number), 12);
    assert_eq!(offset_of!(RustMessageHeader, timestamp), 16);
    assert_eq!(offset_of!(RustMessageHeader, checksum), 24);
    assert_eq!(&RUST_MAGIC.to_le_bytes(), b"TSUR");
}

fn read(sub: &str, name: &str) -> Vec<u8> {
    let path = vectors_dir().join(sub).join(format!("{name}.bin"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn typescript_frames_decode_with_real_bincode_and_match_field_by_field() {
    for case in cases() {
        if !COMMITTED.contains(&case.name) {
            continue;
        }
        let frame = read("ts", case.name);
        let (header, msg) = decode_frame(&frame).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(header.message_type, case.message.type_id(), "{}", case.name);
        assert_eq!(header.sequence_number, case.sequence, "{}", case.name);
        assert_eq!(header.timestamp, case.timestamp, "{}", case.name);
        assert_eq!(header.flags, case.flags, "{}", case.name);
        // Field by field through the exact view (float bits, 64-bit integers, bytes, map order).
        assert_eq!(
            msg.view(),
            case.message.view(),
            "{}: decoded value differs",
            case.name
        );
        // And the bytes are exactly what bincode::serialize + crc32fast write.
        assert_eq!(
            frame,
            case_frame(&case),
            "{}: TypeScript frame differs from the Rust frame",
            case.name
        );
    }
}

#[test]
fn committed_rust_vectors_are_current() {
    for case in cases() {
        if COMMITTED.contains(&case.name) {
            assert_eq!(
                read("rs", case.name),
                case_frame(&case),
                "{}: rerun write-vectors",
                case.name
            );
        }
    }
}

#[test]
fn checker_rejects_a_corrupted_frame() {
    let mut frame = read("ts", "file_chunk_small");
    let last = frame.len() - 1;
    frame[last] ^= 1;
    assert!(decode_frame(&frame).unwrap_err().contains("CRC-32"));
    let mut frame = read("ts", "all_types_full");
    frame[32] = 2; // AllTypes.flag: a bool byte of 2
    let crc = crc32fast::hash(&frame[32..]);
    frame[24..28].copy_from_slice(&crc.to_le_bytes());
    assert!(decode_frame(&frame).unwrap_err().contains("bincode"));
}

#[test]
fn small_file_chunk_payload_has_the_documented_bytes() {
    let msg = Message::FileChunk(FileChunk {
        path: "a".into(),
        offset: 1,
        sequence: 2,
        last: true,
        data: vec![0xab],
    });
    assert_eq!(
        hex(&msg.serialize()),
        "010000000000000061\
         0100000000000000\
         02000000\
         01\
         0100000000000000ab"
    );
}

#[test]
fn one_mib_case_round_trips() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "file_chunk_1mib")
        .unwrap();
    let frame = case_frame(&case);
    assert_eq!(frame.len(), 32 + 8 + 7 + 8 + 4 + 1 + 8 + 1024 * 1024);
    let (_, msg) = decode_frame(&frame).unwrap();
    assert_eq!(msg, case.message);
}
