// A property test of the JavaScript module's argument checks and results, under Node's
// test runner: random shapes, dtypes, layouts, positions (every kind the module takes),
// directions and backends, some calls made wrong on purpose. A valid call must match a
// float64 reference (within f32 rounding, or the 16-bit type's) and give the same bits on
// every backend; a wrong one must throw a RopeSimdError with a message and leave the
// buffer as it was. Seeded: a failure prints its seed and case.
//   node --test tests/js/property.mjs   (after `bash js/build.sh`)
//   ROPE_SIMD_PROP_CASES=5000 ROPE_SIMD_PROP_SEED=7 node --test tests/js/property.mjs
import { test } from "node:test";
import { loadRopeSimd, RopeSimdError } from "../../js/rope-simd.mjs";

const path = process.env.ROPE_SIMD_WASM ?? new URL("../../target/js/rope_simd.wasm", import.meta.url);
const rs = await loadRopeSimd(path);
const CASES = Number(process.env.ROPE_SIMD_PROP_CASES ?? 400);
const SEED = Number(process.env.ROPE_SIMD_PROP_SEED ?? 1);

function rng(seed) {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return { next, int: (n) => Math.floor(next() * n), pick: (a) => a[Math.floor(next() * a.length)] };
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const fromBf16 = (b) => ((u32[0] = b << 16), f32[0]);
// f16 bits to a number, exactly.
function fromF16(h) {
  const e = (h >> 10) & 31, m = h & 1023, s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
const decode = { f32: (v) => v, f16: fromF16, bf16: fromBf16 };
// Relative rounding of the stored type (half an ulp), and a floor for values near zero.
const ulp = { f32: 2 ** -24, f16: 2 ** -11, bf16: 2 ** -8 };

// Channels [tokens, heads, dim]; the first `rot` rotated with base^(-2i/rot).
function reference(x, tokens, heads, dim, rot, interleaved, base, pos, sign) {
  const y = Float64Array.from(x), half = rot / 2;
  for (let t = 0; t < tokens; t++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const angle = sign * pos[t] * Math.pow(base, (-2 * i) / rot), o = (t * heads + h) * dim;
        const ia = interleaved ? o + 2 * i : o + i, ib = interleaved ? o + 2 * i + 1 : o + i + half;
        const [a, b] = [x[ia], x[ib]];
        y[ia] = a * Math.cos(angle) - b * Math.sin(angle);
        y[ib] = b * Math.cos(angle) + a * Math.sin(angle);
      }
  return y;
}

function positionsOf(r, tokens) {
  const list = Array.from({ length: tokens }, () => (r.next() < 0.8 ? r.int(5000) : r.int(2 ** 31)));
  switch (r.int(6)) {
    case 0: return [list[0], list.map((_, t) => list[0] + t)];
    case 1: return [BigInt(list[0]), list.map((_, t) => list[0] + t)];
    case 2: return [{ same: list[0] }, list.map(() => list[0])];
    case 3: return [Uint32Array.from(list), list];
    case 4: return [BigUint64Array.from(list, BigInt), list];
    default: {
      const signed = list.map((p) => (r.next() < 0.5 ? -p : p));
      return [Int32Array.from(signed), signed];
    }
  }
}

function oneCase(seed) {
  const r = rng(seed);
  const dim = 2 * (1 + r.int(80)), rot = r.next() < 0.7 ? dim : 2 * (1 + r.int(dim / 2));
  const layout = r.pick(["half-split", "interleaved"]), base = r.pick([10000, 500000, 1e6, 100]);
  const dtype = r.pick(["f32", "f16", "bf16"]), heads = 1 + r.int(6), tokens = 1 + r.int(5);
  const [positions, pos] = positionsOf(r, tokens);
  const direction = r.pick(["forward", "inverse"]);
  const rope = rs.createRope({ headDim: dim, rotaryDim: rot, layout, base });
  const n = tokens * heads * dim, vals = Array.from({ length: n }, () => r.next() * 8 - 4);
  const Arr = dtype === "f32" ? Float32Array : Uint16Array;
  // 16-bit inputs as bits of values on their grid: bf16 the top half of an f32, f16 a
  // sign, an exponent of 2^-3..2^2 and a random significand.
  const x = dtype === "f32" ? Float32Array.from(vals)
    : dtype === "bf16" ? Uint16Array.from(vals, (v) => ((f32[0] = v), u32[0] >>> 16))
    : Uint16Array.from(vals, (v) => (v < 0 ? 0x8000 : 0) | ((12 + r.int(6)) << 10) | r.int(1024));
  const input = Float64Array.from(x, (v) => decode[dtype](v));
  const opts = { heads, positions, dtype, direction };

  // A wrong call, one time in four: it throws, and the buffer is as it was.
  const wrong = r.int(4) === 0 ? r.int(5) : -1;
  if (wrong >= 0) {
    const before = Arr.from(x);
    let bad = { ...opts }, buf = x;
    // (With a list the token count is fixed, so a whole buffer's length must match.)
    if (wrong === 0) Object.assign(bad, { positions: Uint32Array.from(pos, Math.abs), heads: heads + 1 });
    if (wrong === 1) Object.assign(bad, { positions: Uint32Array.from(pos, Math.abs) }), (buf = x.subarray(0, n - 1 - r.int(Math.min(n - 1, 3))));
    if (wrong === 2) bad.positions = { axes: Uint32Array.of(1) };
    if (wrong === 3) Object.assign(bad, { positions: Uint32Array.from(pos, Math.abs), firstToken: 1 }); // one token past the end
    if (wrong === 4) bad.direction = "sideways";
    let err = null;
    try { rope.apply(buf, bad); } catch (e) { err = e; }
    const thrown = err instanceof RopeSimdError || (err instanceof Error && wrong === 4);
    if (!thrown || !err.message) throw new Error(`wrong call ${wrong} did not throw a RopeSimdError: ${err}`);
    if (!x.every((v, i) => Object.is(v, before[i]))) throw new Error(`wrong call ${wrong} changed the buffer`);
    rope.free();
    return;
  }

  // Every backend gives the same bits.
  const results = ["scalar", "lanes", "auto"].map((backend) => {
    rope.backend = backend;
    const y = Arr.from(x);
    rope.apply(y, opts);
    return y;
  });
  for (const y of results.slice(1))
    if (!y.every((v, i) => Object.is(v, results[0][i]))) throw new Error("backends differ");
  const sign = direction === "inverse" ? -1 : 1;
  const want = reference(input, tokens, heads, dim, rot, layout === "interleaved", base, pos, sign);
  const got = results[0];
  const scale = Math.max(...input.map(Math.abs), 1e-30);
  for (let i = 0; i < n; i++) {
    const g = decode[dtype](got[i]), w = want[i];
    // The f32 arithmetic (a few ulps of the row's scale) plus the stored type's rounding.
    const tol = 8 * 2 ** -24 * scale + ulp[dtype] * Math.abs(w) * 1.01 + (dtype === "f32" ? 0 : ulp[dtype] * 2 ** -14);
    if (!(Math.abs(g - w) <= tol))
      throw new Error(`element ${i}: got ${g}, reference ${w}, tolerance ${tol} (dim ${dim} rot ${rot} ${layout} ${dtype} base ${base} positions ${pos})`);
  }
  rope.free();
}

test(`${CASES} random calls from seed ${SEED}: reference bits or a thrown error, buffers untouched`, () => {
  for (let c = 0; c < CASES; c++) {
    const seed = SEED * 1_000_003 + c;
    try {
      oneCase(seed);
    } catch (e) {
      throw new Error(`case seed ${seed}: ${e.message}`);
    }
  }
});
