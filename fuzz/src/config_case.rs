//! A model's configuration from fuzzer bytes: a transformers `config.json` (the bytes
//! themselves when they start with `{`, so real files seed it, else an object built from
//! the bytes out of the keys transformers uses) and GGUF metadata (keys and values from the
//! bytes). The contract: parsing and building return `Ok` or `Err`, never panic; a `Rope`
//! that builds rotates a head without panicking and, at position 0 with scale 1, leaves
//! it exactly as it was (but for DeepSeek's reorder). `HfConfig::from_json` (no serde)
//! gives what serde gives wherever both accept the text.

use rope_simd::{GgufRope, GgufValue, HfConfig, LayerKind, PairLayout, Positions, Rope, Rotate};
use std::fmt::Write;

use super::bytes::Bytes;

const TOP: [&str; 21] = [
    "model_type",
    "rope_interleave",
    "head_dim",
    "hidden_size",
    "num_attention_heads",
    "qk_rope_head_dim",
    "rotary_dim",
    "partial_rotary_factor",
    "rotary_pct",
    "max_position_embeddings",
    "original_max_position_embeddings",
    "rope_theta",
    "rotary_emb_base",
    "rope_local_base_freq",
    "rope_scaling",
    "rope_parameters",
    "text_config",
    "n_embd",
    "n_head",
    "n_positions",
    "vision_config",
];
const ROPE: [&str; 21] = [
    "rope_type",
    "type",
    "rope_theta",
    "factor",
    "original_max_position_embeddings",
    "low_freq_factor",
    "high_freq_factor",
    "beta_fast",
    "beta_slow",
    "mscale",
    "mscale_all_dim",
    "attention_factor",
    "truncate",
    "partial_rotary_factor",
    "short_factor",
    "long_factor",
    "mrope_section",
    "mrope_interleaved",
    "full_attention",
    "sliding_attention",
    "unknown_key",
];
const WORDS: [&str; 16] = [
    "default",
    "linear",
    "dynamic",
    "yarn",
    "longrope",
    "su",
    "llama3",
    "proportional",
    "mrope",
    "xpos",
    "llama",
    "gptj",
    "deepseek_v3",
    "qwen2_vl",
    "gemma3_text",
    "",
];

fn number(b: &mut Bytes<'_>, out: &mut String) {
    let k = b.u8();
    let _ = match k % 6 {
        0 => write!(out, "{}", b.u8()),
        1 => write!(out, "{}", b.u32()),
        2 => write!(out, "-{}", b.u16()),
        3 => write!(out, "{}.{}", b.u16(), b.u8()),
        4 => write!(out, "{:e}", f64::from_bits(b.u64())),
        _ => write!(out, "1e{}", i32::from(b.u8() as i8) * 3),
    };
    // Non-finite values print as words serde_json refuses: fine, that is an error path.
}

fn value(b: &mut Bytes<'_>, depth: usize, out: &mut String) {
    match b.u8() % 8 {
        0 | 1 => number(b, out),
        2 => {
            let _ = write!(out, "\"{}\"", WORDS[usize::from(b.u8()) % WORDS.len()]);
        }
        3 => out.push_str(if b.bool() { "true" } else { "false" }),
        4 => out.push_str("null"),
        5 => {
            out.push('[');
            let n = usize::from(b.u8() % 8) + if b.u8().is_multiple_of(16) { 300 } else { 0 };
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                number(b, out);
            }
            out.push(']');
        }
        _ if depth < 3 => object(b, depth + 1, &ROPE, out),
        _ => out.push_str("{}"),
    }
}

fn object(b: &mut Bytes<'_>, depth: usize, keys: &[&str], out: &mut String) {
    out.push('{');
    let n = usize::from(b.u8() % 12);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let k = keys[usize::from(b.u8()) % keys.len()];
        let _ = write!(out, "\"{k}\":");
        value(b, depth, out);
    }
    out.push('}');
}

