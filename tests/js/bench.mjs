// WebAssembly speed, the same code in Node and in Chromium (tests/js/run_browser.mjs
// --bench): the simd128 module against the scalar module, a plain JavaScript loop over a
// Float32Array with a precomputed table (what a JS runtime writes by hand), and a plain
// in-place multiply pass in the same wasm module (the memory roof). 32 heads x 128,
// half-split; medians of timed batches.
import { loadRopeSimd } from "../../js/rope-simd.mjs";

const H = 32, D = 128, HALF = D / 2, BASE = 500000;

/** Microseconds per call of `f`: the median of `reps` timed batches of at least `minMs`. */
export function median(f, minMs = 20, reps = 15) {
  let n = 1;
  for (;;) { // a batch of at least minMs
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    if (performance.now() - t0 >= minMs) break;
    n *= 2;
  }
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    times.push(((performance.now() - t0) * 1e3) / n);
  }
  times.sort((a, b) => a - b);
  return times[reps >> 1]; // microseconds per call
}

function table(maxPos) {
  const cos = new Float32Array(maxPos * HALF), sin = new Float32Array(maxPos * HALF);
  for (let p = 0; p < maxPos; p++)
    for (let i = 0; i < HALF; i++) {
      const a = p * Math.pow(BASE, (-2 * i) / D);
      cos[p * HALF + i] = Math.cos(a);
      sin[p * HALF + i] = Math.sin(a);
    }
  return { cos, sin };
}

// The plain JS rotation: [tokens, H, D] from position `start`.
function jsRotate(x, tokens, start, t) {
  for (let tok = 0; tok < tokens; tok++) {
    const row = (start + tok) * HALF;
    for (let h = 0; h < H; h++) {
      const o = (tok * H + h) * D;
      for (let i = 0; i < HALF; i++) {
        const c = t.cos[row + i], s = t.sin[row + i], a = x[o + i], b = x[o + i + HALF];
        x[o + i] = a * c - b * s;
        x[o + i + HALF] = b * c + a * s;
      }
    }
  }
}

// f16 <-> f32 by tables, as a JS runtime would: all 65536 halves widened once, and the
// 512-entry base/shift tables for narrowing (truncating).
const F16 = (() => {
  const widen = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    widen[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1024 + m) * 2 ** (e - 25);
  }
  const base = new Uint16Array(512), shift = new Uint8Array(512);
  for (let i = 0; i < 256; i++) {
    const e = i - 127;
    let b, sh;
    if (e < -24) { b = 0; sh = 24; } else if (e < -14) { b = 0x0400 >> (-e - 14); sh = -e - 1; }
    else if (e <= 15) { b = (e + 15) << 10; sh = 13; } else if (e < 128) { b = 0x7c00; sh = 24; } else { b = 0x7c00; sh = 13; }
    base[i] = b; base[i | 0x100] = b | 0x8000; shift[i] = sh; shift[i | 0x100] = sh;
  }
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const narrow = (v) => { f[0] = v; const x = u[0], k = x >>> 23; return base[k] + ((x & 0x7fffff) >>> shift[k]); };
  return { widen, narrow };
})();

function jsRotateF16(x, tokens, start, t) {
  const { widen, narrow } = F16;
  for (let tok = 0; tok < tokens; tok++) {
    const row = (start + tok) * HALF;
    for (let h = 0; h < H; h++) {
      const o = (tok * H + h) * D;
      for (let i = 0; i < HALF; i++) {
        const c = t.cos[row + i], s = t.sin[row + i], a = widen[x[o + i]], b = widen[x[o + i + HALF]];
        x[o + i] = narrow(a * c - b * s);
        x[o + i + HALF] = narrow(b * c + a * s);
      }
    }
  }
}

function fill(arr, f16) {
  let seed = 7;
  for (let i = 0; i < arr.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const v = (seed >>> 8) / (1 << 23) - 1;
    arr[i] = f16 ? F16.narrow(v) : v;
  }
}

// One module's numbers: decode (1 token at 4095) and a 512-token prefill, on the fly and
// from a table, f32 and f16; the in-place multiply pass over each f32 buffer (the export
// called directly: no JS between); and the prefill's values as 16 tokens of 1024 heads,
// which leaves out most of the per-token cost.
function wasmNumbers(rs) {
  const rope = rs.createRope({ headDim: D, base: BASE }), tab = rope.table(4096);
  const out = {};
  for (const [name, tokens, start] of [["decode", 1, 4095], ["prefill512", 512, 0]]) {
    const n = tokens * H * D, x = rs.tensor("f32", n), h = rs.tensor("f16", n);
    fill(x.array);
    fill(h.array, true);
    out[name] = {
      fly: median(() => rope.rotate(x, { heads: H, positions: start })),
      table: median(() => rope.rotate(x, { heads: H, positions: start, table: tab })),
      f16: median(() => rope.rotate(h, { heads: H, positions: start, table: tab })),
    };
    out[name].pass = median(() => rs.w.rope_scale_f32(x.ptr, n, 1.0000001));
    if (tokens > 1) {
      out[name].wide = median(() => rope.rotate(x, { heads: H * 32, positions: 0, table: tab }));
      out[name].gbps = (2 * 4 * n) / (out[name].table * 1e3);
      out[name].passGbps = (2 * 4 * n) / (out[name].pass * 1e3);
    }
    x.free();
    h.free();
  }
  tab.free();
  rope.free();
  return out;
}

/** The speed table: simd128 module, scalar module (if given), plain JS. */
export async function benchmark(rs, scalarSource) {
  const result = { simd128: wasmNumbers(rs) };
  if (scalarSource) result.scalar = wasmNumbers(await loadRopeSimd(scalarSource));
  const t = table(4096), js = {};
  for (const [name, tokens, start] of [["decode", 1, 4095], ["prefill512", 512, 0]]) {
    const x = new Float32Array(tokens * H * D), h = new Uint16Array(tokens * H * D);
    fill(x);
    fill(h, true);
    js[name] = { f32: median(() => jsRotate(x, tokens, start, t)), f16: median(() => jsRotateF16(h, tokens, start, t)) };
  }
  result.js = js;
  return result;
}
