// The checks of the JavaScript module, shared by Node's test runner (test_module.mjs) and
// the browser page (browser.html): each is a function of a loaded RopeSimd that throws
// on failure. Expected values come from a float64 reference written here.

import { RopeSimdError } from "../../js/rope-simd.mjs";

function assert(cond, what) {
  if (!cond) throw new Error(what);
}

// [tokens, heads, dim], pairs half-split or interleaved, positions pos[t].
function reference(x, tokens, heads, dim, interleaved, base, pos) {
  const y = Float64Array.from(x), half = dim / 2;
  for (let t = 0; t < tokens; t++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const angle = Number(pos[t]) * Math.pow(base, (-2 * i) / dim), o = (t * heads + h) * dim;
        const ia = interleaved ? o + 2 * i : o + i, ib = interleaved ? o + 2 * i + 1 : o + i + half;
        const a = x[ia], b = x[ib];
        y[ia] = a * Math.cos(angle) - b * Math.sin(angle);
        y[ib] = b * Math.cos(angle) + a * Math.sin(angle);
      }
  return y;
}

function data(n, seed = 1) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    x[i] = (seed >>> 8) / (1 << 22) - 2;
  }
  return x;
}

const bf16 = (f) => new Uint32Array(Float32Array.of(f).buffer)[0] >>> 16;
const fromBf16 = (b) => new Float32Array(Uint32Array.of(b << 16).buffer)[0];

