//! The `capi` fuzz target's check, shared with `capi/tests/fuzz_regressions.rs`: C ABI
//! calls with pointers (NULL or valid), sizes, enums, views, strides, windows and
//! positions from the input. The contract under test: the return code is `ROPE_OK` or
//! one of the documented `ROPE_ERR_*` codes, with a NUL-terminated detail message; a
//! failing call leaves every buffer untouched; a successful `rope_apply` or
//! `rope_apply_into` gives the Rust API's bits; and nothing panics or reads or writes
//! out of bounds (run under AddressSanitizer by cargo-fuzz). Pointers are always NULL
//! or valid for the lengths passed: that part of the contract is the caller's, and C
//! cannot check it.

#[path = "capi_gguf.rs"]
mod capi_gguf;

use super::bytes::Bytes;
use rope_simd::{
    bf16, f16, Axes, Backend, ContextLengths, Direction, Llama3, LongRope, LongRopeChoice,
    PairLayout, Positions, Rope, Rotate, Scaling, View, Yarn,
};
use rope_simd_c::*;
use std::ffi::c_void;
use std::ptr::{null, null_mut};

fn known(rc: i32) -> bool {
    (ROPE_ERR_MISMATCH..=ROPE_OK).contains(&rc) && rc != ROPE_ERR_INTERNAL
}

fn empty_info() -> RopeErrorInfo {
    RopeErrorInfo {
        code: 1,
        message: [0; ROPE_ERROR_MESSAGE_LEN],
    }
}

/// `rc` is a known code; on failure `info` holds it and a message.
fn check(rc: i32, info: &RopeErrorInfo, what: &str) {
    assert!(known(rc), "{what} returned {rc}");
    if rc != ROPE_OK {
        assert_eq!(info.code, rc, "{what}: the info's code");
        let end = info
            .message
            .iter()
            .position(|&c| c == 0)
            .expect("NUL-terminated");
        assert!(end > 10, "{what}: a terse message");
    }
}

pub fn run(data: &[u8]) {
    let mut b = Bytes(data);
    if b.u8() % 4 == 0 {
        return other_constructors(&mut b);
    }
    let head_dim = 2 * usize::from(b.u8() % 40);
    let rotary_dim = if b.bool() {
        0
    } else {
        2 * usize::from(b.u8() % 40)
    };
    let layout = u32::from(b.u8() % 4);
    let base = b.param(&[10_000.0, 500_000.0]);
    let scale = b.param(&[1.0, 0.5]);
    let backends = Backend::available().collect::<Vec<_>>();
    let backend = backends[usize::from(b.u8()) % backends.len()];
    let mut config = std::mem::MaybeUninit::<RopeConfig>::uninit();
    // SAFETY: a valid pointer; init writes every field.
    let mut config = unsafe {
        rope_config_init(config.as_mut_ptr(), head_dim as u32);
        config.assume_init()
    };
    config.rotary_dim = rotary_dim as u32;
    config.layout = layout;
    config.base = base;
    config.scale = scale;
    config.backend = code_of(backend);
    if b.u8().is_multiple_of(16) {
        config.size -= 8; // an older, unknown size: an error
    }
    // The same description through the Rust API, for the bits.
    let rust = Rope::builder(head_dim)
        .rotary_dim(if rotary_dim == 0 {
            head_dim
        } else {
            rotary_dim
        })
        .layout(match layout {
            0 => PairLayout::Interleaved,
            1 => PairLayout::HalfSplit,
            _ => PairLayout::InterleavedToHalfSplit,
        })
        .base(base)
        .scale(scale)
        .backend(backend)
        .build();
    // In caller memory half the time (the no_std way), else on the heap.
    let mut mem = vec![0u64; rope_handle_size().div_ceil(8) + 1];
    let (mem_ptr, mem_size) = match b.u8() % 4 {
        0 => (null_mut(), 0),
        1 => (mem.as_mut_ptr().cast::<c_void>(), usize::from(b.u16())), // maybe too small
        _ => (mem.as_mut_ptr().cast::<c_void>(), mem.len() * 8),
    };
    let mut handle: *mut RopeHandle = null_mut();
    let mut info = empty_info();
    let cfg_ptr: *const RopeConfig = if b.u8().is_multiple_of(16) {
        null()
    } else {
        &config
    };
    // SAFETY: the pointers are NULL or valid, as the contract asks.
    let rc = unsafe { rope_create(cfg_ptr, mem_ptr, mem_size, &mut handle, &mut info) };
    check(rc, &info, "rope_create");
    assert_eq!(rc == ROPE_OK, !handle.is_null());
    if rc != ROPE_OK {
        return;
    }
    let rust = rust.expect("the C ABI built what the Rust API refuses");
    for _ in 0..4 {
        call(&mut b, handle, &rust);
    }
    backend_and_memory(&mut b, handle, &rust);
    // SAFETY: from rope_create, destroyed once.
    unsafe { rope_destroy(handle) };
}

