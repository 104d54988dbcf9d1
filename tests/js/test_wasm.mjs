// Loads the rope-simd wasm module (the C ABI built for wasm32-unknown-unknown), rotates
// buffers through its exports, checks them against a float64 reference written here,
// checks an error leaves the buffer untouched, and times a Llama-shaped prefill.
//
// Usage: node tests/js/test_wasm.mjs <simd128.wasm> [<scalar.wasm>]
import { readFile, stat } from "node:fs/promises";
import process from "node:process";

let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.log("FAIL", what); }
}

async function load(path) {
  const { instance } = await WebAssembly.instantiate(await readFile(path), {});
  return instance.exports;
}

// RopeConfig on wasm32: u32 head_dim, u32 rotary_dim, u32 layout, i32 backend,
// f64 base, f64 scale, u32 inv_freq (pointer), u32 n_inv_freq: 40 bytes.
function createRope(w, { headDim, rotaryDim = 0, layout = 1, base = 10000, scale = 1, backend = -1 }) {
  const cfg = w.rope_alloc(40), out = w.rope_alloc(8);
  const dv = new DataView(w.memory.buffer);
  dv.setUint32(cfg, headDim, true); dv.setUint32(cfg + 4, rotaryDim, true);
  dv.setUint32(cfg + 8, layout, true); dv.setInt32(cfg + 12, backend, true);
  dv.setFloat64(cfg + 16, base, true); dv.setFloat64(cfg + 24, scale, true);
  dv.setUint32(cfg + 32, 0, true); dv.setUint32(cfg + 36, 0, true);
  const rc = w.rope_create(cfg, out);
  const handle = new DataView(w.memory.buffer).getUint32(out, true);
  w.rope_free(cfg, 40); w.rope_free(out, 8);
  if (rc !== 0) throw new Error(`rope_create failed: ${rc}`);
  return handle;
}

// Float64 reference, from the formula: [tokens, heads, headDim], pairs half-split or
// interleaved, positions start, start+1, ...
function reference(x, tokens, heads, headDim, interleaved, base, start) {
  const y = Float64Array.from(x), half = headDim / 2;
  for (let t = 0; t < tokens; t++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const theta = Math.pow(base, (-2 * i) / headDim), angle = (start + t) * theta;
        const o = (t * heads + h) * headDim;
        const ia = interleaved ? o + 2 * i : o + i, ib = interleaved ? o + 2 * i + 1 : o + i + half;
        const a = x[ia], b = x[ib];
        y[ia] = a * Math.cos(angle) - b * Math.sin(angle);
        y[ib] = b * Math.cos(angle) + a * Math.sin(angle);
      }
  return y;
}

function testRotations(w) {
  for (const interleaved of [false, true]) {
    const [T, H, D, base, start] = [5, 4, 64, 500000, 123456];
    const rope = createRope(w, { headDim: D, layout: interleaved ? 0 : 1, base });
    const n = T * H * D, ptr = w.rope_alloc(n * 4);
    const x = new Float32Array(w.memory.buffer, ptr, n);
    for (let i = 0; i < n; i++) x[i] = Math.fround(Math.sin(i * 0.37) * 3);
    const input = Float64Array.from(x);
    const want = reference(input, T, H, D, interleaved, base, start);
    const rc = w.rope_rotate_f32(rope, 0, ptr, n, H, BigInt(start), 0, 0, 0);
    check(rc === 0, `rotate_f32 rc ${rc}`);
    const y = new Float32Array(w.memory.buffer, ptr, n);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(y[i] - want[i]));
    check(worst <= 4 * 2 ** -24 * 6, `f32 ${interleaved ? "interleaved" : "half-split"} max error ${worst}`);

    // A bad call (5 heads do not divide the buffer): an error, and the buffer untouched.
    const before = Float32Array.from(y);
    const bad = w.rope_rotate_f32(rope, 0, ptr, n, 7, 0n, 0, 0, 0);
    check(bad === -12, `buffer length error code ${bad}`);
    const after = new Float32Array(w.memory.buffer, ptr, n);
    check(after.every((v, i) => Object.is(v, before[i])), "failing call changed the buffer");

    // bf16: widen exactly, rotate, compare within half a bf16 ulp.
    const b16 = w.rope_alloc(n * 2), xb = new Uint16Array(w.memory.buffer, b16, n);
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    const widen = (bits) => { u[0] = bits << 16; return f[0]; };
    for (let i = 0; i < n; i++) { f[0] = input[i]; xb[i] = u[0] >>> 16; }
    const inB = Float64Array.from(xb, widen);
    check(w.rope_rotate_bf16(rope, 0, b16, n, H, BigInt(start), 0, 0, 0) === 0, "rotate_bf16");
    const wantB = reference(inB, T, H, D, interleaved, base, start);
    const yb = new Uint16Array(w.memory.buffer, b16, n);
    let okB = true;
    for (let i = 0; i < n; i++) okB &&= Math.abs(widen(yb[i]) - wantB[i]) <= Math.abs(wantB[i]) / 256 + 1e-6;
    check(okB, "bf16 within half an ulp of the reference");
    w.rope_free(ptr, n * 4); w.rope_free(b16, n * 2); w.rope_destroy(rope);
  }
}

