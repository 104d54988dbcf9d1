// The JS module's own cost, A/B: another version of js/rope-simd.mjs against this one,
// both over the same wasm module in one Node process, the calls timed in alternation
// (best of five medians each). Prints microseconds per call and the ratio.
//   git show REV:js/rope-simd.mjs > /tmp/old-rope-simd.mjs
//   bash js/build.sh && node tests/js/ab_module.mjs /tmp/old-rope-simd.mjs
import { pathToFileURL } from "node:url";
import { median } from "./bench.mjs";

const [oldPath, wasm = "target/js/rope_simd.wasm"] = process.argv.slice(2);
if (!oldPath) throw new Error("usage: node tests/js/ab_module.mjs OLD_MODULE.mjs [WASM]");
const A = await import(pathToFileURL(oldPath).href);
const B = await import(new URL("../../js/rope-simd.mjs", import.meta.url).href);
const mods = { old: await A.loadRopeSimd(wasm), new: await B.loadRopeSimd(wasm) };

// Head_dim 128 with a table; Q 32 heads, K and V 8, f16 caches of 64 tokens.
const cases = {};
for (const [which, rs] of Object.entries(mods)) {
  const rope = rs.createRope({ headDim: 128, base: 500000 }), table = rope.table(4096);
  const add = (name, f) => { (cases[name] ??= {})[which] = f; };
  for (const heads of [1, 8, 32]) {
    const x = rs.tensor("f32", heads * 128);
    const opts = { heads, positions: 4095, table };
    add(`rotate, ${heads} heads`, () => rope.rotate(x, opts));
  }
  const q = rs.tensor("f32", 32 * 128), k = rs.tensor("f32", 8 * 128), v = rs.tensor("f32", 8 * 128);
  const kCache = rs.tensor("f16", 64 * 8 * 128), vCache = rs.tensor("f16", 64 * 8 * 128);
  const qk = { qHeads: 32, kHeads: 8, positions: 63, table };
  add("applyQk, 32 + 8 heads", () => rope.applyQk(q, k, qk));
  const into = { heads: 8, positions: 63, table, dstDtype: "f16", dstFirstToken: 63 };
  add("applyInto, 8 heads into f16", () => rope.applyInto(k, kCache, into));
  const step = { heads: { q: 32, kv: 8 }, positions: 63, firstToken: 63, table };
  add("decode, 32 + 8 heads into f16", () => rope.decode({ q, k, v, kCache, vCache }, step));
}

const times = {};
for (let round = 0; round < 5; round++)
  for (const [name, f] of Object.entries(cases))
    for (const which of round % 2 ? ["new", "old"] : ["old", "new"])
      ((times[name] ??= { old: [], new: [] })[which]).push(median(f[which]));
for (const [name, t] of Object.entries(times)) {
  const [o, n] = [Math.min(...t.old), Math.min(...t.new)];
  console.log(`${name.padEnd(32)} ${o.toFixed(3)} -> ${n.toFixed(3)} us  (${(o / n).toFixed(2)}x)`);
}