/// The C header's code for a backend, written out here (not the library's own mapping),
/// so that the checks below compare the library against the header.
fn code_of(x: Backend) -> i32 {
    match x {
        Backend::Scalar => ROPE_BACKEND_SCALAR,
        Backend::Lanes => ROPE_BACKEND_LANES,
        Backend::Avx2 => ROPE_BACKEND_AVX2,
        Backend::Avx512 => ROPE_BACKEND_AVX512,
        Backend::Avx512Bf16 => ROPE_BACKEND_AVX512_BF16,
        Backend::Neon => ROPE_BACKEND_NEON,
        _ => ROPE_BACKEND_NEON_BF16,
    }
}

/// The backend and memory entry points on a live handle: every backend value's name and
/// availability (unknown values included), switching backends (an unavailable or unknown
/// one is an error that changes nothing), the description's info, and the allocator and
/// memory pass the JavaScript module uses.
fn backend_and_memory(b: &mut Bytes<'_>, handle: *mut RopeHandle, rust: &Rope) {
    // SAFETY (the calls below): `handle` is live and ours; the other pointers are NULL or
    // valid for the lengths passed.
    // (The calls above may have switched it.)
    let before = unsafe { rope_backend(handle) };
    assert!(
        Backend::available().any(|x| code_of(x) == before),
        "rope_backend: {before}"
    );
    assert_eq!(unsafe { rope_backend(null()) }, ROPE_ERR_NULL);
    // -2 and 7 are unknown, -1 is ROPE_BACKEND_AUTO.
    let asked = i32::from(b.u8() % 10) - 2;
    // SAFETY: a static NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(rope_backend_name(asked)) }
        .to_str()
        .expect("an ASCII name");
    let known = Backend::ALL.iter().copied().find(|&x| code_of(x) == asked);
    match known {
        Some(x) => {
            assert_eq!(name, x.name(), "rope_backend_name");
            assert_eq!(rope_backend_available(asked), i32::from(x.is_available()));
        }
        None if asked == ROPE_BACKEND_AUTO => assert_eq!(name, "auto"),
        None => {
            assert_eq!(name, "unknown");
            assert_eq!(rope_backend_available(asked), 0);
        }
    }
    let best = rope_best_backend();
    assert_eq!(best, code_of(Backend::detect()));
    assert_eq!(rope_backend_available(best), 1);
    let mut info = empty_info();
    let rc = unsafe { rope_set_backend(handle, asked, &mut info) };
    check(rc, &info, "rope_set_backend");
    let after = unsafe { rope_backend(handle) };
    if rc == ROPE_OK {
        let want = if asked == ROPE_BACKEND_AUTO {
            best
        } else {
            asked
        };
        assert_eq!(after, want, "rope_set_backend");
    } else {
        assert!(known.is_none_or(|x| !x.is_available()), "a backend refused");
        assert_eq!(
            after, before,
            "a failing rope_set_backend changed the backend"
        );
    }
    let rc = unsafe { rope_set_backend(null_mut(), asked, &mut info) };
    assert_eq!(rc, ROPE_ERR_NULL);
    let mut ri = std::mem::MaybeUninit::<RopeInfo>::uninit();
    assert_eq!(unsafe { rope_info(handle, ri.as_mut_ptr()) }, ROPE_OK);
    // SAFETY: rope_info succeeded, so it wrote every field.
    let ri = unsafe { ri.assume_init() };
    assert_eq!(
        (ri.head_dim, ri.rotary_dim, ri.pairs, ri.axes, ri.scale),
        (
            rust.head_dim() as u32,
            rust.rotary_dim() as u32,
            rust.pairs() as u32,
            rust.axes().count() as u32,
            rust.scale()
        ),
        "rope_info"
    );
    assert_ne!(unsafe { rope_info(handle, null_mut()) }, ROPE_OK);
    assert_ne!(unsafe { rope_info(null(), &mut ri_out()) }, ROPE_OK);
    // The frequencies and a position's cos/sin: the Rust values, or (a buffer short of
    // the pairs, a position past 2^53) an error that writes nothing.
    let pairs = rust.pairs();
    let len = match b.u8() % 4 {
        0 => pairs.saturating_sub(1 + usize::from(b.u8() % 4)),
        _ => pairs + usize::from(b.u8() % 3),
    };
    let position = match b.u8() % 4 {
        0 => rope_simd::MAX_POSITION + u64::from(b.u8()),
        1 => b.u64() % rope_simd::MAX_POSITION,
        _ => u64::from(b.u32()),
    };
    let mut freqs = vec![-1.0f64; len];
    let rc = unsafe { rope_inv_freqs(handle, freqs.as_mut_ptr(), len, &mut info) };
    check(rc, &info, "rope_inv_freqs");
    if len >= pairs {
        assert_eq!(rc, ROPE_OK);
        assert_eq!(&freqs[..pairs], rust.inv_freqs(), "rope_inv_freqs");
        assert!(
            freqs[pairs..].iter().all(|&f| f == -1.0),
            "rope_inv_freqs past the pairs"
        );
    } else {
        assert_eq!(rc, ROPE_ERR_WRONG_LENGTH);
        assert!(
            freqs.iter().all(|&f| f == -1.0),
            "a failing rope_inv_freqs wrote"
        );
    }
    let (mut cos, mut sin) = (vec![-2.0f32; len], vec![-2.0f32; len]);
    let rc = unsafe {
        rope_cos_sin(
            handle,
            position,
            cos.as_mut_ptr(),
            sin.as_mut_ptr(),
            len,
            &mut info,
        )
    };
    check(rc, &info, "rope_cos_sin");
    if len >= pairs && position < rope_simd::MAX_POSITION {
        assert_eq!(rc, ROPE_OK);
        for i in 0..pairs {
            let (c, s) = rust.cos_sin(position, i);
            assert_eq!(
                (cos[i].to_bits(), sin[i].to_bits()),
                (c.to_bits(), s.to_bits()),
                "rope_cos_sin"
            );
        }
    } else {
        assert_ne!(rc, ROPE_OK);
        assert!(
            cos.iter().chain(&sin).all(|&v| v == -2.0),
            "a failing rope_cos_sin wrote"
        );
    }
    assert_eq!(
        unsafe { rope_inv_freqs(null(), freqs.as_mut_ptr(), len, &mut info) },
        ROPE_ERR_NULL
    );
    assert_eq!(
        unsafe { rope_cos_sin(handle, 0, null_mut(), sin.as_mut_ptr(), len, &mut info) },
        ROPE_ERR_NULL
    );
    // The allocator: NULL for 0 bytes, else 8-aligned memory of that size.
    let n = usize::from(b.u8());
    let p = rope_alloc(n * 4);
    assert_eq!(p.is_null(), n == 0, "rope_alloc({})", n * 4);
    if !p.is_null() {
        assert!(p.align_offset(8) == 0, "rope_alloc: not 8-aligned");
        let x = p.cast::<f32>();
        // SAFETY: `n` floats of fresh, 8-aligned memory.
        let v = unsafe { std::slice::from_raw_parts_mut(x, n) };
        for (i, e) in v.iter_mut().enumerate() {
            *e = i as f32 - 7.5;
        }
        unsafe { rope_scale_f32(x, n, 2.0) };
        for (i, e) in v.iter().enumerate() {
            assert_eq!(*e, (i as f32 - 7.5) * 2.0, "rope_scale_f32");
        }
        unsafe { rope_free(p, n * 4) };
    }
    unsafe {
        rope_scale_f32(null_mut(), n, 2.0);
        rope_free(null_mut(), 8);
    }
}

