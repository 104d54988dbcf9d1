/* Tests of the C ABI (include/rope_simd.h) against expected values computed here in
 * double precision from the RoPE formula, and of every error code (buffer untouched).
 * Built and run by scripts/test.sh against librope_simd_c.a and librope_simd_c.so. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rope_simd.h"

static int passed, failed;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) {                                            \
      passed++;                                            \
    } else {                                               \
      failed++;                                            \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
      printf(__VA_ARGS__);                                 \
      printf("\n");                                        \
    }                                                      \
  } while (0)

/* Expected rotation in double: x is [tokens][heads][head_dim]. */
static void reference(double *out, const double *x, size_t tokens, size_t heads, size_t head_dim,
                      size_t rotary_dim, int interleaved, double base, const uint64_t *pos,
                      int inverse) {
  memcpy(out, x, tokens * heads * head_dim * sizeof(double));
  for (size_t t = 0; t < tokens; t++)
    for (size_t h = 0; h < heads; h++)
      for (size_t i = 0; i < rotary_dim / 2; i++) {
        double theta = pow(base, -(double)(2 * i) / (double)rotary_dim);
        double angle = (inverse ? -1.0 : 1.0) * (double)pos[t] * theta;
        size_t o = (t * heads + h) * head_dim;
        size_t ia = interleaved ? o + 2 * i : o + i;
        size_t ib = interleaved ? o + 2 * i + 1 : o + i + rotary_dim / 2;
        double a = x[ia], b = x[ib];
        out[ia] = a * cos(angle) - b * sin(angle);
        out[ib] = b * cos(angle) + a * sin(angle);
      }
}

static double bf16_to_double(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint16_t bf16_from_float_exact(float f) { /* only for values exact in bf16 */
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)(u >> 16);
}

static double f16_to_double(uint16_t h) { /* normal numbers and zero */
  int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v = exp == 0 ? ldexp(man, -24) : ldexp(1024 + man, exp - 25);
  return sign ? -v : v;
}

static uint16_t f16_from_small_int_over_4(int k) { /* exact f16 bits of k/4, |k| < 1024 */
  if (k == 0) return 0;
  int sign = k < 0;
  int m = sign ? -k : k, e = 0;
  while (m >= 2048) { m >>= 1; e++; }
  while (m < 1024) { m <<= 1; e--; }
  /* value = m * 2^(e) / 4 = (m/1024) * 2^(e + 10 - 2) */
  int exp = e + 8 + 15;
  return (uint16_t)((sign << 15) | (exp << 10) | (m - 1024));
}

static RopeHandle *make(uint32_t head_dim, uint32_t rotary_dim, uint32_t layout, double base) {
  RopeConfig c = rope_config_default(head_dim);
  c.rotary_dim = rotary_dim;
  c.layout = layout;
  c.base = base;
  RopeHandle *r = NULL;
  int rc = rope_create(&c, &r);
  CHECK(rc == ROPE_OK && r != NULL, "rope_create: %s", rope_error_message(rc));
  return r;
}

static void test_f32_against_formula(void) {
  enum { T = 3, H = 2, D = 8, R = 6 };
  uint32_t positions[T] = {5, 100000, 3};
  uint64_t pos64[T] = {5, 100000, 3};
  for (int interleaved = 0; interleaved <= 1; interleaved++) {
    RopeHandle *r = make(D, R, interleaved ? ROPE_LAYOUT_INTERLEAVED : ROPE_LAYOUT_HALF_SPLIT, 10000.0);
    float x[T * H * D];
    double xd[T * H * D], want[T * H * D];
    for (int i = 0; i < T * H * D; i++) xd[i] = x[i] = (float)((i * 37 % 23) - 11) / 7.0f;
    reference(want, xd, T, H, D, R, interleaved, 10000.0, pos64, 0);
    int rc = rope_rotate_f32(r, NULL, x, T * H * D, H, 0, positions, T, 0);
    CHECK(rc == ROPE_OK, "rotate_f32: %s", rope_error_message(rc));
    for (int i = 0; i < T * H * D; i++) {
      double tol = 4.0 * ldexp(1.0, -24) * 2.0 * 11.0 / 7.0 * 2;
      CHECK(fabs(x[i] - want[i]) <= tol, "f32 %s element %d: got %.9g want %.9g",
            interleaved ? "interleaved" : "half-split", i, x[i], want[i]);
      if (i % D >= R) CHECK(x[i] == (float)xd[i], "pass-through channel %d changed", i);
    }
    /* Inverse gives the input back. */
    rc = rope_rotate_f32(r, NULL, x, T * H * D, H, 0, positions, T, ROPE_INVERSE);
    CHECK(rc == ROPE_OK, "inverse: %s", rope_error_message(rc));
    for (int i = 0; i < T * H * D; i++) CHECK(fabs(x[i] - xd[i]) <= 1e-6, "inverse element %d", i);
    rope_destroy(r);
  }
}

