//! The calls: in place (one buffer, or Q and K), into a cache with conversion, the fused
//! decode step, packed QKV (in place and into caches), a part of a larger call, the KV
//! shift, caller cos/sin, and tables in caller memory. Each validates everything first:
//! on error no buffer is written.

use rope_simd::{CompactTable, CosSinTable, Heads, KvCache, Rope, Rotate, View};

use crate::create::{handle, RopeHandle};
use crate::status::{run, Fail, RopeErrorInfo};
use crate::tensor::{
    direction, positions, slice, slice_mut, tensor, Data, RopePositions, RopeTable, RopeTensor,
    ROPE_FORWARD, ROPE_TABLE_COMPACT, ROPE_TABLE_FULL, ROPE_TABLE_NONE, ROPE_TOKENS_HEADS,
};

/// A call's cos/sin source.
enum Src<'a> {
    Fly(&'a Rope),
    Full(CosSinTable<&'a [f32]>),
    Compact(CompactTable<&'a [f64]>),
}

/// The source for a handle and an optional table.
///
/// # Safety
/// `rope` from a `rope_create*` function (or NULL, an error); `table` NULL or valid with
/// `data` valid for `len` elements.
unsafe fn source<'a>(rope: *const RopeHandle, table: *const RopeTable) -> Result<Src<'a>, Fail> {
    // SAFETY: `rope` is NULL (an error) or a live handle (caller).
    let r = unsafe { handle(rope)? };
    if table.is_null() {
        return Ok(Src::Fly(r));
    }
    // SAFETY: non-NULL and valid (caller).
    let t = unsafe { &*table };
    let what = "table.data";
    Ok(match t.kind {
        ROPE_TABLE_NONE => Src::Fly(r),
        ROPE_TABLE_FULL => {
            // SAFETY: `data` is NULL (an error) or valid for `len` floats (caller).
            let data = unsafe { slice(t.data.cast(), t.len, what)? };
            Src::Full(r.table_from_storage(t.max_pos, data)?)
        }
        ROPE_TABLE_COMPACT => {
            // SAFETY: `data` is NULL (an error) or valid for `len` doubles (caller).
            let data = unsafe { slice(t.data.cast(), t.len, what)? };
            Src::Compact(r.compact_table_from_storage(t.max_pos, data)?)
        }
        v => return Err(Fail::BadEnum("table.kind", v.into())),
    })
}

/// `$body` with `$s` the source, whichever it is.
macro_rules! with_src {
    ($src:expr, |$s:ident| $body:expr) => {
        match $src {
            Src::Fly($s) => $body,
            Src::Full(ref $s) => $body,
            Src::Compact(ref $s) => $body,
        }
    };
}

/// `$body` with `$x` the tensor's elements, whichever type.
macro_rules! with_data {
    ($d:expr, |$x:ident| $body:expr) => {
        match $d {
            Data::F32($x) => $body,
            Data::F16($x) => $body,
            Data::Bf16($x) => $body,
        }
    };
}

/// `$body` with `$a` and `$b` two tensors' elements of one type.
macro_rules! with_same {
    ($a:expr, $b:expr, $what:literal, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            (Data::F32($x), Data::F32($y)) => $body,
            (Data::F16($x), Data::F16($y)) => $body,
            (Data::Bf16($x), Data::Bf16($y)) => $body,
            _ => Err(Fail::Mismatch($what)),
        }
    };
}

/// `$body` with `$x` and `$y` two tensors' elements, any pair of types.
macro_rules! with_pair {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match $b {
            Data::F32($y) => with_data!($a, |$x| $body),
            Data::F16($y) => with_data!($a, |$x| $body),
            Data::Bf16($y) => with_data!($a, |$x| $body),
        }
    };
}

/// A tensor argument's names in messages: itself, its layout field, its data field.
macro_rules! names {
    ($t:literal) => {
        [$t, concat!($t, ".layout"), concat!($t, ".data")]
    };
}

/// Read a tensor argument: the struct, its view and its elements.
///
/// # Safety
/// `t` NULL or valid, its data valid for its length of its dtype.
// Out of line: one body for the entry points' two or three tensors each, which LLVM
// otherwise copied into every one (`scripts/sizes.sh`, the C library's size).
#[inline(never)]
unsafe fn operand<'a>(
    t: *const RopeTensor,
    [what, layout, data]: [&'static str; 3],
) -> Result<(&'a RopeTensor, View, Data<'a>), Fail> {
    // SAFETY: forwarded contract.
    let t = unsafe { tensor(t, what)? };
    let view = t.view(layout)?;
    // SAFETY: forwarded contract.
    Ok((t, view, unsafe { t.data(data)? }))
}

