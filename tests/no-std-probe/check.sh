#!/bin/sh
# Proves that shmfits-core needs neither std nor an allocator nor a C runtime: builds a
# #![no_std] #![no_main] binary that uses the parser and writer, linked with -nostartfiles
# -nostdlib -static. If core pulled in std, the #[panic_handler] would collide with std's;
# if it needed alloc, linking would fail on __rust_alloc.
# The link arguments go to the probe alone (RUSTFLAGS would also hit build scripts).
set -eu
cd "$(dirname "$0")"
cargo rustc --release -- -C link-arg=-nostartfiles -C link-arg=-nostdlib -C link-arg=-static
bin="${CARGO_TARGET_DIR:-target}/release/shmfits-no-std-probe"
if command -v nm >/dev/null 2>&1; then
    if nm "$bin" | grep -E ' U ' ; then
        echo "no-std probe: undefined symbols left" >&2
        exit 1
    fi
fi
# The probe also runs (it exits through the Linux x86-64 syscall; status 0 = parser and
# writer agree).
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
    "$bin" || { echo "no-std probe: run failed with status $?" >&2; exit 1; }
fi
echo "no-std probe: OK ($bin)"
