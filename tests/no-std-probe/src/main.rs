//! A `#![no_std]`, `#![no_main]` binary that builds a FITS header with the writer and parses
//! it with every entry point (card, header, HDU walk, stream). It links with no C runtime,
//! no std and no allocator; see `check.sh`.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use shmfits_core::fits::{
    pad_data, Card, CardValue, Hdus, Header, HeaderBuilder, HeaderStream, Status, BLOCK_LEN,
};

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// The prebuilt `core` references this symbol even with `panic = "abort"`.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

// Without a C library, the memory functions LLVM calls for copies and comparisons must come
// from somewhere (compiler_builtins only provides them on bare-metal targets). Volatile
// accesses keep LLVM from turning these loops back into calls to themselves.

/// `memcpy` for the probe.
///
/// # Safety
/// `dest` and `src` must be valid for `n` bytes and not overlap.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees both ranges are valid for `n` bytes.
        unsafe { core::ptr::write_volatile(dest.add(i), core::ptr::read_volatile(src.add(i))) };
        i += 1;
    }
    dest
}

/// `memmove` for the probe.
///
/// # Safety
/// `dest` and `src` must be valid for `n` bytes (they may overlap).
#[no_mangle]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize) <= (src as usize) {
        // SAFETY: forwards copy is correct when dest is below src.
        unsafe { memcpy(dest, src, n) }
    } else {
        let mut i = n;
        while i > 0 {
            i -= 1;
            // SAFETY: the caller guarantees both ranges are valid for `n` bytes.
            unsafe { core::ptr::write_volatile(dest.add(i), core::ptr::read_volatile(src.add(i))) };
        }
        dest
    }
}

/// `memset` for the probe.
///
/// # Safety
/// `dest` must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees the range is valid for `n` bytes.
        unsafe { core::ptr::write_volatile(dest.add(i), c as u8) };
        i += 1;
    }
    dest
}

/// `memcmp` for the probe.
///
/// # Safety
/// `a` and `b` must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees both ranges are valid for `n` bytes.
        let (x, y) = unsafe {
            (
                core::ptr::read_volatile(a.add(i)),
                core::ptr::read_volatile(b.add(i)),
            )
        };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// `bcmp` for the probe.
///
/// # Safety
/// `a` and `b` must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// Writes a small file, parses it with every entry point; `true` if everything agrees.
fn work() -> bool {
    const LONG: &str = "a long string value that needs more than one card because it is longer than sixty-eight characters";
    let mut file = [0u8; 2 * BLOCK_LEN];
    let (head, rest) = file.split_at_mut(BLOCK_LEN);
    let mut b = HeaderBuilder::new(head);
    let wrote = b.logical("SIMPLE", true, Some("conforms")).is_ok()
        & b.integer("BITPIX", 16, None).is_ok()
        & b.integer("NAXIS", 1, None).is_ok()
        & b.integer("NAXIS1", 100, None).is_ok()
        & b.real("EXPTIME", black_box(1.5e-3), Some("s")).is_ok()
        & b.card("Z", CardValue::ComplexReal(1.0, -2.5), None).is_ok()
        & b.long_string("LONG", black_box(LONG), None).is_ok()
        & (b.finish() == Ok(BLOCK_LEN))
        & (pad_data(rest, 200) == Ok(BLOCK_LEN));
    let mut hdus = 0;
    let mut cards = 0;
    let mut axes = 0;
    let mut data = 0;
    for hdu in Hdus::new(black_box(&file)) {
        let Ok(hdu) = hdu else { return false };
        hdus += 1;
        data += hdu.data_len();
        cards += hdu.cards().flatten().count();
        axes += hdu.axes().sum::<u64>();
    }
    let mut long_len = 0;
    let mut exptime = 0.0;
    if let Ok(h) = Header::parse(black_box(&file)) {
        if let Some(ls) = h.long_string("LONG") {
            let mut buf = [0u8; 200];
            long_len = ls.copy_unescaped(&mut buf).unwrap_or(0);
            if buf.get(..long_len) != Some(LONG.as_bytes()) {
                return false;
            }
        }
        exptime = h
            .get("EXPTIME")
            .and_then(|c| c.value().and_then(|v| v.as_f64()))
            .unwrap_or(0.0);
    }
    let key_ok = matches!(Card::parse(black_box(&file[..80]), 0), Ok(c) if c.keyword() == "SIMPLE");
    let mut s = HeaderStream::new(0, 0);
    let streamed = matches!(s.push(black_box(&file[..BLOCK_LEN])), Ok(Status::Complete(l)) if l.data_len() == 200);
    wrote
        && hdus == 1
        && data == 200
        && cards == 8
        && axes == 100
        && long_len == LONG.len()
        && exptime == 1.5e-3
        && key_ok
        && streamed
}

/// Exits the process with `code` (Linux x86-64 `exit_group`; elsewhere, spins).
fn exit(code: i32) -> ! {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    // SAFETY: exit_group takes one integer argument and does not return.
    unsafe {
        core::arch::asm!("syscall", in("rax") 231, in("rdi") code, options(noreturn));
    }
    #[allow(unreachable_code)]
    loop {
        let _ = code;
        core::hint::spin_loop();
    }
}

/// The work, then exit: status 0 if the parser and writer agree, 1 if not.
extern "C" fn probe_main() -> ! {
    exit(if black_box(work()) { 0 } else { 1 })
}

/// Entry point without a C runtime. The kernel enters with the stack 16-byte aligned and no
/// return address, so align it as a call would and call [`probe_main`].
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[no_mangle]
pub extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "xor ebp, ebp",
        "and rsp, -16",
        "call {main}",
        "ud2",
        main = sym probe_main,
    )
}

/// Entry point without a C runtime (other architectures: link-only).
#[cfg(not(target_arch = "x86_64"))]
#[no_mangle]
pub extern "C" fn _start() -> ! {
    probe_main()
}