/// Memory for a `RopeInfo` that a failing call must not need.
fn ri_out() -> RopeInfo {
    RopeInfo {
        head_dim: 0,
        rotary_dim: 0,
        pairs: 0,
        layout: 0,
        axes: 0,
        scale: 0.0,
    }
}

/// A tensor over `data` with a view from the input.
fn tensor(
    b: &mut Bytes<'_>,
    data: *mut c_void,
    len: usize,
    dtype: u32,
    head_dim: usize,
) -> RopeTensor {
    let heads = usize::from(b.u8() % 4);
    let layout = u32::from(b.u8() % 5);
    RopeTensor {
        data,
        len,
        dtype,
        layout,
        heads,
        row_heads: heads + usize::from(b.u8() % 3),
        first_head: usize::from(b.u8() % 3),
        token_stride: heads * head_dim + usize::from(b.u8() % 5),
        head_stride: head_dim + usize::from(b.u8() % 3),
        window: u32::from(b.u8().is_multiple_of(3)),
        first_token: usize::from(b.u8() % 4),
    }
}

/// The crate's view of a tensor the C ABI accepted.
fn view_of(t: &RopeTensor) -> View {
    let v = match t.layout {
        ROPE_TOKENS_HEADS => View::tokens_heads(t.heads),
        ROPE_HEADS_TOKENS => View::heads_tokens(t.heads),
        ROPE_IN_ROWS => View::in_rows(t.heads, t.row_heads, t.first_head),
        _ => View::strided(t.heads, t.token_stride, t.head_stride),
    };
    if t.window == 1 {
        v.at(t.first_token)
    } else {
        v
    }
}

