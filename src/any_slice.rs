//! Slices of any of the three element types, and the kernels for them, for the call
//! driver: it is compiled once, where generic over the element types it was a copy per
//! type (in place) or per (source, destination) pair (out of place, nine) in every C and
//! wasm library. The kernels come as function pointers chosen where the types are known,
//! so that a program links only the kernels of the types it uses. The cost is an
//! indirect call per kernel call: `docs/design.md`, "Code size", has the sizes, the
//! instruction counts and the timings (`cargo bench -p rope-simd-benches --bench rope --
//! decode_step`).

use core::ops::Range;

use half::{bf16, f16};

use crate::backend::Isa;
use crate::driver::{reorder_heads, Rows};
use crate::element::Element;
use crate::kernel::Span;

/// A slice of f32, f16 or bf16 (`pub` for the sealed trait's signature; the module is
/// private).
#[derive(Clone, Copy)]
pub enum AnySlice<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    Bf16(&'a [bf16]),
}

/// A mutable slice of f32, f16 or bf16.
pub enum AnySliceMut<'a> {
    F32(&'a mut [f32]),
    F16(&'a mut [f16]),
    Bf16(&'a mut [bf16]),
}

/// `$body` with `$x` bound to the slice, whatever its element type.
macro_rules! each {
    ($ty:ident, $v:expr, $x:ident => $body:expr) => {
        match $v {
            $ty::F32($x) => $body,
            $ty::F16($x) => $body,
            $ty::Bf16($x) => $body,
        }
    };
}

/// `$body` returning the same kind of slice, with `$x` bound to the slice.
macro_rules! map {
    ($ty:ident, $v:expr, $x:ident => $body:expr) => {
        match $v {
            $ty::F32($x) => $ty::F32($body),
            $ty::F16($x) => $ty::F16($body),
            $ty::Bf16($x) => $ty::Bf16($body),
        }
    };
}

impl<'a> AnySlice<'a> {
    pub(crate) fn of<E: Element>(x: &'a [E]) -> Self {
        E::any(x)
    }

    pub(crate) fn len(&self) -> usize {
        each!(AnySlice, self, x => x.len())
    }
}

impl<'a> AnySliceMut<'a> {
    pub(crate) fn of<E: Element>(x: &'a mut [E]) -> Self {
        E::any_mut(x)
    }

    pub(crate) fn len(&self) -> usize {
        each!(AnySliceMut, self, x => x.len())
    }

    /// Bytes of one element.
    pub(crate) fn elem_bytes(&self) -> usize {
        match self {
            AnySliceMut::F32(_) => 4,
            AnySliceMut::F16(_) | AnySliceMut::Bf16(_) => 2,
        }
    }

    /// The same slice, borrowed for shorter.
    pub(crate) fn reborrow(&mut self) -> AnySliceMut<'_> {
        map!(AnySliceMut, self, x => &mut **x)
    }

    /// The same slice, read only.
    pub(crate) fn as_slice(&self) -> AnySlice<'_> {
        match self {
            AnySliceMut::F32(x) => AnySlice::F32(x),
            AnySliceMut::F16(x) => AnySlice::F16(x),
            AnySliceMut::Bf16(x) => AnySlice::Bf16(x),
        }
    }
}

/// The typed slice inside `x`, when it holds `E`s: always where the kernel sets below
/// are used, each being made beside its slices in the generic call that knows their types
/// (a mismatch, which no caller makes, fails a debug build's tests and writes nothing in
/// a release build rather than panic).
fn typed<'s, E: Element>(x: &AnySlice<'s>) -> Option<&'s [E]> {
    let typed = E::from_any(*x);
    debug_assert!(
        typed.is_some(),
        "rope-simd internal error: a {} table",
        E::NAME
    );
    typed
}

fn typed_mut<'s, E: Element>(x: &'s mut AnySliceMut<'_>) -> Option<&'s mut [E]> {
    let typed = E::from_any_mut(x.reborrow());
    debug_assert!(
        typed.is_some(),
        "rope-simd internal error: a {} table",
        E::NAME
    );
    typed
}

