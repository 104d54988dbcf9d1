//! The bad-input contract: every mistake is a typed error with a helpful message, never a
//! panic, and an in-place call that fails leaves its buffers bit for bit as they were.

mod common;

use common::Rng;
use rope_simd::{
    bf16, Backend, Direction, PairLayout, Positions, Rope, RopeError, Rotate, View, MAX_POSITION,
    MAX_ROTARY_DIM,
};

fn rope() -> Rope {
    Rope::new(8, 10_000.0, PairLayout::HalfSplit).unwrap()
}

/// Run `call` on a copy of `x`; assert it fails with `want` and left the copy unchanged.
fn fails_untouched<E: Copy + PartialEq + core::fmt::Debug>(
    x: &[E],
    want: RopeError,
    call: impl FnOnce(&mut [E]) -> Result<(), RopeError>,
) {
    let mut y = x.to_vec();
    let got = call(&mut y);
    assert_eq!(got, Err(want));
    assert_eq!(x, &y[..], "buffer changed by a failing call ({want})");
    let msg = want.to_string();
    assert!(msg.len() > 20, "message too terse: {msg}");
}

#[test]
fn bad_configurations_are_typed_errors() {
    let b = Rope::builder;
    let cases: Vec<(Result<Rope, RopeError>, RopeError)> = vec![
        (
            b(7).build(),
            RopeError::OddDim {
                what: "head_dim",
                value: 7,
            },
        ),
        (b(0).build(), RopeError::ZeroDim { what: "head_dim" }),
        (
            b(8).rotary_dim(0).build(),
            RopeError::ZeroDim { what: "rotary_dim" },
        ),
        (
            b(8).rotary_dim(3).build(),
            RopeError::OddDim {
                what: "rotary_dim",
                value: 3,
            },
        ),
        (
            b(8).rotary_dim(10).build(),
            RopeError::RotaryDimTooLarge {
                rotary_dim: 10,
                head_dim: 8,
            },
        ),
        (
            b(2 * MAX_ROTARY_DIM).build(),
            RopeError::RotaryDimOverMax {
                rotary_dim: 2 * MAX_ROTARY_DIM,
                max: MAX_ROTARY_DIM,
            },
        ),
        (b(8).base(1.0).build(), RopeError::BadBase { base: 1.0 }),
        (b(8).base(-5.0).build(), RopeError::BadBase { base: -5.0 }),
        (
            b(8).base(f64::INFINITY).build(),
            RopeError::BadBase {
                base: f64::INFINITY,
            },
        ),
        (
            b(8).scale(0.0).build(),
            RopeError::BadScale {
                what: "scale",
                value: 0.0,
            },
        ),
        (
            b(8).scale(-1.0).build(),
            RopeError::BadScale {
                what: "scale",
                value: -1.0,
            },
        ),
        (
            b(8).inv_freqs(&[1.0, 0.5, 0.25]).build(),
            RopeError::WrongLength {
                what: "inv_freqs",
                expected: 4,
                got: 3,
            },
        ),
        (
            b(8).inv_freqs(&[1.0, 0.5, -0.25, 0.1]).build(),
            RopeError::BadFrequency {
                index: 2,
                value: -0.25,
            },
        ),
        (
            b(8).inv_freqs(&[1.0, f64::INFINITY, 0.25, 0.1]).build(),
            RopeError::BadFrequency {
                index: 1,
                value: f64::INFINITY,
            },
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got.unwrap_err(), want);
        assert!(want.to_string().len() > 20);
    }
    // NaN never compares equal, so check the variant.
    assert!(matches!(
        b(8).base(f64::NAN).build(),
        Err(RopeError::BadBase { .. })
    ));
    assert!(matches!(
        b(8).scale(f64::NAN).build(),
        Err(RopeError::BadScale { .. })
    ));
    assert!(matches!(
        b(4).inv_freqs(&[f64::NAN, 1.0]).build(),
        Err(RopeError::BadFrequency { index: 0, .. })
    ));
}

