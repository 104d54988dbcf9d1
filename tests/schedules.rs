//! Frequency schedules beyond the golden file: how they relate to each other and to ggml,
//! multi-axis positions on every source and backend, and the typed errors of bad
//! parameters (with the buffer untouched).

mod common;

use common::{assert_same_bits, axis_of, Reference, Rng};
use rope_simd::{
    bf16, f16, Axes, Backend, ContextLengths, Ggml, Llama3, LongRope, LongRopeChoice, PairLayout,
    Positions, Rope, RopeError, Rotate, Scaling, View, Yarn,
};

fn close(a: &[f64], b: &[f64], rel: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let tol = rel * x.abs().max(y.abs());
        assert!((x - y).abs() <= tol, "{what}: pair {i}: {x:e} vs {y:e}");
    }
}

#[test]
fn ggml_yarn_is_transformers_yarn() {
    // The same model (Qwen2.5 + YaRN x4) described both ways.
    let hf = Rope::builder(128)
        .base(1e6)
        .scaling(Scaling::Yarn(Yarn::new(4.0, 32_768)))
        .build()
        .unwrap();
    let g = Ggml::new(128, 1e6)
        .freq_scale(0.25)
        .ext_factor(1.0)
        .n_ctx_orig(32_768);
    let gg = Rope::ggml(128, PairLayout::HalfSplit, &g).unwrap();
    close(hf.inv_freqs(), gg.inv_freqs(), 1e-15, "yarn frequencies");
    assert!((hf.scale() - gg.scale()).abs() < 1e-15);
    // YaRN off: freq_scale is linear interpolation, attn_factor the magnitude.
    let g = Ggml::new(64, 10_000.0).freq_scale(0.5).attn_factor(0.75);
    let gg = Rope::ggml(64, PairLayout::Interleaved, &g).unwrap();
    let lin = Rope::builder(64)
        .scaling(Scaling::Linear { factor: 2.0 })
        .scale(0.75)
        .build()
        .unwrap();
    close(
        lin.inv_freqs(),
        gg.inv_freqs(),
        1e-15,
        "linear via freq_scale",
    );
    assert_eq!(gg.scale(), 0.75);
    assert_eq!(gg.layout(), PairLayout::Interleaved);
}

#[test]
fn llama3_equals_its_ggml_freq_factors() {
    // llama.cpp runs Llama 3.1 as the default schedule divided by per-pair factors.
    let l3 = Rope::builder(128)
        .base(500_000.0)
        .scaling(Scaling::Llama3(Llama3::llama_3_1()))
        .build()
        .unwrap();
    let plain = Rope::builder(128).base(500_000.0).build().unwrap();
    let factors: Vec<f64> = plain
        .inv_freqs()
        .iter()
        .zip(l3.inv_freqs())
        .map(|(p, l)| p / l)
        .collect();
    assert!(factors.iter().all(|&f| (1.0..=8.0 + 1e-12).contains(&f)));
    assert_eq!(factors[0], 1.0);
    assert!((factors[63] - 8.0).abs() < 1e-12);
    let via_builder = Rope::builder(128)
        .base(500_000.0)
        .freq_factors(&factors)
        .build()
        .unwrap();
    close(
        l3.inv_freqs(),
        via_builder.inv_freqs(),
        1e-15,
        "builder freq_factors",
    );
    let g = Ggml::new(128, 500_000.0).freq_factors(&factors);
    let via_ggml = Rope::ggml(128, PairLayout::HalfSplit, &g).unwrap();
    close(
        l3.inv_freqs(),
        via_ggml.inv_freqs(),
        1e-15,
        "ggml freq_factors",
    );
}

