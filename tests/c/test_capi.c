/* Tests of the C ABI (include/rope_simd.h, C99) against expected values computed here in
 * double precision from the RoPE formula, against each other where two calls must give
 * the same bits, and of the errors (their codes, detail messages, buffers untouched).
 * Built with -std=c99 -pedantic and run by scripts/test.sh against librope_simd_c.a and
 * librope_simd_c.so (and the aarch64 static library under qemu). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rope_simd.h"

static int passed, failed;

#define CHECK(cond, msg)                                          \
  do {                                                            \
    if (cond) {                                                   \
      passed++;                                                   \
    } else {                                                      \
      failed++;                                                   \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, msg);        \
    }                                                             \
  } while (0)

#define OK(call) CHECK((call) == ROPE_OK, #call)

/* The expected rotation in double: x is [tokens][heads][head_dim], half-split or
 * interleaved pairs, theta_i = base^(-2i/rotary_dim). */
static void reference(double *out, const float *x, size_t tokens, size_t heads,
                      size_t head_dim, size_t rotary_dim, int interleaved, double base,
                      const int64_t *pos) {
  size_t t, h, i;
  for (i = 0; i < tokens * heads * head_dim; i++) out[i] = x[i];
  for (t = 0; t < tokens; t++)
    for (h = 0; h < heads; h++)
      for (i = 0; i < rotary_dim / 2; i++) {
        double theta = pow(base, -(double)(2 * i) / (double)rotary_dim);
        double angle = (double)pos[t] * theta;
        size_t o = (t * heads + h) * head_dim;
        size_t ia = interleaved ? o + 2 * i : o + i;
        size_t ib = interleaved ? o + 2 * i + 1 : o + i + rotary_dim / 2;
        double a = x[ia], b = x[ib];
        out[ia] = a * cos(angle) - b * sin(angle);
        out[ib] = b * cos(angle) + a * sin(angle);
      }
}

static double f16_to_double(uint16_t h) { /* normal numbers and zero */
  int sign = h >> 15, e = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v = e == 0 ? ldexp(man, -24) : ldexp(1024 + man, e - 25);
  return sign ? -v : v;
}

static double bf16_to_double(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint16_t bf16_of(float f) { /* truncation: exact for the inputs used here */
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)(u >> 16);
}

static RopeTensor dense(void *data, size_t len, uint32_t dtype, size_t heads) {
  RopeTensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.len = len;
  t.dtype = dtype;
  t.layout = ROPE_TOKENS_HEADS;
  t.heads = heads;
  return t;
}

static RopeTensor window(RopeTensor t, size_t first_token) {
  t.window = 1;
  t.first_token = first_token;
  return t;
}

static RopePositions start_at(uint64_t start) {
  RopePositions p;
  memset(&p, 0, sizeof p);
  p.kind = ROPE_POS_START;
  p.start = start;
  return p;
}

static RopeHandle *make(uint32_t head_dim, uint32_t layout, double base) {
  RopeConfig c;
  RopeHandle *r = NULL;
  rope_config_init(&c, head_dim);
  c.layout = layout;
  c.base = base;
  OK(rope_create(&c, NULL, 0, &r, NULL));
  return r;
}

/* Whether `a` and `b` rotate the same f32 heads (`heads` x `head_dim`, one token at
 * `position`) into the same bits. */
static int same_rotation(RopeHandle *a, RopeHandle *b, size_t heads, size_t head_dim, uint64_t position) {
  size_t i, n = heads * head_dim;
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  RopePositions at = start_at(position);
  RopeTensor t;
  int same;
  for (i = 0; i < n; i++) x[i] = y[i] = (float)(i % 89) / 40.0f - 1.0f;
  t = dense(x, n, ROPE_F32, heads);
  OK(rope_apply(a, NULL, &t, &at, ROPE_FORWARD, NULL));
  t = dense(y, n, ROPE_F32, heads);
  OK(rope_apply(b, NULL, &t, &at, ROPE_FORWARD, NULL));
  same = memcmp(x, y, n * sizeof *x) == 0;
  free(x);
  free(y);
  return same;
}

static float lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) % 2001) / 250.0f - 4.0f;
}

#define HD 64
#define TOK 3
#define HEADS 4
#define N (TOK * HEADS * HD)