/* DeepSeek's layout: interleaved pairs in, half-split order out; the inverse back. */
static void test_deepseek_layout(void) {
  enum { D = 8 };
  RopeHandle *r = make(D, 0, ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT, 10000.0);
  float x[D] = {0, 1, 2, 3, 4, 5, 6, 7};
  int rc = rope_rotate_f32(r, NULL, x, D, 1, 0, NULL, 0, 0); /* position 0: only the reorder */
  CHECK(rc == ROPE_OK, "deepseek: %s", rope_error_message(rc));
  const float want[D] = {0, 2, 4, 6, 1, 3, 5, 7};
  for (int i = 0; i < D; i++) CHECK(x[i] == want[i], "deepseek element %d: %g", i, x[i]);
  rc = rope_rotate_f32(r, NULL, x, D, 1, 0, NULL, 0, ROPE_INVERSE);
  CHECK(rc == ROPE_OK, "deepseek inverse: %s", rope_error_message(rc));
  for (int i = 0; i < D; i++) CHECK(x[i] == (float)i, "deepseek inverse element %d: %g", i, x[i]);
  rope_destroy(r);
}

static void test_qk_table_and_start(void) {
  enum { T = 4, HQ = 4, HK = 2, D = 16 };
  RopeHandle *r = make(D, 0, ROPE_LAYOUT_HALF_SPLIT, 500000.0);
  float q[T * HQ * D], k[T * HK * D], q2[T * HQ * D], k2[T * HK * D];
  double qd[T * HQ * D], kd[T * HK * D], want[T * HQ * D];
  for (int i = 0; i < T * HQ * D; i++) qd[i] = q[i] = q2[i] = (float)(i % 13) * 0.25f - 1.5f;
  for (int i = 0; i < T * HK * D; i++) kd[i] = k[i] = k2[i] = (float)(i % 7) * 0.5f - 1.0f;
  int rc = rope_rotate_qk_f32(r, NULL, q, T * HQ * D, HQ, k, T * HK * D, HK, 4094, NULL, 0, 0);
  CHECK(rc == ROPE_OK, "qk: %s", rope_error_message(rc));
  uint64_t pos[T] = {4094, 4095, 4096, 4097};
  reference(want, qd, T, HQ, D, D, 0, 500000.0, pos, 0);
  for (int i = 0; i < T * HQ * D; i++) CHECK(fabs(q[i] - want[i]) <= 2e-6, "q element %d", i);
  reference(want, kd, T, HK, D, D, 0, 500000.0, pos, 0);
  for (int i = 0; i < T * HK * D; i++) CHECK(fabs(k[i] - want[i]) <= 2e-6, "k element %d", i);

  /* The same through a table: the same bits. */
  size_t len = 0;
  rc = rope_table_len(r, 4098, &len);
  CHECK(rc == ROPE_OK && len == 4098 * D, "table_len %zu", len);
  float *storage = malloc(len * sizeof(float));
  rc = rope_table_build(r, 4098, storage, len);
  CHECK(rc == ROPE_OK, "table_build: %s", rope_error_message(rc));
  RopeTable table = {storage, len, 4098};
  rc = rope_rotate_qk_f32(r, &table, q2, T * HQ * D, HQ, k2, T * HK * D, HK, 4094, NULL, 0, 0);
  CHECK(rc == ROPE_OK, "qk table: %s", rope_error_message(rc));
  CHECK(memcmp(q, q2, sizeof q) == 0 && memcmp(k, k2, sizeof k) == 0, "table bits differ from on the fly");
  /* Past the table: error, untouched. */
  memcpy(q2, q, sizeof q);
  rc = rope_rotate_f32(r, &table, q2, T * HQ * D, HQ, 4095, NULL, 0, 0);
  CHECK(rc == ROPE_ERR_POSITION_OUT_OF_TABLE, "past table: %d", rc);
  CHECK(memcmp(q, q2, sizeof q) == 0, "buffer changed by a failing call");
  free(storage);
  rope_destroy(r);
}

