#!/usr/bin/env python3
"""Golden cases for rope-simd's schedules and rotations, from Hugging Face transformers.

Writes `tests/golden/transformers.txt`, which `tests/golden.rs` checks (a plain line
format, so the test needs no JSON parser: see `write()` below). The committed
file is what CI uses; rerunning this script is optional (it needs torch and transformers,
several GB with torch's CUDA dependencies):

    python3 -m venv /tmp/golden-venv
    /tmp/golden-venv/bin/pip install torch transformers
    /tmp/golden-venv/bin/python tests/golden/generate.py

Everything comes from transformers' own code:

- inverse frequencies and attention factors from `modeling_rope_utils.ROPE_INIT_FUNCTIONS`
  (and the Qwen2-VL rotary classes' own default/axial functions), twice: as transformers runs
  them (float32), and the same functions evaluated in float64 (their module's `torch` is
  swapped for a proxy whose `float`/`float32` mean float64, so the formula and the order of
  operations are transformers', only the precision changes);
- rotations from the models' own `apply_rotary_pos_emb` (Llama's `rotate_half`, GPT-J's
  `rotate_every_two`, GPT-NeoX's partial-rotary split, DeepSeek-V3's
  `apply_rotary_pos_emb_interleave`, Qwen2-VL's and Qwen3-VL's
  multimodal recomposition, Qwen2-VL's vision `apply_rotary_pos_emb_vision`), again twice:
  with float64 cos/sin and arithmetic (the expected values), and the way the model runs
  (float32 angles, cos/sin cast to the activations' dtype, arithmetic in that dtype).

At large positions transformers' float32 angle `position * inv_freq` is off by up to
`position * 2^-24` radians, so its own outputs are not an oracle there; the Rust test
checks our outputs against the float64 evaluation and reports how far transformers' own
float32/16-bit path is from it.
"""

import numpy as np
import math
import pathlib
import types

import torch
import transformers
from transformers import LlamaConfig
from transformers import modeling_rope_utils as mru
from transformers.models.deepseek_v3 import modeling_deepseek_v3 as deepseek_v3
from transformers.models.gpt_neox import modeling_gpt_neox as neox
from transformers.models.gptj import modeling_gptj as gptj
from transformers.models.llama import modeling_llama as llama
from transformers.models.qwen2_vl import modeling_qwen2_vl as qwen2vl
from transformers.models.qwen3_vl import modeling_qwen3_vl as qwen3vl

POSITIONS = [0, 4095, 32767, 131071, 500000]
DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
OUT = pathlib.Path(__file__).with_name("transformers.txt")


