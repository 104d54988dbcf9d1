//! Building a `Rope` in memory the caller owns (`build_in_place` and the constructors'
//! `_in_place` forms) gives the `Rope` the by-value calls give, and the errors they give;
//! `set_backend` changes the backend in place or nothing.

use core::mem::MaybeUninit;

use rope_simd::{
    Backend, Ggml, GgmlMode, GgufRope, PairLayout, Positions, Rope, RopeError, Rotate, Scaling,
    Yarn,
};

/// Two `Rope`s are the same when every field is (`Debug` prints them all) and they rotate
/// to the same bits.
fn same(a: &Rope, b: &Rope) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let mut x: Vec<f32> = (0..4 * a.head_dim())
        .map(|i| (i % 13) as f32 - 6.0)
        .collect();
    let mut y = x.clone();
    a.rotate(&mut x, 4, Positions::Start(100_003)).unwrap();
    b.rotate(&mut y, 4, Positions::Start(100_003)).unwrap();
    assert_eq!(
        x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn in_place_equals_by_value() {
    let builders = || {
        [
            Rope::builder(128).base(500_000.0),
            Rope::builder(64)
                .rotary_dim(32)
                .layout(PairLayout::Interleaved),
            Rope::builder(128).scaling(Scaling::Yarn(Yarn::new(4.0, 32_768))),
            Rope::builder(96).inv_freqs(&[0.5; 48]).scale(0.5),
        ]
    };
    for (a, b) in builders().into_iter().zip(builders()) {
        let mut slot = MaybeUninit::uninit();
        same(a.build_in_place(&mut slot).unwrap(), &b.build().unwrap());
    }
    let g = Ggml::new(128, 1e6)
        .freq_scale(0.25)
        .ext_factor(1.0)
        .n_ctx_orig(32_768);
    for mode in [GgmlMode::Normal, GgmlMode::Neox, GgmlMode::MRope] {
        let sections = [16, 24, 24, 0];
        let mut slot = MaybeUninit::uninit();
        let a = Rope::ggml_multi_in_place(128, mode, sections, &g, &mut slot).unwrap();
        same(a, &Rope::ggml_multi(128, mode, sections, &g).unwrap());
    }
    let mut gguf = GgufRope::new("qwen2");
    gguf.head_dim = Some(128);
    gguf.freq_base = Some(1e6);
    let mut slot = MaybeUninit::uninit();
    same(
        gguf.rope_in_place(None, &mut slot).unwrap(),
        &gguf.rope().unwrap(),
    );
    let mut slot = MaybeUninit::uninit();
    let a = gguf
        .rope_in_place(Some(GgmlMode::Normal), &mut slot)
        .unwrap();
    same(a, &gguf.rope_in(GgmlMode::Normal).unwrap());
}

#[test]
fn in_place_errors_are_the_by_value_ones() {
    let bad = || {
        [
            Rope::builder(63),
            Rope::builder(64).rotary_dim(80),
            Rope::builder(64).base(1.0),
            Rope::builder(64).scale(0.0),
            Rope::builder(4).inv_freqs(&[7.0, 0.1]),
            Rope::builder(64).scaling(Scaling::Yarn(
                Yarn::new(4.0, 4096).beta_fast(1.0).beta_slow(32.0),
            )),
        ]
    };
    for (a, b) in bad().into_iter().zip(bad()) {
        let mut slot = MaybeUninit::uninit();
        let err = a.build_in_place(&mut slot).unwrap_err();
        assert_eq!(err, b.build().unwrap_err());
    }
    let g = Ggml::new(128, 1e6);
    let mut slot = MaybeUninit::uninit();
    let err = Rope::ggml_multi_in_place(128, GgmlMode::MRope, [0; 4], &g, &mut slot).unwrap_err();
    assert!(matches!(err, RopeError::BadSections { .. }), "{err:?}");
    let mut slot = MaybeUninit::uninit();
    let unknown = GgufRope::new("no-such-architecture");
    assert!(matches!(
        unknown.rope_in_place(None, &mut slot),
        Err(RopeError::MissingField { .. })
    ));
}

#[test]
fn set_backend_changes_it_or_nothing() {
    let mut rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit).unwrap();
    for backend in Backend::available() {
        rope.set_backend(backend).unwrap();
        assert_eq!(rope.backend(), backend);
    }
    let before = rope.backend();
    for &backend in Backend::ALL {
        if !backend.is_available() {
            let err = rope.set_backend(backend).unwrap_err();
            assert_eq!(err, RopeError::BackendUnavailable { backend });
            assert_eq!(rope.backend(), before);
        }
    }
}
