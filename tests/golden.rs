//! Schedules and rotations against Hugging Face transformers.
//!
//! `tests/golden/transformers.txt` was written by `tests/golden/generate.py` from
//! transformers' own functions (see that script): per case, the model family's RoPE
//! parameters, transformers' inverse frequencies and attention factor, and rotations at
//! positions 0, 4095, 32767, 131071 and 500000 (or multimodal coordinates) of f32, f16 and
//! bf16 inputs in both layouts (and DeepSeek-V3's interleaved-to-half-split).
//!
//! Each frequency list is there twice: as transformers computes it (float32) and its own
//! formula evaluated in float64. Ours must match the float64 one to f64 rounding, and the
//! float32 one to float32 rounding. Rotations are checked against the float64 evaluation
//! of the models' `apply_rotary_pos_emb` within the documented bound. transformers' own
//! outputs (float32 angles, cos/sin and arithmetic in the activations' dtype) are less
//! accurate than that at large positions — its f32 angle `position * inv_freq` is off by
//! up to `position * 2^-24` radians — so they are not the oracle there; the test measures
//! how far they are from the float64 values and asserts ours are closer.

mod common;

use common::{bound, Reference, TestElement};
use rope_simd::{
    bf16, f16, Axes, ContextLengths, Llama3, LongRope, LongRopeChoice, PairLayout, Positions, Rope,
    Rotate, Scaling, Yarn,
};
use std::collections::BTreeMap;

struct Rotation {
    layout: PairLayout,
    dtype: String,
    positions: Vec<u64>,
    coords: Vec<u32>,
    x: Vec<f32>,
    expected: Vec<f64>,
    transformers: Vec<f32>,
}

struct Case {
    fields: BTreeMap<String, String>,
    rotations: Vec<Rotation>,
}

impl Case {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
    fn num(&self, key: &str) -> Option<f64> {
        self.get(key)
            .map(|v| v.parse().unwrap_or_else(|_| panic!("{key}: {v}")))
    }
    fn int(&self, key: &str) -> Option<u64> {
        self.num(key).map(|v| v as u64)
    }
    fn list(&self, key: &str) -> Vec<f64> {
        numbers(self.get(key).unwrap_or_else(|| panic!("missing {key}")))
    }
    fn name(&self) -> &str {
        self.get("case").unwrap()
    }
}

/// Space-separated numbers.
fn numbers<T: std::str::FromStr>(text: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    text.split(' ').map(|v| v.parse().unwrap()).collect()
}

fn parse() -> Vec<Case> {
    let text = include_str!("golden/transformers.txt");
    let mut cases: Vec<Case> = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "case" => cases.push(Case {
                fields: BTreeMap::from([(key.to_string(), value.to_string())]),
                rotations: Vec::new(),
            }),
            "rotation" => {
                let (layout, dtype) = value.split_once(' ').unwrap();
                cases.last_mut().unwrap().rotations.push(Rotation {
                    layout: match layout {
                        "half_split" => PairLayout::HalfSplit,
                        "interleaved" => PairLayout::Interleaved,
                        "interleaved_to_half_split" => PairLayout::InterleavedToHalfSplit,
                        other => panic!("layout {other}"),
                    },
                    dtype: dtype.to_string(),
                    positions: Vec::new(),
                    coords: Vec::new(),
                    x: Vec::new(),
                    expected: Vec::new(),
                    transformers: Vec::new(),
                });
            }
            _ => {
                let case = cases.last_mut().unwrap();
                match (key, case.rotations.last_mut()) {
                    ("positions", Some(r)) => r.positions = numbers(value),
                    ("coords", Some(r)) => {
                        r.coords = value
                            .split([' ', ','])
                            .map(|p| p.parse().unwrap())
                            .collect()
                    }
                    ("x", Some(r)) => r.x = numbers(value),
                    ("expected", Some(r)) => r.expected = numbers(value),
                    ("transformers", Some(r)) => r.transformers = numbers(value),
                    _ => {
                        case.fields.insert(key.to_string(), value.to_string());
                    }
                }
            }
        }
    }
    cases
}