#[test]
fn bad_calls_leave_the_buffer_untouched() {
    let rope = rope();
    let x: Vec<f32> = Rng(7).vec(3 * 2 * 8, 4.0);
    fails_untouched(&x, RopeError::ZeroHeads { what: "x" }, |y| {
        rope.rotate(y, 0, Positions::Start(5))
    });
    fails_untouched(
        &x,
        RopeError::BufferLength {
            what: "x",
            len: 48,
            row: 40,
            tokens: None,
        },
        |y| rope.rotate(y, 5, Positions::Start(5)),
    );
    fails_untouched(
        &x,
        RopeError::BufferLength {
            what: "x",
            len: 48,
            row: 16,
            tokens: Some(2),
        },
        |y| rope.rotate(y, 2, Positions::List(&[1, 2])),
    );
    fails_untouched(
        &x,
        RopeError::PositionTooLarge {
            position: MAX_POSITION,
        },
        |y| rope.rotate(y, 2, Positions::List64(&[1, MAX_POSITION, 3])),
    );
    fails_untouched(
        &x,
        RopeError::PositionTooLarge { position: u64::MAX },
        |y| rope.rotate(y, 2, Positions::Start(u64::MAX)),
    );
    fails_untouched(
        &x,
        RopeError::PositionTooLarge {
            position: MAX_POSITION,
        },
        |y| rope.rotate(y, 2, Positions::Start(MAX_POSITION - 2)),
    );
    fails_untouched(&x, RopeError::SizeOverflow, |y| {
        rope.rotate(y, usize::MAX / 4, Positions::Start(0))
    });
    fails_untouched(&x, RopeError::SizeOverflow, |y| {
        let huge = [0u32; 3];
        // A list whose token count times the row overflows needs a huge list; a huge head
        // count overflows the row first.
        rope.rotate(y, usize::MAX / 2, Positions::List(&huge))
    });
    fails_untouched(
        &x,
        RopeError::WrongLength {
            what: "cos",
            expected: 4,
            got: 3,
        },
        |y| rope.rotate_with_cos_sin(y, &[1.0; 3], &[0.0; 4]),
    );
    fails_untouched(
        &x,
        RopeError::WrongLength {
            what: "sin",
            expected: 4,
            got: 5,
        },
        |y| rope.rotate_with_cos_sin(y, &[1.0; 4], &[0.0; 5]),
    );
    fails_untouched(
        &x[..44],
        RopeError::BufferLength {
            what: "heads",
            len: 44,
            row: 8,
            tokens: None,
        },
        |y| rope.rotate_with_cos_sin(y, &[1.0; 4], &[0.0; 4]),
    );
}

#[test]
fn a_position_past_the_table_fails_before_any_token_is_rotated() {
    let rope = rope();
    let table = rope.table(100).unwrap();
    let x: Vec<bf16> = Rng(9).vec(3 * 8, 4.0);
    // Tokens 0 and 1 are valid; token 2 is not. Nothing may be written.
    fails_untouched(
        &x,
        RopeError::PositionOutOfTable {
            position: 100,
            max_pos: 100,
        },
        |y| table.rotate(y, 1, Positions::List(&[5, 6, 100])),
    );
    fails_untouched(
        &x,
        RopeError::PositionOutOfTable {
            position: 100,
            max_pos: 100,
        },
        |y| table.rotate(y, 1, Positions::Start(98)),
    );
    let mut y = x.clone();
    table.rotate(&mut y, 1, Positions::Start(97)).unwrap(); // 97, 98, 99: fine
}

#[test]
fn qk_mismatch_leaves_both_untouched() {
    let rope = rope();
    let q: Vec<f32> = Rng(3).vec(2 * 4 * 8, 4.0);
    let k: Vec<f32> = Rng(4).vec(3 * 8, 4.0);
    let (mut q2, mut k2) = (q.clone(), k.clone());
    let err = rope
        .apply_qk(
            &mut q2,
            View::tokens_heads(4),
            &mut k2,
            View::tokens_heads(1),
            Positions::Start(3),
            Direction::Forward,
        )
        .unwrap_err();
    assert_eq!(
        err,
        RopeError::TokenMismatch {
            what: "k",
            tokens: 3,
            q_tokens: 2
        }
    );
    assert_eq!((q, k), (q2, k2));
    // K is checked too: a bad K must not let Q be written.
    let q: Vec<f32> = Rng(3).vec(2 * 4 * 8, 4.0);
    let mut q2 = q.clone();
    let mut k_bad = vec![0.0f32; 7];
    assert!(matches!(
        rope.rotate_qk(&mut q2, 4, &mut k_bad, 1, Positions::Start(3)),
        Err(RopeError::BufferLength { what: "k", .. })
    ));
    assert_eq!(q, q2);
}

