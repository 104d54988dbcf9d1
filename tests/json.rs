//! `HfConfig::from_json`, the config.json reader without serde: what it reads (aliases,
//! escapes, `null`, the precedence of `text_config`, `rope_parameters` and
//! `full_attention`), and that bad text is an error naming the field and the byte, never a
//! panic. (`tests/configs.rs` checks it gives serde's result on every real config.)

use rope_simd::{HfConfig, LayerKind, PairLayout, RopeError, RopeType};

fn read(json: &str) -> HfConfig {
    HfConfig::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// The error for `json`: its field and a part of its reason, and the byte it names lies
/// within the text.
fn refused(json: &[u8], field: &str, why: &str) {
    match HfConfig::from_json(json) {
        Err(RopeError::BadJson {
            at,
            field: f,
            why: w,
        }) => {
            let text = String::from_utf8_lossy(json);
            assert_eq!(f, field, "{text}: {w} at {at}");
            assert!(w.contains(why), "{text}: {w:?} lacks {why:?}");
            assert!(at <= json.len(), "{text}: byte {at}");
        }
        other => panic!("{}: {other:?}", String::from_utf8_lossy(json)),
    }
}

#[test]
fn reads_a_llama_config() {
    let c = read(
        r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "head_dim": 128,
            "hidden_size": 4096, "num_attention_heads": 32, "rope_theta": 500000.0,
            "max_position_embeddings": 131072, "torch_dtype": "bfloat16",
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
            "nested": {"a": [1, {"b": null}, "x\"y"], "c": -1.5e-3}}"#,
    );
    assert_eq!(c.layout, PairLayout::HalfSplit);
    assert_eq!(c.head_dim, Some(128));
    assert_eq!(c.hidden_size, Some(4096));
    assert_eq!(c.num_attention_heads, Some(32));
    assert_eq!(c.rope_theta, Some(500_000.0));
    assert_eq!(c.max_position_embeddings, Some(131_072));
    assert_eq!(c.rope.rope_type, RopeType::Llama3);
    assert_eq!(c.rope.factor, Some(8.0));
    assert_eq!(c.rope.original_max_position_embeddings, Some(8192));
    let rope = c.rope(LayerKind::Full, 4096).unwrap();
    assert_eq!(rope.head_dim(), 128);
}

#[test]
fn names_aliases_escapes_and_null() {
    // GPT-2-style names, an escaped key, `null` as absent, `type` for `rope_type`.
    let c = read(
        r#"{"model_type": "gptj", "n_embd": 4096, "n_head": 16, "n_positions": 2048,
            "rotary_dim": 64, "head\u005fdim": null, "rotary_pct": 0.25,
            "rotary_emb_base": 10000, "rope_scaling": {"type": "linear", "factor": 2}}"#,
    );
    assert_eq!(c.layout, PairLayout::Interleaved);
    assert_eq!(c.hidden_size, Some(4096));
    assert_eq!(c.num_attention_heads, Some(16));
    assert_eq!(c.max_position_embeddings, Some(2048));
    assert_eq!(c.rotary_dim, Some(64));
    assert_eq!(c.head_dim, None);
    assert_eq!(c.partial_rotary_factor, Some(0.25));
    assert_eq!(c.rope_theta, Some(10_000.0));
    assert_eq!(c.rope.rope_type, RopeType::Linear);
    assert_eq!(c.rope.factor, Some(2.0));
    // An escaped key naming a field is that field.
    assert_eq!(read(r#"{"head\u005fdim": 96}"#).head_dim, Some(96));
    // rope_interleave turns DeepSeek's layout on and off.
    let ds = read(r#"{"model_type": "deepseek_v3"}"#);
    assert_eq!(ds.layout, PairLayout::InterleavedToHalfSplit);
    let off = read(r#"{"model_type": "deepseek_v3", "rope_interleave": false}"#);
    assert_eq!(off.layout, PairLayout::HalfSplit);
    assert_eq!(read("{}"), HfConfig::new(PairLayout::HalfSplit));
    assert_eq!(read(" \n{ } \t"), HfConfig::new(PairLayout::HalfSplit));
}

#[test]
fn precedence_of_nested_blocks() {
    // text_config before the top level, field by field.
    let c = read(
        r#"{"rope_theta": 1.0, "head_dim": 64, "model_type": "llava",
            "text_config": {"rope_theta": 1000000.0, "model_type": "glm", "head_dim": null}}"#,
    );
    assert_eq!(c.rope_theta, Some(1e6));
    assert_eq!(c.head_dim, Some(64));
    assert_eq!(c.layout, PairLayout::Interleaved);
    // rope_parameters before rope_scaling, as whole blocks (nothing of the other is mixed
    // in), in either order in the text.
    for json in [
        r#"{"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "beta_fast": 32.0},
            "rope_parameters": {"rope_type": "linear", "factor": 2.0}}"#,
        r#"{"rope_parameters": {"rope_type": "linear", "factor": 2.0},
            "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "beta_fast": 32.0}}"#,
    ] {
        let c = read(json);
        assert_eq!(c.rope.rope_type, RopeType::Linear);
        assert_eq!(c.rope.factor, Some(2.0));
        assert_eq!(c.rope.beta_fast, None);
    }
    // By layer type: full_attention's block is the main one, its lists too.
    let c = read(
        r#"{"rope_parameters": {"rope_type": "linear", "factor": 3.0, "short_factor": [9.0],
            "full_attention": {"rope_type": "longrope", "short_factor": [1.0, 2.0],
                               "long_factor": [3.0, 4.0], "mrope_section": [1, 2, 3]},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000}}}"#,
    );
    assert_eq!(c.rope.rope_type, RopeType::LongRope);
    assert_eq!(c.rope.factor, None);
    assert_eq!(c.short_factor.unwrap().as_slice(), [1.0, 2.0]);
    assert_eq!(c.long_factor.unwrap().as_slice(), [3.0, 4.0]);
    assert_eq!(c.mrope_section, Some([1, 2, 3]));
    let sliding = c.sliding.unwrap();
    assert_eq!(sliding.rope_type, RopeType::Default);
    assert_eq!(sliding.rope_theta, Some(10_000.0));
    // transformers 4's Gemma 3: rope_local_base_freq gives the sliding layers' base.
    let g = read(r#"{"rope_theta": 1000000.0, "rope_local_base_freq": 10000.0}"#);
    assert_eq!(g.sliding.unwrap().rope_theta, Some(10_000.0));
}

