// rope-simd for JavaScript: an ES module over the wasm module's C ABI (include/rope_simd.h).
// Configurations are plain objects, buffers are typed arrays (or Tensors that live in the
// module's memory, to skip the copies), errors are thrown as RopeSimdError with the
// library's detail message, views are made afresh after memory growth, and every handle
// is freed by free() or, failing that, when it is garbage-collected.
//
//   import { loadRopeSimd } from "rope-simd";
//   const rs = await loadRopeSimd(new URL("./rope_simd.wasm", import.meta.url));
//   const rope = rs.createRope({ headDim: 128, base: 500000 });
//   rope.rotate(q, { heads: 32, positions: 4096 }); // q: Float32Array, rotated in place

const DTYPES = { f32: 0, f16: 1, bf16: 2 };
const LAYOUTS = { interleaved: 0, "half-split": 1, "interleaved-to-half-split": 2 };
const BACKENDS = { auto: -1, scalar: 0, lanes: 1, avx2: 2, avx512: 3, avx512bf16: 4, neon: 5, neonbf16: 6 };
const VIEWS = { "tokens-heads": 0, "heads-tokens": 1, "in-rows": 2, strided: 3 };
const DIRECTIONS = { forward: 0, inverse: 1, transpose: 2 };
const SCALINGS = { none: 0, linear: 1, "ntk-aware": 2, dynamic: 3, yarn: 4, llama3: 5, longrope: 6 };
const AXES = { single: 0, mrope: 1, "mrope-interleaved": 2, "axial-2d": 3 };
const TABLES = { full: 1, compact: 2 };

// Struct sizes and field offsets on wasm32 (repr(C), 4-byte pointers; checked against
// rope_config_init's size field when the module loads).
const CONFIG_SIZE = 192, GGML_SIZE = 104, TENSOR_SIZE = 44, POSITIONS_SIZE = 24;
const TABLE_SIZE = 16, ERROR_SIZE = 260, INFO_SIZE = 32, GGUF_SIZE = 36, GGUF_ENTRY_SIZE = 48;
// RopeGgufValue kinds.
const GGUF_U64 = 3, GGUF_I64 = 4, GGUF_F64 = 6, GGUF_STR = 7, GGUF_I32S = 8, GGUF_U32S = 9;

/** An error from the library: its ROPE_ERR_* code and detail message. */
export class RopeSimdError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "RopeSimdError";
    this.code = code;
  }
}

const registry = typeof FinalizationRegistry === "function"
  ? new FinalizationRegistry((release) => release())
  : { register() {}, unregister() {} };

function enumOf(table, value, what) {
  if (typeof value === "number") return value;
  const v = table[value];
  if (v === undefined) throw new TypeError(`${what}: ${value} is not one of ${Object.keys(table).join(", ")}`);
  return v;
}

// The fields of a buffer's options (`Rope.#call` reads them), from `over` where it has
// them and from `base` otherwise: a plain object of one shape, where an object spread
// measured about a microsecond a call in Node 20.
function viewOptions(base, over) {
  const pick = (key) => (over != null && Object.hasOwn(over, key) ? over[key] : base[key]);
  return {
    view: pick("view"), heads: pick("heads"), rowHeads: pick("rowHeads"), firstHead: pick("firstHead"),
    tokenStride: pick("tokenStride"), headStride: pick("headStride"), firstToken: pick("firstToken"), dtype: pick("dtype"),
  };
}

/** Load the wasm module (a URL, a path in Node, bytes, a Response or a compiled Module). */
export async function loadRopeSimd(source) {
  let module;
  if (source instanceof WebAssembly.Module) module = source;
  else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) module = await WebAssembly.compile(source);
  else if (typeof Response === "function" && source instanceof Response) module = await WebAssembly.compile(await source.arrayBuffer());
  else {
    const url = source instanceof URL ? source : new URL(String(source), typeof location === "object" ? location.href : `file://${process.cwd()}/`);
    if (url.protocol === "file:") {
      const { readFile } = await import("node:fs/promises");
      module = await WebAssembly.compile(await readFile(url));
    } else {
      module = await WebAssembly.compile(await (await fetch(url)).arrayBuffer());
    }
  }
  const instance = await WebAssembly.instantiate(module, {});
  return new RopeSimd(instance.exports);
}