#[test]
fn bad_tables_are_typed_errors() {
    let rope = rope();
    let mut small = vec![0.0f32; 10];
    assert_eq!(
        rope.build_table(2, &mut small).unwrap_err(),
        RopeError::WrongLength {
            what: "table storage",
            expected: 16,
            got: 10
        }
    );
    assert_eq!(small, vec![0.0; 10]);
    assert_eq!(
        rope.table_len(usize::MAX).unwrap_err(),
        RopeError::SizeOverflow
    );
}

#[test]
fn unavailable_backends_are_errors_not_ub() {
    for &b in Backend::ALL {
        let r = rope().with_backend(b);
        if b.is_available() {
            assert_eq!(r.unwrap().backend(), b);
        } else {
            assert_eq!(r.unwrap_err(), RopeError::BackendUnavailable { backend: b });
        }
    }
}

#[test]
fn nan_and_inf_propagate_without_panics() {
    for &backend in &common::backends() {
        for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
            let rope = Rope::builder(8)
                .layout(layout)
                .backend(backend)
                .build()
                .unwrap();
            let r = common::Reference {
                head_dim: 8,
                rotary_dim: 8,
                layout,
                inv_freq: rope.inv_freqs(),
                scale: 1.0,
            };
            let mut x = [1.0f32, -2.0, 0.5, 3.0, 0.25, 1.5, -1.0, 2.0];
            let (ia, _) = r.pair(1);
            let (ja, jb) = r.pair(3);
            x[ia] = f32::NAN;
            x[ja] = f32::INFINITY;
            x[jb] = f32::NEG_INFINITY;
            let mut y = x;
            rope.rotate(&mut y, 1, Positions::Start(12_345)).unwrap();
            let want = r.rotate(
                &common::widen(&x),
                1,
                common::Order::TokensHeads,
                &[12_345],
                false,
            );
            for i in 0..4 {
                let (a, b) = r.pair(i);
                let finite_in = x[a].is_finite() && x[b].is_finite();
                for idx in [a, b] {
                    assert_eq!(y[idx].is_finite(), finite_in, "element {idx}");
                    if finite_in {
                        assert!((f64::from(y[idx]) - want[idx]).abs() < 1e-5);
                    }
                }
            }
        }
    }
}

#[test]
fn frequencies_above_two_pi_are_rejected() {
    // Found by the fuzzer (fuzz/regressions/rotate/huge-frequency): a frequency of 1e219
    // rad/position has no exactly reducible angle; above 2pi it only aliases a lower one.
    let err = Rope::builder(4)
        .inv_freqs(&[1.0, 1.3e219])
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        RopeError::BadFrequency {
            index: 1,
            value: 1.3e219
        }
    );
    assert!(Rope::builder(4)
        .inv_freqs(&[std::f64::consts::TAU, 0.0])
        .build()
        .is_ok());
}

/// Owned tables too large to allocate, or to size, are errors: the process neither panics
/// nor aborts.
#[test]
#[cfg(all(target_pointer_width = "64", not(miri)))]
fn owned_tables_too_large_are_errors() {
    let rope = Rope::new(128, 10_000.0, PairLayout::HalfSplit).unwrap();
    assert_eq!(rope.table(1 << 57).unwrap_err(), RopeError::SizeOverflow);
    // 2 TiB and 3 TB: more than any machine these tests run on can give.
    assert_eq!(
        rope.table(1 << 32).unwrap_err(),
        RopeError::AllocFailed { bytes: 1 << 41 }
    );
    assert!(matches!(
        rope.compact_table(usize::MAX / 2),
        Err(RopeError::AllocFailed { .. } | RopeError::SizeOverflow)
    ));
}