static void test_apply_against_reference(void) {
  uint32_t s = 7, layout;
  for (layout = 0; layout < 2; layout++) {
    RopeHandle *r = make(HD, layout, 10000.0);
    float x[N], y[N];
    double want[N];
    int64_t pos[TOK] = {5, 1000, 500000};
    uint64_t upos[TOK] = {5, 1000, 500000};
    RopePositions p;
    RopeTensor t = dense(y, N, ROPE_F32, HEADS);
    size_t i;
    double worst = 0;
    for (i = 0; i < N; i++) x[i] = y[i] = lcg(&s);
    memset(&p, 0, sizeof p);
    p.kind = ROPE_POS_U64;
    p.list = upos;
    p.n = TOK;
    OK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, NULL));
    reference(want, x, TOK, HEADS, HD, HD, layout == ROPE_LAYOUT_INTERLEAVED, 10000.0, pos);
    for (i = 0; i < N; i++) {
      double e = fabs(y[i] - want[i]);
      if (e > worst) worst = e;
    }
    CHECK(worst < 5e-6, "f32 rotation within 5e-6 of the double reference (exact angles)");
    /* The true inverse gives the input back. */
    OK(rope_apply(r, NULL, &t, &p, ROPE_INVERSE, NULL));
    worst = 0;
    for (i = 0; i < N; i++)
      if (fabs(y[i] - x[i]) > worst) worst = fabs(y[i] - x[i]);
    CHECK(worst < 1e-5, "inverse gives the input back");
    rope_destroy(r);
  }
}

static void test_16_bit_and_tables(void) {
  RopeHandle *r = make(HD, ROPE_LAYOUT_HALF_SPLIT, 500000.0);
  uint16_t h[N], b[N], hb[N], b2[N];
  float x[N], fly[N], full[N], compact[N];
  double want[N];
  int64_t pos[TOK] = {4093, 4094, 4095};
  RopePositions p = start_at(4093);
  RopeTable table;
  size_t len = 0, i;
  uint32_t s = 3;
  int same = 1, close16 = 1;
  float *storage;
  double *cstorage;
  RopeTensor t;
  for (i = 0; i < N; i++) {
    x[i] = fly[i] = full[i] = compact[i] = (float)((int)(lcg(&s) * 4)) / 4.0f;
    b[i] = b2[i] = bf16_of(x[i]);
  }
  t = dense(fly, N, ROPE_F32, HEADS);
  OK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, NULL));
  /* A full table and a compact one give the on-the-fly bits. */
  OK(rope_table_len(r, ROPE_TABLE_FULL, 4096, &len, NULL));
  storage = (float *)malloc(len * sizeof(float));
  table.kind = ROPE_TABLE_FULL;
  table.data = storage;
  table.len = len;
  table.max_pos = 4096;
  OK(rope_table_build(r, &table, NULL));
  t = dense(full, N, ROPE_F32, HEADS);
  OK(rope_apply(r, &table, &t, &p, ROPE_FORWARD, NULL));
  OK(rope_table_len(r, ROPE_TABLE_COMPACT, 4096, &len, NULL));
  cstorage = (double *)malloc(len * sizeof(double));
  table.kind = ROPE_TABLE_COMPACT;
  table.data = cstorage;
  table.len = len;
  OK(rope_table_build(r, &table, NULL));
  t = dense(compact, N, ROPE_F32, HEADS);
  OK(rope_apply(r, &table, &t, &p, ROPE_FORWARD, NULL));
  for (i = 0; i < N; i++) {
    if (memcmp(&fly[i], &full[i], 4) != 0) same = 0;
    if (fabs(fly[i] - compact[i]) > 1e-6 * (1 + fabs(fly[i]))) same = 0;
  }
  CHECK(same, "full table bits == on the fly; compact within 1 ulp");
  /* f16 and bf16 in place: within their rounding of the reference. */
  reference(want, x, TOK, HEADS, HD, HD, 0, 500000.0, pos);
  {
    RopeTensor th;
    RopePositions p0 = start_at(0);
    p0.kind = ROPE_POS_SAME; /* every token at 0: only converted */
    /* f16 inputs: the f32 values converted by the library itself (an identity step). */
    RopeTensor src = dense(x, N, ROPE_F32, HEADS), dst = dense(h, N, ROPE_F16, HEADS);
    OK(rope_apply_into(r, NULL, &src, &dst, &p0, ROPE_FORWARD, NULL));
    th = dense(h, N, ROPE_F16, HEADS);
    OK(rope_apply(r, NULL, &th, &p, ROPE_FORWARD, NULL));
    t = dense(b, N, ROPE_BF16, HEADS);
    OK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, NULL));
    for (i = 0; i < N; i++) {
      if (fabs(f16_to_double(h[i]) - want[i]) > 2e-3 * (1 + fabs(want[i]))) close16 = 0;
      if (fabs(bf16_to_double(b[i]) - want[i]) > 8e-3 * (1 + fabs(want[i]))) close16 = 0;
    }
    CHECK(close16, "f16 and bf16 within their rounding of the reference");
    /* bf16 into bf16 out of place == in place. */
    src = dense(b2, N, ROPE_BF16, HEADS);
    dst = dense(hb, N, ROPE_BF16, HEADS);
    OK(rope_apply_into(r, NULL, &src, &dst, &p, ROPE_FORWARD, NULL));
    CHECK(memcmp(hb, b, sizeof b) == 0, "bf16 into == bf16 in place, bit for bit");
  }
  free(storage);
  free(cstorage);
  rope_destroy(r);
}