export class RopeSimd {
  constructor(exports) {
    this.w = exports;
    this.dataView = null;
    const p = this.alloc(CONFIG_SIZE);
    this.w.rope_config_init(p, 64);
    const size = this.dv().getUint32(p, true);
    this.release(p, CONFIG_SIZE);
    if (size !== CONFIG_SIZE) throw new Error(`this module's RopeConfig is ${size} bytes; rope-simd.mjs expects ${CONFIG_SIZE}`);
    this.errorInfo = this.alloc(ERROR_SIZE);
    // The argument structs of a call (up to five tensors and the positions), made once:
    // a call writes them in place, so it allocates nothing for them.
    this.args = this.alloc(5 * TENSOR_SIZE + POSITIONS_SIZE);
  }

  /** A DataView of the module's memory, made afresh only after the memory grew. Growing
   * detaches the old buffer, whose views then have length 0: checking that is cheaper
   * than reading `memory.buffer` (a getter call), which a rotation would do twice. */
  dv() {
    if (this.dataView === null || this.u32.length === 0) {
      const buffer = this.w.memory.buffer;
      this.dataView = new DataView(buffer);
      this.u32 = new Uint32Array(buffer);
    }
    return this.dataView;
  }


  /** `n` bytes (8-aligned) of module memory; `release` them with the same `n`. */
  alloc(n) {
    const p = this.w.rope_alloc(Math.max(n, 1));
    if (p === 0) throw new RopeSimdError(-28, `could not allocate ${n} bytes in the wasm module`);
    return p;
  }
  release(p, n) { this.w.rope_free(p, Math.max(n, 1)); }

  /** Throw the library's error for a nonzero code. */
  check(rc) {
    if (rc === 0) return;
    const bytes = new Uint8Array(this.w.memory.buffer, this.errorInfo + 4, 256);
    const end = bytes.indexOf(0);
    const message = new TextDecoder().decode(bytes.slice(0, end < 0 ? 256 : end));
    throw new RopeSimdError(rc, message || `rope-simd error ${rc}`);
  }

  /** Run `f` with `n` bytes of scratch memory. */
  scratch(n, f) {
    const p = this.alloc(n);
    try { return f(p); } finally { this.release(p, n); }
  }

  /** A typed array copied into module memory (freed by the caller). */
  copyIn(array, bytes) {
    const p = this.alloc(bytes);
    new Uint8Array(this.w.memory.buffer, p, bytes).set(new Uint8Array(array.buffer, array.byteOffset, bytes));
    return p;
  }

  /** The fastest backend this CPU runs, by name. */
  get bestBackend() { return this.backendName(this.w.rope_best_backend()); }
  backendName(code) {
    const p = this.w.rope_backend_name(code), bytes = new Uint8Array(this.w.memory.buffer, p, 32);
    return new TextDecoder().decode(bytes.slice(0, bytes.indexOf(0)));
  }

