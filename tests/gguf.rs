//! GGUF metadata to a `Rope` in one call, as llama.cpp builds it: keys as llama.cpp's
//! converter writes them for real models (values from their config.json files, in the
//! GGUF types the converter uses), the layout of each architecture, and the schedule
//! compared with transformers' for the same model where both express it.

use std::collections::HashMap;

use rope_simd::{
    Axes, GgmlMode, GgufRope, GgufScaling, GgufValue, HfConfig, Llama3, PairLayout, Rope,
    RopeError, Scaling, Yarn,
};

type Meta = HashMap<String, GgufValue<'static>>;

fn meta(arch: &'static str, entries: &[(&str, GgufValue<'static>)]) -> Meta {
    let mut m: Meta = entries
        .iter()
        .map(|(k, v)| (format!("{arch}.{k}"), *v))
        .collect();
    m.insert("general.architecture".into(), GgufValue::Str(arch));
    m
}

fn read(m: &Meta) -> GgufRope<'static> {
    GgufRope::from_metadata(|k| m.get(k).copied()).unwrap()
}

fn assert_freqs(got: &Rope, want: &Rope, what: &str) {
    assert_eq!(got.inv_freqs().len(), want.inv_freqs().len(), "{what}");
    for (i, (a, b)) in got.inv_freqs().iter().zip(want.inv_freqs()).enumerate() {
        assert!(
            (a - b).abs() <= 8.0 * f64::EPSILON * b,
            "{what}: pair {i}: {a} vs {b}"
        );
    }
}

/// Llama 3.1 8B: llama.cpp stores the llama3 schedule as a `rope_freqs` tensor of
/// factors dividing the default frequencies, and uses ggml's normal (interleaved) mode on
/// its permuted weights.
#[test]
fn llama_3_1_with_rope_freqs() {
    let hf = Rope::builder(128)
        .base(500_000.0)
        .scaling(Scaling::Llama3(Llama3::llama_3_1()))
        .build()
        .unwrap();
    let plain = Rope::new(128, 500_000.0, PairLayout::HalfSplit).unwrap();
    let factors: Vec<f64> = plain
        .inv_freqs()
        .iter()
        .zip(hf.inv_freqs())
        .map(|(d, l)| d / l)
        .collect();
    let factors: &'static [f64] = factors.leak();
    let m = meta(
        "llama",
        &[
            ("attention.head_count", GgufValue::U32(32)),
            ("embedding_length", GgufValue::U32(4096)),
            ("context_length", GgufValue::U32(131_072)),
            ("rope.dimension_count", GgufValue::U32(128)),
            ("rope.freq_base", GgufValue::F32(500_000.0)),
        ],
    );
    let mut g = read(&m);
    assert_eq!(g.mode(), Some(GgmlMode::Normal));
    g.freq_factors = Some(factors);
    let rope = g.rope().unwrap();
    assert_eq!(
        (rope.head_dim(), rope.layout()),
        (128, PairLayout::Interleaved)
    );
    assert_freqs(&rope, &hf, "llama 3.1 rope_freqs");
    assert_eq!(rope.scale(), 1.0);
}

/// Qwen2.5 with YaRN: ggml's YaRN is transformers' (frequencies and magnitude).
#[test]
fn qwen2_5_yarn_matches_transformers() {
    let m = meta(
        "qwen2",
        &[
            ("attention.head_count", GgufValue::U32(28)),
            ("embedding_length", GgufValue::U32(3584)),
            ("context_length", GgufValue::U32(131_072)),
            ("rope.freq_base", GgufValue::F32(1_000_000.0)),
            ("rope.scaling.type", GgufValue::Str("yarn")),
            ("rope.scaling.factor", GgufValue::F32(4.0)),
            (
                "rope.scaling.original_context_length",
                GgufValue::U32(32_768),
            ),
        ],
    );
    let rope = read(&m).rope().unwrap();
    let hf = Rope::builder(128)
        .base(1e6)
        .scaling(Scaling::Yarn(Yarn::new(4.0, 32_768)))
        .build()
        .unwrap();
    assert_eq!(rope.layout(), PairLayout::HalfSplit);
    assert_freqs(&rope, &hf, "qwen2.5 yarn");
    assert!(
        (rope.scale() - hf.scale()).abs() < 1e-12,
        "{} vs {}",
        rope.scale(),
        hf.scale()
    );
}