static void test_decode_and_caches(void) {
  enum { Q = 8, KV = 2, CAP = 16 };
  RopeHandle *r = make(HD, ROPE_LAYOUT_HALF_SPLIT, 500000.0);
  float q[Q * HD], k[KV * HD], v[KV * HD], q_want[Q * HD];
  uint16_t kc[CAP * KV * HD], vc[CAP * KV * HD], kc_want[CAP * KV * HD], vc_want[CAP * KV * HD];
  RopePositions p = start_at(9), zero;
  RopeTensor tq, tk, tv, tkc, tvc, w;
  uint32_t s = 11;
  size_t i;
  memset(&zero, 0, sizeof zero);
  zero.kind = ROPE_POS_SAME; /* every token at 0: a plain conversion */
  for (i = 0; i < Q * HD; i++) q[i] = q_want[i] = lcg(&s);
  for (i = 0; i < KV * HD; i++) { k[i] = lcg(&s); v[i] = lcg(&s); }
  for (i = 0; i < CAP * KV * HD; i++) kc[i] = vc[i] = kc_want[i] = vc_want[i] = 0x7e00;
  /* Three steps. */
  tq = dense(q_want, Q * HD, ROPE_F32, Q);
  OK(rope_apply(r, NULL, &tq, &p, ROPE_FORWARD, NULL));
  tk = dense(k, KV * HD, ROPE_F32, KV);
  w = window(dense(kc_want, CAP * KV * HD, ROPE_F16, KV), 9);
  OK(rope_apply_into(r, NULL, &tk, &w, &p, ROPE_FORWARD, NULL));
  tv = dense(v, KV * HD, ROPE_F32, KV);
  w = window(dense(vc_want, CAP * KV * HD, ROPE_F16, KV), 9);
  OK(rope_apply_into(r, NULL, &tv, &w, &zero, ROPE_FORWARD, NULL));
  /* One call. */
  tq = dense(q, Q * HD, ROPE_F32, Q);
  tkc = window(dense(kc, CAP * KV * HD, ROPE_F16, KV), 9);
  tvc = window(dense(vc, CAP * KV * HD, ROPE_F16, KV), 9);
  OK(rope_decode(r, NULL, &tq, &tk, &tv, &tkc, &tvc, &p, NULL));
  CHECK(memcmp(q, q_want, sizeof q) == 0, "decode: q == rope_apply");
  CHECK(memcmp(kc, kc_want, sizeof kc) == 0, "decode: k cache == rope_apply_into (rows outside untouched)");
  CHECK(memcmp(vc, vc_want, sizeof vc) == 0, "decode: v cache == v converted");
  /* A window past the capacity: an error naming the cache, nothing written. */
  {
    RopeErrorInfo e;
    uint16_t before[CAP * KV * HD];
    memcpy(before, kc, sizeof kc);
    tkc = window(dense(kc, CAP * KV * HD, ROPE_F16, KV), CAP);
    tvc = window(dense(vc, CAP * KV * HD, ROPE_F16, KV), CAP);
    CHECK(rope_decode(r, NULL, &tq, &tk, &tv, &tkc, &tvc, &p, &e) == ROPE_ERR_NO_ROOM, "no room");
    CHECK(e.code == ROPE_ERR_NO_ROOM && strstr(e.message, "k_cache") && strstr(e.message, "16 token rows"),
          "the detail names the cache and its capacity");
    CHECK(memcmp(before, kc, sizeof kc) == 0, "nothing written");
  }
  rope_destroy(r);
}