#[test]
fn bad_text_names_the_field_and_the_byte() {
    refused(br#"{"head_dim": "big"}"#, "head_dim", "not a JSON number");
    refused(br#"{"head_dim": 128.0}"#, "head_dim", "integer");
    refused(br#"{"head_dim": 1e2}"#, "head_dim", "integer");
    refused(br#"{"head_dim": -64}"#, "head_dim", "non-negative");
    refused(
        br#"{"max_position_embeddings": 18446744073709551616}"#,
        "max_position_embeddings",
        "range",
    );
    refused(br#"{"rope_theta": 1e400}"#, "rope_theta", "range");
    refused(br#"{"rope_theta": 01}"#, "rope_theta", "number");
    refused(br#"{"rope_theta": true}"#, "rope_theta", "number");
    refused(
        br#"{"rope_interleave": 1}"#,
        "rope_interleave",
        "true or false",
    );
    refused(
        br#"{"head_dim": 64, "head_dim": 64}"#,
        "head_dim",
        "duplicate",
    );
    refused(
        br#"{"hidden_size": 64, "n_embd": 64}"#,
        "hidden_size",
        "duplicate",
    );
    refused(
        br#"{"rope_scaling": {"rope_type": "xpos"}}"#,
        "rope_type",
        "unknown rope type",
    );
    refused(
        br#"{"rope_scaling": {"mrope_section": [1, 2]}}"#,
        "mrope_section",
        "three",
    );
    refused(
        br#"{"rope_scaling": {"mrope_section": [1, 2, 3, 4]}}"#,
        "mrope_section",
        "three",
    );
    refused(
        br#"{"rope_scaling": {"short_factor": [1.0, null]}}"#,
        "short_factor",
        "number",
    );
    refused(br#"{"rope_scaling": 7}"#, "rope_scaling", "object");
    refused(
        br#"{"text_config": {"head_dim": "x"}}"#,
        "head_dim",
        "number",
    );
    let long = format!(
        r#"{{"rope_scaling": {{"long_factor": [{}1.0]}}}}"#,
        "1.0, ".repeat(256)
    );
    refused(long.as_bytes(), "long_factor", "more factors");
    // Syntax, in known fields and in fields skipped.
    refused(b"", "", "expected an object");
    refused(b"[]", "", "expected an object");
    refused(br#"{"head_dim": 64"#, "", "expected , or }");
    refused(br#"{"head_dim": 64,}"#, "", "expected a string");
    refused(br#"{"head_dim" 64}"#, "", "expected :");
    refused(br#"{"head_dim": 64} x"#, "", "text after");
    refused(br#"{"other": [1, 2,]}"#, "", "not a JSON");
    refused(br#"{"other": {"a" 1}}"#, "", "expected :");
    refused(br#"{"other": "a\qb"}"#, "", "bad escape");
    refused(br#"{"other": "\ud800"}"#, "", "lone surrogate");
    refused(br#"{"other": "\u12g4"}"#, "", "bad \\u escape");
    refused(b"{\"other\": \"a\x01b\"}", "", "control character");
    refused(b"{\"other\": \"\xff\"}", "", "UTF-8");
    refused(br#"{"other": tru}"#, "", "not a JSON value");
    refused(br#"{"model_type": "llama"#, "model_type", "unterminated");
    // Nesting: deep values are refused past serde_json's limit, not overflowing a stack.
    let deep = |n: usize| format!(r#"{{"other": {}1{}}}"#, "[".repeat(n), "]".repeat(n));
    assert!(HfConfig::from_json(deep(100).as_bytes()).is_ok());
    refused(deep(100_000).as_bytes(), "", "nested too deep");
}

#[test]
fn strings_decode_every_escape() {
    // A surrogate pair and every short escape, in a model_type no list knows.
    let c = read(r#"{"model_type": "a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "x": "\u0000"}"#);
    assert_eq!(c.layout, PairLayout::HalfSplit);
    // A name longer than any known one is no known model.
    let long = format!(r#"{{"model_type": "gptj{}"}}"#, "x".repeat(100));
    assert_eq!(read(&long).layout, PairLayout::HalfSplit);
    // Numbers in every JSON form, for a float field.
    for (text, value) in [
        ("0", 0.0),
        ("-0.5", -0.5),
        ("1E3", 1000.0),
        ("2.5e-1", 0.25),
        ("1e-400", 0.0),
    ] {
        assert_eq!(
            read(&format!(r#"{{"rope_theta": {text}}}"#)).rope_theta,
            Some(value)
        );
    }
}