/// Read what most calls take besides their tensors: the source, the positions and the
/// direction.
///
/// # Safety
/// As [`source`] and [`positions`].
unsafe fn common<'a>(
    rope: *const RopeHandle,
    table: *const RopeTable,
    at: *const RopePositions,
    dir: u32,
) -> Result<(Src<'a>, rope_simd::Positions<'a>, rope_simd::Direction), Fail> {
    // SAFETY: forwarded contract.
    unsafe { Ok((source(rope, table)?, positions(at)?, direction(dir)?)) }
}

/// Rotate a tensor in place (any view, any direction): `direction` ROPE_FORWARD,
/// ROPE_INVERSE or ROPE_TRANSPOSE. `table` NULL for cos/sin on the fly, or a table from
/// `rope_table_build` (same bits). On error `x` is untouched and `*err` (if not NULL)
/// says why.
///
/// # Safety
/// `rope` from a `rope_create*` function; `x` and `positions` valid, with their data
/// valid for their lengths and not used by another thread during the call; `table` NULL
/// or valid; `err` NULL or valid. (NULL where a pointer is required is an error.)
#[no_mangle]
pub unsafe extern "C" fn rope_apply(
    rope: *const RopeHandle,
    table: *const RopeTable,
    x: *const RopeTensor,
    positions: *const RopePositions,
    direction: u32,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: `rope`, `table`, `positions` and `x` are NULL (an error) or valid with
        // their data, as this function's contract asks.
        let ((src, at, dir), (_, view, data)) = unsafe {
            (
                common(rope, table, positions, direction)?,
                operand(x, names!("x"))?,
            )
        };
        with_src!(src, |s| with_data!(
            data,
            |d| Ok(s.apply(d, view, at, dir)?)
        ))
    })
}

/// Rotate Q and K in place with each token's cos/sin computed once (GQA head counts may
/// differ; the element types must match). Otherwise as `rope_apply`; on error neither
/// is written.
///
/// # Safety
/// As `rope_apply`, for `q` and `k`, whose data must not overlap.
#[no_mangle]
pub unsafe extern "C" fn rope_apply_qk(
    rope: *const RopeHandle,
    table: *const RopeTable,
    q: *const RopeTensor,
    k: *const RopeTensor,
    positions: *const RopePositions,
    direction: u32,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: every pointer is NULL (an error) or valid with its data, `q`'s and `k`'s
        // not overlapping, as this function's contract asks.
        let ((src, at, dir), (_, qv, qd), (_, kv, kd)) = unsafe {
            (
                common(rope, table, positions, direction)?,
                operand(q, names!("q"))?,
                operand(k, names!("k"))?,
            )
        };
        with_src!(src, |s| with_same!(
            qd,
            kd,
            "q and k must have the same dtype",
            |a, b| Ok(s.apply_qk(a, qv, b, kv, at, dir)?)
        ))
    })
}

/// Rotate `src` and write it into `dst` (usually a window of a cache: `window = 1`),
/// converting between any of f32, f16 and bf16 with one rounding; `src` is not written.
/// Otherwise as `rope_apply`; on error `dst` is untouched.
///
/// # Safety
/// As `rope_apply`, for `src` (read only) and `dst`, whose data must not overlap.
#[no_mangle]
pub unsafe extern "C" fn rope_apply_into(
    rope: *const RopeHandle,
    table: *const RopeTable,
    src: *const RopeTensor,
    dst: *const RopeTensor,
    positions: *const RopePositions,
    direction: u32,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: every pointer is NULL (an error) or valid with its data, `src`'s and
        // `dst`'s not overlapping, as this function's contract asks.
        let ((from, at, dir), (_, sv, sd), (_, dv, dd)) = unsafe {
            (
                common(rope, table, positions, direction)?,
                operand(src, names!("src"))?,
                operand(dst, names!("dst"))?,
            )
        };
        with_src!(from, |r| with_pair!(sd, dd, |a, b| Ok(
            r.apply_into(&*a, sv, b, dv, at, dir)?
        )))
    })
}