static void test_packed_strided_shift(void) {
  enum { Q = 4, KV = 2, ROW = (Q + 2 * KV) * HD, CAP = 8 };
  RopeHandle *r = make(HD, ROPE_LAYOUT_INTERLEAVED, 10000.0);
  float qkv[TOK * ROW], qkv2[TOK * ROW], split[TOK * (Q + KV) * HD];
  float kc[CAP * KV * HD], vc[CAP * KV * HD], kc2[CAP * KV * HD];
  RopePositions p = start_at(40);
  RopeTensor t, kt, kw;
  uint32_t s = 5;
  size_t i, tk;
  int same = 1;
  for (i = 0; i < TOK * ROW; i++) qkv[i] = qkv2[i] = lcg(&s);
  /* In place == rotating Q and K as one [tokens, q + kv] view of the rows. */
  t = dense(qkv, TOK * ROW, ROPE_F32, Q + 2 * KV);
  OK(rope_packed_qkv(r, NULL, &t, Q, KV, &p, ROPE_FORWARD, NULL));
  for (tk = 0; tk < TOK; tk++) memcpy(split + tk * (Q + KV) * HD, qkv2 + tk * ROW, (Q + KV) * HD * 4);
  t = dense(split, TOK * (Q + KV) * HD, ROPE_F32, Q + KV);
  OK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, NULL));
  for (tk = 0; tk < TOK; tk++)
    if (memcmp(split + tk * (Q + KV) * HD, qkv + tk * ROW, (Q + KV) * HD * 4) != 0) same = 0;
  CHECK(same, "packed in place == the split buffers");
  /* Into caches: K == the K view (ROPE_IN_ROWS) rotated into a window. */
  memset(kc, 0, sizeof kc);
  memset(vc, 0, sizeof vc);
  memset(kc2, 0, sizeof kc2);
  t = dense(qkv2, TOK * ROW, ROPE_F32, Q + 2 * KV);
  kt = t;
  kt.layout = ROPE_IN_ROWS;
  kt.heads = KV;
  kt.row_heads = Q + 2 * KV;
  kt.first_head = Q;
  kw = window(dense(kc2, CAP * KV * HD, ROPE_F32, KV), 2);
  OK(rope_apply_into(r, NULL, &kt, &kw, &p, ROPE_FORWARD, NULL));
  {
    RopeTensor tkc = window(dense(kc, CAP * KV * HD, ROPE_F32, KV), 2);
    RopeTensor tvc = window(dense(vc, CAP * KV * HD, ROPE_F32, KV), 2);
    OK(rope_packed_qkv_into(r, NULL, &t, Q, KV, &tkc, &tvc, &p, NULL));
  }
  CHECK(memcmp(kc, kc2, sizeof kc) == 0, "packed into: k cache == the K view into the cache");
  CHECK(memcmp(vc + 2 * KV * HD, qkv2 + (Q + KV) * HD, KV * HD * 4) == 0, "packed into: v copied");
  /* A strided view with padded rows == the dense call; the padding untouched. */
  {
    enum { PAD = 5, SROW = HEADS * HD + PAD };
    float d[N], sp[TOK * SROW];
    uint32_t s2 = 9;
    RopeTensor st;
    int ok = 1;
    for (i = 0; i < N; i++) d[i] = lcg(&s2);
    for (tk = 0; tk < TOK; tk++) {
      memcpy(sp + tk * SROW, d + tk * HEADS * HD, HEADS * HD * 4);
      for (i = 0; i < PAD; i++) sp[tk * SROW + HEADS * HD + i] = -9.0f;
    }
    t = dense(d, N, ROPE_F32, HEADS);
    OK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, NULL));
    st = dense(sp, TOK * SROW, ROPE_F32, HEADS);
    st.layout = ROPE_STRIDED;
    st.token_stride = SROW;
    st.head_stride = HD;
    OK(rope_apply(r, NULL, &st, &p, ROPE_FORWARD, NULL));
    for (tk = 0; tk < TOK; tk++) {
      if (memcmp(sp + tk * SROW, d + tk * HEADS * HD, HEADS * HD * 4) != 0) ok = 0;
      for (i = 0; i < PAD; i++)
        if (sp[tk * SROW + HEADS * HD + i] != -9.0f) ok = 0;
    }
    CHECK(ok, "strided view == dense call, padding untouched");
  }
  /* Shift by -30 == rotating at the positions 30 lower (within rounding). */
  {
    float a[N], bb[N];
    RopePositions p10 = start_at(10);
    uint32_t s3 = 13;
    double worst = 0;
    for (i = 0; i < N; i++) a[i] = bb[i] = lcg(&s3);
    t = dense(a, N, ROPE_F32, HEADS);
    OK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, NULL));
    OK(rope_shift(r, &t, -30, NULL));
    t = dense(bb, N, ROPE_F32, HEADS);
    OK(rope_apply(r, NULL, &t, &p10, ROPE_FORWARD, NULL));
    for (i = 0; i < N; i++)
      if (fabs(a[i] - bb[i]) > worst) worst = fabs(a[i] - bb[i]);
    CHECK(worst < 1e-5, "shift == rotating at the new positions");
  }
  rope_destroy(r);
}

/* A GGUF file's metadata for the lookup callback: a Llama 3 model. */
static int32_t lookup(void *user, const char *key, RopeGgufValue *out) {
  (void)user;
  if (strcmp(key, "general.architecture") == 0) {
    out->kind = ROPE_GGUF_STR;
    out->data = "llama";
    out->len = 5;
  } else if (strcmp(key, "llama.rope.freq_base") == 0) {
    out->kind = ROPE_GGUF_F32;
    out->f = 500000.0;
  } else if (strcmp(key, "llama.attention.key_length") == 0) {
    out->kind = ROPE_GGUF_U32;
    out->u = 128;
  }
  return 0;
}

static int32_t failing_lookup(void *user, const char *key, RopeGgufValue *out) {
  (void)user;
  (void)key;
  (void)out;
  return 7;
}

/* GGUF metadata through the callback and as entries, with the rope_freqs tensor, against
 * ggml's parameters; a mode for an architecture the library does not know; the errors. */