  /** A description from a configuration object (see rope-simd.d.ts, RopeConfig). */
  createRope(config = {}) {
    const c = { headDim: 128, ...config };
    const owned = [];
    const arr = (values) => {
      if (!values) return [0, 0];
      const a = Float64Array.from(values), p = this.copyIn(a, a.byteLength);
      owned.push([p, a.byteLength]);
      return [p, a.length];
    };
    try {
      return this.#create(CONFIG_SIZE, (p) => {
        this.w.rope_config_init(p, c.headDim);
        const dv = this.dv(), s = c.scaling ?? {};
        const u32 = (o, v) => v !== undefined && dv.setUint32(p + o, v, true);
        const f64 = (o, v) => v !== undefined && dv.setFloat64(p + o, v, true);
        const u64 = (o, v) => v !== undefined && dv.setBigUint64(p + o, BigInt(v), true);
        u32(8, c.rotaryDim);
        if (c.layout !== undefined) u32(12, enumOf(LAYOUTS, c.layout, "layout"));
        if (c.backend !== undefined) dv.setInt32(p + 16, enumOf(BACKENDS, c.backend, "backend"), true);
        if (s.type !== undefined) u32(20, enumOf(SCALINGS, s.type, "scaling.type"));
        f64(24, c.base); f64(32, c.scale);
        const [fp, fn] = arr(c.invFreqs), [qp, qn] = arr(c.freqFactors);
        u32(40, fp); u32(44, fn); u32(48, qp); u32(52, qn);
        f64(56, s.factor ?? (s.type === "longrope" ? NaN : undefined));
        u64(64, s.originalMaxPositionEmbeddings); u64(72, s.maxPositionEmbeddings); u64(80, s.seqLen);
        f64(88, s.betaFast); f64(96, s.betaSlow); f64(104, s.mscale); f64(112, s.mscaleAllDim);
        f64(120, s.attentionFactor); f64(128, s.lowFreqFactor); f64(136, s.highFreqFactor);
        if (s.shortFactor || s.longFactor) {
          const [sp, sn] = arr(s.shortFactor), [lp, ln] = arr(s.longFactor);
          if (sn !== ln) throw new TypeError("scaling.shortFactor and longFactor must have the same length");
          u32(144, sp); u32(148, lp); u32(152, sn);
        }
        if (s.choice !== undefined) u32(156, { seqLen: 0, short: 1, long: 2 }[s.choice] ?? s.choice);
        if (s.truncate !== undefined) u32(160, s.truncate ? 1 : 0);
        u32(164, c.proportionalRotary); u32(168, c.channelOffset);
        if (c.axes !== undefined) u32(172, enumOf(AXES, c.axes, "axes"));
        (c.sections ?? []).forEach((v, i) => u32(176 + 4 * i, v));
        return (out) => this.w.rope_create(p, 0, 0, out, this.errorInfo);
      });
    } finally {
      for (const [p, n] of owned) this.release(p, n);
    }
  }

  /** A description from ggml's parameters ({headDim, nDims, freqBase, mode, ...}). */
  ropeFromGgml(params) {
    const g = { mode: 2, ...params };
    let factors = null;
    try {
      return this.#create(GGML_SIZE, (p) => {
        this.w.rope_ggml_params_init(p, g.headDim, g.nDims ?? g.headDim, g.freqBase ?? 10000);
        const dv = this.dv();
        dv.setInt32(p + 12, g.mode, true);
        if (g.backend !== undefined) dv.setInt32(p + 16, enumOf(BACKENDS, g.backend, "backend"), true);
        if (g.nOffs !== undefined) dv.setUint32(p + 20, g.nOffs, true);
        const f = (o, v) => v !== undefined && dv.setFloat64(p + o, v, true);
        f(32, g.freqScale); f(40, g.extFactor); f(48, g.attnFactor); f(56, g.betaFast); f(64, g.betaSlow);
        if (g.nCtxOrig !== undefined) dv.setBigUint64(p + 72, BigInt(g.nCtxOrig), true);
        if (g.freqFactors) {
          const a = Float64Array.from(g.freqFactors);
          factors = [this.copyIn(a, a.byteLength), a.byteLength];
          dv.setUint32(p + 80, factors[0], true);
          dv.setUint32(p + 84, a.length, true);
        }
        (g.sections ?? []).forEach((v, i) => dv.setUint32(p + 88 + 4 * i, v, true));
        return (out) => this.w.rope_create_ggml(p, 0, 0, out, this.errorInfo);
      });
    } finally {
      if (factors) this.release(...factors);
    }
  }

  /** A description from a transformers config.json (text or parsed object). */
  ropeFromConfigJson(json, { layer = "full", seqLen = 0, backend = "auto" } = {}) {
    const text = new TextEncoder().encode(typeof json === "string" ? json : JSON.stringify(json));
    const p = this.copyIn(text, text.length);
    try {
      const layerCode = { full: 0, sliding: 1 }[layer] ?? layer;
      return this.#create(0, () => (out) => this.w.rope_create_hf_json(
        p, text.length, layerCode, BigInt(seqLen), enumOf(BACKENDS, backend, "backend"), 0, 0, out, this.errorInfo));
    } finally {
      this.release(p, text.length);
    }
  }

  /** A description from a GGUF file's metadata, the way llama.cpp runs the model: a Map
   * or object of keys and values as a GGUF reader gives them ("general.architecture" and
   * the `{arch}.*` keys are read; numbers, bigints, strings, integer arrays), with the
   * file's `rope_freqs` tensor (`freqFactors`; Llama 3.1 and later carry their frequency
   * scaling there) and a ggml mode for an architecture the library does not know. */
  ropeFromGguf(metadata, { freqFactors, mode = "auto", backend = "auto" } = {}) {
    if (mode !== "auto" && !Number.isInteger(mode)) throw new TypeError(`mode: ${mode} is not "auto" or a ggml mode number`);
    const get = metadata instanceof Map ? (k) => metadata.get(k) : (k) => metadata[k];
    const names = [...(metadata instanceof Map ? metadata.keys() : Object.keys(metadata))];
    const arch = get("general.architecture"), prefix = `${arch}.`;
    const enc = new TextEncoder(), entries = [];
    for (const key of names) {
      if (key !== "general.architecture" && !(typeof arch === "string" && key.startsWith(prefix))) continue;
      const v = get(key);
      let e = null;
      if (typeof v === "string") e = { kind: GGUF_STR, bytes: enc.encode(v) };
      else if (typeof v === "bigint") e = v < 0n ? { kind: GGUF_I64, int: v } : { kind: GGUF_U64, int: v };
      else if (typeof v === "number" && Number.isInteger(v)) e = v < 0 ? { kind: GGUF_I64, int: BigInt(v) } : { kind: GGUF_U64, int: BigInt(v) };
      else if (typeof v === "number") e = { kind: GGUF_F64, float: v };
      else if (Array.isArray(v) || ArrayBuffer.isView(v)) {
        const a = Array.from(v, Number);
        if (a.every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31))
          e = { kind: GGUF_I32S, bytes: new Uint8Array(Int32Array.from(a).buffer) };
        else if (a.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32))
          e = { kind: GGUF_U32S, bytes: new Uint8Array(Uint32Array.from(a).buffer) };
      }
      if (e) entries.push({ key: enc.encode(`${key}\0`), ...e });
    }
    const factors = freqFactors ? new Uint8Array(Float32Array.from(freqFactors).buffer) : null;
    // One block: the entries, then the keys, strings, arrays and factors they point at.
    let size = entries.length * GGUF_ENTRY_SIZE;
    const place = (bytes) => { const o = size; size += (bytes.length + 7) & ~7; return o; };
    for (const e of entries) { e.keyAt = place(e.key); if (e.bytes) e.at = place(e.bytes); }
    const factorsAt = factors ? place(factors) : 0;
    const block = this.alloc(size);
    try {
      return this.#create(GGUF_SIZE, (p) => {
        this.w.rope_gguf_init(p);
        const dv = this.dv(), mem = new Uint8Array(this.w.memory.buffer);
        if (dv.getUint32(p, true) !== GGUF_SIZE) throw new Error(`this module's RopeGguf is not ${GGUF_SIZE} bytes`);
        entries.forEach((e, i) => {
          const q = block + i * GGUF_ENTRY_SIZE;
          mem.fill(0, q, q + GGUF_ENTRY_SIZE);
          mem.set(e.key, block + e.keyAt);
          dv.setUint32(q, block + e.keyAt, true);
          dv.setUint32(q + 8, e.kind, true);
          if (e.kind === GGUF_I64) dv.setBigInt64(q + 16, e.int, true);
          if (e.kind === GGUF_U64) dv.setBigUint64(q + 24, BigInt.asUintN(64, e.int), true);
          if (e.kind === GGUF_F64) dv.setFloat64(q + 32, e.float, true);
          if (e.bytes) {
            mem.set(e.bytes, block + e.at);
            dv.setUint32(q + 40, block + e.at, true);
            dv.setUint32(q + 44, e.kind === GGUF_STR ? e.bytes.length : e.bytes.length / 4, true);
          }
        });
        if (mode !== "auto") dv.setInt32(p + 4, mode, true);
        dv.setInt32(p + 8, enumOf(BACKENDS, backend, "backend"), true);
        dv.setUint32(p + 20, entries.length ? block : 0, true);
        dv.setUint32(p + 24, entries.length, true);
        if (factors) {
          mem.set(factors, block + factorsAt);
          dv.setUint32(p + 28, block + factorsAt, true);
          dv.setUint32(p + 32, factors.length / 4, true);
        }
        return (out) => this.w.rope_create_gguf(p, 0, 0, out, this.errorInfo);
      });
    } finally {
      this.release(block, size);
    }
  }

  /** The re-rotation from `from`'s frequencies to `to`'s (as `from.rerotation(to)`). */
  ropeRerotation(from, to) {
    if (!(from instanceof Rope) || !(to instanceof Rope) || !from.handle || !to.handle)
      throw new TypeError("ropeRerotation takes two live Ropes");
    return this.#create(0, () => (out) => this.w.rope_create_rerotation(from.handle, to.handle, 0, 0, out, this.errorInfo));
  }

  /** Whether this CPU runs a backend ("scalar", "lanes", "avx2", ...). */
  backendAvailable(name) { return this.w.rope_backend_available(enumOf(BACKENDS, name, "backend")) === 1; }

  #create(structSize, fill) {
    const out = this.alloc(4);
    const p = structSize ? this.alloc(structSize) : 0;
    try {
      const call = fill(p);
      this.check(call(out));
      return new Rope(this, this.dv().getUint32(out, true));
    } finally {
      this.release(out, 4);
      if (p) this.release(p, structSize);
    }
  }

  /** A buffer in the module's memory: `dtype` "f32", "f16" or "bf16", `length` elements. */
  tensor(dtype, length) { return new Tensor(this, dtype, length); }
}