#[test]
fn schedule_identities() {
    let plain = Rope::builder(128).build().unwrap();
    // Dynamic NTK at or below the model's length is the default schedule.
    for seq_len in [0, 100, 4096] {
        let d = Rope::builder(128)
            .scaling(Scaling::DynamicNtk {
                factor: 2.0,
                max_position_embeddings: 4096,
                seq_len,
            })
            .build()
            .unwrap();
        close(
            plain.inv_freqs(),
            d.inv_freqs(),
            1e-15,
            "dynamic NTK at short length",
        );
    }
    // Past it, the base grows: every frequency but the first decreases.
    let d = Rope::builder(128)
        .scaling(Scaling::DynamicNtk {
            factor: 2.0,
            max_position_embeddings: 4096,
            seq_len: 8192,
        })
        .build()
        .unwrap();
    assert_eq!(d.inv_freqs()[0], 1.0);
    assert!(d.inv_freqs()[1..]
        .iter()
        .zip(&plain.inv_freqs()[1..])
        .all(|(d, p)| d < p));
    // Static NTK with alpha: base * alpha^(d/(d-2)).
    let ntk = Rope::builder(128)
        .scaling(Scaling::NtkAware { alpha: 8.0 })
        .build()
        .unwrap();
    let by_base = Rope::builder(128)
        .base(10_000.0 * 8f64.powf(128.0 / 126.0))
        .build()
        .unwrap();
    close(ntk.inv_freqs(), by_base.inv_freqs(), 1e-15, "NTK-aware");
    // YaRN factor 1 (and mscale 1) changes nothing.
    let y = Rope::builder(128)
        .scaling(Scaling::Yarn(Yarn::new(1.0, 4096)))
        .build()
        .unwrap();
    close(plain.inv_freqs(), y.inv_freqs(), 1e-15, "YaRN factor 1");
    assert_eq!(y.scale(), 1.0);
    // The attention factor multiplies the builder's scale.
    let y2 = Rope::builder(128)
        .scaling(Scaling::Yarn(Yarn::new(4.0, 4096)))
        .scale(2.0)
        .build()
        .unwrap();
    assert!((y2.scale() - 2.0 * (1.0 + 0.1 * 4f64.ln())).abs() < 1e-15);
    // GPT-OSS's truncate = false moves the ramp's ends off whole pairs.
    let t = |truncate| {
        Rope::builder(64)
            .base(150_000.0)
            .scaling(Scaling::Yarn(Yarn::new(32.0, 4096).truncate(truncate)))
            .build()
            .unwrap()
    };
    assert_ne!(t(true).inv_freqs(), t(false).inv_freqs());
}

#[test]
fn longrope_choice_follows_transformers_rule() {
    let short: Vec<f64> = (0..32).map(|i| 1.0 + 0.1 * i as f64).collect();
    let long: Vec<f64> = (0..32).map(|i| 1.0 + 2.0 * i as f64).collect();
    let rope = |choice| {
        Rope::builder(64)
            .scaling(Scaling::LongRope(LongRope::new(
                &short,
                &long,
                ContextLengths {
                    original: 4096,
                    extended: 131_072,
                },
                choice,
            )))
            .build()
            .unwrap()
    };
    let (s, l) = (rope(LongRopeChoice::Short), rope(LongRopeChoice::Long));
    assert_eq!(
        rope(LongRopeChoice::SeqLen(4096)).inv_freqs(),
        s.inv_freqs()
    );
    assert_eq!(
        rope(LongRopeChoice::SeqLen(4097)).inv_freqs(),
        l.inv_freqs()
    );
    // Phi-3's attention factor: sqrt(1 + ln 32 / ln 4096), for either list.
    let want = (1.0 + 32f64.ln() / 4096f64.ln()).sqrt();
    assert!((s.scale() - want).abs() < 1e-15 && (l.scale() - want).abs() < 1e-15);
    // Moving cached keys from the short to the long factors (re-rotation) matches
    // rotating with the long factors from scratch.
    let mut rng = Rng(7);
    let x: Vec<f32> = (0..6 * 64).map(|_| rng.f32(2.0)).collect();
    let positions: Vec<u64> = vec![0, 1, 4095, 4096, 30_000, 131_071];
    let (mut moved, mut fresh) = (x.clone(), x.clone());
    s.rotate(&mut moved, 1, Positions::List64(&positions))
        .unwrap();
    s.rerotation(&l)
        .unwrap()
        .rotate(&mut moved, 1, Positions::List64(&positions))
        .unwrap();
    l.rotate(&mut fresh, 1, Positions::List64(&positions))
        .unwrap();
    for (i, (a, b)) in moved.iter().zip(&fresh).enumerate() {
        assert!((a - b).abs() <= 3e-6, "element {i}: {a} vs {b}");
    }
}

