// Type declarations of rope-simd.mjs.

export type DType = "f32" | "f16" | "bf16";
export type PairLayout = "interleaved" | "half-split" | "interleaved-to-half-split";
export type BackendName = "auto" | "scalar" | "lanes" | "avx2" | "avx512" | "avx512bf16" | "neon" | "neonbf16";
export type Direction = "forward" | "inverse" | "transpose";
export type ViewKind = "tokens-heads" | "heads-tokens" | "in-rows" | "strided";

/** One position per token from a start; every token at one position; a list (u32, u64,
 * i32 or i64: negative turns the other way); or several coordinates per token. */
export type Positions =
  | number
  | bigint
  | { same: number | bigint }
  | Uint32Array
  | BigUint64Array
  | Int32Array
  | BigInt64Array
  | { axes: Uint32Array | BigUint64Array };

export interface Scaling {
  type: "none" | "linear" | "ntk-aware" | "dynamic" | "yarn" | "llama3" | "longrope";
  factor?: number;
  originalMaxPositionEmbeddings?: number;
  maxPositionEmbeddings?: number;
  seqLen?: number;
  betaFast?: number;
  betaSlow?: number;
  mscale?: number;
  mscaleAllDim?: number;
  attentionFactor?: number;
  truncate?: boolean;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  shortFactor?: ArrayLike<number>;
  longFactor?: ArrayLike<number>;
  choice?: "seqLen" | "short" | "long";
}

export interface RopeConfig {
  headDim: number;
  rotaryDim?: number;
  layout?: PairLayout;
  base?: number;
  scale?: number;
  backend?: BackendName;
  invFreqs?: ArrayLike<number>;
  freqFactors?: ArrayLike<number>;
  scaling?: Scaling;
  proportionalRotary?: number;
  channelOffset?: number;
  axes?: "single" | "mrope" | "mrope-interleaved" | "axial-2d";
  sections?: number[];
}

export interface GgmlParams {
  headDim: number;
  nDims?: number;
  freqBase?: number;
  /** ggml's mode: 0 normal, 2 neox, 8 M-RoPE, 40 interleaved M-RoPE, 24 vision. */
  mode?: number;
  backend?: BackendName;
  nOffs?: number;
  freqScale?: number;
  extFactor?: number;
  attnFactor?: number;
  betaFast?: number;
  betaSlow?: number;
  nCtxOrig?: number;
  freqFactors?: ArrayLike<number>;
  sections?: number[];
}

/** A buffer: a Float32Array (f32), a Uint16Array of f16 or bf16 bits (say which with
 * `dtype`), or a Tensor in the module's memory (no copies). */
export type Buffer = Float32Array | Uint16Array | Tensor;

export interface ViewOptions {
  heads?: number;
  view?: ViewKind;
  rowHeads?: number;
  firstHead?: number;
  tokenStride?: number;
  headStride?: number;
  /** A window from this token row (a cache slot); otherwise the whole buffer. */
  firstToken?: number;
  dtype?: DType;
}

export interface CallOptions extends ViewOptions {
  positions: Positions;
  direction?: Direction;
  table?: Table;
}

export class RopeSimdError extends Error {
  /** The ROPE_ERR_* code. */
  code: number;
}

export class Tensor {
  readonly dtype: DType;
  readonly length: number;
  /** A view over the elements, made afresh (valid until the memory grows). */
  readonly array: Float32Array | Uint16Array;
  set(values: ArrayLike<number>): this;
  free(): void;
}

export interface Table {
  readonly maxPos: number;
  readonly kind: "full" | "compact";
  free(): void;
}