/** Elements that live in the module's memory (zeroed when made); `array` is a view made
 * afresh each time. */
export class Tensor {
  constructor(rs, dtype, length) {
    this.rs = rs;
    this.dtype = dtype;
    this.code = enumOf(DTYPES, dtype, "dtype");
    this.length = length;
    this.bytes = length * (dtype === "f32" ? 4 : 2);
    this.ptr = rs.alloc(this.bytes);
    new Uint8Array(rs.w.memory.buffer, this.ptr, this.bytes).fill(0); // zeroed, as JS arrays are
    const [p, n] = [this.ptr, this.bytes];
    this.token = {};
    registry.register(this, () => rs.release(p, n), this.token);
  }
  /** A Float32Array (f32) or Uint16Array (f16, bf16 bits) over the elements. */
  get array() {
    this.#live();
    const Type = this.dtype === "f32" ? Float32Array : Uint16Array;
    return new Type(this.rs.w.memory.buffer, this.ptr, this.length);
  }
  set(values) { this.array.set(values); return this; }
  free() {
    if (this.ptr === 0) return;
    registry.unregister(this.token);
    this.rs.release(this.ptr, this.bytes);
    this.ptr = 0;
  }
  #live() { if (this.ptr === 0) throw new Error("this Tensor was freed"); }
}

