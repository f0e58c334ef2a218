#!/usr/bin/env python3
"""Independent check of the tmesh Swift wire (SWFT frame + MessagePack) with Python `msgpack`.

    python3 check.py verify DIR [--big]   decode the frames TypeScript wrote into DIR and compare every
                                          header field (CRC-32 with zlib.crc32) and every value with the
                                          expected values below; also re-encode the expected values with
                                          `msgpack` and require the payload bytes to be identical.
    python3 check.py write DIR [--big]    write the same cases as frames encoded by `msgpack`, plus
                                          a case with shuffled keys and an unknown key, for TypeScript
                                          to decode.

--big adds the 1 MiB FileChunk (never committed). Needs: pip install msgpack==1.1.2
The expected values are written here by hand, independently of the TypeScript test vectors.
"""

import math
import os
import struct
import sys
import zlib

try:
    import msgpack
except ImportError:  # pragma: no cover - reported to the caller
    sys.stderr.write("python msgpack module missing: pip install msgpack==1.1.2\n")
    sys.exit(3)

MAGIC = 0x53574654  # "SWFT", little-endian on the wire: 54 46 57 53
VERSION = 1
HEADER = struct.Struct("<IBBHIIQI")  # magic, version, messageType, flags, payloadSize, seq, timestamp, crc
assert HEADER.size == 28
TIMESTAMP = 1_700_000_000_000
ALLTYPES, FILECHUNK, METRICS = 3, 1, 4  # message type ids (sampleMessages in @tmesh/core)

U64_MAX = 2**64 - 1
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
NAN = float("nan")
INF = float("inf")


class F32(float):
    """A value of a Swift `Float` field: MessagePack float 32 (0xca)."""


def union(case, value=None, unit=False):
    """A Swift enum with associated values, as the synthesized Codable conformance writes it."""
    return {case: {}} if unit else {case: {"_0": value}}


PRESENT = {
    "flag": True,
    "u8v": 255,
    "u16v": 65535,
    "u32v": 4294967295,
    "u64v": U64_MAX,
    "i8v": -128,
    "i16v": -32768,
    "i32v": -2147483648,
    "i64v": I64_MIN,
    "f32v": F32(NAN),
    "f64v": INF,
    "text": "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c \U0001F600",
    "blob": bytes([0, 1, 2, 0x7F, 0x80, 0xFF]),
    "maybeText": "present",
    "maybeNumber": 9007199254740993,
    "numbers": [0, -1, 127, 128, -32, -33, 255, 256, -128, -129, 65535, 65536, 2147483647, -2147483648],
    "inner": {"id": 7, "label": "inner"},
    "inners": [{"id": 1, "label": "a"}, {"id": 4294967295, "label": "\u00fc"}],
    "counts": {"zero": 0, "two32": 4294967296, "max": U64_MAX},
    "kind": "Directory",
    "op": union("Delete", {"path": "/tmp/x"}),
    "ops": [
        union("Noop", unit=True),
        union("Delete", {"path": "a"}),
        union("Rename", {"from": "old name", "to": "new n\u00e4me"}),
        union("Chmod", 493),
    ],
}

ABSENT = {
    "flag": False,
    "u8v": 0,
    "u16v": 0,
    "u32v": 0,
    "u64v": 0,
    "i8v": 127,
    "i16v": 32767,
    "i32v": 2147483647,
    "i64v": I64_MAX,
    "f32v": F32(-INF),
    "f64v": NAN,
    "text": "",
    "blob": b"",
    "numbers": [],
    "inner": {"id": 0, "label": ""},
    "inners": [],
    "counts": {},
    "kind": "File",
    "op": union("Noop", unit=True),
    "ops": [],
}


def with_fields(base, **changes):
    """`base` with some fields changed or added; keys stay in declaration order (AllTypes order)."""
    order = list(PRESENT.keys())
    merged = dict(base)
    merged.update(changes)
    return {k: merged[k] for k in order if k in merged}


VARIANTS = with_fields(
    ABSENT,
    f32v=F32(INF),
    f64v=-INF,
    u64v=4294967296,
    i64v=-1,
    kind="Symlink",
    op=union("Rename", {"from": "", "to": "x"}),
    ops=[union("Chmod", 0), union("Chmod", 4294967295)],
    maybeNumber=0,
)

FLOATS = with_fields(
    ABSENT,
    f32v=F32(1.5),
    f64v=-0.1,
    u64v=18446744073709551614,
    i64v=-4294967297,
    i32v=-33,
    i16v=-129,
    i8v=-32,
    op=union("Chmod", 420),
    maybeText="",
)

FILE_CHUNK = {"path": "docs/readme.md", "offset": 65536, "sequence": 3, "last": True, "data": bytes.fromhex("deadbeef")}

METRICS_VALUE = {
    "node": "node-\u00fc-1",
    "at": 1_700_000_000_123,
    "throughput": 1234.5,
    "latencyMicros": 0.25,
    "counters": {"sent": 10, "dropped": 0},
}

# name -> (message type id, sequence, expected value)
CASES = {
    "alltypes_present": (ALLTYPES, 1, PRESENT),
    "alltypes_absent": (ALLTYPES, 2, ABSENT),
    "alltypes_variants": (ALLTYPES, 3, VARIANTS),
    "alltypes_floats": (ALLTYPES, 4, FLOATS),
    "filechunk_small": (FILECHUNK, 5, FILE_CHUNK),
    "metrics": (METRICS, 6, METRICS_VALUE),
}