/// The in-place kernels of one element type, chosen where the type is known (a public
/// call), so that the driver is compiled once and a program still links only the kernels
/// of the types it uses.
///
/// They take the caller's slices by reference, with offsets, rather than new slices: a
/// slice made just before the call went through memory (three words), and reading it
/// back stalled store forwarding, about 8% of a `rotate_decode` call's time (`cargo
/// bench -p rope-simd-benches --bench rope -- decode_step`).
#[derive(Clone, Copy)]
pub(crate) struct InPlace {
    /// [`Isa::rotate`] on `x[from..]`.
    pub rotate: fn(Isa, &mut AnySliceMut<'_>, usize, &Span, &[f32], &[f32]),
    /// [`reorder_heads`].
    pub reorder: fn(&mut AnySliceMut<'_>, Rows, usize, bool),
}

impl InPlace {
    /// One static table per type: a call passes one pointer.
    pub(crate) const fn of<E: Element>() -> &'static Self {
        &const {
            InPlace {
                rotate: |isa, x, from, span, cos, sin| {
                    if let Some(x) = typed_mut::<E>(x) {
                        isa.rotate(&mut x[from..], span, cos, sin)
                    }
                },
                reorder: |x, rows, rotary_dim, back| {
                    if let Some(x) = typed_mut::<E>(x) {
                        reorder_heads(x, rows, rotary_dim, back)
                    }
                },
            }
        }
    }
}

/// [`Isa::rotate_into`] on slices of any element types: source from an offset,
/// destination from an offset, span, destination row stride, cos, sin.
type RotateInto =
    fn(Isa, (&AnySlice<'_>, usize), (&mut AnySliceMut<'_>, usize), &Span, usize, &[f32], &[f32]);

/// The out-of-place kernels of one (source, destination) pair of element types, chosen
/// like [`InPlace`].
#[derive(Clone, Copy)]
pub(crate) struct OutOfPlace {
    /// [`Isa::rotate_into`].
    pub rotate_into: RotateInto,
    /// [`Isa::widen`] of `src[from..from + dst.len()]` (f32 sources are never widened).
    pub widen: fn(Isa, &AnySlice<'_>, usize, &mut [f32]),
    /// [`Isa::narrow`] into `dst[from..from + src.len()]`.
    pub narrow: fn(Isa, &[f32], &mut AnySliceMut<'_>, usize),
    /// The source type's in-place kernels (a decode step's Q) and the destination's.
    pub src: &'static InPlace,
    pub dst: &'static InPlace,
}

impl OutOfPlace {
    /// One static table per pair: a call passes one pointer.
    pub(crate) fn of<S: Element, D: Element>() -> &'static Self {
        &const {
            OutOfPlace {
                rotate_into: |isa, (src, i), (dst, j), span, dst_stride, cos, sin| {
                    if let (Some(s), Some(d)) = (typed::<S>(src), typed_mut::<D>(dst)) {
                        isa.rotate_into(&s[i..], &mut d[j..], span, dst_stride, cos, sin)
                    }
                },
                widen: |isa, src, from, dst| {
                    if let Some(s) = typed::<S>(src) {
                        isa.widen(&s[from..from + dst.len()], dst)
                    }
                },
                narrow: |isa, src, dst, from| {
                    if let Some(d) = typed_mut::<D>(dst) {
                        isa.narrow(src, &mut d[from..from + src.len()])
                    }
                },
                src: InPlace::of::<S>(),
                dst: InPlace::of::<D>(),
            }
        }
    }

    /// Convert `len` values from `src[from..]` into `dst[to..]`: an f32 source rounded
    /// straight into it, a 16-bit one widened into `scratch` a chunk at a time and
    /// rounded from there.
    pub(crate) fn convert(
        &self,
        isa: Isa,
        (src, from): (&AnySlice<'_>, usize),
        (dst, to): (&mut AnySliceMut<'_>, usize),
        len: usize,
        scratch: &mut [f32],
    ) {
        if let AnySlice::F32(f) = *src {
            return (self.narrow)(isa, &f[from..from + len], dst, to);
        }
        for off in (0..len).step_by(scratch.len()) {
            let n = scratch.len().min(len - off);
            let tmp = &mut scratch[..n];
            (self.widen)(isa, src, from + off, tmp);
            (self.narrow)(isa, tmp, dst, to + off);
        }
    }

    /// Convert channels `parts` of each of a token's `heads` from `src[base..]` (heads
    /// `src_stride` apart) into `dst[dst_base..]` (`dst_stride` apart). Out of line, so
    /// that its scratch is not on the stack while the rotation runs (the stack a
    /// microcontroller counts).
    #[inline(never)]
    pub(crate) fn convert_heads(
        &self,
        isa: Isa,
        (src, base, dst, dst_base): (&AnySlice<'_>, usize, &mut AnySliceMut<'_>, usize),
        (heads, src_stride, dst_stride): (usize, usize, usize),
        parts: [Range<usize>; 2],
    ) {
        // The conversion goes through this, a chunk at a time.
        let mut scratch = [0.0f32; 64];
        for h in 0..heads {
            let (s0, d0) = (base + h * src_stride, dst_base + h * dst_stride);
            for part in parts.iter().filter(|r| !r.is_empty()) {
                let (from, to) = (s0 + part.start, d0 + part.start);
                self.convert(isa, (src, from), (dst, to), part.len(), &mut scratch);
            }
        }
    }
}
