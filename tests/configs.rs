//! Real checkpoints' `config.json` files (`tests/configs/`, written from the published
//! files on the Hugging Face Hub, each named below by its repository) read into
//! `HfConfig` and built into a `Rope` in one call, and checked against the builder call
//! the README gives for the family. Where `tests/golden/transformers.txt` has the same
//! schedule, the frequencies and attention factor must also match transformers' own
//! float64 evaluation (the golden data is not in the published package, whose copy of
//! these tests checks the builder calls only).
#![cfg(feature = "serde")]

use rope_simd::{
    Axes, HfConfig, LayerKind, Llama3, PairLayout, Rope, RopeError, RopeType, Scaling, Yarn,
};

fn load(name: &str) -> HfConfig {
    let path = format!("{}/tests/configs/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let config: HfConfig = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The reader without serde gives the same config.
    let own = HfConfig::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        own, config,
        "{name}: HfConfig::from_json differs from serde"
    );
    config
}

/// Every checked-in config reads the same with and without serde (`load` compares).
#[test]
fn both_readers_agree_on_every_config() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/configs");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        load(&name);
        n += 1;
    }
    assert!(n >= 10, "only {n} configs");
}

/// A case's float64 inverse frequencies and attention factor from the golden file, where
/// the checkout has it.
fn golden(case: &str) -> Option<(Vec<f64>, f64)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/transformers.txt");
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text
        .lines()
        .skip_while(|l| *l != format!("case {case}"))
        .skip(1)
        .take_while(|l| !l.starts_with("case "));
    let mut freqs = None;
    let mut attention = None;
    for l in lines.by_ref() {
        if let Some(v) = l.strip_prefix("inv_freq_f64 ") {
            freqs = Some(v.split(' ').map(|x| x.parse().unwrap()).collect());
        }
        if let Some(v) = l.strip_prefix("attention_factor ") {
            attention = Some(v.parse().unwrap());
        }
    }
    Some((
        freqs.unwrap_or_else(|| panic!("golden case {case}")),
        attention.unwrap(),
    ))
}