export class Rope {
  readonly headDim: number;
  readonly rotaryDim: number;
  readonly pairs: number;
  readonly layout: PairLayout;
  readonly axes: number;
  readonly scale: number;
  backend: string;
  /** The inverse frequencies (radians per position, one per pair) every rotation uses. */
  invFreqs(): Float64Array;
  /** The cos and sin a rotation uses at a position (exact angle, scaled, f32), per pair. */
  cosSin(position: number | bigint): { cos: Float32Array; sin: Float32Array };
  rotate(x: Buffer, opts: Omit<CallOptions, "direction">): void;
  apply(x: Buffer, opts: CallOptions): void;
  /** Tokens `firstToken..` of a larger call whose positions are `opts.positions`, in place,
   * with the bits the whole call gives them (`part`: whole `[tokens, heads, headDim]` rows). */
  applyTokens(part: Buffer, firstToken: number, opts: { heads: number; positions: Positions; direction?: Direction; dtype?: DType; table?: Table }): void;
  applyQk(q: Buffer, k: Buffer, opts: CallOptions & { qHeads: number; kHeads: number }): void;
  applyInto(src: Buffer, dst: Buffer, opts: CallOptions & { dst?: ViewOptions; dstDtype?: DType; dstFirstToken?: number }): void;
  decode(
    buffers: { q: Buffer; k: Buffer; v: Buffer; kCache: Buffer; vCache: Buffer },
    opts: { heads: { q: number; kv: number }; positions: Positions; firstToken?: number; cacheView?: ViewKind; dtype?: DType; cacheDtype?: DType; table?: Table },
  ): void;
  /** Q and K of a packed QKV buffer (`[tokens, qHeads + 2 kvHeads, headDim]`) in place. */
  packedQkv(qkv: Buffer, opts: CallOptions & { qHeads: number; kvHeads: number }): void;
  /** The decode step on a packed QKV buffer: Q in place, K rotated into kCache, V copied. */
  packedQkvInto(
    qkv: Buffer,
    caches: { kCache: Buffer; vCache: Buffer },
    opts: { qHeads: number; kvHeads: number; positions: Positions; firstToken?: number; cacheView?: ViewKind; cacheDtype?: DType; dtype?: DType; table?: Table },
  ): void;
  /** Contiguous heads sharing one position, rotated by your own cos and sin (one per pair). */
  rotateWithCosSin(x: Buffer, cos: ArrayLike<number>, sin: ArrayLike<number>, opts?: { dtype?: DType }): void;
  /** The re-rotation from this description's frequencies to `to`'s. */
  rerotation(to: Rope): Rope;
  shift(keys: Buffer, delta: number | bigint, opts: ViewOptions): void;
  table(maxPos: number, kind?: "full" | "compact"): Table;
  free(): void;
}

/** A GGUF metadata value: integers as numbers or bigints, floats, strings, integer arrays
 * (other kinds are not RoPE keys and are skipped). */
export type GgufMetadataValue = number | bigint | string | boolean | ArrayLike<number> | object;

export class RopeSimd {
  readonly bestBackend: string;
  createRope(config: RopeConfig): Rope;
  ropeFromGgml(params: GgmlParams): Rope;
  ropeFromConfigJson(json: string | object, opts?: { layer?: "full" | "sliding"; seqLen?: number; backend?: BackendName }): Rope;
  /** A GGUF file's metadata as a reader gives it ("general.architecture" and the
   * `{arch}.*` keys are read), with the file's `rope_freqs` tensor, the way llama.cpp
   * runs the model; `mode` (ggml's 0, 2, 8, 24, 40) for an architecture the library does
   * not know. */
  ropeFromGguf(
    metadata: Map<string, GgufMetadataValue> | Record<string, GgufMetadataValue>,
    opts?: { freqFactors?: ArrayLike<number>; mode?: "auto" | number; backend?: BackendName },
  ): Rope;
  /** The re-rotation from `from`'s frequencies to `to`'s. */
  ropeRerotation(from: Rope, to: Rope): Rope;
  /** Whether this CPU runs a backend. */
  backendAvailable(name: BackendName): boolean;
  tensor(dtype: DType, length: number): Tensor;
}

export function loadRopeSimd(source: URL | string | BufferSource | Response | WebAssembly.Module): Promise<RopeSimd>;