/// Our `Rope` for a case, from its `ours.*` parameters (what a runtime reads from the
/// model's config).
fn build(case: &Case, layout: PairLayout) -> Rope {
    let head_dim = case.int("head_dim").unwrap() as usize;
    let sections = || -> [u32; 3] {
        let s = case.list("ours.sections");
        [s[0] as u32, s[1] as u32, s[2] as u32]
    };
    let (short, long) = (
        case.get("ours.short_factor")
            .map(|_| case.list("ours.short_factor")),
        case.get("ours.long_factor")
            .map(|_| case.list("ours.long_factor")),
    );
    let factor = case.num("ours.factor").unwrap_or(1.0);
    let original = case.int("ours.original").unwrap_or(0);
    let scaling = match case.get("ours.scaling") {
        None => Scaling::None,
        Some("linear") => Scaling::Linear { factor },
        Some("dynamic") => Scaling::DynamicNtk {
            factor,
            max_position_embeddings: case.int("ours.max_position_embeddings").unwrap(),
            seq_len: case.int("ours.seq_len").unwrap(),
        },
        Some("yarn") => {
            let mut y = Yarn::new(factor, original)
                .beta_fast(case.num("ours.beta_fast").unwrap_or(32.0))
                .beta_slow(case.num("ours.beta_slow").unwrap_or(1.0))
                .truncate(case.get("ours.truncate") != Some("False"));
            if let Some(m) = case.num("ours.mscale") {
                y = y.mscale(m);
            }
            if let Some(m) = case.num("ours.mscale_all_dim") {
                y = y.mscale_all_dim(m);
            }
            if let Some(a) = case.num("ours.attention_factor") {
                y = y.attention_factor(a);
            }
            Scaling::Yarn(y)
        }
        Some("llama3") => Scaling::Llama3(Llama3::new(
            factor,
            case.num("ours.low_freq_factor").unwrap(),
            case.num("ours.high_freq_factor").unwrap(),
            original,
        )),
        Some("longrope") => Scaling::LongRope(LongRope::new(
            short.as_deref().unwrap(),
            long.as_deref().unwrap(),
            ContextLengths {
                original,
                extended: case.int("ours.max_position_embeddings").unwrap(),
            },
            match case.get("ours.seq_len") {
                Some("None") | None => LongRopeChoice::Short,
                Some(n) => LongRopeChoice::SeqLen(n.parse().unwrap()),
            },
        )),
        Some(other) => panic!("scaling {other}"),
    };
    let mut b = Rope::builder(head_dim)
        .base(case.num("ours.base").unwrap())
        .layout(layout)
        .scaling(scaling);
    if let Some(r) = case.int("ours.rotary_dim") {
        b = b.rotary_dim(r as usize);
    }
    if let Some(n) = case.int("ours.proportional") {
        b = b.proportional_rotary(n as usize);
    }
    b = match case.get("ours.axes") {
        None => b,
        Some("mrope") => b.axes(Axes::MRope(sections())),
        Some("mrope_interleaved") => b.axes(Axes::MRopeInterleaved(sections())),
        Some("axial2d") => b.axes(Axes::Axial2d),
        Some(other) => panic!("axes {other}"),
    };
    b.build()
        .unwrap_or_else(|e| panic!("{}: {e}", case.get("case").unwrap()))
}

#[test]
fn golden_file_covers_the_issue() {
    let cases = parse();
    assert!(cases.len() >= 18, "{} cases", cases.len());
    let mut seen = BTreeMap::new();
    for c in &cases {
        for r in &c.rotations {
            *seen
                .entry((format!("{:?}", r.layout), r.dtype.clone()))
                .or_insert(0) += 1;
        }
    }
    // DeepSeek-V3's interleave-then-half-split (its own function), in one dtype.
    assert!(seen.contains_key(&("InterleavedToHalfSplit".to_string(), "f16".to_string())));
    for layout in ["HalfSplit", "Interleaved"] {
        for dtype in ["f32", "f16", "bf16"] {
            assert!(
                seen.contains_key(&(layout.to_string(), dtype.to_string())),
                "no {layout} {dtype} rotation in the golden file"
            );
        }
    }
    for p in [0u64, 4095, 32767, 131071, 500000] {
        assert!(cases
            .iter()
            .flat_map(|c| &c.rotations)
            .any(|r| r.positions.contains(&p)));
    }
}