/** A RoPE description: rotate tensors or typed arrays with it. */
export class Rope {
  constructor(rs, handle) {
    this.rs = rs;
    this.handle = handle;
    this.token = {};
    const w = rs.w;
    registry.register(this, () => w.rope_destroy(handle), this.token);
    const info = rs.scratch(INFO_SIZE, (p) => {
      rs.check(w.rope_info(handle, p));
      const dv = new DataView(w.memory.buffer);
      return {
        headDim: dv.getUint32(p, true), rotaryDim: dv.getUint32(p + 4, true), pairs: dv.getUint32(p + 8, true),
        layout: Object.keys(LAYOUTS)[dv.getUint32(p + 12, true)], axes: dv.getUint32(p + 16, true),
        scale: dv.getFloat64(p + 24, true),
      };
    });
    Object.assign(this, info);
  }

  get backend() { return this.rs.backendName(this.rs.w.rope_backend(this.#live())); }
  set backend(name) { this.rs.check(this.rs.w.rope_set_backend(this.#live(), enumOf(BACKENDS, name, "backend"), this.rs.errorInfo)); }

  free() {
    if (this.handle === 0) return;
    registry.unregister(this.token);
    this.rs.w.rope_destroy(this.handle);
    this.handle = 0;
  }
  #live() { if (this.handle === 0) throw new Error("this Rope was freed"); return this.handle; }

  /** The inverse frequencies (radians per position, one per pair) every rotation uses. */
  invFreqs() {
    const rs = this.rs, n = this.pairs * 8;
    return rs.scratch(n, (p) => {
      rs.check(rs.w.rope_inv_freqs(this.#live(), p, this.pairs, rs.errorInfo));
      return new Float64Array(rs.w.memory.buffer.slice(p, p + n));
    });
  }

  /** The cos and sin a rotation uses at `position` (exact angle, scaled, rounded to f32),
   * one per pair. */
  cosSin(position) {
    const rs = this.rs, n = this.pairs * 4;
    return rs.scratch(2 * n, (p) => {
      rs.check(rs.w.rope_cos_sin(this.#live(), BigInt(position), p, p + n, this.pairs, rs.errorInfo));
      const buffer = rs.w.memory.buffer;
      return { cos: new Float32Array(buffer.slice(p, p + n)), sin: new Float32Array(buffer.slice(p + n, p + 2 * n)) };
    });
  }

  /** A cos/sin table for positions 0..maxPos ("full" or "compact"), in module memory. */
  table(maxPos, kind = "full") {
    const rs = this.rs, w = rs.w, k = enumOf(TABLES, kind, "kind");
    const len = rs.scratch(4, (p) => { rs.check(w.rope_table_len(this.#live(), k, maxPos, p, rs.errorInfo)); return new DataView(w.memory.buffer).getUint32(p, true); });
    // The storage: floats (full) or doubles (compact), held by a Tensor of as many
    // 4-byte words (module memory is 8-aligned, as doubles need).
    const data = new Tensor(rs, "f32", len * (k === 2 ? 2 : 1));
    const desc = rs.alloc(TABLE_SIZE);
    const dv = new DataView(w.memory.buffer);
    dv.setUint32(desc, k, true); dv.setUint32(desc + 4, data.ptr, true); dv.setUint32(desc + 8, len, true); dv.setUint32(desc + 12, maxPos, true);
    rs.check(w.rope_table_build(this.handle, desc, rs.errorInfo));
    const token = {};
    const table = {
      ptr: desc, data, maxPos, kind,
      free() {
        if (!this.ptr) return;
        registry.unregister(token);
        data.free();
        rs.release(desc, TABLE_SIZE);
        this.ptr = 0;
      },
    };
    registry.register(table, () => rs.release(desc, TABLE_SIZE), token);
    return table;
  }

  /** Rotate `x` forward in place: opts {heads, positions, view, table}. */
  rotate(x, opts) {
    return this.#call([[x, opts, true]], opts, (t, pos, table) =>
      this.rs.w.rope_apply(this.#live(), table, t[0], pos, 0, this.rs.errorInfo));
  }

  /** Rotate `x` in place: opts {heads, positions, direction, view ("tokens-heads",
   * "heads-tokens", "in-rows", "strided"), rowHeads, firstHead, tokenStride, headStride,
   * firstToken (a window), dtype (for a Uint16Array: "f16" or "bf16"), table}. */
  apply(x, opts) {
    return this.#call([[x, opts, true]], opts, (t, pos, table) =>
      this.rs.w.rope_apply(this.#live(), table, t[0], pos, enumOf(DIRECTIONS, opts.direction ?? "forward", "direction"), this.rs.errorInfo));
  }

  /** Rotate tokens `firstToken..` of a larger call in place: `part` holds whole token rows
   * (`[tokens, heads, headDim]`) of a call whose positions are opts.positions, and gets the
   * bits the whole call gives them (a prefill split between workers): opts {heads,
   * positions, direction, dtype, table}. */
  applyTokens(part, firstToken, opts) {
    if (!Number.isSafeInteger(firstToken) || firstToken < 0 || firstToken > 0xffffffff)
      throw new RangeError(`firstToken must be an integer in 0..2^32-1, got ${firstToken}`);
    return this.#call([[part, opts, true]], opts, (t, pos, table) =>
      this.rs.w.rope_apply_tokens(this.#live(), table, t[0], pos, firstToken,
        enumOf(DIRECTIONS, opts.direction ?? "forward", "direction"), this.rs.errorInfo));
  }

  /** Rotate Q and K in place with one cos/sin per token: opts {qHeads, kHeads, positions,...}. */
  applyQk(q, k, opts) {
    return this.#call([[q, opts, true, opts.qHeads], [k, opts, true, opts.kHeads]], opts, (t, pos, table) =>
      this.rs.w.rope_apply_qk(this.#live(), table, t[0], t[1], pos, enumOf(DIRECTIONS, opts.direction ?? "forward", "direction"), this.rs.errorInfo));
  }

  /** Rotate `src` into `dst` (another dtype, a window of a cache: dstFirstToken). */
  applyInto(src, dst, opts) {
    const d = viewOptions(opts, opts.dst);
    d.dtype = opts.dstDtype ?? opts.dst?.dtype;
    d.firstToken = opts.dstFirstToken ?? opts.dst?.firstToken;
    return this.#call([[src, opts, false], [dst, d, true]], opts, (t, pos, table) =>
      this.rs.w.rope_apply_into(this.#live(), table, t[0], t[1], pos, enumOf(DIRECTIONS, opts.direction ?? "forward", "direction"), this.rs.errorInfo));
  }

  /** A decode step: q rotated in place, k rotated into kCache and v copied into vCache
   * at row `firstToken`: opts {heads: {q, kv}, positions, firstToken, cacheView, table}. */
  decode({ q, k, v, kCache, vCache }, opts) {
    const c = { heads: opts.heads.kv, view: opts.cacheView, firstToken: opts.firstToken ?? 0, dtype: opts.cacheDtype };
    return this.#call([
      [q, { heads: opts.heads.q, dtype: opts.dtype }, true], [k, { heads: opts.heads.kv, dtype: opts.dtype }, false],
      [v, { heads: opts.heads.kv, dtype: opts.dtype }, false], [kCache, c, true], [vCache, c, true],
    ], opts, (t, pos, table) => this.rs.w.rope_decode(this.#live(), table, t[0], t[1], t[2], t[3], t[4], pos, this.rs.errorInfo));
  }

  /** Rotate the Q and K heads of a packed QKV buffer in place (`[tokens, qHeads + 2 *
   * kvHeads, headDim]`: each token's Q heads, then K, then V), V untouched: opts {qHeads,
   * kvHeads, positions, direction, dtype, table}. */
  packedQkv(qkv, opts) {
    return this.#call([[qkv, opts, true, opts.qHeads + 2 * opts.kvHeads]], opts, (t, pos, table) =>
      this.rs.w.rope_packed_qkv(this.#live(), table, t[0], opts.qHeads, opts.kvHeads, pos,
        enumOf(DIRECTIONS, opts.direction ?? "forward", "direction"), this.rs.errorInfo));
  }

  /** The decode step on a packed QKV buffer: its Q heads rotated in place, its K heads
   * rotated into kCache and its V heads copied into vCache at row `firstToken`: opts
   * {qHeads, kvHeads, positions, firstToken, cacheView, cacheDtype, dtype, table}. */
  packedQkvInto(qkv, { kCache, vCache }, opts) {
    const c = { heads: opts.kvHeads, view: opts.cacheView, firstToken: opts.firstToken ?? 0, dtype: opts.cacheDtype };
    return this.#call([[qkv, { dtype: opts.dtype }, true, opts.qHeads + 2 * opts.kvHeads], [kCache, c, true], [vCache, c, true]],
      opts, (t, pos, table) => this.rs.w.rope_packed_qkv_into(this.#live(), table, t[0], opts.qHeads, opts.kvHeads,
        t[1], t[2], pos, this.rs.errorInfo));
  }

  /** Rotate the contiguous heads of `x` that share one position by your own cos and sin
   * (one per pair; negate sin for the inverse), with the same kernel and bits as the other
   * calls: opts {dtype} for a Uint16Array. */
  rotateWithCosSin(x, cos, sin, opts = {}) {
    const rs = this.rs, n = cos.length;
    if (sin.length !== n) throw new TypeError("cos and sin must have the same length");
    const c = Float32Array.from(cos), s = Float32Array.from(sin);
    const p = rs.alloc(8 * n + 8);
    try {
      new Float32Array(rs.w.memory.buffer, p, n).set(c);
      new Float32Array(rs.w.memory.buffer, p + 4 * n, n).set(s);
      return this.#call([[x, opts, true]], { positions: 0 }, (t) =>
        rs.w.rope_rotate_with_cos_sin(this.#live(), t[0], p, p + 4 * n, n, rs.errorInfo));
    } finally {
      rs.release(p, 8 * n + 8);
    }
  }

  /** The re-rotation from this description's frequencies to `to`'s: keys cached with one
   * schedule turned into keys of the other (apply it at the keys' positions). */
  rerotation(to) { return this.rs.ropeRerotation(this, to); }

  /** Shift cached keys by `delta` positions (opts {heads, view, ...}). */
  shift(keys, delta, opts) {
    return this.#call([[keys, opts, true]], { positions: 0 }, (t) =>
      this.rs.w.rope_shift(this.#live(), t[0], BigInt(delta), this.rs.errorInfo));
  }

  // Writes the tensors, positions and table; calls; copies in-place typed arrays back.
  // `buffers`: [array or Tensor, its view options, written by the call, and optionally
  // its head count where that is not the options' `heads` (applyQk's Q and K)].
  #call(buffers, opts, f) {
    const rs = this.rs;
    let temps = null;
    try {
      const tensors = [];
      for (let i = 0; i < buffers.length; i++) {
        const [x, o, out] = buffers[i];
        const heads = buffers[i].length > 3 ? buffers[i][3] : o.heads;
        let tensor = x;
        if (!(x instanceof Tensor)) {
          if (!(x instanceof Float32Array) && !(x instanceof Uint16Array)) throw new TypeError("buffers are Float32Array, Uint16Array (f16 or bf16 bits) or Tensor");
          tensor = new Tensor(rs, x instanceof Float32Array ? "f32" : (o.dtype ?? "f16"), x.length).set(x);
          (temps ??= []).push([tensor, x, out]);
        }
        const p = rs.args + i * TENSOR_SIZE;
        rs.dv();
        const u = rs.u32, k = p >>> 2;
        u[k] = tensor.ptr; u[k + 1] = tensor.length; u[k + 2] = tensor.code;
        u[k + 3] = o.view === undefined ? 0 : enumOf(VIEWS, o.view, "view");
        u[k + 4] = heads ?? 0; u[k + 5] = o.rowHeads ?? 0; u[k + 6] = o.firstHead ?? 0;
        u[k + 7] = o.tokenStride ?? 0; u[k + 8] = o.headStride ?? 0;
        u[k + 9] = o.firstToken === undefined ? 0 : 1; u[k + 10] = o.firstToken ?? 0;
        tensors.push(p);
      }
      const pos = rs.args + 5 * TENSOR_SIZE;
      const list = this.#positions(pos, opts.positions ?? 0);
      if (list) (temps ??= []).push([list]);
      rs.check(f(tensors, pos, opts.table ? opts.table.ptr : 0));
      if (temps) for (const [tensor, x, out] of temps) if (out) x.set(tensor.array);
    } finally {
      if (temps) for (const [t] of temps) t.free();
    }
  }

  // Writes the positions struct at `p`; returns the copy of a list (for the caller to
  // free), or null.
  #positions(p, positions) {
    const dv = this.rs.dv();
    let kind, start = 0, list = null;
    if (typeof positions === "number" || typeof positions === "bigint") { kind = 0; start = positions; }
    else if (positions.same !== undefined) { kind = 1; start = positions.same; }
    else {
      const axes = positions.axes !== undefined;
      list = axes ? positions.axes : positions;
      if (list instanceof Uint32Array) kind = axes ? 6 : 2;
      else if (list instanceof BigUint64Array) kind = axes ? 7 : 3;
      else if (list instanceof Int32Array) kind = 4;
      else if (list instanceof BigInt64Array) kind = 5;
      else throw new TypeError("positions: a number, {same}, Uint32Array, BigUint64Array, Int32Array, BigInt64Array or {axes}");
    }
    dv.setUint32(p, kind, true);
    if (typeof start === "number" && start >= 0 && start < 2 ** 32) {
      dv.setUint32(p + 8, start, true); // no BigInt on the common path
      dv.setUint32(p + 12, 0, true);
    } else {
      dv.setBigUint64(p + 8, BigInt(start), true);
    }
    if (!list) return null;
    const q = this.rs.copyIn(list, list.byteLength);
    const dv2 = this.rs.dv();
    dv2.setUint32(p + 16, q, true);
    dv2.setUint32(p + 20, list.length, true);
    return { free: () => this.rs.release(q, list.byteLength) };
  }
}
