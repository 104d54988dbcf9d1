// Two wasm modules' speed, A/B: both loaded through js/rope-simd.mjs in one Node process,
// 32 heads x 128 half-split f32 (decode at 4095 and a 512-token prefill, on the fly and
// from a table, and the module's in-place multiply pass), timed in alternation (best of
// seven medians each). Prints microseconds for A and B and the ratio B / A.
//   cp target/js/rope_simd.wasm /tmp/a.wasm   (then change, rebuild: bash js/build.sh)
//   node tests/js/ab_wasm.mjs /tmp/a.wasm target/js/rope_simd.wasm
import { loadRopeSimd } from "../../js/rope-simd.mjs";
import { median } from "./bench.mjs";

const [a, b] = process.argv.slice(2);
if (!a || !b) throw new Error("usage: node tests/js/ab_wasm.mjs A.wasm B.wasm");
const mods = { A: await loadRopeSimd(a), B: await loadRopeSimd(b) };
const cases = {};
for (const [which, rs] of Object.entries(mods)) {
  const rope = rs.createRope({ headDim: 128, base: 500000 }), table = rope.table(4096);
  for (const [name, tokens, start] of [["decode", 1, 4095], ["prefill512", 512, 0]]) {
    const n = tokens * 32 * 128, x = rs.tensor("f32", n);
    x.set(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
    (cases[`${name} table`] ??= {})[which] = () => rope.rotate(x, { heads: 32, positions: start, table });
    (cases[`${name} on the fly`] ??= {})[which] = () => rope.rotate(x, { heads: 32, positions: start });
    if (tokens > 1) (cases["multiply pass"] ??= {})[which] = () => rs.w.rope_scale_f32(x.ptr, n, 1.0000001);
  }
}
const times = {};
for (let round = 0; round < 7; round++)
  for (const [name, f] of Object.entries(cases))
    for (const which of round % 2 ? ["B", "A"] : ["A", "B"])
      ((times[name] ??= { A: [], B: [] })[which]).push(median(f[which], 20, 9));
for (const [name, t] of Object.entries(times)) {
  const A = Math.min(...t.A), B = Math.min(...t.B);
  console.log(`${name.padEnd(22)} ${A.toFixed(3).padStart(10)} ${B.toFixed(3).padStart(10)}  ${(B / A).toFixed(3)}`);
}