/// Head counts name the buffer; windows past their cache's capacity, and strides that
/// overflow, are errors (with the capacity and rows in the message) rather than writes
/// into another head's rows.
#[test]
fn views_and_head_counts_name_the_mistake() {
    let rope = Rope::new(8, 10_000.0, PairLayout::HalfSplit).unwrap();
    let (q, k) = (vec![1.0f32; 8], vec![1.0f32; 8]);
    let (mut q1, mut k1) = (q.clone(), k.clone());
    assert_eq!(
        rope.rotate_qk(&mut q1, 1, &mut k1, 0, Positions::Start(0)),
        Err(RopeError::ZeroHeads { what: "k" })
    );
    // Strides whose span overflows: an error when used, no panic.
    let src = vec![1.0f32; 2 * 8];
    let mut cache = vec![0.0f32; 64];
    let view = View::tokens_heads(2);
    let huge = View::strided(2, 8, usize::MAX);
    assert_eq!(
        rope.rotate_into(&src, view, &mut cache, huge, Positions::Start(0)),
        Err(RopeError::SizeOverflow)
    );
    // A [2 heads, capacity 4, 8] cache written from row 3 with 2 tokens: the second token
    // of head 0 would be head 1's row 0.
    let src = vec![1.0f32; 2 * 2 * 8];
    let before = cache.clone();
    let err = rope
        .rotate_into(
            &src,
            view,
            &mut cache,
            View::heads_tokens(2).at(3),
            Positions::Start(0),
        )
        .unwrap_err();
    assert_eq!(
        err,
        RopeError::NoRoom {
            what: "dst",
            first: 3,
            tokens: 2,
            capacity: 4
        }
    );
    assert!(err.to_string().contains("4 token rows"), "{err}");
    assert_eq!(cache, before, "nothing written");
    // Rows 2 and 3 fit.
    let slot = View::heads_tokens(2).at(2);
    rope.rotate_into(&src, view, &mut cache, slot, Positions::Start(0))
        .unwrap();
    // A cache view with another head count than the source's.
    let err = rope
        .rotate_into(
            &src,
            view,
            &mut cache,
            View::heads_tokens(4).at(0),
            Positions::Start(0),
        )
        .unwrap_err();
    assert_eq!(
        err,
        RopeError::HeadMismatch {
            what: "dst",
            heads: 4,
            expected: 2
        }
    );
}

/// The misuse: a head count where elements are meant (`kv_heads` for `kv_heads *
/// head_dim`) wrote K at element 800 instead of row 100. Views count heads, so the
/// natural call is right; a strided view given heads for elements is an error even for
/// one token, where no rows overlap.
#[test]
fn a_row_in_heads_instead_of_elements_is_an_error() {
    // A small model (Miri runs this too): 2 KV heads of 8, a cache of 101 rows.
    let rope = Rope::new(8, 10_000.0, PairLayout::HalfSplit).unwrap();
    let k = vec![1.0f32; 2 * 8];
    let mut cache = vec![0.0f32; 101 * 2 * 8];
    let wrong = View::strided(2, 2, 8).at(100);
    let err = rope
        .rotate_into(
            &k,
            View::tokens_heads(2),
            &mut cache,
            wrong,
            Positions::Start(100),
        )
        .unwrap_err();
    assert!(
        matches!(err, RopeError::BadView { what: "dst", why } if why.contains("elements")),
        "{err}"
    );
    assert!(cache.iter().all(|&v| v == 0.0));
    let right = View::tokens_heads(2).at(100);
    rope.rotate_into(
        &k,
        View::tokens_heads(2),
        &mut cache,
        right,
        Positions::Start(100),
    )
    .unwrap();
    assert!(cache[..100 * 16].iter().all(|&v| v == 0.0));
    assert!(cache[100 * 16..].iter().all(|&v| v != 0.0));
}