fn assert_freqs(rope: &Rope, want: &[f64], what: &str) {
    assert_eq!(rope.inv_freqs().len(), want.len(), "{what}: pair count");
    for (i, (&got, &want)) in rope.inv_freqs().iter().zip(want).enumerate() {
        assert!(
            (got - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
            "{what}: pair {i}: {got} vs transformers' {want}"
        );
    }
}

/// Checks one checkpoint: dimensions and layout against `want` (the family's builder
/// call), its frequencies and magnitude too, then the schedule against its golden case.
fn check(name: &str, want: Rope, case: &str) {
    let rope = load(name).rope(LayerKind::Full, 4096).unwrap();
    assert_eq!(
        (rope.head_dim(), rope.rotary_dim(), rope.layout()),
        (want.head_dim(), want.rotary_dim(), want.layout()),
        "{name}"
    );
    assert_freqs(&rope, want.inv_freqs(), name);
    assert!(
        (rope.scale() - want.scale()).abs() <= 1e-15,
        "{name}: scale"
    );
    if let Some((freqs, attention)) = golden(case) {
        assert_freqs(&rope, &freqs, name);
        assert!(
            (rope.scale() - attention).abs() <= 1e-15,
            "{name}: attention factor {} vs transformers' {attention}",
            rope.scale()
        );
    }
}

// meta-llama/Llama-2-7b-hf: no rope_theta (transformers' default 10000), no scaling.
#[test]
fn llama_2() {
    let want = Rope::new(128, 10_000.0, PairLayout::HalfSplit).unwrap();
    check("llama-2-7b-hf", want, "default-llama2");
}

// meta-llama/Llama-3.1-8B-Instruct: rope_type llama3, factor 8.
#[test]
fn llama_3_1() {
    let want = Rope::builder(128)
        .base(500_000.0)
        .scaling(Scaling::Llama3(Llama3::llama_3_1()))
        .build()
        .unwrap();
    check("llama-3.1-8b-instruct", want, "llama3.1");
}

// meta-llama/Llama-3.2-1B: head_dim 64, llama3 factor 32.
#[test]
fn llama_3_2() {
    let rope = load("llama-3.2-1b").rope(LayerKind::Full, 1).unwrap();
    let want = Rope::builder(64)
        .base(500_000.0)
        .scaling(Scaling::Llama3(Llama3::new(32.0, 1.0, 4.0, 8192)))
        .build()
        .unwrap();
    assert_eq!(rope.head_dim(), 64);
    assert_freqs(&rope, want.inv_freqs(), "llama-3.2-1b");
}

// mistralai/Mistral-7B-Instruct-v0.2: theta 1e6, no scaling.
#[test]
fn mistral() {
    let rope = load("mistral-7b-instruct-v0.2")
        .rope(LayerKind::Full, 1)
        .unwrap();
    let want = Rope::new(128, 1e6, PairLayout::HalfSplit).unwrap();
    assert_freqs(&rope, want.inv_freqs(), "mistral");
    assert_eq!(rope.scale(), 1.0);
}

// Qwen/Qwen2.5-7B-Instruct with the rope_scaling block its model card adds for 128k
// (`"type": "yarn"`, factor 4, original 32768).
#[test]
fn qwen2_5_yarn() {
    let want = Rope::builder(128)
        .base(1e6)
        .scaling(Scaling::Yarn(Yarn::new(4.0, 32_768)))
        .build()
        .unwrap();
    check("qwen2.5-7b-instruct-yarn", want, "yarn-qwen2.5");
}

// Qwen/Qwen2-VL-7B-Instruct: `"type": "mrope"`, mrope_section [16, 24, 24].
#[test]
fn qwen2_vl() {
    let rope = load("qwen2-vl-7b-instruct")
        .rope(LayerKind::Full, 1)
        .unwrap();
    assert_eq!(rope.axes(), Axes::MRope([16, 24, 24]));
    let want = Rope::new(128, 1e6, PairLayout::HalfSplit).unwrap();
    assert_freqs(&rope, want.inv_freqs(), "qwen2-vl");
}

// Qwen/Qwen3-VL-8B-Instruct: the language model's fields in text_config, interleaved
// M-RoPE [24, 20, 20], theta 5e6.
#[test]
fn qwen3_vl() {
    let rope = load("qwen3-vl-8b-instruct")
        .rope(LayerKind::Full, 1)
        .unwrap();
    assert_eq!(rope.axes(), Axes::MRopeInterleaved([24, 20, 20]));
    let want = Rope::new(128, 5e6, PairLayout::HalfSplit).unwrap();
    assert_freqs(&rope, want.inv_freqs(), "qwen3-vl");
}

// microsoft/Phi-3.5-mini-instruct: LongRoPE, original_max_position_embeddings at the top
// level, no factor (so 131072 / 4096 = 32).
#[test]
fn phi_3_5_longrope() {
    let config = load("phi-3.5-mini-instruct");
    let short = config.rope(LayerKind::Full, 4096).unwrap();
    let long = config.rope(LayerKind::Full, 4097).unwrap();
    let (s, l) = (config.short_factor.unwrap(), config.long_factor.unwrap());
    assert_eq!((s.as_slice().len(), l.as_slice().len()), (48, 48));
    let attention = (1.0 + 32f64.ln() / 4096f64.ln()).sqrt();
    for (rope, list) in [(&short, s.as_slice()), (&long, l.as_slice())] {
        assert_eq!((rope.head_dim(), rope.rotary_dim()), (96, 96));
        assert!((rope.scale() - attention).abs() < 1e-15);
        for (i, (&got, &f)) in rope.inv_freqs().iter().zip(list).enumerate() {
            let want = 10_000f64.powf(-2.0 * i as f64 / 96.0) / f;
            assert!((got - want).abs() <= 4.0 * f64::EPSILON * want, "pair {i}");
        }
    }
}

// deepseek-ai/DeepSeek-V3: the rope head is qk_rope_head_dim 64, YaRN factor 40 with
// mscale == mscale_all_dim (attention factor 1), and rope_interleave (transformers'
// default true): interleaved pairs in, half-split order out.
#[test]
fn deepseek_v3() {
    let want = Rope::builder(64)
        .layout(PairLayout::InterleavedToHalfSplit)
        .scaling(Scaling::Yarn(
            Yarn::new(40.0, 4096).mscale(1.0).mscale_all_dim(1.0),
        ))
        .build()
        .unwrap();
    check("deepseek-v3", want, "yarn-deepseek-v3");
}

// openai/gpt-oss-20b: head_dim 64, YaRN factor 32 with truncate false, theta 150000.
#[test]
fn gpt_oss() {
    let want = Rope::builder(64)
        .base(150_000.0)
        .scaling(Scaling::Yarn(Yarn::new(32.0, 4096).truncate(false)))
        .build()
        .unwrap();
    check("gpt-oss-20b", want, "yarn-gpt-oss");
}

// google/gemma-3-1b-it: global layers theta 1e6, local (sliding) layers
// rope_local_base_freq 10000.
#[test]
fn gemma_3() {
    let config = load("gemma-3-1b-it");
    let global = config.rope(LayerKind::Full, 1).unwrap();
    let local = config.rope(LayerKind::Sliding, 1).unwrap();
    assert_eq!(global.head_dim(), 256);
    assert_freqs(
        &global,
        Rope::new(256, 1e6, PairLayout::HalfSplit)
            .unwrap()
            .inv_freqs(),
        "gemma global",
    );
    assert_freqs(
        &local,
        Rope::new(256, 1e4, PairLayout::HalfSplit)
            .unwrap()
            .inv_freqs(),
        "gemma local",
    );
}

// EleutherAI/gpt-j-6b: n_embd 4096 over n_head 16, rotary_dim 64, interleaved pairs.
#[test]
fn gpt_j() {
    let rope = load("gpt-j-6b").rope(LayerKind::Full, 1).unwrap();
    assert_eq!(
        (rope.head_dim(), rope.rotary_dim(), rope.layout()),
        (256, 64, PairLayout::Interleaved)
    );
    assert_freqs(
        &rope,
        &(0..32)
            .map(|i| 10_000f64.powf(-2.0 * i as f64 / 64.0))
            .collect::<Vec<_>>(),
        "gpt-j",
    );
}

// EleutherAI/pythia-1b: GPT-NeoX's rotary_pct 0.25 and rotary_emb_base.
#[test]
fn pythia() {
    let want = Rope::builder(256).rotary_dim(64).build().unwrap();
    check("pythia-1b", want, "partial-neox");
}

/// transformers 5 writes `rope_parameters` with `rope_theta` inside, nested by layer
/// type where layers differ: the same RoPE as the transformers 4 spelling.
#[test]
fn transformers_5_spelling() {
    let v5: HfConfig = serde_json::from_str(
        r#"{"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32,
            "max_position_embeddings": 131072,
            "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
              "low_freq_factor": 1.0, "high_freq_factor": 4.0,
              "original_max_position_embeddings": 8192}}"#,
    )
    .unwrap();
    let v4 = load("llama-3.1-8b-instruct");
    assert_eq!(
        v5.rope(LayerKind::Full, 1).unwrap().inv_freqs(),
        v4.rope(LayerKind::Full, 1).unwrap().inv_freqs()
    );
    let gemma: HfConfig = serde_json::from_str(
        r#"{"model_type": "gemma3_text", "head_dim": 256, "hidden_size": 2560,
            "num_attention_heads": 8,
            "rope_parameters": {
              "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
              "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}}"#,
    )
    .unwrap();
    let global = gemma.rope(LayerKind::Full, 1).unwrap();
    assert_eq!(global.inv_freqs()[0], 1.0 / 8.0);
    assert_freqs(
        &gemma.rope(LayerKind::Sliding, 1).unwrap(),
        Rope::new(256, 1e4, PairLayout::HalfSplit)
            .unwrap()
            .inv_freqs(),
        "gemma 3 local, transformers 5",
    );
}

