//! quickcheck properties of every rotation, on every backend of this machine and every
//! element type, against the float64 reference in `common`.

mod common;
use common::Order;

use common::{assert_close, assert_same_bits, backends, widen, Reference, Rng, TestElement};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use rope_simd::{bf16, f16, Backend, Direction, PairLayout, Positions, Rope, Rotate, View};

#[derive(Clone, Debug)]
enum Pos {
    Start(u64),
    List(Vec<u32>),
}

impl Pos {
    fn list(&self, tokens: usize) -> Vec<u64> {
        match self {
            Pos::Start(s) => (0..tokens as u64).map(|t| s + t).collect(),
            Pos::List(l) => l.iter().map(|&p| u64::from(p)).collect(),
        }
    }
    fn positions(&self) -> Positions<'_> {
        match self {
            Pos::Start(s) => Positions::Start(*s),
            Pos::List(l) => Positions::List(l),
        }
    }
}

/// A random but valid call: configuration, shape, positions, direction, data.
#[derive(Clone, Debug)]
struct Case {
    head_dim: usize,
    rotary_dim: usize,
    layout: PairLayout,
    base: f64,
    scale: f64,
    freqs: Option<Vec<f64>>,
    heads: usize,
    tokens: usize,
    pos: Pos,
    order: Order,
    direction: Direction,
    seed: u64,
}

fn pick<T: Clone>(g: &mut Gen, xs: &[T]) -> T {
    g.choose(xs).unwrap().clone()
}

fn below(g: &mut Gen, n: u64) -> u64 {
    u64::arbitrary(g) % n
}

/// A position below 2^24, biased to the interesting ones.
fn position(g: &mut Gen) -> u64 {
    if bool::arbitrary(g) {
        pick(
            g,
            &[
                0,
                1,
                2,
                4095,
                32_767,
                131_071,
                500_000,
                1_000_000,
                (1 << 24) - 8,
            ],
        )
    } else {
        below(g, 1 << 24)
    }
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let head_dim = 2 * (1 + below(g, 40) as usize);
        let rotary_dim = if bool::arbitrary(g) {
            head_dim
        } else {
            2 * (1 + below(g, head_dim as u64 / 2) as usize)
        };
        let tokens = below(g, 5) as usize;
        let pos = if bool::arbitrary(g) {
            Pos::Start(position(g))
        } else {
            Pos::List((0..tokens).map(|_| position(g) as u32).collect())
        };
        let freqs = if below(g, 4) == 0 {
            Some(
                (0..rotary_dim / 2)
                    .map(|_| f64::from(below(g, 1 << 20) as u32) / f64::from(1u32 << 20))
                    .collect(),
            )
        } else {
            None
        };
        Case {
            head_dim,
            rotary_dim,
            layout: pick(g, &[PairLayout::Interleaved, PairLayout::HalfSplit]),
            base: pick(g, &[10_000.0, 500_000.0, 1_000_000.0, 2.0, 1e9]),
            scale: pick(g, &[1.0, 1.0, 0.5, 1.2079]),
            freqs,
            heads: 1 + below(g, 4) as usize,
            tokens,
            pos,
            order: pick(g, &[Order::TokensHeads, Order::HeadsTokens]),
            direction: pick(
                g,
                &[Direction::Forward, Direction::Inverse, Direction::Transpose],
            ),
            seed: 1 + u64::arbitrary(g) % 1_000_000,
        }
    }
}

impl Case {
    fn rope(&self, backend: Backend) -> Rope {
        let mut b = Rope::builder(self.head_dim)
            .rotary_dim(self.rotary_dim)
            .base(self.base)
            .layout(self.layout)
            .scale(self.scale)
            .backend(backend);
        if let Some(f) = &self.freqs {
            b = b.inv_freqs(f);
        }
        b.build().expect("valid case")
    }

    fn len(&self) -> usize {
        self.tokens * self.heads * self.head_dim
    }

    fn reference<'r>(&self, rope: &'r Rope) -> Reference<'r> {
        Reference {
            head_dim: self.head_dim,
            rotary_dim: self.rotary_dim,
            layout: self.layout,
            inv_freq: rope.inv_freqs(),
            scale: self.scale,
        }
    }

    /// A case with the plain reference frequencies (not the crate's).
    fn plain_freqs(&self) -> Vec<f64> {
        self.freqs
            .clone()
            .unwrap_or_else(|| Reference::default_freqs(self.base, self.rotary_dim))
    }

    /// Positions the buffer actually holds (a list fixes the token count).
    fn token_count(&self) -> usize {
        match &self.pos {
            Pos::Start(_) => self.tokens,
            Pos::List(l) => l.len(),
        }
    }
}

fn quickcheck(tests: u64, f: fn(Case)) {
    let _ = backends();
    let tests = if cfg!(miri) { 3 } else { tests }; // Miri: a few cases, for UB
    QuickCheck::new()
        .tests(tests)
        .max_tests(tests * 4)
        .quickcheck(f);
}