export const checks = {
  "rotate f32 matches the float64 reference, both layouts"(rs) {
    for (const layout of ["half-split", "interleaved"]) {
      const [T, H, D, base] = [3, 4, 64, 500000];
      const rope = rs.createRope({ headDim: D, base, layout });
      const x = data(T * H * D), pos = new BigUint64Array([5n, 4096n, 131071n]);
      const want = reference(x, T, H, D, layout === "interleaved", base, pos);
      rope.rotate(x, { heads: H, positions: pos });
      let worst = 0;
      x.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - want[i])); });
      assert(worst < 4e-6, `${layout}: max error ${worst}`);
      rope.free();
    }
  },

  "the true inverse gives the input back; Tensors and typed arrays agree"(rs) {
    const rope = rs.createRope({ headDim: 64, scaling: { type: "yarn", factor: 4, originalMaxPositionEmbeddings: 4096 } });
    assert(rope.scale > 1.13 && rope.scale < 1.14, `YaRN's attention factor: ${rope.scale}`);
    const x = data(2 * 8 * 64), t = rs.tensor("f32", x.length).set(x);
    const y = Float32Array.from(x);
    rope.rotate(t, { heads: 8, positions: 100 });
    rope.rotate(y, { heads: 8, positions: 100 });
    assert(t.array.every((v, i) => Object.is(v, y[i])), "Tensor and Float32Array differ");
    rope.apply(t, { heads: 8, positions: 100, direction: "inverse" });
    let worst = 0;
    t.array.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - x[i])); });
    assert(worst < 1e-5, `inverse: ${worst}`);
    t.free();
    rope.free();
  },

  "bf16 and f16 buffers (Uint16Array bits), tables give the same bits"(rs) {
    const rope = rs.createRope({ headDim: 128, base: 500000 });
    const x = data(4 * 128), b = Uint16Array.from(x, bf16), c = Uint16Array.from(b);
    const table = rope.table(8192), compact = rope.table(8192, "compact");
    rope.rotate(b, { heads: 4, positions: 8000, dtype: "bf16" });
    rope.rotate(c, { heads: 4, positions: 8000, dtype: "bf16", table });
    assert(b.every((v, i) => v === c[i]), "table vs on the fly");
    const want = reference(Float64Array.from(Uint16Array.from(x, bf16), fromBf16), 1, 4, 128, false, 500000, [8000]);
    assert(b.every((v, i) => Math.abs(fromBf16(v) - want[i]) <= Math.abs(want[i]) / 128 + 1e-6), "bf16 rounding");
    const d = Uint16Array.from(x, bf16);
    rope.rotate(d, { heads: 4, positions: 8000, dtype: "bf16", table: compact });
    assert(d.every((v, i) => Math.abs(fromBf16(v) - fromBf16(b[i])) <= Math.abs(fromBf16(b[i])) / 128), "compact table");
    table.free();
    compact.free();
    rope.free();
  },

  "a decode step into an f16 cache equals its three steps"(rs) {
    const rope = rs.createRope({ headDim: 64, base: 10000 });
    const [Q, KV, CAP, at] = [8, 2, 32, 17];
    const q = data(Q * 64, 3), k = data(KV * 64, 4), v = data(KV * 64, 5);
    const kCache = rs.tensor("f16", CAP * KV * 64), vCache = rs.tensor("f16", CAP * KV * 64);
    const q2 = Float32Array.from(q), kWant = new Uint16Array(CAP * KV * 64), vWant = new Uint16Array(CAP * KV * 64);
    rope.decode({ q, k, v, kCache, vCache }, { heads: { q: Q, kv: KV }, positions: at, firstToken: at });
    rope.rotate(q2, { heads: Q, positions: at });
    rope.applyInto(k, kWant, { heads: KV, positions: at, dstDtype: "f16", dstFirstToken: at });
    rope.applyInto(v, vWant, { heads: KV, positions: { same: 0 }, dstDtype: "f16", dstFirstToken: at });
    assert(q.every((x, i) => Object.is(x, q2[i])), "q");
    assert(kCache.array.every((x, i) => x === kWant[i]), "k cache");
    assert(vCache.array.every((x, i) => x === vWant[i]), "v cache");
    kCache.free();
    vCache.free();
    rope.free();
  },

  "applyQk equals Q and K rotated apart; applyInto writes through the dst's view"(rs) {
    const rope = rs.createRope({ headDim: 64, base: 10000 });
    const [T, Q, KV, D] = [3, 4, 2, 64], pos = Uint32Array.of(7, 100, 4000);
    const q = data(T * Q * D, 6), k = data(T * KV * D, 7);
    const q2 = Float32Array.from(q), k2 = Float32Array.from(k), k3 = Float32Array.from(k);
    rope.applyQk(q, k, { qHeads: Q, kHeads: KV, positions: pos });
    rope.rotate(q2, { heads: Q, positions: pos });
    rope.rotate(k2, { heads: KV, positions: pos });
    assert(q.every((x, i) => Object.is(x, q2[i])), "applyQk: q");
    assert(k.every((x, i) => Object.is(x, k2[i])), "applyQk: k");
    // Into a [heads, tokens, dim] buffer: the dst's view from `dst`, the heads from opts.
    const out = new Float32Array(KV * T * D);
    rope.applyInto(k3, out, { heads: KV, positions: pos, dst: { view: "heads-tokens" } });
    for (let t = 0; t < T; t++)
      for (let h = 0; h < KV; h++)
        for (let i = 0; i < D; i++)
          assert(Object.is(out[(h * T + t) * D + i], k2[(t * KV + h) * D + i]), `applyInto: token ${t} head ${h} [${i}]`);
    rope.free();
  },

  "errors are thrown with the detail, and leave buffers untouched"(rs) {
    const rope = rs.createRope({ headDim: 64 });
    const x = data(3 * 64), before = Float32Array.from(x);
    let err = null;
    try { rope.rotate(x, { heads: 2, positions: 0 }); } catch (e) { err = e; }
    assert(err instanceof RopeSimdError && err.code === -12 && /x has 192 elements/.test(err.message), `${err}`);
    assert(x.every((v, i) => Object.is(v, before[i])), "buffer changed");
    err = null;
    try { rs.createRope({ headDim: 63 }); } catch (e) { err = e; }
    assert(err instanceof RopeSimdError && /head_dim must be even, got 63/.test(err.message), `${err}`);
    err = null;
    try { rope.rotate(x, { heads: 1, positions: Uint32Array.of(5), firstToken: 3 }); } catch (e) { err = e; }
    assert(err instanceof RopeSimdError && err.code === -21, `a window past the end: ${err}`);
    rope.free();
  },

  "config.json and ggml parameters build the same rotation"(rs) {
    const json = {
      model_type: "llama", hidden_size: 4096, num_attention_heads: 32, max_position_embeddings: 131072,
      rope_theta: 500000, rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    };
    const a = rs.ropeFromConfigJson(json, { seqLen: 4096 });
    const b = rs.createRope({ headDim: 128, base: 500000, scaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } });
    const x = data(32 * 128), y = Float32Array.from(x);
    a.rotate(x, { heads: 32, positions: 100000 });
    b.rotate(y, { heads: 32, positions: 100000 });
    assert(x.every((v, i) => Object.is(v, y[i])), "config.json vs config object");
    const g = rs.ropeFromGgml({ headDim: 64, nDims: 64, freqBase: 10000, mode: 2 });
    const c = rs.createRope({ headDim: 64 });
    const u = data(64), w = Float32Array.from(u);
    g.rotate(u, { heads: 1, positions: 77 });
    c.rotate(w, { heads: 1, positions: 77 });
    assert(u.every((v, i) => Object.is(v, w[i])), "ggml neox vs half-split");
    [a, b, g, c].forEach((r) => r.free());
  },

  "GGUF metadata with rope_freqs builds ggml's rotation; unknown architectures take a mode"(rs) {
    // Llama 3.1 as a GGUF reader hands it over (bigints, a tokenizer array that is not read),
    // and its rope_freqs tensor.
    const factors = Float32Array.from({ length: 64 }, (_, i) => (i < 20 ? 1 : i < 40 ? 1 + (i - 20) * 0.35 : 8));
    const metadata = {
      "general.architecture": "llama", "general.name": "Llama 3.1 8B", "llama.context_length": 131072n,
      "llama.embedding_length": 4096, "llama.attention.head_count": 32, "llama.rope.freq_base": 500000,
      "llama.rope.dimension_count": 128, "tokenizer.ggml.tokens": ["a", "b"],
    };
    const a = rs.ropeFromGguf(metadata, { freqFactors: factors });
    const b = rs.ropeFromGgml({ headDim: 128, nDims: 128, freqBase: 500000, mode: 0, freqFactors: Array.from(factors) });
    const c = rs.ropeFromGguf(new Map(Object.entries(metadata)));
    const x = data(8 * 128), y = Float32Array.from(x), z = Float32Array.from(x);
    a.rotate(x, { heads: 8, positions: 60000 });
    b.rotate(y, { heads: 8, positions: 60000 });
    c.rotate(z, { heads: 8, positions: 60000 });
    assert(a.layout === "interleaved" && a.headDim === 128, `llama: ggml's normal pairs (${a.layout})`);
    assert(x.every((v, i) => Object.is(v, y[i])), "GGUF with rope_freqs vs ggml's parameters");
    assert(!z.every((v, i) => Object.is(v, y[i])), "without rope_freqs the rotation differs");
    let err = null;
    try { rs.ropeFromGguf(metadata, { freqFactors: factors.subarray(1) }); } catch (e) { err = e; }
    assert(err instanceof RopeSimdError && err.code === -9, `rope_freqs of 63 values: ${err}`);
    const other = { "general.architecture": "my-arch", "my-arch.attention.key_length": 64 };
    err = null;
    try { rs.ropeFromGguf(other); } catch (e) { err = e; }
    assert(err instanceof RopeSimdError && err.code === -27 && /mode/.test(err.message), `an unknown architecture: ${err}`);
    const d = rs.ropeFromGguf(other, { mode: 2 });
    assert(d.layout === "half-split" && d.headDim === 64, "the mode given: neox pairs");
    [a, b, c, d].forEach((r) => r.free());
  },

  "frequencies and a position's cos/sin are the ones a rotation uses"(rs) {
    const rope = rs.createRope({ headDim: 128, base: 500000 });
    const f = rope.invFreqs();
    assert(f.length === 64 && f.every((v, i) => Math.abs(v - Math.pow(500000, -i / 64)) <= 1e-15 * v), "invFreqs: base^(-2i/d)");
    const { cos, sin } = rope.cosSin(123456789);
    // A half-split row of ones and zeros rotates into exactly cos and sin.
    const row = Float32Array.from({ length: 128 }, (_, i) => (i < 64 ? 1 : 0));
    rope.rotate(row, { heads: 1, positions: 123456789 });
    assert(cos.every((c, i) => Object.is(c, row[i]) && Object.is(sin[i], row[i + 64])), "cosSin: a rotation's bits");
    let err = null;
    try { rope.cosSin(2n ** 53n); } catch (e) { err = e; }
    assert(err instanceof RopeSimdError && err.code === -15, `cosSin at 2^53: ${err}`);
    rope.free();
  },

  "packed QKV, own cos/sin and the re-rotation give the separate calls' results"(rs) {
    const rope = rs.createRope({ headDim: 64, base: 10000 }), T = 3, Q = 4, KV = 2, D = 64;
    const qkv = data(T * (Q + 2 * KV) * D, 5), q = new Float32Array(T * Q * D), k = new Float32Array(T * KV * D);
    const v = new Float32Array(T * KV * D);
    for (let t = 0; t < T; t++) {
      const row = qkv.subarray(t * (Q + 2 * KV) * D);
      q.set(row.subarray(0, Q * D), t * Q * D);
      k.set(row.subarray(Q * D, (Q + KV) * D), t * KV * D);
      v.set(row.subarray((Q + KV) * D, (Q + 2 * KV) * D), t * KV * D);
    }
    const packed = Float32Array.from(qkv);
    rope.packedQkv(packed, { qHeads: Q, kvHeads: KV, positions: 40 });
    rope.applyQk(q, k, { qHeads: Q, kHeads: KV, positions: 40 });
    for (let t = 0; t < T; t++) {
      const row = packed.subarray(t * (Q + 2 * KV) * D, (t + 1) * (Q + 2 * KV) * D);
      assert(row.subarray(0, Q * D).every((x, i) => Object.is(x, q[t * Q * D + i])), "packed Q");
      assert(row.subarray(Q * D, (Q + KV) * D).every((x, i) => Object.is(x, k[t * KV * D + i])), "packed K");
      assert(row.subarray((Q + KV) * D).every((x, i) => Object.is(x, v[t * KV * D + i])), "packed V untouched");
    }
    // The decode step on one packed token: Q in place, K and V into f16 caches at row 5.
    const one = qkv.slice(0, (Q + 2 * KV) * D), q1 = one.slice(0, Q * D), k1 = one.slice(Q * D, (Q + KV) * D);
    const v1 = one.slice((Q + KV) * D);
    const kc = new Uint16Array(8 * KV * D), vc = new Uint16Array(8 * KV * D), kc2 = new Uint16Array(8 * KV * D), vc2 = new Uint16Array(8 * KV * D);
    rope.packedQkvInto(one, { kCache: kc, vCache: vc }, { qHeads: Q, kvHeads: KV, positions: 5, firstToken: 5, cacheDtype: "f16" });
    rope.decode({ q: q1, k: k1, v: v1, kCache: kc2, vCache: vc2 }, { heads: { q: Q, kv: KV }, positions: 5, firstToken: 5, cacheDtype: "f16" });
    assert(one.subarray(0, Q * D).every((x, i) => Object.is(x, q1[i])), "packed decode: Q");
    assert(kc.every((x, i) => x === kc2[i]) && vc.every((x, i) => x === vc2[i]), "packed decode: the caches");
    // Own cos/sin: those of a position give the bits of a rotation at it.
    const { cos, sin } = rope.cosSin(777), x = data(2 * D, 9), y = Float32Array.from(x);
    rope.rotateWithCosSin(x, cos, sin);
    rope.rotate(y, { heads: 2, positions: 777 });
    assert(x.every((a, i) => Object.is(a, y[i])), "rotateWithCosSin vs rotate");
    // The re-rotation turns keys of one base into keys of the other.
    const other = rs.createRope({ headDim: 64, base: 500000 }), r = rope.rerotation(other);
    const a = data(D, 11), b = Float32Array.from(a);
    rope.rotate(a, { heads: 1, positions: 1234 });
    r.rotate(a, { heads: 1, positions: 1234 });
    other.rotate(b, { heads: 1, positions: 1234 });
    assert(a.every((u, i) => Math.abs(u - b[i]) < 1e-4), "re-rotation: keys of the other base");
    assert(rs.backendAvailable("scalar") && !rs.backendAvailable("neon"), "backendAvailable");
    [rope, other, r].forEach((h) => h.free());
  },

  "a call split by tokens gives the whole call's bits; a bad split changes nothing"(rs) {
    const rope = rs.createRope({ headDim: 64, base: 10000 }), T = 5, H = 3, D = 64, row = H * D;
    const pos = Uint32Array.of(7, 0, 4096, 31, 12), x = data(T * H * D, 13), whole = Float32Array.from(x);
    rope.apply(whole, { heads: H, positions: pos, direction: "inverse" });
    // Tokens 0..2 and 2..5 as two parts, each given the whole call's positions.
    const a = x.slice(0, 2 * row), b = x.slice(2 * row);
    rope.applyTokens(a, 0, { heads: H, positions: pos, direction: "inverse" });
    rope.applyTokens(b, 2, { heads: H, positions: pos, direction: "inverse" });
    assert(a.every((v, i) => Object.is(v, whole[i])), "tokens 0..2");
    assert(b.every((v, i) => Object.is(v, whole[2 * row + i])), "tokens 2..5");
    // bf16 bits from a start position and a table, as the whole call's.
    const tab = rope.table(64), h = Uint16Array.from(data(T * row, 17), bf16), hw = Uint16Array.from(h);
    rope.apply(hw, { heads: H, positions: 20, dtype: "bf16", table: tab });
    const hb = h.slice(3 * row);
    rope.applyTokens(hb, 3, { heads: H, positions: 20, dtype: "bf16", table: tab });
    assert(hb.every((v, i) => v === hw[3 * row + i]), "bf16 tokens 3..5 from a table");
    // Past the call's tokens: an error, and the part as it was.
    const c = x.slice(3 * row), c0 = Float32Array.from(c);
    let err = null;
    try { rope.applyTokens(c, 4, { heads: H, positions: pos }); } catch (e) { err = e; }
    assert(err instanceof RopeSimdError, `tokens 4..6 of 5: ${err}`);
    assert(c.every((v, i) => Object.is(v, c0[i])), "a failed split left the part untouched");
    err = null;
    try { rope.applyTokens(c, -1, { heads: H, positions: pos }); } catch (e) { err = e; }
    assert(err instanceof RangeError, `firstToken -1: ${err}`);
    tab.free();
    rope.free();
  },

  "views survive memory growth; freed handles refuse calls"(rs) {
    const rope = rs.createRope({ headDim: 64 });
    const t = rs.tensor("f32", 64).set(data(64));
    const want = data(64);
    rope.rotate(want, { heads: 1, positions: 3 }); // before the growth
    const before = rs.w.memory.buffer.byteLength;
    const big = rs.tensor("f32", 16 << 20); // 64 MiB: the memory grows
    assert(rs.w.memory.buffer.byteLength > before, "memory grew");
    // The call's argument structs are written through views made after the growth.
    rope.rotate(t, { heads: 1, positions: 3 });
    assert(t.array.length === 64 && t.array.every((v, i) => Object.is(v, want[i])), "a fresh view after growth");
    const u = data(64);
    rope.rotate(u, { heads: 1, positions: Uint32Array.of(3) });
    assert(u.every((v, i) => Object.is(v, want[i])), "a position list after growth");
    big.free();
    t.free();
    rope.free();
    let err = null;
    try { rope.rotate(new Float32Array(64), { heads: 1, positions: 0 }); } catch (e) { err = e; }
    assert(err && /freed/.test(err.message), "a freed Rope");
  },
};

/** Run every check; returns {passed, failed, failures}. */
export async function runChecks(rs) {
  let passed = 0, failed = 0;
  const failures = [];
  for (const [name, check] of Object.entries(checks)) {
    try {
      await check(rs);
      passed++;
    } catch (e) {
      failed++;
      failures.push(`${name}: ${e.message}`);
    }
  }
  return { passed, failed, failures };
}