static void test_gguf(void) {
  RopeGguf gg;
  RopeGgmlParams g;
  RopeHandle *a = NULL, *b = NULL;
  RopeInfo info;
  RopeErrorInfo e;
  RopeGgufEntry entries[3];
  float factors[64], too_many[300];
  double factors64[64];
  size_t i;

  /* llama.cpp's Llama: normal (interleaved) pairs; no rope_freqs here. */
  rope_gguf_init(&gg);
  CHECK(gg.size == sizeof gg && gg.mode == ROPE_GGUF_MODE_AUTO && gg.backend == ROPE_BACKEND_AUTO,
        "rope_gguf_init");
  gg.lookup = lookup;
  OK(rope_create_gguf(&gg, NULL, 0, &b, NULL));
  OK(rope_info(b, &info));
  CHECK(info.head_dim == 128 && info.layout == ROPE_LAYOUT_INTERLEAVED, "GGUF llama: normal (interleaved) pairs");
  rope_destroy(b);

  /* The same keys as entries, and a Llama 3.1 rope_freqs tensor: the bits of ggml's
     parameters with those factors. */
  memset(entries, 0, sizeof entries);
  entries[0].key = "general.architecture";
  entries[0].value.kind = ROPE_GGUF_STR;
  entries[0].value.data = "llama";
  entries[0].value.len = 5;
  entries[1].key = "llama.rope.freq_base";
  entries[1].value.kind = ROPE_GGUF_F32;
  entries[1].value.f = 500000.0;
  entries[2].key = "llama.attention.key_length";
  entries[2].value.kind = ROPE_GGUF_U32;
  entries[2].value.u = 128;
  for (i = 0; i < 64; i++) {
    factors[i] = i < 20 ? 1.0f : i < 40 ? 1.0f + (float)(i - 20) * 0.35f : 8.0f;
    factors64[i] = factors[i];
  }
  rope_gguf_init(&gg);
  gg.entries = entries;
  gg.n_entries = 3;
  gg.freq_factors = factors;
  gg.n_freq_factors = 64;
  OK(rope_create_gguf(&gg, NULL, 0, &b, NULL));
  rope_ggml_params_init(&g, 128, 128, 500000.0);
  g.mode = 0;
  g.freq_factors = factors64;
  g.n_freq_factors = 64;
  OK(rope_create_ggml(&g, NULL, 0, &a, NULL));
  CHECK(same_rotation(a, b, 8, 128, 60000), "GGUF entries and rope_freqs == ggml's parameters, bit for bit");
  rope_destroy(b);
  /* Without the tensor the low frequencies are not divided: other bits. */
  gg.freq_factors = NULL;
  gg.n_freq_factors = 0;
  OK(rope_create_gguf(&gg, NULL, 0, &b, NULL));
  CHECK(!same_rotation(a, b, 8, 128, 60000), "without rope_freqs the rotation differs");
  rope_destroy(b);
  rope_destroy(a);

  /* An architecture the library does not know: an error, or the mode given. */
  entries[0].value.data = "my-arch";
  entries[0].value.len = 7;
  entries[2].key = "my-arch.attention.key_length";
  gg.n_entries = 3;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_MISSING_FIELD && b == NULL &&
            strstr(e.message, "mode"),
        "an unknown architecture needs a mode");
  gg.mode = 2;
  OK(rope_create_gguf(&gg, NULL, 0, &b, NULL));
  OK(rope_info(b, &info));
  CHECK(info.head_dim == 128 && info.layout == ROPE_LAYOUT_HALF_SPLIT, "the mode given: neox (half-split) pairs");
  rope_destroy(b);
  gg.mode = 3;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_BAD_ENUM && strstr(e.message, "gguf.mode"),
        "a mode ggml does not have");
  gg.mode = ROPE_GGUF_MODE_AUTO;

  /* Errors: each refused before anything is built. */
  gg.lookup = lookup;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_CONFLICT && b == NULL, "a lookup and entries");
  gg.lookup = failing_lookup;
  gg.entries = NULL;
  gg.n_entries = 0;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_BAD_METADATA && b == NULL &&
            strstr(e.message, "returned 7"),
        "a failing lookup");
  gg.lookup = lookup;
  for (i = 0; i < 300; i++) too_many[i] = 1.0f;
  gg.freq_factors = too_many;
  gg.n_freq_factors = 300;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_WRONG_LENGTH && b == NULL &&
            strstr(e.message, "gguf.freq_factors"),
        "more rope_freqs values than pairs the library holds");
  gg.n_freq_factors = 63;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_WRONG_LENGTH && b == NULL, "rope_freqs of 63 values");
  gg.freq_factors = NULL;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_NULL && b == NULL, "NULL rope_freqs with a length");
  gg.n_freq_factors = 0;
  gg.lookup = NULL;
  gg.entries = entries;
  gg.n_entries = 3;
  entries[1].key = NULL;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_NULL && b == NULL, "a NULL key");
  gg.size = 4;
  CHECK(rope_create_gguf(&gg, NULL, 0, &b, &e) == ROPE_ERR_BAD_STRUCT_SIZE && b == NULL, "gguf.size too small");
  CHECK(rope_create_gguf(NULL, NULL, 0, &b, &e) == ROPE_ERR_NULL && b == NULL, "NULL gguf");
}

/* A description's frequencies and a position's cos/sin: the formula's, and the values a
 * rotation uses (a half-split row of ones and zeros rotates into exactly cos and sin). */