#[test]
fn proportional_tail_pairs_do_not_turn() {
    let rope = Rope::builder(32)
        .layout(PairLayout::HalfSplit)
        .proportional_rotary(8)
        .build()
        .unwrap();
    assert_eq!(rope.rotary_dim(), 32);
    assert_eq!(&rope.inv_freqs()[4..], &[0.0; 12]);
    // The first four pairs use base^(-2i/head_dim), not base^(-2i/8).
    close(
        &rope.inv_freqs()[..4],
        &Reference::default_freqs(10_000.0, 32)[..4],
        1e-15,
        "proportional",
    );
    let mut rng = Rng(3);
    let x: Vec<f32> = (0..3 * 32).map(|_| rng.f32(4.0)).collect();
    let mut y = x.clone();
    rope.rotate(&mut y, 1, Positions::Start(1000)).unwrap();
    for t in 0..3 {
        for c in (4..16).chain(20..32) {
            assert_eq!(y[t * 32 + c], x[t * 32 + c], "token {t} channel {c} turned");
        }
    }
    // Not the prefix form: there the first 8 channels pair among themselves.
    let prefix = Rope::builder(32).rotary_dim(8).build().unwrap();
    let mut z = x.clone();
    prefix.rotate(&mut z, 1, Positions::Start(1000)).unwrap();
    assert_ne!(y, z);
}

/// Every source and backend, multi-axis positions: the bits of the scalar on-the-fly
/// path, the float64 reference's values, and text tokens (equal coordinates) the same as a
/// plain position list.
fn multi_axis_case<E: common::TestElement>(axes: Axes, head_dim: usize, layout: PairLayout) {
    let base = Rope::builder(head_dim)
        .base(1e6)
        .layout(layout)
        .axes(axes)
        .build()
        .unwrap();
    let n = axes.count();
    let tokens = 7;
    let mut rng = Rng(head_dim as u64 + 1);
    let mut coords: Vec<u32> = (0..tokens * n).map(|_| rng.below(5000) as u32).collect();
    coords[..n].fill(77); // a text token: every axis at 77
    let x: Vec<E> = (0..tokens * 3 * head_dim)
        .map(|_| E::from_f32(rng.f32(3.0)))
        .collect();
    let scalar = base.clone().with_backend(Backend::Scalar).unwrap();
    let mut want = x.clone();
    scalar
        .rotate(&mut want, 3, Positions::Axes(&coords))
        .unwrap();
    // The float64 reference with each pair at its own axis's coordinate.
    let pairs = base.pairs();
    let r = Reference {
        head_dim,
        rotary_dim: base.rotary_dim(),
        layout,
        inv_freq: base.inv_freqs(),
        scale: 1.0,
    };
    let xf: Vec<f64> = x.iter().map(|v| f64::from(v.to_f32())).collect();
    let at = |t: usize, i: usize| u64::from(coords[t * n + axis_of(axes, i, pairs)]);
    let reference = r.rotate_at(&xf, 3, common::Order::TokensHeads, tokens, at, false);
    common::assert_close(&r, &x, &want, &reference, "multi-axis vs reference");
    for backend in Backend::available() {
        let rope = base.clone().with_backend(backend).unwrap();
        let mut a = x.clone();
        rope.rotate(&mut a, 3, Positions::Axes(&coords)).unwrap();
        assert_same_bits(&want, &a, backend.name());
        let mut b = x.clone();
        rope.table(5000)
            .unwrap()
            .rotate(&mut b, 3, Positions::Axes(&coords))
            .unwrap();
        assert_same_bits(&want, &b, "table");
        // The compact table: within the bound (its cos/sin may differ by an ulp).
        let mut c = x.clone();
        rope.compact_table(5000)
            .unwrap()
            .rotate(&mut c, 3, Positions::Axes(&coords))
            .unwrap();
        common::assert_close(&r, &x, &c, &reference, "compact table, multi-axis");
        // Out of place into a cache slot of the same type: the in-place bits.
        let mut cache = vec![E::from_f32(0.0); x.len()];
        rope.apply_into(
            &x,
            View::tokens_heads(3),
            &mut cache,
            rope_simd::View::tokens_heads(3).at(0),
            Positions::Axes(&coords),
            rope_simd::Direction::Forward,
        )
        .unwrap();
        assert_same_bits(&want, &cache, "rotate_into with axes");
    }
    // The text token equals a plain position.
    let mut text = x[..3 * head_dim].to_vec();
    scalar.rotate(&mut text, 3, Positions::Start(77)).unwrap();
    assert_same_bits(&want[..3 * head_dim], &text, "text token");
}