static void test_16_bit(void) {
  enum { H = 3, D = 32 };
  RopeHandle *r = make(D, 0, ROPE_LAYOUT_INTERLEAVED, 10000.0);
  uint16_t xb[H * D], xh[H * D];
  double xd_b[H * D], xd_h[H * D], want[H * D];
  for (int i = 0; i < H * D; i++) {
    float v = (float)((i % 17) - 8) * 0.75f;
    xb[i] = bf16_from_float_exact(v);
    xd_b[i] = bf16_to_double(xb[i]);
    xh[i] = f16_from_small_int_over_4((i % 19) * 3 - 27);
    xd_h[i] = f16_to_double(xh[i]);
  }
  uint32_t p = 777;
  uint64_t p64 = 777;
  CHECK(rope_rotate_bf16(r, NULL, xb, H * D, H, 0, &p, 1, 0) == ROPE_OK, "bf16");
  reference(want, xd_b, 1, H, D, D, 1, 10000.0, &p64, 0);
  for (int i = 0; i < H * D; i++) {
    double got = bf16_to_double(xb[i]);
    CHECK(fabs(got - want[i]) <= fabs(want[i]) / 256.0 + 1e-6, "bf16 element %d: %g vs %g", i, got, want[i]);
  }
  CHECK(rope_rotate_f16(r, NULL, xh, H * D, H, 0, &p, 1, 0) == ROPE_OK, "f16");
  reference(want, xd_h, 1, H, D, D, 1, 10000.0, &p64, 0);
  for (int i = 0; i < H * D; i++) {
    double got = f16_to_double(xh[i]);
    CHECK(fabs(got - want[i]) <= fabs(want[i]) / 2048.0 + 1e-4, "f16 element %d: %g vs %g", i, got, want[i]);
  }
  rope_destroy(r);
}

static void expect_create_error(RopeConfig c, int want, const char *what) {
  RopeHandle *r = (RopeHandle *)&c; /* must be reset to NULL */
  int rc = rope_create(&c, &r);
  CHECK(rc == want && r == NULL, "%s: got %d (%s), want %d", what, rc, rope_error_message(rc), want);
}