/// What a bad or incomplete config gives: a parse error naming the unknown rope_type, or
/// a typed error naming the missing field, never a panic.
#[test]
fn bad_configs_are_errors() {
    let err = serde_json::from_str::<HfConfig>(r#"{"rope_scaling": {"rope_type": "xpos"}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("xpos"), "{err}");
    let err = serde_json::from_str::<HfConfig>(r#"{"rope_theta": "big"}"#).unwrap_err();
    assert!(err.to_string().contains("big"), "{err}");
    let no_head: HfConfig = serde_json::from_str(r#"{"rope_theta": 10000.0}"#).unwrap();
    assert!(matches!(
        no_head.rope(LayerKind::Full, 1),
        Err(RopeError::MissingField { .. })
    ));
    let no_factor: HfConfig =
        serde_json::from_str(r#"{"head_dim": 64, "rope_scaling": {"type": "linear"}}"#).unwrap();
    assert_eq!(
        no_factor.rope(LayerKind::Full, 1).unwrap_err(),
        RopeError::MissingField { what: "factor" }
    );
    let no_lists: HfConfig = serde_json::from_str(
        r#"{"head_dim": 64, "max_position_embeddings": 8192,
            "original_max_position_embeddings": 4096, "rope_scaling": {"type": "longrope"}}"#,
    )
    .unwrap();
    assert_eq!(
        no_lists.rope(LayerKind::Full, 1).unwrap_err(),
        RopeError::MissingField {
            what: "short_factor"
        }
    );
    let too_long = format!(
        r#"{{"rope_scaling": {{"short_factor": [{}]}}}}"#,
        vec!["1.0"; 300].join(",")
    );
    assert!(serde_json::from_str::<HfConfig>(&too_long).is_err());
    assert_eq!(RopeType::from_name("su"), Some(RopeType::LongRope));
}

/// Dynamic NTK: the config's factor and max_position_embeddings, and the caller's
/// cached length.
#[test]
fn dynamic_ntk_follows_the_cached_length() {
    let config: HfConfig = serde_json::from_str(
        r#"{"head_dim": 128, "max_position_embeddings": 4096, "rope_theta": 10000.0,
            "rope_scaling": {"type": "dynamic", "factor": 2.0}}"#,
    )
    .unwrap();
    let cached = config.dynamic_ntk_len(4096, 10_000);
    assert_eq!(cached, 10_000);
    let rope = config.rope(LayerKind::Full, cached).unwrap();
    let want = Rope::builder(128)
        .scaling(Scaling::DynamicNtk {
            factor: 2.0,
            max_position_embeddings: 4096,
            seq_len: 10_000,
        })
        .build()
        .unwrap();
    assert_freqs(&rope, want.inv_freqs(), "dynamic NTK at 10000");
    if let Some((freqs, _)) = golden("dynamic-ntk-2") {
        assert_freqs(&rope, &freqs, "dynamic NTK at 10000, transformers");
    }
    let short = config.rope(LayerKind::Full, 100).unwrap();
    assert_freqs(
        &short,
        Rope::new(128, 1e4, PairLayout::HalfSplit)
            .unwrap()
            .inv_freqs(),
        "dynamic NTK below max_position_embeddings",
    );
}

/// The Qwen2-VL vision encoder's axial RoPE (head 80 = 1280 / 16), as transformers'
/// `"axial"` rope type: the golden case's frequencies where the checkout has them.
#[test]
fn axial_vision_encoder() {
    let config: HfConfig = serde_json::from_str(
        r#"{"hidden_size": 1280, "num_attention_heads": 16,
            "rope_parameters": {"rope_type": "axial", "rope_theta": 10000.0}}"#,
    )
    .unwrap();
    let rope = config.rope(LayerKind::Full, 1).unwrap();
    assert_eq!(rope.axes(), Axes::Axial2d);
    let want = Rope::builder(80).axes(Axes::Axial2d).build().unwrap();
    assert_freqs(&rope, want.inv_freqs(), "axial");
    if let Some((freqs, _)) = golden("axial-qwen2-vl-vision") {
        // transformers keeps one half's frequencies; ours are per pair, both halves.
        assert_freqs(&rope, &freqs.repeat(2), "axial, transformers");
    }
}