/// DeepSeek-V3 as llama.cpp runs it: deepseek2 architecture, the rope head's 64 channels,
/// YaRN factor 40 with the log multiplier (mscale_all_dim) 1, so a magnitude of 1 as in
/// transformers.
#[test]
fn deepseek_v3_magnitude_is_one() {
    let m = meta(
        "deepseek2",
        &[
            ("attention.key_length", GgufValue::U32(192)),
            ("rope.dimension_count", GgufValue::U32(64)),
            ("context_length", GgufValue::U32(163_840)),
            ("rope.freq_base", GgufValue::F32(10_000.0)),
            ("rope.scaling.type", GgufValue::Str("yarn")),
            ("rope.scaling.factor", GgufValue::F32(40.0)),
            ("rope.scaling.original_context_length", GgufValue::U32(4096)),
            ("rope.scaling.yarn_log_multiplier", GgufValue::F32(1.0)),
        ],
    );
    let mut g = read(&m);
    // The rope part alone is what llama.cpp rotates (a 64-channel view of each head).
    g.head_dim = Some(64);
    let rope = g.rope().unwrap();
    let hf = HfConfig::layout_of("deepseek_v3", None);
    assert_eq!(hf, PairLayout::InterleavedToHalfSplit);
    assert_eq!(rope.layout(), PairLayout::Interleaved); // llama.cpp permutes the weights
    assert!((rope.scale() - 1.0).abs() < 1e-12, "{}", rope.scale());
    let want = Rope::builder(64)
        .scaling(Scaling::Yarn(
            Yarn::new(40.0, 4096).mscale(1.0).mscale_all_dim(1.0),
        ))
        .build()
        .unwrap();
    assert_freqs(&rope, &want, "deepseek yarn");
}

/// Qwen2-VL and Qwen3-VL: ggml's M-RoPE and interleaved M-RoPE with the file's sections.
#[test]
fn vision_language_models_take_their_sections() {
    for (arch, sections, axes) in [
        ("qwen2vl", [16, 24, 24, 0], Axes::GgmlMRope([16, 24, 24, 0])),
        (
            "qwen3vl",
            [24, 20, 20, 0],
            Axes::GgmlIMRope([24, 20, 20, 0]),
        ),
    ] {
        let sections: &'static [i32] = Box::leak(Box::new(sections));
        let m = meta(
            arch,
            &[
                ("attention.key_length", GgufValue::U32(128)),
                ("rope.freq_base", GgufValue::F32(1_000_000.0)),
                ("rope.dimension_sections", GgufValue::I32s(sections)),
            ],
        );
        let rope = read(&m).rope().unwrap();
        assert_eq!(rope.axes(), axes, "{arch}");
        assert_freqs(
            &rope,
            &Rope::new(128, 1e6, PairLayout::HalfSplit).unwrap(),
            arch,
        );
    }
}

/// Gemma 3 (linear scaling) and Phi-3.5 (LongRoPE with its factor tensor and attention
/// factor): the same schedule as transformers builds from their config.json.
#[test]
fn gemma_3_and_phi_3_5() {
    let m = meta(
        "gemma3",
        &[
            ("attention.key_length", GgufValue::U32(256)),
            ("rope.freq_base", GgufValue::F32(1_000_000.0)),
            ("rope.scaling.type", GgufValue::Str("linear")),
            ("rope.scaling.factor", GgufValue::F32(8.0)),
        ],
    );
    let rope = read(&m).rope().unwrap();
    let want = Rope::builder(256)
        .base(1e6)
        .scaling(Scaling::Linear { factor: 8.0 })
        .build()
        .unwrap();
    assert_freqs(&rope, &want, "gemma 3");

    let long = [1.08, 1.11, 1.14, 1.34, 1.59, 1.6, 1.62, 2.62];
    let long: &'static [f64] = long.repeat(6).leak();
    let attn = (1.0 + 32f64.ln() / 4096f64.ln()).sqrt();
    let m = meta(
        "phi3",
        &[
            ("attention.head_count", GgufValue::U32(32)),
            ("embedding_length", GgufValue::U32(3072)),
            ("rope.dimension_count", GgufValue::U32(96)),
            ("rope.freq_base", GgufValue::F32(10_000.0)),
            ("rope.scaling.type", GgufValue::Str("longrope")),
            ("rope.scaling.attn_factor", GgufValue::F64(attn)),
            ("rope.scaling.original_context_length", GgufValue::U32(4096)),
        ],
    );
    let mut g = read(&m);
    assert_eq!(g.scaling, GgufScaling::LongRope);
    g.freq_factors = Some(long);
    let rope = g.rope().unwrap();
    assert!((rope.scale() - attn).abs() < 1e-15);
    for (i, (&got, &f)) in rope.inv_freqs().iter().zip(long).enumerate() {
        let want = 10_000f64.powf(-2.0 * i as f64 / 96.0) / f;
        assert!((got - want).abs() <= 4.0 * f64::EPSILON * want, "pair {i}");
    }
}