/// `t`'s head count, for a tensor the call takes as `[tokens, heads, head_dim]`.
fn dense_heads(t: &RopeTensor, what: &'static str) -> Result<usize, Fail> {
    if t.layout != ROPE_TOKENS_HEADS || t.window != 0 {
        return Err(Fail::Mismatch(what));
    }
    Ok(t.heads)
}

/// The view both caches share: `k_cache`'s, which `v_cache`'s must equal.
fn cache_view(k: View, v: View) -> Result<View, Fail> {
    if v != k {
        return Err(Fail::Mismatch(
            "v_cache must have k_cache's view (layout, heads, strides, window)",
        ));
    }
    Ok(k)
}

/// A decode (or prefill) step in one call: rotate `q` in place, rotate `k` into
/// `k_cache` and copy `v` into `v_cache` (converted to the caches' type), each token's
/// cos/sin had once. `q`, `k` and `v` are whole `[tokens, heads, head_dim]` tensors of
/// one type (ROPE_TOKENS_HEADS); the caches share a type and view (usually a window at
/// the step's first position). Forward only. On error nothing is written.
///
/// # Safety
/// As `rope_apply`, for every tensor (none overlapping another).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rope_decode(
    rope: *const RopeHandle,
    table: *const RopeTable,
    q: *const RopeTensor,
    k: *const RopeTensor,
    v: *const RopeTensor,
    k_cache: *const RopeTensor,
    v_cache: *const RopeTensor,
    positions: *const RopePositions,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: every pointer is NULL (an error) or valid with its data, no two tensors
        // overlapping, as this function's contract asks.
        let ((src, at, _), (q, _, qd), (k, _, kd), (v, _, vd), (_, kv, kcd), (_, vv, vcd)) = unsafe {
            (
                common(rope, table, positions, ROPE_FORWARD)?,
                operand(q, names!("q"))?,
                operand(k, names!("k"))?,
                operand(v, names!("v"))?,
                operand(k_cache, names!("k_cache"))?,
                operand(v_cache, names!("v_cache"))?,
            )
        };
        let heads = Heads {
            q: dense_heads(q, "rope_decode takes q as a whole ROPE_TOKENS_HEADS tensor")?,
            kv: dense_heads(k, "rope_decode takes k as a whole ROPE_TOKENS_HEADS tensor")?,
        };
        if dense_heads(v, "rope_decode takes v as a whole ROPE_TOKENS_HEADS tensor")? != heads.kv {
            return Err(Fail::Mismatch("v must have k's head count"));
        }
        let view = cache_view(kv, vv)?;
        let same = "q, k and v must have one dtype, and the two caches one dtype";
        match (qd, kd, vd) {
            (Data::F32(q), Data::F32(k), Data::F32(v)) => {
                decode(&src, q, k, v, heads, kcd, vcd, view, at)
            }
            (Data::F16(q), Data::F16(k), Data::F16(v)) => {
                decode(&src, q, k, v, heads, kcd, vcd, view, at)
            }
            (Data::Bf16(q), Data::Bf16(k), Data::Bf16(v)) => {
                decode(&src, q, k, v, heads, kcd, vcd, view, at)
            }
            _ => Err(Fail::Mismatch(same)),
        }
    })
}

/// [`rope_decode`] once the activations' type is known.
#[allow(clippy::too_many_arguments)]
fn decode<S: rope_simd::Element>(
    src: &Src<'_>,
    q: &mut [S],
    k: &[S],
    v: &[S],
    heads: Heads,
    kc: Data<'_>,
    vc: Data<'_>,
    view: View,
    at: rope_simd::Positions<'_>,
) -> Result<(), Fail> {
    with_src!(*src, |s| with_same!(
        kc,
        vc,
        "k_cache and v_cache must have the same dtype",
        |kc, vc| {
            let cache = KvCache { k: kc, v: vc, view };
            Ok(s.rotate_decode(q, k, v, heads, cache, at)?)
        }
    ))
}

