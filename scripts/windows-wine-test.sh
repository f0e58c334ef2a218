#!/usr/bin/env bash
# Runs the tmesh-shm crate's tests as Windows binaries under wine: the Windows platform layer (named
# file mappings with a this-user-only DACL, named events, OpenProcess liveness) in real separate
# processes (tests/process.rs), not just compiled. Installs what it needs when missing (as root on
# Debian: gcc-mingw-w64-x86-64 as the linker, wine; rustup's x86_64-pc-windows-gnu target).
#
#   bash scripts/windows-wine-test.sh [extra cargo test args]
#
# Wine is not Windows: it shows that the code drives the Win32 API correctly across processes as wine
# implements it. Two things differ from Windows here: wine 8 (Debian 12) gives a mapping made with the
# default security no owner, and it lacks ProcessPrng (bcryptprimitives.dll), which Rust's std calls at
# start-up since Rust 1.78, so a 10-line stand-in DLL built below provides it from RtlGenRandom.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=x86_64-pc-windows-gnu
started=$SECONDS

skip() {
  if [ -n "${CI:-}" ]; then
    echo "windows-wine-test: $1 (required in CI)" >&2
    exit 1
  fi
  echo "windows-wine-test: skipped: $1" >&2
  exit 0
}

if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! command -v wine >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "windows-wine-test: installing gcc-mingw-w64-x86-64 and wine" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      gcc-mingw-w64-x86-64 wine wine64 >/dev/null
  else
    skip "needs x86_64-w64-mingw32-gcc and wine (apt-get install gcc-mingw-w64-x86-64 wine wine64, as root)"
  fi
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  rustup target add "$target" >&2 || skip "rustup target add $target failed"
fi

# A prefix of our own, so ~/.wine is left alone and later runs reuse it. Outside the repository: a
# prefix holds a symlink to / (dosdevices/z:) that tools walking the tree must not meet.
export WINEPREFIX="${WINEPREFIX:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/tmesh-wine-prefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}" # no Mono/Gecko install prompts
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "windows-wine-test: creating the wine prefix $WINEPREFIX" >&2
  mkdir -p "$WINEPREFIX"
  wine wineboot --init >/dev/null 2>&1 || true
fi

# wine < 9 has no ProcessPrng: build the stand-in into the prefix's system32.
wine_major="$(wine --version 2>/dev/null | sed -E 's/^wine-([0-9]+).*/\1/')"
prng_dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ "${wine_major:-0}" -lt 9 ] && [ ! -f "$prng_dll" ]; then
  shim="$(mktemp -d)"
  cat >"$shim/prng.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len); /* RtlGenRandom, advapi32 */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
C
  printf 'LIBRARY bcryptprimitives\nEXPORTS\nProcessPrng\n' >"$shim/prng.def"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$prng_dll" "$shim/prng.c" "$shim/prng.def" -ladvapi32
  rm -rf "$shim"
fi

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
cd "$root"
timeout 900 cargo test -p tmesh-shm --target "$target" --release "$@"
echo "windows-wine-test: tmesh-shm tests passed under $(wine --version) in $((SECONDS - started)) s" >&2