/// Every error's message names what it is about (the argument, buffer or key, and the
/// values involved) and is more than a phrase, for each variant.
#[test]
fn every_message_names_its_argument() {
    use rope_simd::Backend;
    let cases: Vec<(RopeError, &[&str])> = vec![
        (
            RopeError::OddDim {
                what: "head_dim",
                value: 7,
            },
            &["head_dim", "7", "even"],
        ),
        (RopeError::ZeroDim { what: "rotary_dim" }, &["rotary_dim"]),
        (
            RopeError::RotaryDimTooLarge {
                rotary_dim: 96,
                head_dim: 64,
            },
            &["rotary_dim 96", "head_dim 64"],
        ),
        (
            RopeError::RotaryDimOverMax {
                rotary_dim: 1024,
                max: 512,
            },
            &["1024", "512"],
        ),
        (RopeError::BadBase { base: 0.5 }, &["base", "0.5"]),
        (
            RopeError::BadScale {
                what: "scale",
                value: 1e9,
            },
            &["scale", "1000000000"],
        ),
        (
            RopeError::WrongLength {
                what: "cos",
                expected: 32,
                got: 31,
            },
            &["cos", "32", "31"],
        ),
        (
            RopeError::BadFrequency {
                index: 3,
                value: 9.0,
            },
            &["3", "9"],
        ),
        (RopeError::ZeroHeads { what: "kv_heads" }, &["kv_heads"]),
        (
            RopeError::BufferLength {
                what: "q",
                len: 100,
                row: 64,
                tokens: None,
            },
            &["q", "100", "64", "head count"],
        ),
        (
            RopeError::BufferLength {
                what: "dst",
                len: 100,
                row: 64,
                tokens: Some(2),
            },
            &["dst", "100", "2 tokens", "128", "View::at"],
        ),
        (
            RopeError::TokenMismatch {
                what: "v",
                tokens: 3,
                q_tokens: 2,
            },
            &["v holds 3", "q holds 2"],
        ),
        (RopeError::SizeOverflow, &["overflows", "strides"]),
        (
            RopeError::PositionTooLarge { position: 1 << 60 },
            &["1152921504606846976", "2^53"],
        ),
        (
            RopeError::PositionOutOfTable {
                position: 9000,
                max_pos: 8192,
            },
            &["9000", "8192", "larger table"],
        ),
        (
            RopeError::BadView {
                what: "k_cache",
                why: "its rows overlap",
            },
            &["k_cache", "overlap"],
        ),
        (
            RopeError::NoRoom {
                what: "v_cache",
                first: 4095,
                tokens: 2,
                capacity: 4096,
            },
            &["v_cache", "4096 token rows", "4095..4097", "capacity"],
        ),
        (
            RopeError::HeadMismatch {
                what: "dst",
                heads: 4,
                expected: 8,
            },
            &["dst", "4 heads", "8"],
        ),
        (RopeError::Incompatible { what: "layout" }, &["layout"]),
        (
            RopeError::BadParameter {
                what: "beta_fast (> beta_slow)",
                value: 1.0,
            },
            &["beta_fast", "1"],
        ),
        (
            RopeError::Conflict {
                what: "inv_freqs and scaling",
            },
            &["inv_freqs and scaling"],
        ),
        (
            RopeError::BadSections {
                sum: 30,
                expected: 32,
            },
            &["30", "32"],
        ),
        (RopeError::NotMultiAxis, &["Positions::Axes", "Axes::MRope"]),
        (
            RopeError::TokenRange {
                first: 8,
                tokens: 4,
                total: 10,
            },
            &["8..12", "10"],
        ),
        (
            RopeError::MissingField { what: "rope_theta" },
            &["rope_theta"],
        ),
        (
            RopeError::AllocFailed {
                bytes: 3_000_000_000,
            },
            &["3000000000", "compact table"],
        ),
        (
            RopeError::BadMetadata {
                what: "rope.freq_base (a float)",
            },
            &["rope.freq_base"],
        ),
        (
            RopeError::BadJson {
                at: 17,
                field: "head_dim",
                why: "expected an integer",
            },
            &["head_dim", "17", "integer"],
        ),
        (
            RopeError::BackendUnavailable {
                backend: Backend::Avx512,
            },
            &["Avx512", "Backend::available"],
        ),
    ];
    for (err, parts) in cases {
        let msg = err.to_string();
        assert!(msg.len() > 20, "too terse: {msg}");
        for part in parts {
            assert!(msg.contains(part), "{err:?}: {msg:?} lacks {part:?}");
        }
    }
}