static void test_frequencies(void) {
  RopeHandle *r = make(128, ROPE_LAYOUT_HALF_SPLIT, 500000.0);
  double freqs[65], worst = 0;
  float cos_v[64], sin_v[64], row[128];
  RopePositions at = start_at(123456789);
  RopeTensor t;
  RopeErrorInfo e;
  size_t i;
  int same = 1, close = 1;

  freqs[64] = -1.0;
  OK(rope_inv_freqs(r, freqs, 65, &e));
  for (i = 0; i < 64; i++) {
    double want = pow(500000.0, -(double)(2 * i) / 128.0);
    if (fabs(freqs[i] - want) / want > worst) worst = fabs(freqs[i] - want) / want;
  }
  CHECK(worst < 1e-15 && freqs[64] == -1.0, "rope_inv_freqs: base^(-2i/d), nothing past the pairs");
  OK(rope_cos_sin(r, 123456789, cos_v, sin_v, 64, &e));
  for (i = 0; i < 128; i++) row[i] = i < 64 ? 1.0f : 0.0f;
  t = dense(row, 128, ROPE_F32, 1);
  OK(rope_apply(r, NULL, &t, &at, ROPE_FORWARD, NULL));
  for (i = 0; i < 64; i++) {
    double angle = 123456789.0 * freqs[i];
    same &= row[i] == cos_v[i] && row[i + 64] == sin_v[i];
    close &= fabs(cos_v[i] - cos(angle)) < 1e-6 && fabs(sin_v[i] - sin(angle)) < 1e-6;
  }
  CHECK(same, "rope_cos_sin: the bits a rotation uses");
  CHECK(close, "rope_cos_sin: cos and sin of position * theta");
  cos_v[0] = 9.0f;
  CHECK(rope_inv_freqs(r, freqs, 63, &e) == ROPE_ERR_WRONG_LENGTH && strstr(e.message, "64"),
        "rope_inv_freqs into 63 doubles");
  CHECK(rope_cos_sin(r, 7, cos_v, sin_v, 63, &e) == ROPE_ERR_WRONG_LENGTH && cos_v[0] == 9.0f,
        "rope_cos_sin into 63 floats: nothing written");
  CHECK(rope_cos_sin(r, (uint64_t)1 << 53, cos_v, sin_v, 64, &e) == ROPE_ERR_POSITION_TOO_LARGE &&
            cos_v[0] == 9.0f,
        "rope_cos_sin at 2^53");
  CHECK(rope_cos_sin(r, 7, NULL, sin_v, 64, &e) == ROPE_ERR_NULL, "rope_cos_sin with NULL cos");
  CHECK(rope_inv_freqs(NULL, freqs, 64, &e) == ROPE_ERR_NULL, "rope_inv_freqs without a handle");
  rope_destroy(r);
}