/// Every backend, every dtype: the result is within the bound of the float64 reference,
/// and has the scalar backend's bits; channels past rotary_dim keep their bits.
fn agrees<E: TestElement>(case: &Case) {
    let mut case = case.clone();
    case.tokens = case.token_count();
    let mut rng = Rng(case.seed);
    let x: Vec<E> = rng.vec(case.len(), 100.0);
    let scalar = {
        let mut y = x.clone();
        case.rope(Backend::Scalar)
            .apply(
                &mut y,
                common::view(case.heads, case.order),
                case.pos.positions(),
                case.direction,
            )
            .unwrap();
        y
    };
    let freqs = case.plain_freqs();
    let scalar_rope = case.rope(Backend::Scalar);
    let r = Reference {
        inv_freq: &freqs,
        ..case.reference(&scalar_rope)
    };
    // The transpose is every token turned back at the forward magnitude.
    let list = case.pos.list(case.tokens);
    let want = r.rotate_signed_at(
        &widen(&x),
        case.heads,
        case.order,
        case.tokens,
        |t, _| list[t],
        |_| case.direction == Direction::Transpose,
        case.direction == Direction::Inverse,
    );
    assert_close(&r, &x, &scalar, &want, E::NAME);
    for h in 0..x.len() / case.head_dim {
        let o = h * case.head_dim;
        assert_same_bits(
            &x[o + case.rotary_dim..o + case.head_dim],
            &scalar[o + case.rotary_dim..o + case.head_dim],
            "pass-through channels",
        );
    }
    for &backend in &backends() {
        let mut y = x.clone();
        case.rope(backend)
            .apply(
                &mut y,
                common::view(case.heads, case.order),
                case.pos.positions(),
                case.direction,
            )
            .unwrap();
        assert_same_bits(&scalar, &y, backend.name());
    }
}

#[test]
fn every_backend_and_dtype_agrees_with_the_reference() {
    quickcheck(300, |c| {
        agrees::<f32>(&c);
        agrees::<f16>(&c);
        agrees::<bf16>(&c);
    });
}

/// The pair norm is preserved (scaled by `scale`) within the rounding bound.
#[test]
fn rotation_preserves_pair_norms() {
    quickcheck(200, |c| {
        let mut c = c;
        c.tokens = c.token_count();
        let rope = c.rope(Backend::detect());
        let x: Vec<f32> = Rng(c.seed).vec(c.len(), 10.0);
        let mut y = x.clone();
        rope.apply(
            &mut y,
            common::view(c.heads, c.order),
            c.pos.positions(),
            c.direction,
        )
        .unwrap();
        let r = c.reference(&rope);
        for h in 0..x.len() / c.head_dim {
            for i in 0..c.rotary_dim / 2 {
                let (ia, ib) = r.pair(i);
                let (ia, ib) = (h * c.head_dim + ia, h * c.head_dim + ib);
                let scale = match c.direction {
                    Direction::Inverse => 1.0 / c.scale,
                    _ => c.scale,
                };
                let n0 = f64::from(x[ia]).hypot(f64::from(x[ib])) * scale;
                let n1 = f64::from(y[ia]).hypot(f64::from(y[ib]));
                let tol = 8.0 * f64::from(f32::EPSILON) * (n0 + 1e-30) * 2.0;
                assert!((n0 - n1).abs() <= tol, "norm {n0} -> {n1}");
            }
        }
    });
}

/// Inverse after forward gives the input back, within twice the bound, at any magnitude
/// scale.
#[test]
fn inverse_undoes_rotation() {
    quickcheck(200, |c| {
        let mut c = c;
        c.tokens = c.token_count();
        let rope = c.rope(Backend::detect());
        let x: Vec<f32> = Rng(c.seed).vec(c.len(), 10.0);
        let mut y = x.clone();
        let shape = common::view(c.heads, c.order);
        rope.apply(&mut y, shape, c.pos.positions(), Direction::Forward)
            .unwrap();
        rope.apply(&mut y, shape, c.pos.positions(), Direction::Inverse)
            .unwrap();
        let r = c.reference(&rope);
        // Twice the bound of the larger magnitude (assert_close takes the larger of a
        // scale and its inverse).
        assert_close(
            &Reference {
                scale: 2.0 * c.scale.max(1.0 / c.scale),
                ..r
            },
            &x,
            &y,
            &widen(&x),
            "inverse(rotate(x))",
        );
    });
}

