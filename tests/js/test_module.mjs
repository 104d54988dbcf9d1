// The JavaScript module's checks under Node's test runner:
//   node --test tests/js/test_module.mjs   (after `bash js/build.sh`; ROPE_SIMD_WASM to
//   test another build of the module, e.g. the scalar one)
import { test } from "node:test";
import { loadRopeSimd } from "../../js/rope-simd.mjs";
import { checks } from "./checks.mjs";

const path = process.env.ROPE_SIMD_WASM ?? new URL("../../target/js/rope_simd.wasm", import.meta.url);
const rs = await loadRopeSimd(path);
for (const [name, check] of Object.entries(checks)) test(name, () => check(rs));