static void test_errors(void) {
  RopeConfig c = rope_config_default(8);
  c.head_dim = 7; expect_create_error(c, ROPE_ERR_ODD_DIM, "odd head_dim");
  c = rope_config_default(0); expect_create_error(c, ROPE_ERR_ZERO_DIM, "zero head_dim");
  c = rope_config_default(8); c.rotary_dim = 10; expect_create_error(c, ROPE_ERR_ROTARY_DIM_TOO_LARGE, "rotary > head");
  c = rope_config_default(2048); expect_create_error(c, ROPE_ERR_ROTARY_DIM_OVER_MAX, "rotary over max");
  c = rope_config_default(8); c.base = 1.0; expect_create_error(c, ROPE_ERR_BAD_BASE, "base 1");
  c = rope_config_default(8); c.scale = 0.0; expect_create_error(c, ROPE_ERR_BAD_SCALE, "scale 0");
  c = rope_config_default(8); c.layout = 7; expect_create_error(c, ROPE_ERR_BAD_ENUM, "layout 7");
  c = rope_config_default(8); c.backend = 42; expect_create_error(c, ROPE_ERR_BAD_ENUM, "backend 42");
  double freqs[4] = {1.0, 0.5, -0.25, 0.1};
  c = rope_config_default(8); c.inv_freq = freqs; c.n_inv_freq = 3;
  expect_create_error(c, ROPE_ERR_WRONG_LENGTH, "3 frequencies");
  c.n_inv_freq = 4; expect_create_error(c, ROPE_ERR_BAD_FREQUENCY, "negative frequency");
  CHECK(rope_create(NULL, NULL) == ROPE_ERR_NULL, "create(NULL, NULL)");
  RopeHandle *out = NULL;
  CHECK(rope_create(NULL, &out) == ROPE_ERR_NULL && out == NULL, "create(NULL config)");
  for (int b = ROPE_BACKEND_SCALAR; b <= ROPE_BACKEND_AVX512_BF16; b++) {
    c = rope_config_default(8);
    c.backend = b;
    RopeHandle *r = NULL;
    int rc = rope_create(&c, &r);
    if (rope_backend_available(b)) {
      CHECK(rc == ROPE_OK && rope_backend(r) == b, "backend %s", rope_backend_name(b));
    } else {
      CHECK(rc == ROPE_ERR_BACKEND_UNAVAILABLE, "unavailable backend %s: %d", rope_backend_name(b), rc);
    }
    rope_destroy(r);
  }

  RopeHandle *r = make(8, 0, ROPE_LAYOUT_HALF_SPLIT, 10000.0);
  float x[48], orig[48], k[40];
  for (int i = 0; i < 48; i++) x[i] = orig[i] = (float)i;
  for (int i = 0; i < 40; i++) k[i] = (float)i;
  uint32_t three[3] = {1, 2, 3};
  size_t table_len = 0;
  struct { int rc, want; const char *what; } cases[] = {
    {rope_rotate_f32(NULL, NULL, x, 48, 2, 0, NULL, 0, 0), ROPE_ERR_NULL, "NULL rope"},
    {rope_rotate_f32(r, NULL, NULL, 48, 2, 0, NULL, 0, 0), ROPE_ERR_NULL, "NULL x"},
    {rope_rotate_f32(r, NULL, x, 48, 0, 0, NULL, 0, 0), ROPE_ERR_ZERO_HEADS, "zero heads"},
    {rope_rotate_f32(r, NULL, x, 48, 5, 0, NULL, 0, 0), ROPE_ERR_BUFFER_LENGTH, "48 not a multiple of 40"},
    {rope_rotate_f32(r, NULL, x, 48, 2, 0, three, 2, 0), ROPE_ERR_BUFFER_LENGTH, "2 positions for 3 tokens"},
    {rope_rotate_f32(r, NULL, x, 48, 2, (1ull << 53) - 2, NULL, 0, 0), ROPE_ERR_POSITION_TOO_LARGE, "position 2^53"},
    {rope_rotate_f32(r, NULL, x, 48, SIZE_MAX / 2, 0, NULL, 0, 0), ROPE_ERR_SIZE_OVERFLOW, "heads overflow"},
    {rope_rotate_f32(r, NULL, x, 48, 2, 0, NULL, 0, 8), ROPE_ERR_BAD_ENUM, "unknown flag"},
    {rope_rotate_f32(r, NULL, x, 48, 2, 0, NULL, 0, ROPE_INVERSE | ROPE_TRANSPOSE), ROPE_ERR_BAD_ENUM, "inverse and transpose"},
    {rope_rotate_qk_f32(r, NULL, x, 48, 2, k, 40, 1, 0, NULL, 0, 0), ROPE_ERR_TOKEN_MISMATCH, "3 q tokens, 5 k tokens"},
    {rope_table_build(r, 4, x, 48), ROPE_ERR_WRONG_LENGTH, "table storage 48 for 32"},
    {rope_set_backend(r, 99), ROPE_ERR_BAD_ENUM, "set backend 99"},
    {rope_table_len(r, SIZE_MAX, &table_len), ROPE_ERR_SIZE_OVERFLOW, "table_len overflow"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK(cases[i].rc == cases[i].want, "%s: got %d (%s), want %d", cases[i].what, cases[i].rc,
          rope_error_message(cases[i].rc), cases[i].want);
  CHECK(memcmp(x, orig, sizeof x) == 0, "a failing call changed the buffer");
  for (int i = 0; i < 40; i++) CHECK(k[i] == (float)i, "a failing qk call changed k");
  /* Every code has its own message. */
  for (int a = ROPE_ERR_INTERNAL; a <= ROPE_OK; a++)
    for (int b = a + 1; b <= ROPE_OK; b++)
      CHECK(strcmp(rope_error_message(a), rope_error_message(b)) != 0, "codes %d and %d share a message", a, b);
  CHECK(strcmp(rope_error_message(-1000), "unknown error code") == 0, "unknown code message");
  rope_destroy(r);
}

static void test_ggml(void) {
  enum { T = 3, H = 2, D = 8, R = 6 };
  uint32_t positions[T] = {5, 100000, 3}, doubled[T] = {10, 200000, 6};
  float a[T * H * D], b[T * H * D];
  for (int i = 0; i < T * H * D; i++) a[i] = b[i] = (float)((i * 37 % 23) - 11) / 7.0f;
  /* ggml's plain RoPE is the same description as rope_create's: the same bits. */
  RopeGgmlParams g = rope_ggml_params_default(D, R, 10000.0);
  g.layout = ROPE_LAYOUT_INTERLEAVED;
  RopeHandle *plain = make(D, R, ROPE_LAYOUT_INTERLEAVED, 10000.0), *gg = NULL;
  int rc = rope_create_ggml(&g, &gg);
  CHECK(rc == ROPE_OK && gg != NULL, "create_ggml: %s", rope_error_message(rc));
  rope_rotate_f32(plain, NULL, a, T * H * D, H, 0, positions, T, 0);
  rope_rotate_f32(gg, NULL, b, T * H * D, H, 0, positions, T, 0);
  CHECK(memcmp(a, b, sizeof a) == 0, "ggml default differs from rope_create");
  rope_destroy(gg);
  /* freq_scale 0.5 (linear interpolation) at positions 2p is plain RoPE at p, exactly. */
  g.freq_scale = 0.5;
  CHECK(rope_create_ggml(&g, &gg) == ROPE_OK, "create_ggml freq_scale");
  for (int i = 0; i < T * H * D; i++) a[i] = b[i] = (float)((i * 37 % 23) - 11) / 7.0f;
  rope_rotate_f32(plain, NULL, a, T * H * D, H, 0, positions, T, 0);
  rope_rotate_f32(gg, NULL, b, T * H * D, H, 0, doubled, T, 0);
  CHECK(memcmp(a, b, sizeof a) == 0, "freq_scale 0.5 at 2p differs from plain at p");
  rope_destroy(gg);
  /* YaRN on: every pair's length grows by attn_factor * (1 + 0.1 ln(1 / freq_scale)). */
  g = rope_ggml_params_default(D, D, 10000.0);
  g.freq_scale = 0.25; g.ext_factor = 1.0; g.n_ctx_orig = 64;
  CHECK(rope_create_ggml(&g, &gg) == ROPE_OK, "create_ggml yarn");
  for (int i = 0; i < T * H * D; i++) a[i] = b[i] = (float)((i * 37 % 23) - 11) / 7.0f;
  rope_rotate_f32(gg, NULL, b, T * H * D, H, 0, positions, T, 0);
  double m = 1.0 + 0.1 * log(4.0);
  for (int row = 0; row < T * H; row++)
    for (int i = 0; i < D / 2; i++) {
      const float *x = a + row * D, *y = b + row * D;
      double n0 = hypot(x[i], x[i + D / 2]), n1 = hypot(y[i], y[i + D / 2]);
      CHECK(fabs(n1 - m * n0) <= 1e-5 * (1.0 + n0), "yarn magnitude row %d pair %d: %g vs %g", row, i, n1, m * n0);
    }
  rope_destroy(gg);
  rope_destroy(plain);
  /* Bad parameters: typed errors, *out NULL. */
  RopeGgmlParams bad = rope_ggml_params_default(D, R, 10000.0);
  bad.freq_scale = 0.0;
  gg = (RopeHandle *)&bad;
  CHECK(rope_create_ggml(&bad, &gg) == ROPE_ERR_BAD_PARAMETER && gg == NULL, "freq_scale 0");
  bad = rope_ggml_params_default(D, R, 10000.0);
  bad.ext_factor = 1.0;
  CHECK(rope_create_ggml(&bad, &gg) == ROPE_ERR_BAD_PARAMETER && gg == NULL, "yarn without n_ctx_orig");
  double ff[2] = {1.0, 2.0};
  bad = rope_ggml_params_default(D, R, 10000.0);
  bad.freq_factors = ff; bad.n_freq_factors = 2;
  CHECK(rope_create_ggml(&bad, &gg) == ROPE_ERR_WRONG_LENGTH && gg == NULL, "2 freq factors for 3 pairs");
  bad = rope_ggml_params_default(D, R, 1.0);
  CHECK(rope_create_ggml(&bad, &gg) == ROPE_ERR_BAD_BASE && gg == NULL, "freq_base 1");
  bad = rope_ggml_params_default(D, R, 10000.0);
  bad.layout = 9;
  CHECK(rope_create_ggml(&bad, &gg) == ROPE_ERR_BAD_ENUM && gg == NULL, "layout 9");
  CHECK(rope_create_ggml(NULL, &gg) == ROPE_ERR_NULL && gg == NULL, "create_ggml(NULL)");
  CHECK(strcmp(rope_error_message(ROPE_ERR_BAD_PARAMETER), "unknown error code") != 0, "message");
}

int main(void) {
  printf("rope-simd C ABI test; best backend: %s\n", rope_backend_name(rope_best_backend()));
  test_f32_against_formula();
  test_deepseek_layout();
  test_qk_table_and_start();
  test_16_bit();
  test_errors();
  test_ggml();
  printf("c-abi: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