static void test_constructors(void) {
  RopeConfig c;
  RopeGgmlParams g;
  RopeHandle *a = NULL, *b = NULL, *in_mem = NULL;
  RopeInfo info;
  RopeErrorInfo e;
  void *mem;
  float x1[HEADS * HD], x2[HEADS * HD];
  RopePositions p = start_at(77);
  RopeTensor t;
  size_t i;
  const char *json =
      "{\"model_type\": \"llama\", \"hidden_size\": 4096, \"num_attention_heads\": 32, "
      "\"max_position_embeddings\": 131072, \"rope_theta\": 500000.0, "
      "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
      "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}";
  /* ggml's neox mode == the same description from a config, bit for bit. */
  rope_ggml_params_init(&g, HD, HD, 10000.0);
  OK(rope_create_ggml(&g, NULL, 0, &a, NULL));
  rope_config_init(&c, HD);
  mem = malloc(rope_handle_size());
  OK(rope_create(&c, mem, rope_handle_size(), &in_mem, NULL));
  CHECK(in_mem == mem, "a handle in caller memory");
  for (i = 0; i < HEADS * HD; i++) x1[i] = x2[i] = (float)i / 100.0f;
  t = dense(x1, HEADS * HD, ROPE_F32, HEADS);
  OK(rope_apply(a, NULL, &t, &p, ROPE_FORWARD, NULL));
  t = dense(x2, HEADS * HD, ROPE_F32, HEADS);
  OK(rope_apply(in_mem, NULL, &t, &p, ROPE_FORWARD, NULL));
  CHECK(memcmp(x1, x2, sizeof x1) == 0, "ggml neox == config half-split");
  {
    /* A create that fails late (a schedule parameter, a bad JSON field) leaves the memory
       as it was: the handle already in it still works. */
    RopeConfig bad;
    RopeHandle *none = NULL;
    unsigned char *copy = malloc(rope_handle_size());
    memcpy(copy, mem, rope_handle_size());
    rope_config_init(&bad, HD);
    bad.scaling = ROPE_SCALING_YARN;
    bad.factor = 4.0;
    bad.original_max_position_embeddings = 4096;
    bad.beta_fast = 1.0;
    bad.beta_slow = 32.0;
    CHECK(rope_create(&bad, mem, rope_handle_size(), &none, &e) == ROPE_ERR_BAD_PARAMETER && none == NULL,
          "a bad YaRN beta is refused");
    CHECK(rope_create_hf_json("{\"head_dim\": 64, \"rope_theta\": \"x\"}", 35, ROPE_LAYER_FULL, 0,
                              ROPE_BACKEND_AUTO, mem, rope_handle_size(), &none, &e) == ROPE_ERR_BAD_JSON &&
              strstr(e.message, "rope_theta"),
          "a bad config.json field is named");
    CHECK(memcmp(copy, mem, rope_handle_size()) == 0, "failed creates left the handle memory untouched");
    free(copy);
  }
  rope_destroy(a);
  rope_destroy(in_mem); /* nothing to free: the memory is ours */
  free(mem);
  /* Schedules: YaRN's attention factor is the magnitude; Llama 3 from the config. */
  rope_config_init(&c, 128);
  c.scaling = ROPE_SCALING_YARN;
  c.factor = 4.0;
  c.original_max_position_embeddings = 32768;
  OK(rope_create(&c, NULL, 0, &a, NULL));
  OK(rope_info(a, &info));
  CHECK(info.pairs == 64 && info.scale > 1.13 && info.scale < 1.14, "YaRN factor 4: scale 0.1 ln 4 + 1");
  rope_destroy(a);
  c.scaling = ROPE_SCALING_LLAMA3;
  c.factor = 8.0;
  c.original_max_position_embeddings = 8192;
  c.base = 500000.0;
  OK(rope_create(&c, NULL, 0, &a, NULL));
  /* The same model from its config.json. */
  OK(rope_create_hf_json(json, strlen(json), ROPE_LAYER_FULL, 4096, ROPE_BACKEND_AUTO, NULL, 0, &b, NULL));
  CHECK(same_rotation(a, b, 32, 128, 100000), "config.json == the config struct, bit for bit");
  rope_destroy(b);
  rope_destroy(a);
  /* Proportional partial rotary (Gemma): with rotary_dim 0, as the config struct starts. */
  rope_config_init(&c, 256);
  c.base = 1e6;
  c.proportional_rotary = 64;
  OK(rope_create(&c, NULL, 0, &a, NULL));
  OK(rope_info(a, &info));
  CHECK(info.rotary_dim == 256 && info.pairs == 128, "proportional: pairs span the whole head");
  {
    float y[256], x0[256];
    RopePositions at = start_at(7);
    int still = 1, turned = 0;
    for (i = 0; i < 256; i++) y[i] = x0[i] = (float)(i % 13) / 7.0f + 0.25f;
    t = dense(y, 256, ROPE_F32, 1);
    OK(rope_apply(a, NULL, &t, &at, ROPE_FORWARD, NULL));
    /* Pairs (i, i + 128): the first 32 turn, the other 96 have frequency 0. */
    for (i = 0; i < 128; i++) {
      int same = y[i] == x0[i] && y[i + 128] == x0[i + 128];
      if (i < 32) turned += !same; else still &= same;
    }
    CHECK(turned == 32 && still, "proportional: 32 pairs turn, 96 stay");
  }
  c.rotary_dim = 128;
  CHECK(rope_create(&c, NULL, 0, &b, &e) == ROPE_ERR_CONFLICT && b == NULL, "proportional with a prefix rotary_dim");
  rope_destroy(a);
  /* Errors, each with its code and a detail naming the argument. */
  CHECK(rope_create_hf_json("{", 1, ROPE_LAYER_FULL, 0, ROPE_BACKEND_AUTO, NULL, 0, &b, &e) == ROPE_ERR_BAD_JSON,
        "bad JSON");
  rope_config_init(&c, 63);
  CHECK(rope_create(&c, NULL, 0, &a, &e) == ROPE_ERR_ODD_DIM && strstr(e.message, "head_dim") &&
            strstr(e.message, "63"),
        "odd head_dim named with its value");
  rope_config_init(&c, 64);
  c.size = 16;
  CHECK(rope_create(&c, NULL, 0, &a, &e) == ROPE_ERR_BAD_STRUCT_SIZE && strstr(e.message, "config.size"),
        "a struct size too small");
  rope_config_init(&c, 64);
  {
    uint64_t small[4];
    CHECK(rope_create(&c, small, sizeof small, &a, &e) == ROPE_ERR_BAD_MEMORY, "handle memory too small");
  }
  c.scaling = 99;
  CHECK(rope_create(&c, NULL, 0, &a, &e) == ROPE_ERR_BAD_ENUM && strstr(e.message, "config.scaling"),
        "a bad enum named");
  CHECK(rope_create(NULL, NULL, 0, &a, &e) == ROPE_ERR_NULL && strstr(e.message, "config"), "NULL config");
}