/// Missing and mistyped keys are errors naming the key; an unknown architecture asks for
/// an explicit mode.
#[test]
fn bad_metadata_is_an_error() {
    let none: Meta = HashMap::new();
    assert_eq!(
        GgufRope::from_metadata(|k| none.get(k).copied()).unwrap_err(),
        RopeError::MissingField {
            what: "general.architecture"
        }
    );
    let m = meta("qwen2", &[("rope.freq_base", GgufValue::Str("big"))]);
    assert!(matches!(
        GgufRope::from_metadata(|k| m.get(k).copied()),
        Err(RopeError::BadMetadata {
            what: "rope.freq_base"
        })
    ));
    let m = meta("qwen2", &[("rope.scaling.type", GgufValue::Str("xpos"))]);
    assert!(matches!(
        GgufRope::from_metadata(|k| m.get(k).copied()),
        Err(RopeError::BadMetadata { .. })
    ));
    let m = meta("qwen2", &[("attention.head_count", GgufValue::I32(-4))]);
    assert!(GgufRope::from_metadata(|k| m.get(k).copied()).is_err());
    let sections: &'static [i32] = &[1, 2, 3, 4, 5];
    let m = meta(
        "qwen2vl",
        &[("rope.dimension_sections", GgufValue::I32s(sections))],
    );
    assert!(GgufRope::from_metadata(|k| m.get(k).copied()).is_err());
    let m = meta(
        "my-new-arch",
        &[("attention.key_length", GgufValue::U32(64))],
    );
    let g = read(&m);
    assert!(matches!(g.rope(), Err(RopeError::MissingField { .. })));
    assert_eq!(g.rope_in(GgmlMode::Neox).unwrap().head_dim(), 64);
    let long = "x".repeat(60);
    let long: &'static str = long.leak();
    let m: Meta = [("general.architecture".to_string(), GgufValue::Str(long))].into();
    assert!(GgufRope::from_metadata(|k| m.get(k).copied()).is_err());
    let no_head = read(&meta("llama", &[]));
    assert!(matches!(
        no_head.rope(),
        Err(RopeError::MissingField { .. })
    ));
}

/// One model, both files: Qwen2.5 with YaRN built from its config.json and from its GGUF
/// metadata gives the same frequencies and magnitude.
#[test]
#[cfg(feature = "serde")]
fn config_json_and_gguf_agree() {
    use rope_simd::LayerKind;
    let path = format!(
        "{}/tests/configs/qwen2.5-7b-instruct-yarn.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let hf: HfConfig = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let from_json = hf.rope(LayerKind::Full, 1).unwrap();
    let m = meta(
        "qwen2",
        &[
            ("attention.head_count", GgufValue::U32(28)),
            ("embedding_length", GgufValue::U32(3584)),
            ("rope.freq_base", GgufValue::F32(1_000_000.0)),
            ("rope.scaling.type", GgufValue::Str("yarn")),
            ("rope.scaling.factor", GgufValue::F32(4.0)),
            (
                "rope.scaling.original_context_length",
                GgufValue::U32(32_768),
            ),
        ],
    );
    let from_gguf = read(&m).rope().unwrap();
    assert_freqs(&from_gguf, &from_json, "json vs gguf");
    assert!((from_gguf.scale() - from_json.scale()).abs() < 1e-12);
}
