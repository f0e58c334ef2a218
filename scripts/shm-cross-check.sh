#!/usr/bin/env bash
# The shared-memory crate on the platforms this machine is not: compiles and lints tmesh-shm (every
# target: lib, tests, examples) for macOS and Windows, runs the tmesh-shm tests as Windows binaries
# under wine (scripts/windows-wine-test.sh), and lints the napi crate for Windows. Called by the test job
# of scripts/tmesh-run.mjs; adds the rustup targets and clippy when missing.
#
# Not covered: the napi crate for macOS (zstd-sys compiles C and needs the macOS SDK, which is not
# here), and running anything on macOS.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS

installed="$(rustup target list --installed)"
for t in x86_64-apple-darwin x86_64-pc-windows-gnu; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t" >&2
done
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy >&2

for t in x86_64-apple-darwin x86_64-pc-windows-gnu; do
  echo "shm-cross-check: cargo clippy -p tmesh-shm --all-targets --target $t" >&2
  cargo clippy --quiet -p tmesh-shm --all-targets --target "$t" -- -D warnings
done

# Runs the tests under wine; installs the mingw-w64 C compiler the napi crate's zstd-sys needs below.
bash "$root/scripts/windows-wine-test.sh"

# napi-build wants libnode.dll for windows-gnu, to link against; clippy does not link, so an empty
# stand-in satisfies the build script.
libnode="$root/target/libnode-stand-in"
mkdir -p "$libnode"
: >"$libnode/libnode.dll"
if command -v x86_64-w64-mingw32-gcc >/dev/null; then
  echo "shm-cross-check: cargo clippy -p tmesh-shm-node --target x86_64-pc-windows-gnu" >&2
  LIBNODE_PATH="$libnode" cargo clippy --quiet -p tmesh-shm-node --target x86_64-pc-windows-gnu -- -D warnings
else
  echo "shm-cross-check: skipped the napi crate for Windows: no x86_64-w64-mingw32-gcc" >&2
fi

echo "shm-cross-check: macOS and Windows checks passed in $((SECONDS - started)) s" >&2