/// Elements of `bits` as the dtype's type.
fn as_type(bits: &[u32], dtype: u32) -> Vec<u32> {
    match dtype {
        ROPE_F32 => bits.to_vec(),
        _ => bits.iter().map(|&v| v & 0xffff).collect(),
    }
}

fn call(b: &mut Bytes<'_>, rope: *mut RopeHandle, rust: &Rope) {
    let hd = rust.head_dim();
    let tokens = usize::from(b.u8() % 5);
    let cap = tokens * 4 * hd + usize::from(b.u8() % 7);
    let dtype = u32::from(b.u8() % 4); // 3: a bad enum
    let bits: Vec<u32> = (0..cap).map(|_| b.u32()).collect();
    // f32 elements in a u32 buffer, 16-bit ones in a u16 buffer of their own.
    let mut x = as_type(&bits, dtype);
    let mut x16: Vec<u16> = x.iter().map(|&v| v as u16).collect();
    let (x_ptr, x_len) = if dtype == ROPE_F32 {
        (x.as_mut_ptr().cast::<c_void>(), cap)
    } else {
        (x16.as_mut_ptr().cast::<c_void>(), cap)
    };
    let x_ptr = if b.u8().is_multiple_of(16) {
        null_mut()
    } else {
        x_ptr
    };
    let x_len = x_len.saturating_sub(usize::from(b.u8() % 2));
    let xt = tensor(b, x_ptr, x_len, dtype, hd);
    let list: Vec<u64> = (0..tokens + usize::from(b.u8() % 2))
        .map(|_| b.position())
        .collect();
    let signed: Vec<i64> = list.iter().map(|&p| p as i64).collect();
    let list32: Vec<u32> = list.iter().map(|&p| p as u32).collect();
    let kind = u32::from(b.u8() % 9);
    let (ptr, n): (*const c_void, usize) = match kind {
        ROPE_POS_U32 | ROPE_POS_AXES_U32 => (list32.as_ptr().cast(), list32.len()),
        ROPE_POS_I64 => (signed.as_ptr().cast(), signed.len()),
        ROPE_POS_I32 => (list32.as_ptr().cast(), list32.len()),
        _ => (list.as_ptr().cast(), list.len()),
    };
    let start = b.position();
    let pos = RopePositions {
        kind,
        start,
        list: ptr,
        n,
    };
    let rust_pos = match kind {
        ROPE_POS_START => Some(Positions::Start(start)),
        ROPE_POS_SAME => Some(Positions::Same(start)),
        ROPE_POS_U32 => Some(Positions::List(&list32)),
        ROPE_POS_U64 => Some(Positions::List64(&list)),
        ROPE_POS_I64 => Some(Positions::Signed64(&signed)),
        _ => None, // not compared
    };
    let direction = u32::from(b.u8() % 4);
    let max_pos = usize::from(b.u16() % 300);
    let table_kind = u32::from(b.u8() % 4);
    let mut full = vec![0f32; rust.table_len(max_pos).unwrap_or(0)];
    let mut compact = vec![0f64; rust.compact_table_len(max_pos).unwrap_or(0)];
    let (data, len) = match table_kind {
        ROPE_TABLE_COMPACT => (compact.as_mut_ptr().cast::<c_void>(), compact.len()),
        _ => (full.as_mut_ptr().cast::<c_void>(), full.len()),
    };
    let table = RopeTable {
        kind: table_kind,
        data,
        len: len.saturating_sub(usize::from(b.u8().is_multiple_of(8))),
        max_pos,
    };
    let mut info = empty_info();
    // SAFETY: `table` points into live storage of its length.
    let built = unsafe { rope_table_build(rope, &table, &mut info) };
    check(built, &info, "rope_table_build");
    let table_ptr: *const RopeTable = if b.bool() && built == ROPE_OK {
        &table
    } else {
        null()
    };
    // A destination, of its own dtype and view.
    let dst_dtype = u32::from(b.u8() % 3);
    let dcap = cap + usize::from(b.u8() % 64) * hd;
    let mut d32 = vec![0x3f80_0000u32; dcap];
    let mut d16 = vec![0x3c00u16; dcap];
    let d_ptr = if dst_dtype == ROPE_F32 {
        d32.as_mut_ptr().cast::<c_void>()
    } else {
        d16.as_mut_ptr().cast::<c_void>()
    };
    let dt = tensor(b, d_ptr, dcap, dst_dtype, hd);
    let (x_before, x16_before, d32_before, d16_before) =
        (x.clone(), x16.clone(), d32.clone(), d16.clone());
    // Separate buffers where a call takes several (the contract: none overlaps another):
    // K and V activations of x's dtype, a second cache of dst's.
    let mut kv32 = vec![0x3f00_0000u32; 2 * cap];
    let mut kv16 = vec![0x3800u16; 2 * cap];
    let mut c32 = d32.clone();
    let mut c16 = d16.clone();
    let (kp, vp) = if dtype == ROPE_F32 {
        (kv32.as_mut_ptr(), kv32[cap..].as_mut_ptr()).map_cast()
    } else {
        (kv16.as_mut_ptr(), kv16[cap..].as_mut_ptr()).map_cast()
    };
    let kt = tensor(b, kp, cap, dtype, hd);
    let vt = RopeTensor { data: vp, ..kt };
    let c_ptr = if dst_dtype == ROPE_F32 {
        c32.as_mut_ptr().cast::<c_void>()
    } else {
        c16.as_mut_ptr().cast::<c_void>()
    };
    let ct = RopeTensor { data: c_ptr, ..dt };
    let (kv_before, c_before) = ((kv32.clone(), kv16.clone()), (c32.clone(), c16.clone()));
    let cos: Vec<f32> = (0..rust.pairs() + usize::from(b.u8() % 2))
        .map(|i| (i as f32).cos())
        .collect();
    let which = b.u8() % 12;
    let delta = b.u64() as i64 >> (b.u8() % 64);
    let (q_heads, kv_heads) = (usize::from(b.u8() % 3), usize::from(b.u8() % 3));
    let first = usize::from(b.u8() % 8);
    // SAFETY: in every call each pointer is NULL or valid for its length, and no two
    // tensors of a call overlap (each has its own allocation).
    let rc = unsafe {
        match which {
            0 => rope_apply(rope, table_ptr, &xt, &pos, direction, &mut info),
            1 => rope_apply_into(rope, table_ptr, &xt, &dt, &pos, direction, &mut info),
            2 => rope_decode(rope, table_ptr, &xt, &kt, &vt, &dt, &ct, &pos, &mut info),
            3 => rope_packed_qkv(
                rope, table_ptr, &xt, q_heads, kv_heads, &pos, direction, &mut info,
            ),
            4 => rope_shift(rope, &xt, delta, &mut info),
            5 => rope_apply_qk(rope, table_ptr, &xt, &kt, &pos, direction, &mut info),
            6 => rope_packed_qkv_into(
                rope, table_ptr, &xt, q_heads, kv_heads, &dt, &ct, &pos, &mut info,
            ),
            7 => rope_apply_tokens(rope, table_ptr, &xt, &pos, first, direction, &mut info),
            8 => rope_rotate_with_cos_sin(
                rope,
                &xt,
                cos.as_ptr(),
                cos.as_ptr(),
                cos.len(),
                &mut info,
            ),
            9 => {
                let mut n = 0usize;
                rope_table_len(
                    rope,
                    table_kind,
                    usize::from(b.u16()) << (b.u8() % 64),
                    &mut n,
                    &mut info,
                )
            }
            10 => {
                let mut other: *mut RopeHandle = null_mut();
                let rc = rope_create_rerotation(rope, rope, null_mut(), 0, &mut other, &mut info);
                rope_destroy(other);
                rc
            }
            _ => rope_set_backend(rope, i32::from(b.u8() % 7) - 2, &mut info),
        }
    };
    check(rc, &info, "a call");
    if rc != ROPE_OK {
        assert!(
            x == x_before && x16 == x16_before,
            "a failing call (code {rc}) changed x"
        );
        assert!(
            d32 == d32_before && d16 == d16_before,
            "a failing call (code {rc}) changed dst"
        );
        assert!(
            (kv32.clone(), kv16.clone()) == kv_before && (c32.clone(), c16.clone()) == c_before,
            "a failing call (code {rc}) changed k, v or the second cache"
        );
        return;
    }
    // Success: the Rust API's bits, on the fly (a table gives the same bits).
    let (Some(at), Ok(dir)) = (rust_pos, direction_of(direction)) else {
        return;
    };
    let rust = rust.clone().with_backend(Backend::Scalar).unwrap();
    let view = view_of(&xt);
    match (which, dtype) {
        (0, ROPE_F32) => {
            let mut want: Vec<f32> = x_before.iter().map(|&v| f32::from_bits(v)).collect();
            rust.apply(&mut want[..xt.len], view, at, dir).unwrap();
            let want: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            let nan = |v: u32| f32::from_bits(v).is_nan();
            assert_same(&x, &want, nan, "rope_apply f32 vs the Rust API");
        }
        (0, ROPE_F16) => {
            let mut want: Vec<f16> = x16_before.iter().map(|&v| f16::from_bits(v)).collect();
            rust.apply(&mut want[..xt.len], view, at, dir).unwrap();
            let want: Vec<u16> = want.iter().map(|v| v.to_bits()).collect();
            let nan = |v: u16| f16::from_bits(v).is_nan();
            assert_same(&x16, &want, nan, "rope_apply f16 vs the Rust API");
        }
        (1, ROPE_BF16) if dst_dtype == ROPE_F32 => {
            let src: Vec<bf16> = x16_before.iter().map(|&v| bf16::from_bits(v)).collect();
            let mut want: Vec<f32> = d32_before.iter().map(|&v| f32::from_bits(v)).collect();
            rust.apply_into(&src[..xt.len], view, &mut want, view_of(&dt), at, dir)
                .unwrap();
            let want: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            let nan = |v: u32| f32::from_bits(v).is_nan();
            assert_same(
                &d32,
                &want,
                nan,
                "rope_apply_into bf16 -> f32 vs the Rust API",
            );
        }
        _ => {}
    }
}

