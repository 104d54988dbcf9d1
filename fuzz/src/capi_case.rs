//! The `capi` fuzz target's check, shared with `capi/tests/fuzz_regressions.rs`: C ABI
//! calls with pointers (NULL or valid), sizes, enums and flags from the input. The
//! contract under test: the return code is `ROPE_OK` or one of the documented
//! `ROPE_ERR_*` codes, a failing call leaves every buffer untouched, and nothing panics
//! or reads or writes out of bounds (run under AddressSanitizer by cargo-fuzz). Pointers
//! are always NULL or valid for the lengths passed: that part of the contract is the
//! caller's, and C cannot check it.

use super::bytes::Bytes;
use rope_simd_c::*;
use std::ptr::{null, null_mut};

fn known(rc: i32) -> bool {
    (ROPE_ERR_INTERNAL + 1..=ROPE_OK).contains(&rc)
}

/// A valid pointer into `v`, or NULL (one time in eight).
fn ptr_or_null<T>(b: &mut Bytes<'_>, v: &mut [T]) -> *mut T {
    if b.u8().is_multiple_of(8) {
        null_mut()
    } else {
        v.as_mut_ptr()
    }
}

pub fn run(data: &[u8]) {
    let mut b = Bytes(data);
    let mut freqs: Vec<f64> = (0..usize::from(b.u8() % 70))
        .map(|_| b.param(&[1.0, 0.1, 1e-3]))
        .collect();
    let config = RopeConfig {
        head_dim: u32::from(b.u16() % 600),
        rotary_dim: if b.bool() {
            0
        } else {
            u32::from(b.u16() % 600)
        },
        layout: u32::from(b.u8() % 4),
        backend: i32::from(b.u8() % 7) - 2,
        base: b.param(&[10_000.0, 500_000.0]),
        scale: b.param(&[1.0, 0.5]),
        inv_freq: if b.u8() % 4 == 0 {
            freqs.as_mut_ptr()
        } else {
            null_mut()
        },
        n_inv_freq: usize::from(b.u8()).min(freqs.len()),
    };
    let mut handle: *mut RopeHandle = null_mut();
    let cfg_ptr: *const RopeConfig = if b.u8() % 16 == 0 { null() } else { &config };
    let out_ptr: *mut *mut RopeHandle = if b.u8() % 16 == 0 {
        null_mut()
    } else {
        &mut handle
    };
    // SAFETY: the pointers are NULL or valid, as the contract asks.
    let rc = unsafe { rope_create(cfg_ptr, out_ptr) };
    assert!(known(rc), "rope_create returned {rc}");
    assert_eq!(rc == ROPE_OK, !handle.is_null());
    if rc != ROPE_OK {
        return;
    }
    for _ in 0..4 {
        call(&mut b, handle);
    }
    // SAFETY: from rope_create, destroyed once.
    unsafe { rope_destroy(handle) };
}

fn call(b: &mut Bytes<'_>, rope: *mut RopeHandle) {
    let head_dim = usize::from(b.u16() % 600);
    let heads = usize::from(b.u8() % 5);
    let tokens = usize::from(b.u8() % 5);
    let cap = tokens * heads * head_dim + usize::from(b.u8() % 3);
    let len = cap.saturating_sub(usize::from(b.u8() % 3));
    let mut x: Vec<u32> = (0..cap).map(|_| b.u32()).collect();
    let before = x.clone();
    let mut positions: Vec<u32> = (0..tokens + usize::from(b.u8() % 2))
        .map(|_| b.position() as u32)
        .collect();
    let n_positions = usize::from(b.u8() % 8).min(positions.len());
    let pos_ptr = if b.bool() {
        null_mut()
    } else {
        positions.as_mut_ptr()
    };
    let max_pos = usize::from(b.u16() % 300);
    let mut storage = vec![0f32; max_pos * 64];
    let table_len = usize::from(b.u16()).min(storage.len());
    let table = RopeTable {
        data: ptr_or_null(b, &mut storage),
        len: table_len,
        max_pos,
    };
    let table_ptr: *const RopeTable = if b.bool() { &table } else { null() };
    let start = b.position();
    let flags = u32::from(b.u8() % 16);
    let rope_ptr = if b.u8().is_multiple_of(16) {
        null_mut()
    } else {
        rope
    };
    let xp = ptr_or_null(b, &mut x);
    let (k_heads, k_len) = (usize::from(b.u8() % 3), cap / 2);
    // SAFETY (every call below): each pointer is NULL or valid for the length passed
    // with it: `len <= cap` elements of 4 bytes (or twice as many u16); for Q and K, `q`
    // is the first `cap - k_len` elements of `x` and `k` the last `k_len`, disjoint.
    let rc = unsafe {
        match b.u8() % 9 {
            0 => rope_rotate_f32(
                rope_ptr,
                table_ptr,
                xp.cast(),
                len,
                heads,
                start,
                pos_ptr,
                n_positions,
                flags,
            ),
            1 => rope_rotate_f16(
                rope_ptr,
                table_ptr,
                xp.cast(),
                2 * len,
                heads,
                start,
                pos_ptr,
                n_positions,
                flags,
            ),
            2 => rope_rotate_bf16(
                rope_ptr,
                table_ptr,
                xp.cast(),
                2 * len,
                heads,
                start,
                pos_ptr,
                n_positions,
                flags,
            ),
            3..=5 if !xp.is_null() => {
                let (q, k) = (xp, xp.add(cap - k_len));
                let q_len = cap - k_len;
                match b.u8() % 3 {
                    0 => rope_rotate_qk_f32(
                        rope_ptr,
                        table_ptr,
                        q.cast(),
                        q_len,
                        heads,
                        k.cast(),
                        k_len,
                        k_heads,
                        start,
                        pos_ptr,
                        n_positions,
                        flags,
                    ),
                    1 => rope_rotate_qk_f16(
                        rope_ptr,
                        table_ptr,
                        q.cast(),
                        2 * q_len,
                        heads,
                        k.cast(),
                        2 * k_len,
                        k_heads,
                        start,
                        pos_ptr,
                        n_positions,
                        flags,
                    ),
                    _ => rope_rotate_qk_bf16(
                        rope_ptr,
                        table_ptr,
                        q.cast(),
                        2 * q_len,
                        heads,
                        k.cast(),
                        2 * k_len,
                        k_heads,
                        start,
                        pos_ptr,
                        n_positions,
                        flags,
                    ),
                }
            }
            6 => {
                let mut n = 0usize;
                rope_table_len(rope_ptr, usize::from(b.u16()) << (b.u8() % 64), &mut n)
            }
            7 => rope_table_build(rope_ptr, max_pos, ptr_or_null(b, &mut storage), table_len),
            _ => rope_set_backend(rope_ptr, i32::from(b.u8() % 7) - 2),
        }
    };
    assert!(known(rc), "returned {rc}");
    if rc != ROPE_OK {
        assert_eq!(x, before, "a failing call (code {rc}) changed the buffer");
    }
}
