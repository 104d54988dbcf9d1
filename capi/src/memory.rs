//! Memory for hosts that have no allocator of their own in this address space
//! (JavaScript with the wasm module): 8-aligned blocks from Rust's allocator.

/// Allocate `size` bytes (8-aligned) for buffers. NULL on failure or size 0.
#[no_mangle]
pub extern "C" fn rope_alloc(size: usize) -> *mut u8 {
    match core::alloc::Layout::from_size_align(size, 8) {
        // SAFETY: the layout has a non-zero size.
        Ok(l) if size > 0 => unsafe { alloc::alloc::alloc(l) },
        _ => core::ptr::null_mut(),
    }
}

/// Free memory from `rope_alloc` (NULL is ignored).
///
/// # Safety
/// `ptr` from `rope_alloc(size)` with the same `size`, freed once.
#[no_mangle]
pub unsafe extern "C" fn rope_free(ptr: *mut u8, size: usize) {
    if let (false, Ok(l)) = (ptr.is_null(), core::alloc::Layout::from_size_align(size, 8)) {
        // SAFETY: allocated by `rope_alloc` with this layout (caller).
        unsafe { alloc::alloc::dealloc(ptr, l) }
    }
}

/// Multiply `n` floats at `x` by `k` in place: a plain memory pass, the bandwidth
/// baseline the wasm benchmarks (`tests/js/bench.mjs`) measure the rotations against.
///
/// # Safety
/// `x` valid for `n` floats (NULL with `n` 0).
#[no_mangle]
pub unsafe extern "C" fn rope_scale_f32(x: *mut f32, n: usize, k: f32) {
    if x.is_null() {
        return;
    }
    // SAFETY: valid for `n` floats (caller).
    for v in unsafe { core::slice::from_raw_parts_mut(x, n) } {
        *v *= k;
    }
}