/// Bit for bit, except that NaNs match any NaN (payloads are not specified).
fn assert_same<T: Copy + PartialEq + std::fmt::Debug>(
    got: &[T],
    want: &[T],
    nan: impl Fn(T) -> bool,
    what: &str,
) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w || (nan(g) && nan(w)),
            "{what}: element {i}: {g:?} against {w:?}"
        );
    }
}

/// Two typed pointers as untyped ones.
trait MapCast {
    fn map_cast(self) -> (*mut c_void, *mut c_void);
}

impl<T> MapCast for (*mut T, *mut T) {
    fn map_cast(self) -> (*mut c_void, *mut c_void) {
        (self.0.cast(), self.1.cast())
    }
}

fn direction_of(d: u32) -> Result<Direction, ()> {
    match d {
        ROPE_FORWARD => Ok(Direction::Forward),
        ROPE_INVERSE => Ok(Direction::Inverse),
        ROPE_TRANSPOSE => Ok(Direction::Transpose),
        _ => Err(()),
    }
}

/// ggml's parameters and a config.json text from the input: a known code, a NUL-ended
/// message on failure, a handle on success.
fn other_constructors(b: &mut Bytes<'_>) {
    let mut p = std::mem::MaybeUninit::<RopeGgmlParams>::uninit();
    // SAFETY: a valid pointer; init writes every field.
    let mut p = unsafe {
        rope_ggml_params_init(
            p.as_mut_ptr(),
            u32::from(b.u16() % 600),
            u32::from(b.u16() % 600),
            b.param(&[1e4, 1e6]),
        );
        p.assume_init()
    };
    p.mode = [0, 2, 8, 24, 40, 1, -3][usize::from(b.u8() % 7)];
    p.freq_scale = b.param(&[1.0, 0.25]);
    p.ext_factor = b.param(&[0.0, 1.0]);
    p.attn_factor = b.param(&[1.0, 0.8]);
    p.n_ctx_orig = b.u64() >> (b.u8() % 64);
    p.n_offs = u32::from(b.u8() % 8);
    p.sections = [0; 4].map(|_| u32::from(b.u8() % 40));
    let factors: Vec<f64> = (0..usize::from(b.u8() % 70))
        .map(|_| b.param(&[1.0, 4.0]))
        .collect();
    if b.bool() {
        p.freq_factors = factors.as_ptr();
        p.n_freq_factors = factors.len();
    }
    let (mut handle, mut info) = (null_mut(), empty_info());
    // SAFETY: valid pointers; `freq_factors` valid for its length.
    let rc = unsafe { rope_create_ggml(&p, null_mut(), 0, &mut handle, &mut info) };
    check(rc, &info, "rope_create_ggml");
    assert_eq!(rc == ROPE_OK, !handle.is_null());
    // SAFETY: from rope_create_ggml (or NULL), destroyed once.
    unsafe { rope_destroy(handle) };
    let text: Vec<u8> = (0..usize::from(b.u8())).map(|_| b.u8()).collect();
    let json = if b.bool() {
        br#"{"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "rope_theta": 5e5}"#.to_vec()
    } else {
        text
    };
    let mut handle = null_mut();
    // SAFETY: `json` valid for its length; valid out pointers.
    let rc = unsafe {
        rope_create_hf_json(
            json.as_ptr().cast(),
            json.len(),
            u32::from(b.u8() % 3),
            b.u64() >> 40,
            -1,
            null_mut(),
            0,
            &mut handle,
            &mut info,
        )
    };
    check(rc, &info, "rope_create_hf_json");
    // SAFETY: as above.
    unsafe { rope_destroy(handle) };
    // Read last, so that inputs from before them decode as they did.
    capi_gguf::gguf(b);
    schedules(b);
}