/// Rotating by p then by q is rotating by p + q (within twice the bound): the KV-cache
/// shift recipe.
#[test]
fn rotations_compose() {
    quickcheck(200, |c| {
        let mut c = c;
        c.tokens = 1;
        c.scale = 1.0;
        let rope = c.rope(Backend::detect());
        let p = c.seed % (1 << 23);
        let q = c.seed.wrapping_mul(7919) % (1 << 23);
        let x: Vec<f32> = Rng(c.seed).vec(c.len(), 10.0);
        let mut two_steps = x.clone();
        rope.rotate(&mut two_steps, c.heads, Positions::Start(p))
            .unwrap();
        rope.rotate(&mut two_steps, c.heads, Positions::Start(q))
            .unwrap();
        let freqs = c.plain_freqs();
        let r = Reference {
            inv_freq: &freqs,
            scale: 2.0,
            ..c.reference(&rope)
        };
        let want = Reference { scale: 1.0, ..r }.rotate(
            &widen(&x),
            c.heads,
            Order::TokensHeads,
            &[p + q],
            false,
        );
        assert_close(&r, &x, &two_steps, &want, "rotate(p) then rotate(q)");
    });
}

/// Position 0 (with scale 1) is the identity, bit for bit, -0.0 and NaN included.
#[test]
fn position_zero_is_the_identity() {
    quickcheck(100, |c| {
        let mut c = c;
        c.scale = 1.0;
        c.tokens = 3;
        let rope = c.rope(Backend::detect());
        let mut x: Vec<f32> = Rng(c.seed).vec(c.len(), 10.0);
        if x.len() > 2 {
            x[0] = -0.0;
            x[1] = f32::NAN;
            x[2] = f32::INFINITY;
        }
        let mut y = x.clone();
        rope.rotate(&mut y, c.heads, Positions::List(&[0, 0, 0]))
            .unwrap();
        assert_eq!(
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    });
}

/// A table and the on-the-fly source give the same bits, on every backend and dtype.
#[test]
fn table_and_on_the_fly_agree() {
    fn same<E: TestElement>(c: &Case, rope: &Rope, table: &impl Rotate, positions: &[u32]) {
        let x: Vec<E> = Rng(c.seed).vec(positions.len() * c.heads * c.head_dim, 50.0);
        let (mut a, mut b) = (x.clone(), x.clone());
        let shape = common::view(c.heads, c.order);
        rope.apply(&mut a, shape, Positions::List(positions), c.direction)
            .unwrap();
        table
            .apply(&mut b, shape, Positions::List(positions), c.direction)
            .unwrap();
        assert_same_bits(&a, &b, "table vs on the fly");
    }
    quickcheck(100, |c| {
        for backend in backends() {
            let rope = c.rope(backend);
            let max_pos = 1 + (c.seed % 3000) as usize;
            let mut storage = vec![0.0; rope.table_len(max_pos).unwrap()];
            let table = rope.build_table(max_pos, &mut storage).unwrap();
            let mut rng = Rng(c.seed);
            let positions: Vec<u32> = (0..c.tokens)
                .map(|_| rng.below(max_pos as u64) as u32)
                .collect();
            same::<f32>(&c, &rope, &table, &positions);
            same::<f16>(&c, &rope, &table, &positions);
            same::<bf16>(&c, &rope, &table, &positions);
        }
    });
}

/// Q and K in one call give the bits of two separate calls.
#[test]
fn qk_in_one_call_matches_two_calls() {
    quickcheck(100, |c| {
        let mut c = c;
        c.tokens = c.token_count();
        let rope = c.rope(Backend::detect());
        let kv_heads = 1 + (c.seed % 3) as usize;
        let mut rng = Rng(c.seed);
        let q: Vec<bf16> = rng.vec(c.len(), 8.0);
        let k: Vec<bf16> = rng.vec(c.tokens * kv_heads * c.head_dim, 8.0);
        let (mut q1, mut k1, mut q2, mut k2) = (q.clone(), k.clone(), q, k);
        let (qs, ks) = (common::view(c.heads, c.order), View::tokens_heads(kv_heads));
        rope.apply_qk(&mut q1, qs, &mut k1, ks, c.pos.positions(), c.direction)
            .unwrap();
        rope.apply(&mut q2, qs, c.pos.positions(), c.direction)
            .unwrap();
        rope.apply(&mut k2, ks, c.pos.positions(), c.direction)
            .unwrap();
        assert_same_bits(&q1, &q2, "q");
        assert_same_bits(&k1, &k2, "k");
    });
}

/// The low-level entry with the source's own cos/sin gives the high-level call's bits.
#[test]
fn low_level_entry_matches_high_level() {
    quickcheck(100, |c| {
        let rope = c.rope(Backend::detect());
        let table = rope.table(8).unwrap();
        let p = (c.seed % 8) as usize;
        let x: Vec<f16> = Rng(c.seed).vec(c.heads * c.head_dim, 8.0);
        let (mut a, mut b) = (x.clone(), x);
        rope.rotate(&mut a, c.heads, Positions::Start(p as u64))
            .unwrap();
        let (cos, sin) = table.cos_sin(p).unwrap();
        if p == 0 && c.scale == 1.0 {
            return; // the high-level call skips position 0; cos 1, sin 0 may flip -0.0
        }
        rope.rotate_with_cos_sin(&mut b, cos, sin).unwrap();
        assert_same_bits(&a, &b, "low level");
    });
}
