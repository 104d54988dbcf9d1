// A decode loop with an f16 KV cache from JavaScript, through the typed module: a
// Llama-3-8B-shaped layer (32 query and 8 KV heads of 128) from its config.json, a
// 16-token prompt into the caches in one call, then 8 decode steps.
//   bash js/build.sh && node examples/js/decode.mjs
import { loadRopeSimd } from "../../js/rope-simd.mjs";

const [Q, KV, D, CAPACITY, PROMPT, STEPS] = [32, 8, 128, 4096, 16, 8];
const rs = await loadRopeSimd(new URL("../../target/js/rope_simd.wasm", import.meta.url));
const rope = rs.ropeFromConfigJson({
  model_type: "llama", hidden_size: 4096, num_attention_heads: 32, num_key_value_heads: 8,
  max_position_embeddings: 131072, rope_theta: 500000,
  rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
});
// The caches live in the module's memory ([capacity, kv heads, head_dim], f16 bits).
const kCache = rs.tensor("f16", CAPACITY * KV * D), vCache = rs.tensor("f16", CAPACITY * KV * D);
for (let pos = 0; pos < PROMPT + STEPS;) {
  const tokens = pos === 0 ? PROMPT : 1;
  const q = new Float32Array(tokens * Q * D).fill(0.5); // this step's activations
  const k = new Float32Array(tokens * KV * D).fill(0.25), v = new Float32Array(tokens * KV * D).fill(1);
  rope.decode({ q, k, v, kCache, vCache }, { heads: { q: Q, kv: KV }, positions: pos, firstToken: pos });
  pos += tokens;
}
console.log(`decode loop: ${PROMPT} prompt tokens and ${STEPS} steps on backend ${rope.backend}; ` +
  `k cache row 20, first values: ${Array.from(kCache.array.slice(20 * KV * D, 20 * KV * D + 4))}`);
try {
  rope.decode({ q: new Float32Array(Q * D), k: new Float32Array(KV * D), v: new Float32Array(KV * D), kCache, vCache },
    { heads: { q: Q, kv: KV }, positions: CAPACITY, firstToken: CAPACITY });
} catch (e) {
  console.log(`past the capacity: ${e.message}`);
}
[kCache, vCache, rope].forEach((x) => x.free());