/// `rope_create` with a `RopeConfig`'s every field from the input (each schedule with
/// its parameters, NaN for the optional ones, own frequencies and factors, LongRoPE's
/// lists, position axes, proportional partial rotary, a channel offset): a known code
/// with a message; the Rust builder's refusal or `Rope` from the same values, as the
/// header describes each field; and a built handle rotating as that `Rope`.
fn schedules(b: &mut Bytes<'_>) {
    let head_dim = 2 * usize::from(b.u8() % 40);
    let mut config = std::mem::MaybeUninit::<RopeConfig>::uninit();
    // SAFETY: a valid pointer; init writes every field.
    let mut c = unsafe {
        rope_config_init(config.as_mut_ptr(), head_dim as u32);
        config.assume_init()
    };
    let pairs = head_dim / 2;
    // Lists of about the right length (a pair more or less now and then).
    let list = |b: &mut Bytes<'_>, ordinary: &[f64]| -> Vec<f64> {
        let n = match b.u8() % 8 {
            0 => pairs + 1,
            1 => pairs.saturating_sub(1),
            _ => pairs,
        };
        (0..n).map(|_| b.param(ordinary)).collect()
    };
    let inv_freq = list(b, &[0.5, 1e-3]);
    let freq_factors = list(b, &[1.0, 4.0]);
    let short = list(b, &[1.0, 1.5]);
    let long = list(b, &[4.0, 8.0]);
    c.layout = u32::from(b.u8() % 4);
    c.scaling = u32::from(b.u8() % 8); // 7: a bad enum
    c.base = b.param(&[10_000.0, 1e6]);
    c.scale = b.param(&[1.0, 0.5]);
    c.factor = b.param(&[4.0, 8.0, 1.0, f64::NAN]);
    c.original_max_position_embeddings = u64::from(b.u16());
    c.max_position_embeddings = u64::from(b.u16());
    c.seq_len = u64::from(b.u16());
    c.beta_fast = b.param(&[32.0, 16.0]);
    c.beta_slow = b.param(&[1.0, 2.0]);
    c.mscale = b.param(&[f64::NAN, 0.707]);
    c.mscale_all_dim = b.param(&[f64::NAN, 1.0]);
    c.attention_factor = b.param(&[f64::NAN, 1.2]);
    c.low_freq_factor = b.param(&[1.0, 2.0]);
    c.high_freq_factor = b.param(&[4.0, 8.0]);
    c.longrope_choice = u32::from(b.u8() % 4); // 3: a bad enum
    c.truncate = u32::from(b.u8() % 2);
    c.axes = u32::from(b.u8() % 5); // 4: a bad enum
    c.sections = [0; 4].map(|_| u32::from(b.u8() % 24));
    let flags = b.u8();
    let (inv, factors, lists) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
    c.proportional_rotary = if flags & 8 != 0 {
        2 * u32::from(b.u8() % 40)
    } else {
        0
    };
    c.channel_offset = if flags & 16 != 0 {
        2 * u32::from(b.u8() % 8)
    } else {
        0
    };
    if inv {
        (c.inv_freq, c.n_inv_freq) = (inv_freq.as_ptr(), inv_freq.len());
    }
    if factors {
        (c.freq_factors, c.n_freq_factors) = (freq_factors.as_ptr(), freq_factors.len());
    }
    if lists {
        (c.short_factor, c.long_factor) = (short.as_ptr(), long.as_ptr());
        c.n_factors = short.len().min(long.len());
    }
    // The same description through the Rust API, field by field as the header says.
    let optional = |v: f64| (!v.is_nan()).then_some(v);
    let scaling = match c.scaling {
        ROPE_SCALING_NONE => Some(Scaling::None),
        ROPE_SCALING_LINEAR => Some(Scaling::Linear { factor: c.factor }),
        ROPE_SCALING_NTK_AWARE => Some(Scaling::NtkAware { alpha: c.factor }),
        ROPE_SCALING_DYNAMIC_NTK => Some(Scaling::DynamicNtk {
            factor: c.factor,
            max_position_embeddings: c.max_position_embeddings,
            seq_len: c.seq_len,
        }),
        ROPE_SCALING_YARN => {
            let mut y = Yarn::new(c.factor, c.original_max_position_embeddings)
                .beta_fast(c.beta_fast)
                .beta_slow(c.beta_slow)
                .truncate(c.truncate == 1);
            if let Some(v) = optional(c.mscale) {
                y = y.mscale(v);
            }
            if let Some(v) = optional(c.mscale_all_dim) {
                y = y.mscale_all_dim(v);
            }
            if let Some(v) = optional(c.attention_factor) {
                y = y.attention_factor(v);
            }
            Some(Scaling::Yarn(y))
        }
        ROPE_SCALING_LLAMA3 => Some(Scaling::Llama3(Llama3::new(
            c.factor,
            c.low_freq_factor,
            c.high_freq_factor,
            c.original_max_position_embeddings,
        ))),
        ROPE_SCALING_LONGROPE if lists => {
            let n = c.n_factors;
            let choice = match c.longrope_choice {
                ROPE_LONGROPE_BY_SEQ_LEN => Some(LongRopeChoice::SeqLen(c.seq_len)),
                ROPE_LONGROPE_SHORT => Some(LongRopeChoice::Short),
                ROPE_LONGROPE_LONG => Some(LongRopeChoice::Long),
                _ => None,
            };
            choice.map(|choice| {
                let lengths = ContextLengths {
                    original: c.original_max_position_embeddings,
                    extended: c.max_position_embeddings,
                };
                let mut lr = LongRope::new(&short[..n], &long[..n], lengths, choice);
                if let Some(v) = optional(c.factor) {
                    lr = lr.factor(v);
                }
                if let Some(v) = optional(c.attention_factor) {
                    lr = lr.attention_factor(v);
                }
                Scaling::LongRope(lr)
            })
        }
        _ => None, // no lists, or an unknown value: an error
    };
    let s = c.sections;
    let axes = match c.axes {
        ROPE_AXES_SINGLE => Some(Axes::Single),
        ROPE_AXES_MROPE => Some(Axes::MRope([s[0], s[1], s[2]])),
        ROPE_AXES_MROPE_INTERLEAVED => Some(Axes::MRopeInterleaved([s[0], s[1], s[2]])),
        ROPE_AXES_AXIAL_2D => Some(Axes::Axial2d),
        _ => None,
    };
    let layout = match c.layout {
        ROPE_LAYOUT_INTERLEAVED => Some(PairLayout::Interleaved),
        ROPE_LAYOUT_HALF_SPLIT => Some(PairLayout::HalfSplit),
        ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT => Some(PairLayout::InterleavedToHalfSplit),
        _ => None,
    };
    let rust = match (scaling, axes, layout) {
        (Some(scaling), Some(axes), Some(layout)) => {
            let mut r = Rope::builder(head_dim)
                .layout(layout)
                .base(c.base)
                .scale(c.scale)
                .axes(axes)
                .scaling(scaling);
            if inv {
                r = r.inv_freqs(&inv_freq);
            }
            if factors {
                r = r.freq_factors(&freq_factors);
            }
            if c.proportional_rotary != 0 {
                r = r.proportional_rotary(c.proportional_rotary as usize);
            }
            if c.channel_offset != 0 {
                r = r.channel_offset(c.channel_offset as usize);
            }
            r.build().ok()
        }
        _ => None,
    };
    let (mut handle, mut info) = (null_mut(), empty_info());
    // SAFETY: `c`'s pointers are NULL or valid for their lengths.
    let rc = unsafe { rope_create(&c, null_mut(), 0, &mut handle, &mut info) };
    check(rc, &info, "rope_create (schedules)");
    assert_eq!(rc == ROPE_OK, !handle.is_null());
    assert_eq!(
        rc == ROPE_OK,
        rust.is_some(),
        "rope_create vs the Rust builder: scaling {}, axes {}, layout {}: {}",
        c.scaling,
        c.axes,
        c.layout,
        String::from_utf8_lossy(&info.message.map(|c| c as u8)),
    );
    if let Some(rust) = &rust {
        call(b, handle, rust);
    }
    // SAFETY: from rope_create (or NULL), destroyed once.
    unsafe { rope_destroy(handle) };
}