/// `qkv`'s heads, checked: a whole ROPE_TOKENS_HEADS tensor of `q + 2 kv` heads.
fn packed(qkv: &RopeTensor, q_heads: usize, kv_heads: usize) -> Result<Heads, Fail> {
    let rows = kv_heads
        .checked_mul(2)
        .and_then(|kv| kv.checked_add(q_heads));
    if qkv.layout != ROPE_TOKENS_HEADS || qkv.window != 0 || rows != Some(qkv.heads) {
        return Err(Fail::Mismatch(
            "qkv must be a whole ROPE_TOKENS_HEADS tensor of q_heads + 2 * kv_heads heads",
        ));
    }
    Ok(Heads {
        q: q_heads,
        kv: kv_heads,
    })
}

/// Rotate the Q and K heads of a packed QKV tensor in place (`[tokens, q_heads + 2 *
/// kv_heads, head_dim]`: each token's Q heads, then K, then V; `qkv->heads` must be that
/// sum), V untouched, in any direction. Otherwise as `rope_apply`.
///
/// # Safety
/// As `rope_apply`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rope_packed_qkv(
    rope: *const RopeHandle,
    table: *const RopeTable,
    qkv: *const RopeTensor,
    q_heads: usize,
    kv_heads: usize,
    positions: *const RopePositions,
    direction: u32,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: `rope`, `table`, `positions` and `qkv` are NULL (an error) or valid with
        // their data, as this function's contract asks.
        let ((src, at, dir), (t, _, data)) = unsafe {
            (
                common(rope, table, positions, direction)?,
                operand(qkv, names!("qkv"))?,
            )
        };
        let heads = packed(t, q_heads, kv_heads)?;
        let view = View::in_rows(heads.q + heads.kv, t.heads, 0);
        with_src!(src, |s| with_data!(
            data,
            |d| if heads.q == 0 || heads.kv == 0 {
                // The crate's own call names the empty head count.
                Ok(s.rotate_packed_qkv(d, heads, at)?)
            } else {
                Ok(s.apply(d, view, at, dir)?)
            }
        ))
    })
}

/// The decode step on a packed QKV tensor: rotate its Q heads in place, write its K
/// heads rotated into `k_cache` and its V heads into `v_cache` (converted to the caches'
/// type, which both share, as they share a view); K and V in `qkv` are not written.
/// Forward only. Otherwise as `rope_packed_qkv`.
///
/// # Safety
/// As `rope_apply`, for every tensor (none overlapping another).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rope_packed_qkv_into(
    rope: *const RopeHandle,
    table: *const RopeTable,
    qkv: *const RopeTensor,
    q_heads: usize,
    kv_heads: usize,
    k_cache: *const RopeTensor,
    v_cache: *const RopeTensor,
    positions: *const RopePositions,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: every pointer is NULL (an error) or valid with its data, no two tensors
        // overlapping, as this function's contract asks.
        let ((src, at, _), (t, _, data), (_, kv, kcd), (_, vv, vcd)) = unsafe {
            (
                common(rope, table, positions, ROPE_FORWARD)?,
                operand(qkv, names!("qkv"))?,
                operand(k_cache, names!("k_cache"))?,
                operand(v_cache, names!("v_cache"))?,
            )
        };
        let heads = packed(t, q_heads, kv_heads)?;
        let view = cache_view(kv, vv)?;
        with_src!(src, |s| with_data!(data, |d| with_same!(
            kcd,
            vcd,
            "k_cache and v_cache must have the same dtype",
            |k, v| Ok(s.rotate_packed_qkv_into(d, heads, KvCache { k, v, view }, at)?)
        )))
    })
}

/// Rotate tokens `first_token..` of a larger call in place: `part` holds whole token
/// rows (`[tokens, heads, head_dim]`) of a call whose positions are `positions`; the
/// bits are those the whole call gives them, so a runtime's thread pool can split a
/// prefill by tokens. Otherwise as `rope_apply`.
///
/// # Safety
/// As `rope_apply`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rope_apply_tokens(
    rope: *const RopeHandle,
    table: *const RopeTable,
    part: *const RopeTensor,
    positions: *const RopePositions,
    first_token: usize,
    direction: u32,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: `rope`, `table`, `positions` and `part` are NULL (an error) or valid
        // with their data, as this function's contract asks.
        let ((src, at, dir), (t, _, data)) = unsafe {
            (
                common(rope, table, positions, direction)?,
                operand(part, names!("part"))?,
            )
        };
        let heads = dense_heads(
            t,
            "rope_apply_tokens takes a whole ROPE_TOKENS_HEADS tensor",
        )?;
        with_src!(src, |s| with_data!(data, |d| Ok(s.apply_tokens(
            d,
            heads,
            at,
            first_token,
            dir
        )?)))
    })
}