/// Build and use what a configuration describes.
fn exercise(rope: Result<Rope, rope_simd::RopeError>) {
    let Ok(rope) = rope else { return };
    let hd = rope.head_dim();
    if hd > 4096 {
        return;
    }
    let x: Vec<f32> = (0..hd).map(|i| i as f32 - 7.5).collect();
    let mut y = x.clone();
    let axes = rope.axes().count();
    let zeros = vec![0u32; axes];
    let at = if axes > 1 {
        Positions::Axes(&zeros)
    } else {
        Positions::Start(0)
    };
    rope.rotate(&mut y, 1, at).unwrap();
    if rope.scale() == 1.0 && rope.layout() != PairLayout::InterleavedToHalfSplit {
        assert_eq!(x, y, "position 0 with scale 1 changed the head");
    }
}

pub fn run(data: &[u8]) {
    let json = if data.first() == Some(&b'{') {
        String::from_utf8_lossy(data).into_owned()
    } else {
        let mut text = String::new();
        object(&mut Bytes(data), 0, &TOP, &mut text);
        text
    };
    // The reader without serde takes the raw bytes (text that is not UTF-8 included): it
    // never panics, and where both readers accept a text they give the same config.
    let raw = if data.first() == Some(&b'{') {
        data
    } else {
        json.as_bytes()
    };
    let own = HfConfig::from_json(raw);
    let by_serde = serde_json::from_str::<HfConfig>(&json);
    if let (Ok(a), Ok(b), true) = (&own, &by_serde, raw == json.as_bytes()) {
        assert_eq!(a, b, "the two config.json readers differ on {json}");
    }
    if let Ok(config) = by_serde {
        let seq_len = Bytes(data).u64() >> (data.len() % 64);
        for layer in [LayerKind::Full, LayerKind::Sliding] {
            exercise(config.rope(layer, seq_len));
        }
        let _ = config.dynamic_ntk_len(seq_len, seq_len / 2);
    }

    // GGUF metadata: up to 16 keys of the RoPE family with values of any kind.
    const SUFFIXES: [&str; 16] = [
        "attention.key_length",
        "embedding_length",
        "attention.head_count",
        "rope.dimension_count",
        "rope.freq_base",
        "rope.scaling.type",
        "rope.scaling.factor",
        "rope.scale_linear",
        "rope.scaling.attn_factor",
        "rope.scaling.original_context_length",
        "context_length",
        "rope.scaling.yarn_beta_fast",
        "rope.scaling.yarn_beta_slow",
        "rope.scaling.yarn_log_multiplier",
        "rope.dimension_sections",
        "general.architecture",
    ];
    const ARCHS: [&str; 8] = [
        "llama",
        "qwen2",
        "qwen2vl",
        "qwen3vl",
        "deepseek2",
        "glm4",
        "phi3",
        "unknown-arch",
    ];
    const TYPES: [&str; 5] = ["none", "linear", "yarn", "longrope", "xpos"];
    let mut b = Bytes(data);
    let arch = ARCHS[usize::from(b.u8()) % ARCHS.len()];
    let ints: Vec<i32> = (0..usize::from(b.u8() % 6))
        .map(|_| b.u32() as i32)
        .collect();
    let factors: Vec<f64> = (0..usize::from(b.u8()))
        .map(|_| f64::from(b.u16()) / 256.0)
        .collect();
    let entries: Vec<(String, GgufValue<'_>)> = (0..usize::from(b.u8() % 16))
        .map(|_| {
            let suffix = SUFFIXES[usize::from(b.u8()) % SUFFIXES.len()];
            let v = match b.u8() % 9 {
                0 => GgufValue::U32(b.u32() % 70_000),
                1 => GgufValue::I32(b.u32() as i32),
                2 => GgufValue::F32(f32::from_bits(b.u32())),
                3 => GgufValue::F64(f64::from(b.u16())),
                4 => GgufValue::U64(b.u64()),
                5 => GgufValue::Str(TYPES[usize::from(b.u8()) % TYPES.len()]),
                6 => GgufValue::I32s(&ints),
                7 => GgufValue::Str(arch),
                _ => GgufValue::U32(u32::from(b.u8()) * 2),
            };
            (format!("{arch}.{suffix}"), v)
        })
        .collect();
    let get = |key: &str| {
        if key == "general.architecture" {
            return Some(GgufValue::Str(arch));
        }
        entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    };
    if let Ok(mut g) = GgufRope::from_metadata(get) {
        if b.bool() {
            g.freq_factors = Some(&factors);
        }
        exercise(g.rope());
    }
}