#[test]
fn frequencies_and_attention_factors_match_transformers() {
    for case in parse() {
        let rope = build(&case, PairLayout::HalfSplit);
        let (mut f64s, mut f32s) = (case.list("inv_freq_f64"), case.list("inv_freq_f32"));
        if rope.axes() == Axes::Axial2d {
            // transformers keeps one half's frequencies (rows and columns share them);
            // ours are per pair: the rows' half, then the columns'.
            f64s = f64s.repeat(2);
            f32s = f32s.repeat(2);
        }
        let ours = rope.inv_freqs();
        assert_eq!(ours.len(), f64s.len(), "{}", case.name());
        let mut worst = (0.0f64, 0.0f64);
        for (i, ((&o, &w64), &w32)) in ours.iter().zip(&f64s).zip(&f32s).enumerate() {
            // transformers' formula in f64: the same to a few f64 roundings.
            let rel64 = if w64 == 0.0 {
                o.abs()
            } else {
                ((o - w64) / w64).abs()
            };
            assert!(
                rel64 <= 1e-14,
                "{}: pair {i}: ours {o:e}, transformers (f64) {w64:e}, rel {rel64:e}",
                case.name()
            );
            // As transformers runs it in float32: within its float32 rounding (a few ulps:
            // pow, divisions and the blend each round).
            let rel32 = if w32 == 0.0 {
                o.abs()
            } else {
                ((o - w32) / w32).abs()
            };
            assert!(
                rel32 <= 8.0 * f64::from(f32::EPSILON),
                "{}: pair {i}: ours {o:e}, transformers (f32) {w32:e}, rel {rel32:e}",
                case.name()
            );
            worst = (worst.0.max(rel64), worst.1.max(rel32));
        }
        let want = case.num("attention_factor").unwrap();
        assert!(
            (rope.scale() - want).abs() <= 1e-15 * want,
            "{}: attention factor {} vs transformers {want}",
            case.name(),
            rope.scale()
        );
        println!(
            "{:24} inv_freq rel. error vs transformers: f64 formula {:.1e}, its f32 run {:.1e}; attention {}",
            case.name(),
            worst.0,
            worst.1,
            rope.scale()
        );
    }
}

fn check_rotation<E: TestElement>(case: &Case, r: &Rotation) -> (f64, f64) {
    let rope = build(case, r.layout);
    let hd = rope.head_dim();
    let x: Vec<E> = r.x.iter().map(|&v| E::from_f32(v)).collect();
    assert!(
        x.iter().zip(&r.x).all(|(e, &v)| e.to_f32() == v),
        "{}: inputs are representable in {}",
        case.name(),
        r.dtype
    );
    let mut y = x.clone();
    let positions = if r.coords.is_empty() {
        Positions::List64(&r.positions)
    } else {
        Positions::Axes(&r.coords)
    };
    rope.rotate(&mut y, 1, positions).unwrap();
    let reference = Reference {
        head_dim: hd,
        rotary_dim: rope.rotary_dim(),
        layout: r.layout,
        inv_freq: rope.inv_freqs(),
        scale: rope.scale(),
    };
    let (mut ours_err, mut theirs_err) = (0.0f64, 0.0f64);
    for (row, chunk) in y.chunks(hd).enumerate() {
        let o = row * hd;
        for (c, got) in chunk.iter().enumerate() {
            let want = r.expected[o + c];
            let got = f64::from(got.to_f32());
            if c >= rope.rotary_dim() {
                assert_eq!(got, f64::from(r.x[o + c]), "{}: pass-through", case.name());
                continue;
            }
            // Where each pair is written, and where it was read (they differ in DeepSeek's
            // layout).
            let pair = (0..rope.pairs())
                .find(|&p| {
                    reference.pair_out(p, false).0 == c || reference.pair_out(p, false).1 == c
                })
                .unwrap();
            let (ia, ib) = reference.pair_in(pair, false);
            let (a, b) = (f64::from(r.x[o + ia]), f64::from(r.x[o + ib]));
            let tol = bound::<E>(a, b, want, rope.scale());
            assert!(
                (got - want).abs() <= tol,
                "{} {:?} {}: token {row} channel {c}: ours {got}, transformers (f64) {want}, diff {:e} > {tol:e}",
                case.name(),
                r.layout,
                r.dtype,
                (got - want).abs()
            );
            let norm = a.abs() + b.abs();
            if norm > 0.0 {
                ours_err = ours_err.max((got - want).abs() / norm);
                theirs_err = theirs_err.max((f64::from(r.transformers[o + c]) - want).abs() / norm);
            }
        }
    }
    (ours_err, theirs_err)
}

#[test]
fn rotations_match_transformers_float64() {
    let mut ours_worse = Vec::new();
    for case in parse() {
        for r in &case.rotations {
            let (ours, theirs) = match r.dtype.as_str() {
                "f32" => check_rotation::<f32>(&case, r),
                "f16" => check_rotation::<f16>(&case, r),
                "bf16" => check_rotation::<bf16>(&case, r),
                other => panic!("dtype {other}"),
            };
            println!(
                "{:24} {:11} {:4}: max |err| / (|a|+|b|) vs float64: ours {ours:.2e}, transformers' own run {theirs:.2e}",
                case.name(),
                format!("{:?}", r.layout),
                r.dtype
            );
            if ours > theirs {
                ours_worse.push(format!("{} {}", case.name(), r.dtype));
            }
        }
    }
    // At these positions (up to 500000) transformers' f32 angles are off by far more than
    // our rounding: ours must be at least as close to the float64 values everywhere.
    assert!(
        ours_worse.is_empty(),
        "less accurate than transformers: {ours_worse:?}"
    );
}