/// Shift cached keys by `delta` positions (keys rotated at p become keys rotated at
/// p + delta; negative after a sliding window drops tokens): a pure rotation, the
/// magnitude scale not applied again. On error `keys` is untouched.
///
/// # Safety
/// `rope` from a `rope_create*` function; `keys` valid with its data; `err` NULL or
/// valid.
#[no_mangle]
pub unsafe extern "C" fn rope_shift(
    rope: *const RopeHandle,
    keys: *const RopeTensor,
    delta: i64,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: `rope` and `keys` are NULL (an error) or valid with their data, as this
        // function's contract asks.
        let (r, (_, view, data)) = unsafe { (handle(rope)?, operand(keys, names!("keys"))?) };
        with_data!(data, |d| Ok(r.shift(d, view, delta)?))
    })
}

/// Rotate the contiguous heads of `x` (its data, len and dtype; its view is not used)
/// that share one position by caller cos/sin: `cos[i]`, `sin[i]` for pair `i`
/// (`n = rotary_dim / 2` each). The same kernel and bits as the other calls; negate
/// `sin` for the inverse.
///
/// # Safety
/// `rope` from a `rope_create*` function; `x` valid with its data; `cos`, `sin` valid
/// for `n` floats; `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn rope_rotate_with_cos_sin(
    rope: *const RopeHandle,
    x: *const RopeTensor,
    cos: *const f32,
    sin: *const f32,
    n: usize,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: `rope`, `x`, `cos` and `sin` are NULL (an error) or valid for their
        // lengths, as this function's contract asks.
        let (r, (_, _, data), c, s) = unsafe {
            (
                handle(rope)?,
                operand(x, names!("x"))?,
                slice(cos, n, "cos")?,
                slice(sin, n, "sin")?,
            )
        };
        with_data!(data, |d| Ok(r.rotate_with_cos_sin(d, c, s)?))
    })
}

/// Elements a table of `kind` (ROPE_TABLE_FULL: floats; ROPE_TABLE_COMPACT: doubles)
/// needs for positions 0..max_pos, in `*out_len`.
///
/// # Safety
/// `rope` from a `rope_create*` function; `out_len` valid; `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn rope_table_len(
    rope: *const RopeHandle,
    kind: u32,
    max_pos: usize,
    out_len: *mut usize,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: `rope` and `out_len` are NULL (an error) or valid, as this function's
        // contract asks.
        let (r, out) = unsafe { (handle(rope)?, slice_mut(out_len, 1, "out_len")?) };
        out[0] = match kind {
            ROPE_TABLE_FULL => r.table_len(max_pos)?,
            ROPE_TABLE_COMPACT => r.compact_table_len(max_pos)?,
            v => return Err(Fail::BadEnum("kind", v.into())),
        };
        Ok(())
    })
}

/// Fill `table->data` (`table->len` elements, exactly `rope_table_len` of its kind and
/// `max_pos`) with cos/sin for positions 0..max_pos; pass `table` to the calls
/// afterwards.
///
/// # Safety
/// `rope` from a `rope_create*` function; `table` valid with `data` writable for `len`
/// elements of its kind; `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn rope_table_build(
    rope: *const RopeHandle,
    table: *const RopeTable,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        if table.is_null() {
            return Err(Fail::Null("table"));
        }
        // SAFETY: `rope` is NULL (an error) or a live handle, and `table` is valid, as this
        // function's contract asks.
        let (r, t) = unsafe { (handle(rope)?, &*table) };
        let what = "table.data";
        match t.kind {
            ROPE_TABLE_FULL => {
                // SAFETY: `data` is NULL (an error) or writable for `len` floats (contract).
                let s = unsafe { slice_mut(t.data.cast::<f32>(), t.len, what)? };
                r.build_table(t.max_pos, s)?;
            }
            ROPE_TABLE_COMPACT => {
                // SAFETY: `data` is NULL (an error) or writable for `len` doubles (contract).
                let s = unsafe { slice_mut(t.data.cast::<f64>(), t.len, what)? };
                r.build_compact_table(t.max_pos, s)?;
            }
            v => return Err(Fail::BadEnum("table.kind", v.into())),
        }
        Ok(())
    })
}