static void test_errors_leave_buffers(void) {
  RopeHandle *r = make(HD, ROPE_LAYOUT_HALF_SPLIT, 10000.0);
  float x[N], before[N], k[HD];
  int64_t neg[TOK] = {-3, 0, 4};
  RopePositions p = start_at(1), sp;
  RopeTensor t, tk;
  RopeErrorInfo e;
  size_t i;
  for (i = 0; i < N; i++) x[i] = before[i] = (float)i;
  memset(k, 0, sizeof k);
  t = dense(x, N - 1, ROPE_F32, HEADS);
  CHECK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, &e) == ROPE_ERR_BUFFER_LENGTH && strstr(e.message, "x"),
        "a length that is not whole rows");
  t = dense(x, N, ROPE_F32, HEADS);
  CHECK(rope_apply(r, NULL, &t, &p, 7, &e) == ROPE_ERR_BAD_ENUM && strstr(e.message, "direction"), "bad direction");
  t.dtype = 9;
  CHECK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, &e) == ROPE_ERR_BAD_ENUM, "bad dtype");
  t = dense(x, N, ROPE_F32, HEADS);
  tk = dense(k, HD, ROPE_F16, 1);
  CHECK(rope_apply_qk(r, NULL, &t, &tk, &p, ROPE_FORWARD, &e) == ROPE_ERR_MISMATCH, "q and k dtypes differ");
  tk = dense(k, HD, ROPE_F32, 1);
  CHECK(rope_apply_qk(r, NULL, &t, &tk, &p, ROPE_FORWARD, &e) == ROPE_ERR_TOKEN_MISMATCH &&
            strstr(e.message, "k holds 1"),
        "token counts differ");
  t.data = NULL;
  CHECK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, &e) == ROPE_ERR_NULL && strstr(e.message, "x.data"), "NULL data");
  t = dense(x, N, ROPE_F32, HEADS);
  t.layout = ROPE_STRIDED;
  t.token_stride = 4; /* heads where elements are meant */
  t.head_stride = HD;
  CHECK(rope_apply(r, NULL, &t, &p, ROPE_FORWARD, &e) == ROPE_ERR_BAD_VIEW, "a stride in heads");
  CHECK(rope_apply(NULL, NULL, &t, &p, ROPE_FORWARD, &e) == ROPE_ERR_NULL, "NULL rope");
  CHECK(memcmp(x, before, sizeof x) == 0, "every failing call left x untouched");
  /* Signed positions: a negative one turns the other way. */
  memset(&sp, 0, sizeof sp);
  sp.kind = ROPE_POS_I64;
  sp.list = neg;
  sp.n = TOK;
  t = dense(x, N, ROPE_F32, HEADS);
  OK(rope_apply(r, NULL, &t, &sp, ROPE_FORWARD, NULL));
  CHECK(memcmp(x + HEADS * HD, before + HEADS * HD, HEADS * HD * 4) == 0, "position 0 is the identity");
  CHECK(strcmp(rope_error_message(ROPE_ERR_NO_ROOM), "a window has no room for the call's tokens") == 0,
        "static messages");
  CHECK(rope_backend_available(rope_best_backend()) == 1 && rope_backend(r) == rope_best_backend(),
        "the best backend by default");
  OK(rope_set_backend(r, ROPE_BACKEND_SCALAR, NULL));
  CHECK(strcmp(rope_backend_name(rope_backend(r)), "scalar") == 0, "forced scalar");
  {
    /* Every backend code: forced where this CPU runs it, refused (and nothing changed) where not. */
    static const char *const names[] = {"scalar", "lanes", "avx2", "avx512", "avx512bf16", "neon", "neonbf16"};
    int b;
    for (b = ROPE_BACKEND_SCALAR; b <= ROPE_BACKEND_NEON_BF16; b++) {
      CHECK(strcmp(rope_backend_name(b), names[b]) == 0, "backend names");
      OK(rope_set_backend(r, ROPE_BACKEND_SCALAR, NULL));
      if (rope_backend_available(b)) {
        CHECK(rope_set_backend(r, b, NULL) == ROPE_OK && rope_backend(r) == b, "an available backend is forced");
      } else {
        CHECK(rope_set_backend(r, b, &e) == ROPE_ERR_BACKEND_UNAVAILABLE && rope_backend(r) == ROPE_BACKEND_SCALAR,
              "an unavailable backend is refused and changes nothing");
      }
    }
    CHECK(rope_set_backend(r, ROPE_BACKEND_NEON_BF16 + 1, &e) == ROPE_ERR_BAD_ENUM, "an unknown backend code");
  }
  rope_destroy(r);
}

int main(void) {
  test_apply_against_reference();
  test_16_bit_and_tables();
  test_decode_and_caches();
  test_packed_strided_shift();
  test_constructors();
  test_gguf();
  test_frequencies();
  test_errors_leave_buffers();
  printf("C ABI: %d passed, %d failed (backend %s)\n", passed, failed,
         rope_backend_name(rope_best_backend()));
  return failed ? 1 : 0;
}