class _F64Torch(types.ModuleType):
    """`torch`, except that `float` and `float32` are float64."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        if name in ("float", "float32"):
            return torch.float64
        return getattr(torch, name)


def in_f64(fn, *args, **kwargs):
    """Run a transformers function with its module's torch dtype names meaning float64 (and
    `Tensor.float()`, which LongRoPE uses, converting to float64)."""
    module = __import__(fn.__module__, fromlist=["torch"])
    saved, saved_float = module.torch, torch.Tensor.float
    module.torch = _F64Torch()
    torch.Tensor.float = torch.Tensor.double
    try:
        return fn(*args, **kwargs)
    finally:
        module.torch = saved
        torch.Tensor.float = saved_float


def config(head_dim, rope_parameters, max_position_embeddings=131072):
    return LlamaConfig(
        hidden_size=head_dim * 4,
        num_attention_heads=4,
        num_key_value_heads=4,
        head_dim=head_dim,
        max_position_embeddings=max_position_embeddings,
        rope_parameters=rope_parameters,
    )


def floats(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def f32s(values):
    """Shortest text that reads back as the same f32 (inputs and 16-bit/f32 outputs)."""
    return " ".join(np.format_float_scientific(np.float32(v), unique=True, trim="-")
                    if v != 0 else "0" for v in values)


def f64s(values, digits=17):
    return " ".join(repr(float(v)) if digits == 17 else f"{v:.{digits}g}" for v in values)


def inputs(n, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64) * 2.0
    return x.to(dtype)  # exactly representable in the dtype (and in f32)


def rotate_llama(x, cos, sin, layout, rotary_dim):
    """x: [tokens, 1, head_dim]; cos/sin: [tokens, pairs] (one per pair)."""
    if layout == "interleaved_to_half_split":
        # DeepSeek-V3 with rope_interleave: interleaved pairs in, half-split order out.
        q = x.permute(1, 0, 2)[None]
        c = torch.cat((cos, cos), dim=-1)[None]
        s = torch.cat((sin, sin), dim=-1)[None]
        out, _ = deepseek_v3.apply_rotary_pos_emb_interleave(q, q, c, s, unsqueeze_dim=1)
        return out[0].permute(1, 0, 2)
    if layout == "half_split":
        # The models' shapes: q [batch, heads, tokens, head_dim], cos [batch, tokens, head_dim].
        q = x.permute(1, 0, 2)[None]
        c = torch.cat((cos, cos), dim=-1)[None]
        s = torch.cat((sin, sin), dim=-1)[None]
        if rotary_dim == x.shape[-1]:
            out, _ = llama.apply_rotary_pos_emb(q, q, c, s, unsqueeze_dim=1)
        else:
            # GPT-NeoX's partial rotary: rotate the first rotary_dim channels, pass the rest.
            out, _ = neox.apply_rotary_pos_emb(q, q, c, s, unsqueeze_dim=1)
        return out[0].permute(1, 0, 2)
    # GPT-J: interleaved pairs on the first rotary_dim channels.
    rot = x[..., :rotary_dim]
    out = gptj.apply_rotary_pos_emb(rot[None], sin[None], cos[None])[0]
    return torch.cat((out, x[..., rotary_dim:]), dim=-1)


def rotation(case, inv32, inv64, attention, layout, dtype_name, seed, coords=None, recompose=None):
    head_dim, rotary_dim = case["head_dim"], case["rotary_dim"]
    dtype = DTYPES[dtype_name]
    tokens = len(POSITIONS) if coords is None else len(coords)
    x = inputs(tokens * head_dim, dtype, seed).reshape(tokens, 1, head_dim)

    def cos_sin(inv, ftype):
        if coords is None:
            pos = torch.tensor(POSITIONS, dtype=ftype)[:, None]
            freqs = pos * inv.to(ftype)
        else:  # [axes, tokens, pairs], recomposed by the model's own function
            pos = torch.tensor(coords, dtype=ftype).T[:, :, None]
            freqs = pos * inv.to(ftype)
        c, s = freqs.cos() * attention, freqs.sin() * attention
        if recompose is not None:
            c, s = recompose(c), recompose(s)
        return c, s

    # Expected: float64 angles, cos/sin and arithmetic.
    c64, s64 = cos_sin(inv64, torch.float64)
    want = rotate_llama(x.to(torch.float64), c64, s64, layout, rotary_dim)
    # As the model runs: float32 angles, cos/sin cast to the dtype, arithmetic in the dtype.
    c32, s32 = cos_sin(inv32, torch.float32)
    hf = rotate_llama(x, c32.to(dtype), s32.to(dtype), layout, rotary_dim)
    out = {
        "layout": layout,
        "dtype": dtype_name,
        "x": floats(x.to(torch.float32)),
        "expected": floats(want),
        "transformers": floats(hf.to(torch.float32)),
    }
    if coords is None:
        out["positions"] = POSITIONS
    else:
        out["coords"] = [list(c) for c in coords]
    return out


def schedule_case(name, family, head_dim, rope_parameters, ours, rotary_dim=None, seq_len=None,
                  max_position_embeddings=131072, init=None, layouts=("half_split", "interleaved"),
                  seed=0):
    cfg = config(head_dim, dict(rope_parameters), max_position_embeddings)
    rope_type = rope_parameters["rope_type"]
    fn = init or (llama.LlamaRotaryEmbedding.compute_default_rope_parameters if rope_type == "default" else mru.ROPE_INIT_FUNCTIONS[rope_type])
    kwargs = {} if seq_len is None else {"seq_len": seq_len}
    inv32, att32 = fn(cfg, **kwargs)
    inv64, att64 = in_f64(fn, config(head_dim, dict(rope_parameters), max_position_embeddings), **kwargs)
    assert inv64.dtype == torch.float64, name
    case = {
        "name": name,
        "family": family,
        "head_dim": head_dim,
        "rotary_dim": rotary_dim or 2 * inv64.numel(),
        "ours": ours,
        "inv_freq_f32": floats(inv32),
        "inv_freq_f64": floats(inv64),
        "attention_factor": float(att64),
        "attention_factor_f32_path": float(att32),
    }
    dtypes = ["f32", "f16", "bf16"]
    case["rotations"] = [
        rotation(case, inv32, inv64, float(att64), layout, dtypes[(seed + i) % 3], seed * 10 + i)
        for i, layout in enumerate(layouts)
    ]
    return case


def main():
    torch.set_printoptions(precision=17)
    cases = []
    cases.append(schedule_case(
        "default-llama2", "Llama 2 / Mistral", 128,
        {"rope_type": "default", "rope_theta": 10000.0},
        {"base": 10000.0}, seed=1))
    cases.append(schedule_case(
        "linear-4", "linear interpolation (e.g. Code Llama style)", 128,
        {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
        {"base": 10000.0, "scaling": "linear", "factor": 4.0}, seed=2))
    cases.append(schedule_case(
        "dynamic-ntk-2", "dynamic NTK", 128,
        {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0},
        {"base": 10000.0, "scaling": "dynamic", "factor": 2.0, "max_position_embeddings": 4096,
         "seq_len": 10000},
        seq_len=10000, max_position_embeddings=4096, seed=3))
    cases.append(schedule_case(
        "yarn-qwen2.5", "Qwen2.5 + YaRN", 128,
        {"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0,
         "original_max_position_embeddings": 32768},
        {"base": 1e6, "scaling": "yarn", "factor": 4.0, "original": 32768}, seed=4))
    cases.append(schedule_case(
        "yarn-deepseek-v3", "DeepSeek-V3 (qk_rope_head_dim 64)", 64,
        {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0,
         "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1,
         "mscale": 1.0, "mscale_all_dim": 1.0},
        {"base": 10000.0, "scaling": "yarn", "factor": 40.0, "original": 4096, "beta_fast": 32.0,
         "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0},
        max_position_embeddings=163840,
        layouts=("interleaved", "half_split", "interleaved_to_half_split"), seed=5))
    cases.append(schedule_case(
        "yarn-mscale-ratio", "DeepSeek-V2-style mscale / mscale_all_dim", 64,
        {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0,
         "original_max_position_embeddings": 4096, "mscale": 0.707, "mscale_all_dim": 1.0},
        {"base": 10000.0, "scaling": "yarn", "factor": 40.0, "original": 4096, "mscale": 0.707,
         "mscale_all_dim": 1.0},
        max_position_embeddings=163840, layouts=("half_split",), seed=6))
    cases.append(schedule_case(
        "yarn-lone-mscale", "YaRN with mscale but no mscale_all_dim (ignored)", 64,
        {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 16.0,
         "original_max_position_embeddings": 4096, "mscale": 0.5},
        {"base": 10000.0, "scaling": "yarn", "factor": 16.0, "original": 4096, "mscale": 0.5},
        max_position_embeddings=65536, layouts=("half_split",), seed=7))
    cases.append(schedule_case(
        "yarn-attention-factor", "YaRN with an explicit attention_factor over mscale", 64,
        {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 16.0,
         "original_max_position_embeddings": 4096, "mscale": 0.707, "mscale_all_dim": 1.0,
         "attention_factor": 1.25},
        {"base": 10000.0, "scaling": "yarn", "factor": 16.0, "original": 4096, "mscale": 0.707,
         "mscale_all_dim": 1.0, "attention_factor": 1.25},
        max_position_embeddings=65536, layouts=("half_split",), seed=8))
    cases.append(schedule_case(
        "yarn-gpt-oss", "GPT-OSS (truncate false)", 64,
        {"rope_type": "yarn", "rope_theta": 150000.0, "factor": 32.0,
         "original_max_position_embeddings": 4096, "beta_fast": 32.0, "beta_slow": 1.0,
         "truncate": False},
        {"base": 150000.0, "scaling": "yarn", "factor": 32.0, "original": 4096, "truncate": False},
        seed=9))
    cases.append(schedule_case(
        "llama3.1", "Llama 3.1 / 3.3", 128,
        {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        {"base": 500000.0, "scaling": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
         "high_freq_factor": 4.0, "original": 8192}, seed=10))
    # LongRoPE (Phi-3-mini-128k shape: head_dim 96, original 4096, max 131072). The factor
    # lists are made up for the test, increasing like the published ones.
    short = [1.0 + 0.05 * i for i in range(48)]
    long = [1.0 + 1.2 * i for i in range(48)]
    lr = {"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": short,
          "long_factor": long, "original_max_position_embeddings": 4096}
    for name, seq_len in (("longrope-short", None), ("longrope-long", 500001)):
        cases.append(schedule_case(
            name, "Phi-3 / Phi-3.5 (LongRoPE)", 96, lr,
            {"base": 10000.0, "scaling": "longrope", "short_factor": short, "long_factor": long,
             "original": 4096, "max_position_embeddings": 131072,
             "seq_len": seq_len},
            seq_len=seq_len, layouts=("half_split",), seed=11))
    cases.append(schedule_case(
        "partial-neox", "GPT-NeoX / Pythia (rotary_pct 0.25, prefix form)", 256,
        {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
        {"base": 10000.0, "rotary_dim": 64},
        rotary_dim=64, init=neox.GPTNeoXRotaryEmbedding.compute_default_rope_parameters,
        seed=12))
    for name, factor in (("proportional", 1.0), ("proportional-linear-8", 8.0)):
        cases.append(schedule_case(
            name, "Gemma (proportional partial rotary)", 256,
            {"rope_type": "proportional", "rope_theta": 1000000.0, "partial_rotary_factor": 0.25,
             "factor": factor},
            {"base": 1e6, "proportional": 64, "scaling": "linear", "factor": factor},
            layouts=("half_split",), seed=13))

    # Multimodal: Qwen2-VL M-RoPE, Qwen3-VL interleaved M-RoPE, Qwen2-VL vision axial.
    coords3 = [[0, 0, 0], [3, 1, 2], [3, 7, 5], [4095, 4095, 4095], [131071, 17, 500000]]
    mm = []
    for name, module, cls, sections, base in (
        ("mrope-qwen2-vl", qwen2vl, "Qwen2VLRotaryEmbedding", [16, 24, 24], 1000000.0),
        ("mrope-qwen3-vl", qwen3vl, "Qwen3VLTextRotaryEmbedding", [24, 20, 20], 5000000.0),
    ):
        emb_cls = getattr(module, cls)
        cfg = config(128, {"rope_type": "default", "rope_theta": base, "mrope_section": sections})
        inv32, _ = emb_cls.compute_default_rope_parameters(cfg)
        inv64, _ = in_f64(emb_cls.compute_default_rope_parameters, cfg)
        emb = emb_cls.__new__(emb_cls)
        emb.mrope_section = sections

        def recompose(freq, emb=emb):
            # The model's own recomposition; keep one copy of the pairs (we give cos/sin per pair).
            full = emb.recomposition_frequencies(freq.clone())
            return full[..., : full.shape[-1] // 2]

        case = {
            "name": name, "family": cls, "head_dim": 128, "rotary_dim": 128,
            "ours": {"base": base, "axes": "mrope" if "qwen2" in name else "mrope_interleaved",
                     "sections": sections},
            "inv_freq_f32": floats(inv32), "inv_freq_f64": floats(inv64),
            "attention_factor": 1.0, "attention_factor_f32_path": 1.0,
        }
        case["rotations"] = [rotation(case, inv32, inv64, 1.0, "half_split", "f32", 40 + len(mm),
                                      coords=coords3, recompose=recompose),
                             rotation(case, inv32, inv64, 1.0, "half_split", "bf16", 50 + len(mm),
                                      coords=coords3, recompose=recompose)]
        mm.append(case)
    # Vision axial 2-D (Qwen2-VL's encoder: head_dim 80, theta 10000).
    vcfg = qwen2vl.Qwen2VLVisionConfig(embed_dim=1280, num_heads=16)
    vcfg.rope_parameters = {"rope_type": "axial", "rope_theta": 10000.0}
    vinv32, _ = qwen2vl.Qwen2VLVisionRotaryEmbedding.compute_axial_rope_parameters(vcfg)
    vinv64, _ = in_f64(qwen2vl.Qwen2VLVisionRotaryEmbedding.compute_axial_rope_parameters, vcfg)
    vemb = qwen2vl.Qwen2VLVisionRotaryEmbedding.__new__(qwen2vl.Qwen2VLVisionRotaryEmbedding)

    def vrecompose(freq):
        # freq: [axes=2, tokens, pairs/2] -> the model's [tokens, pairs] (one copy).
        full = vemb.recomposition_frequencies(freq.permute(1, 0, 2))
        return full[..., : full.shape[-1] // 2]

    coords2 = [[0, 0], [0, 1], [5, 3], [31, 17], [4095, 2]]
    vcase = {
        "name": "axial-qwen2-vl-vision", "family": "Qwen2-VL vision encoder (2-D axial)",
        "head_dim": 80, "rotary_dim": 80, "ours": {"base": 10000.0, "axes": "axial2d"},
        "inv_freq_f32": floats(vinv32), "inv_freq_f64": floats(vinv64),
        "attention_factor": 1.0, "attention_factor_f32_path": 1.0,
    }
    # The model rotates with apply_rotary_pos_emb_vision (float32 math); our expected values
    # use float64 through the same rotate_half formula.
    vrot = rotation(vcase, vinv32, vinv64, 1.0, "half_split", "f32", 60, coords=coords2,
                    recompose=vrecompose)
    x = torch.tensor(vrot["x"], dtype=torch.float32).reshape(len(coords2), 1, 80)
    pos = torch.tensor(coords2, dtype=torch.float32).T[:, :, None]
    f = vrecompose(pos * vinv32)
    c, s = torch.cat((f.cos(), f.cos()), -1), torch.cat((f.sin(), f.sin()), -1)
    q, _ = qwen2vl.apply_rotary_pos_emb_vision(x, x, c, s)
    vrot["transformers"] = floats(q)
    vcase["rotations"] = [vrot]
    cases += mm + [vcase]

    write(cases)


def write(cases):
    """One `key value...` line per field; `case` starts a case, `rotation` a rotation of it.

    Frequencies and attention factors are written with 17 significant digits (exact f64);
    inputs and transformers' outputs as the shortest f32 text; expected outputs (float64)
    with 13 significant digits, far below the f32 rounding they are compared at.
    """
    lines = [
        "# Golden RoPE cases from Hugging Face transformers; generated by tests/golden/generate.py",
        f"# transformers {transformers.__version__}, torch {torch.__version__}; do not edit by hand",
    ]
    for c in cases:
        lines.append(f"case {c['name']}")
        lines.append(f"family {c['family']}")
        lines.append(f"head_dim {c['head_dim']}")
        lines.append(f"rotary_dim {c['rotary_dim']}")
        for k, v in c["ours"].items():
            if isinstance(v, list):
                v = " ".join(repr(x) for x in v)
            lines.append(f"ours.{k} {v}")
        lines.append(f"inv_freq_f64 {f64s(c['inv_freq_f64'])}")
        lines.append(f"inv_freq_f32 {f32s(c['inv_freq_f32'])}")
        lines.append(f"attention_factor {c['attention_factor']!r}")
        lines.append(f"attention_factor_f32_path {c['attention_factor_f32_path']!r}")
        for r in c["rotations"]:
            lines.append(f"rotation {r['layout']} {r['dtype']}")
            if "positions" in r:
                lines.append("positions " + " ".join(str(p) for p in r["positions"]))
            else:
                lines.append("coords " + " ".join(",".join(str(p) for p in t) for t in r["coords"]))
            lines.append(f"x {f32s(r['x'])}")
            lines.append(f"expected {f64s(r['expected'], 13)}")
            lines.append(f"transformers {f32s(r['transformers'])}")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