def reordered_with_extra_key(value):
    """Keys reversed, plus a key a newer Swift struct might have: the decoder must skip it."""
    items = list(value.items())[::-1]
    items.insert(3, ("addedInV2", {"nested": [1, -2, {"x": None}, [True, 1.5]], "bin": b"\x00\x01", "big": U64_MAX}))
    return dict(items)


PYTHON_ONLY = {"alltypes_reordered_extra_key": (ALLTYPES, 7, reordered_with_extra_key(PRESENT))}


def big_chunk():
    data = bytes(((i * 31 + 7) & 0xFF) for i in range(1024 * 1024))
    return {"path": "big.bin", "offset": 0, "sequence": 0, "last": False, "data": data}


def pack(value, out):
    """Encode with `msgpack` (smallest encodings); only Float fields need float 32."""
    if isinstance(value, F32):
        out += msgpack.packb(float(value), use_single_float=True)
    elif isinstance(value, dict):
        out += msgpack.Packer().pack_map_header(len(value))
        for k, v in value.items():
            pack(k, out)
            pack(v, out)
    elif isinstance(value, list):
        out += msgpack.Packer().pack_array_header(len(value))
        for v in value:
            pack(v, out)
    else:
        out += msgpack.packb(value, use_bin_type=True)
    return out


def f32_round(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def same(expected, actual, path):
    """Compare a decoded value with the expected one; raise AssertionError naming the path."""
    def fail(why):
        raise AssertionError(f"{path}: {why} (expected {expected!r}, got {actual!r})")

    if isinstance(expected, float):
        if type(actual) is not float:
            fail("not a float")
        want = f32_round(expected) if isinstance(expected, F32) else float(expected)
        if math.isnan(want):
            if not math.isnan(actual):
                fail("expected NaN")
        elif want != actual or math.copysign(1, want) != math.copysign(1, actual):
            fail("float differs")
    elif isinstance(expected, bool):
        if type(actual) is not bool or actual != expected:
            fail("bool differs")
    elif isinstance(expected, int):
        if type(actual) is not int or actual != expected:
            fail("int differs")
    elif isinstance(expected, (str, bytes)):
        if type(actual) is not type(expected) or actual != expected:
            fail("differs")
    elif isinstance(expected, list):
        if type(actual) is not list or len(actual) != len(expected):
            fail("list length differs")
        for i, (e, a) in enumerate(zip(expected, actual)):
            same(e, a, f"{path}[{i}]")
    elif isinstance(expected, dict):
        if type(actual) is not dict or set(actual) != set(expected):
            fail(f"keys differ: {sorted(map(str, actual)) if isinstance(actual, dict) else actual}")
        for k in expected:
            same(expected[k], actual[k], f"{path}.{k}")
    elif expected is None:
        if actual is not None:
            fail("expected nil")
    else:
        fail("unknown expected type")


def frame(type_id, sequence, value):
    payload = bytes(pack(value, bytearray()))
    header = HEADER.pack(MAGIC, VERSION, type_id, 0, len(payload), sequence, TIMESTAMP + sequence, zlib.crc32(payload))
    return header + payload


def verify_frame(name, data, type_id, sequence, expected):
    if len(data) < HEADER.size:
        raise AssertionError(f"{name}: {len(data)} bytes, shorter than the 28-byte header")
    magic, version, mtype, flags, size, seq, ts, crc = HEADER.unpack_from(data)
    checks = [
        ("magic", magic, MAGIC),
        ("version", version, VERSION),
        ("messageType", mtype, type_id),
        ("flags", flags, 0),
        ("payloadSize", size, len(data) - HEADER.size),
        ("sequenceNumber", seq, sequence),
        ("timestamp", ts, TIMESTAMP + sequence),
    ]
    for field, got, want in checks:
        if got != want:
            raise AssertionError(f"{name}: header {field} is {got:#x}, expected {want:#x}")
    payload = data[HEADER.size:]
    if zlib.crc32(payload) != crc:
        raise AssertionError(f"{name}: checksum {crc:#010x}, zlib.crc32 of the payload is {zlib.crc32(payload):#010x}")
    decoded = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    same(expected, decoded, name)
    mine = bytes(pack(expected, bytearray()))
    if mine != payload:
        at = next((i for i, (a, b) in enumerate(zip(mine, payload)) if a != b), min(len(mine), len(payload)))
        raise AssertionError(
            f"{name}: payload bytes differ from msgpack's encoding at offset {at}: "
            f"ours {payload[at:at + 12].hex()} vs msgpack {mine[at:at + 12].hex()}"
        )
    return len(payload)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("verify", "write"):
        sys.stderr.write(__doc__)
        return 2
    command, directory = argv[1], argv[2]
    cases = dict(CASES)
    if "--big" in argv:
        cases["filechunk_1mib"] = (FILECHUNK, 8, big_chunk())
    if command == "write":
        os.makedirs(directory, exist_ok=True)
        for name, (type_id, sequence, value) in {**cases, **PYTHON_ONLY}.items():
            data = frame(type_id, sequence, value)
            with open(os.path.join(directory, f"{name}.swft"), "wb") as f:
                f.write(data)
            print(f"wrote {name}.swft {len(data)} bytes")
        return 0
    failures = 0
    for name, (type_id, sequence, value) in cases.items():
        try:
            with open(os.path.join(directory, f"{name}.swft"), "rb") as f:
                size = verify_frame(name, f.read(), type_id, sequence, value)
            print(f"ok {name} ({size}-byte payload)")
        except (AssertionError, OSError, ValueError, msgpack.UnpackException) as e:
            failures += 1
            print(f"FAIL {name}: {e}")
    print(f"msgpack {'.'.join(map(str, msgpack.version))}: {len(cases) - failures}/{len(cases)} frames match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