// Median time of a 512-token prefill (32 heads x 128, from a table) in f32, f16 and
// bf16, on data in [-1, 1); ns per element as well, to compare the dtypes.
function timePrefill(w) {
  const [T, H, D] = [512, 32, 128];
  const rope = createRope(w, { headDim: D, base: 500000 });
  const lenOut = w.rope_alloc(8);
  w.rope_table_len(rope, T, lenOut);
  const tlen = new DataView(w.memory.buffer).getUint32(lenOut, true);
  const storage = w.rope_alloc(tlen * 4), table = w.rope_alloc(12);
  check(w.rope_table_build(rope, T, storage, tlen) === 0, "table_build");
  const dv = new DataView(w.memory.buffer);
  dv.setUint32(table, storage, true); dv.setUint32(table + 4, tlen, true); dv.setUint32(table + 8, T, true);
  const n = T * H * D, ptr = w.rope_alloc(n * 4);
  const values = new Float32Array(n);
  let seed = 1;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    values[i] = (seed >>> 8) / (1 << 23) - 1;
  }
  const bits = new Uint32Array(values.buffer);
  const fill = {
    f32: () => new Float32Array(w.memory.buffer, ptr, n).set(values),
    // bf16: the top half of the f32 bits (truncated; rounding does not matter here).
    bf16: () => new Uint16Array(w.memory.buffer, ptr, n).set(bits.map((b) => b >>> 16)),
    // f16: sign, exponent rebased from f32, top 10 mantissa bits (values here are
    // normal f16 or flushed to zero below 2^-14).
    f16: () => new Uint16Array(w.memory.buffer, ptr, n).set(bits.map((b) => {
      const e = ((b >>> 23) & 0xff) - 127 + 15;
      return ((b >>> 16) & 0x8000) | (e > 0 ? (e << 10) | ((b >>> 13) & 0x3ff) : 0);
    })),
  };
  const result = { backend: w.rope_backend(rope) };
  for (const [dtype, bytes, call] of [
    ["f32", 4, w.rope_rotate_f32], ["f16", 2, w.rope_rotate_f16], ["bf16", 2, w.rope_rotate_bf16],
  ]) {
    fill[dtype]();
    const times = [];
    for (let r = 0; r < 21; r++) {
      const t0 = process.hrtime.bigint();
      const rc = call(rope, table, ptr, n, H, 0n, 0, 0, 0);
      times.push(Number(process.hrtime.bigint() - t0) / 1e3);
      if (r === 0) check(rc === 0, `timed ${dtype} prefill`);
    }
    times.sort((a, b) => a - b);
    const us = times[10];
    result[dtype] = { us, nsPerElement: (us * 1e3) / n, gbps: (2 * n * bytes) / (us * 1e3) };
  }
  w.rope_destroy(rope);
  return result;
}

function describe(t) {
  return ["f32", "f16", "bf16"].map((d) =>
    `${d} ${t[d].us.toFixed(0)} us (${t[d].nsPerElement.toFixed(3)} ns/element, ${t[d].gbps.toFixed(1)} GB/s)`).join("; ");
}

const [simdPath, scalarPath] = process.argv.slice(2);
const simd = await load(simdPath);
testRotations(simd);
const s = timePrefill(simd);
const size = (await stat(simdPath)).size;
console.log(`simd128 module: ${size} bytes, backend ${s.backend}; 512-token prefill, 32x128, table (medians of 21):`);
console.log(`  ${describe(s)}`);
if (scalarPath) {
  const scalar = await load(scalarPath);
  testRotations(scalar);
  const c = timePrefill(scalar);
  const csize = (await stat(scalarPath)).size;
  console.log(`scalar module:  ${csize} bytes, backend ${c.backend}:`);
  console.log(`  ${describe(c)}`);
  console.log(`  simd128 speedup: ${["f32", "f16", "bf16"].map((d) => `${d} ${(c[d].us / s[d].us).toFixed(2)}x`).join(", ")}`);
}
console.log(`wasm: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