#[test]
fn multi_axis_positions_on_every_source_and_backend() {
    for layout in [PairLayout::HalfSplit, PairLayout::Interleaved] {
        multi_axis_case::<f32>(Axes::MRope([16, 24, 24]), 128, layout);
        multi_axis_case::<bf16>(Axes::MRopeInterleaved([24, 20, 20]), 128, layout);
        multi_axis_case::<f16>(Axes::Axial2d, 80, layout);
        multi_axis_case::<f32>(Axes::MRope([1, 2, 3]), 12, layout);
        multi_axis_case::<f32>(Axes::MRopeInterleaved([3, 2, 1]), 12, layout);
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let bad_param = |scaling: Scaling<'_>| {
        let e = Rope::builder(128).scaling(scaling).build().unwrap_err();
        assert!(
            matches!(e, RopeError::BadParameter { .. }),
            "{scaling:?}: {e:?}"
        );
        assert!(!e.to_string().is_empty());
    };
    for f in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        bad_param(Scaling::Linear { factor: f });
        bad_param(Scaling::NtkAware { alpha: f });
        bad_param(Scaling::DynamicNtk {
            factor: f,
            max_position_embeddings: 4096,
            seq_len: 9000,
        });
        bad_param(Scaling::Yarn(Yarn::new(f, 4096)));
        bad_param(Scaling::Llama3(Llama3::new(f, 1.0, 4.0, 8192)));
        bad_param(Scaling::Yarn(Yarn::new(4.0, 4096).attention_factor(f)));
    }
    bad_param(Scaling::Yarn(
        Yarn::new(4.0, 4096).beta_fast(1.0).beta_slow(32.0),
    ));
    bad_param(Scaling::Yarn(Yarn::new(4.0, 4096).mscale(f64::NAN)));
    bad_param(Scaling::Yarn(Yarn::new(4.0, 0)));
    bad_param(Scaling::Llama3(Llama3::new(8.0, 4.0, 4.0, 8192)));
    bad_param(Scaling::Llama3(Llama3::new(8.0, 1.0, 4.0, 0)));
    bad_param(Scaling::DynamicNtk {
        factor: 2.0,
        max_position_embeddings: 0,
        seq_len: 10,
    });
    // NTK needs d > 2.
    let e = Rope::builder(2)
        .scaling(Scaling::NtkAware { alpha: 2.0 })
        .build()
        .unwrap_err();
    assert!(matches!(e, RopeError::BadParameter { .. }));
    // Factor lists of the wrong length, or with a non-positive entry.
    let ok = [1.0; 64];
    let short = [1.0; 63];
    let zero = {
        let mut z = [1.0; 64];
        z[5] = 0.0;
        z
    };
    let lr = |s: &[f64], l: &[f64]| {
        Rope::builder(128)
            .scaling(Scaling::LongRope(LongRope::new(
                s,
                l,
                ContextLengths {
                    original: 4096,
                    extended: 131_072,
                },
                LongRopeChoice::Short,
            )))
            .build()
            .unwrap_err()
    };
    assert!(matches!(lr(&short, &ok), RopeError::WrongLength { .. }));
    assert!(matches!(lr(&ok, &short), RopeError::WrongLength { .. }));
    assert!(matches!(lr(&zero, &ok), RopeError::BadParameter { .. }));
    assert!(matches!(
        Rope::builder(128).freq_factors(&short).build().unwrap_err(),
        RopeError::WrongLength { .. }
    ));
    assert!(matches!(
        Rope::builder(128).freq_factors(&zero).build().unwrap_err(),
        RopeError::BadParameter { .. }
    ));
    // A freq factor so small the frequency passes 2pi.
    let mut tiny = [1.0; 64];
    tiny[0] = 0.1;
    assert!(matches!(
        Rope::builder(128).freq_factors(&tiny).build().unwrap_err(),
        RopeError::BadFrequency { index: 0, .. }
    ));
    // Sections that do not sum to rotary_dim / 2; odd pair counts for axial.
    for axes in [
        Axes::MRope([16, 24, 23]),
        Axes::MRopeInterleaved([24, 20, 21]),
    ] {
        assert!(matches!(
            Rope::builder(128).axes(axes).build().unwrap_err(),
            RopeError::BadSections { expected: 64, .. }
        ));
    }
    assert!(matches!(
        Rope::builder(6).axes(Axes::Axial2d).build().unwrap_err(),
        RopeError::BadSections { .. }
    ));
    // Options that do not combine.
    for b in [
        Rope::builder(128).rotary_dim(64).proportional_rotary(32),
        Rope::builder(128)
            .inv_freqs(&ok)
            .scaling(Scaling::Linear { factor: 2.0 }),
        Rope::builder(128).inv_freqs(&ok).freq_factors(&ok),
        Rope::builder(128)
            .proportional_rotary(64)
            .scaling(Scaling::Yarn(Yarn::new(4.0, 4096))),
        Rope::builder(128)
            .proportional_rotary(64)
            .axes(Axes::Axial2d),
    ] {
        assert!(matches!(b.build().unwrap_err(), RopeError::Conflict { .. }));
    }
    assert!(matches!(
        Rope::builder(128)
            .proportional_rotary(130)
            .build()
            .unwrap_err(),
        RopeError::RotaryDimTooLarge { .. }
    ));
    assert!(matches!(
        Rope::builder(128)
            .proportional_rotary(7)
            .build()
            .unwrap_err(),
        RopeError::OddDim { .. }
    ));
    // An attention factor that pushes the scale out of range.
    assert!(matches!(
        Rope::builder(128)
            .scaling(Scaling::Yarn(Yarn::new(4.0, 4096).attention_factor(1e6)))
            .build()
            .unwrap_err(),
        RopeError::BadScale { .. }
    ));
    // ggml: bad base, scale, betas (YaRN on), factor count.
    let g = Ggml::new(64, 10_000.0);
    for bad in [
        g.freq_base(1.0),
        g.freq_scale(0.0),
        g.attn_factor(f64::NAN),
        g.ext_factor(1.0).n_ctx_orig(0),
        g.freq_factors(&short),
    ] {
        assert!(
            Rope::ggml(64, PairLayout::HalfSplit, &bad).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn bad_multi_axis_positions_leave_the_buffer_untouched() {
    let mrope = Rope::builder(16)
        .axes(Axes::MRope([2, 3, 3]))
        .build()
        .unwrap();
    let plain = Rope::builder(16).build().unwrap();
    let x: Vec<f32> = (0..2 * 16).map(|i| i as f32).collect();
    let mut y = x.clone();
    // Axes positions on a one-axis rope.
    assert_eq!(
        plain.rotate(&mut y, 1, Positions::Axes(&[1, 2, 3, 4, 5, 6])),
        Err(RopeError::NotMultiAxis)
    );
    // Not a whole number of tokens, or the wrong number of them.
    assert!(matches!(
        mrope.rotate(&mut y, 1, Positions::Axes(&[1, 2, 3, 4, 5])),
        Err(RopeError::WrongLength { .. })
    ));
    assert!(matches!(
        mrope.rotate(&mut y, 1, Positions::Axes(&[1, 2, 3])),
        Err(RopeError::BufferLength { .. })
    ));
    // A coordinate past a table's end.
    let table = mrope.table(100).unwrap();
    assert!(matches!(
        table.rotate(&mut y, 1, Positions::Axes(&[1, 2, 3, 4, 5, 100])),
        Err(RopeError::PositionOutOfTable { position: 100, .. })
    ));
    assert_eq!(x, y, "a failing call changed the buffer");
    // Rerotation between different axes is refused.
    assert!(matches!(
        plain.rerotation(&mrope),
        Err(RopeError::Incompatible { what: "axes" })
    ));
}
