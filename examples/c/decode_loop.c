/* A decode loop with an f16 KV cache through the C ABI: a Llama-3-8B-shaped layer (32 query
 * and 8 KV heads of 128, theta 500000) built from its config.json, a 16-token prompt
 * written into the caches in one call, then 8 decode steps, each rotating Q in place and
 * writing rotated K and V into the caches at its row. Prints what it did.
 *
 *   cargo build --release -p rope-simd-capi
 *   cc -std=c99 -Iinclude examples/c/decode_loop.c target/release/librope_simd_c.a \
 *      -lm -lpthread -ldl -o target/decode_loop && target/decode_loop */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rope_simd.h"

enum { Q_HEADS = 32, KV_HEADS = 8, HEAD_DIM = 128, CAPACITY = 4096, PROMPT = 16, STEPS = 8 };

static int fail(const char *what, const RopeErrorInfo *err) {
  fprintf(stderr, "%s: %s\n", what, err->message);
  return 1;
}

static RopeTensor tensor(void *data, size_t len, uint32_t dtype, size_t heads) {
  RopeTensor t;
  memset(&t, 0, sizeof t); /* the whole buffer, [tokens, heads, head_dim] */
  t.data = data;
  t.len = len;
  t.dtype = dtype;
  t.heads = heads;
  return t;
}

int main(void) {
  const char *config =
      "{\"model_type\": \"llama\", \"hidden_size\": 4096, \"num_attention_heads\": 32,"
      " \"num_key_value_heads\": 8, \"max_position_embeddings\": 131072, \"rope_theta\": 500000.0,"
      " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
      " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}";
  RopeErrorInfo err;
  RopeHandle *rope = NULL;
  size_t kv_len = (size_t)CAPACITY * KV_HEADS * HEAD_DIM, pos, i;
  uint16_t *k_cache = calloc(kv_len, sizeof *k_cache), *v_cache = calloc(kv_len, sizeof *v_cache);
  float *q = malloc(sizeof(float) * PROMPT * Q_HEADS * HEAD_DIM);
  float *k = malloc(sizeof(float) * PROMPT * KV_HEADS * HEAD_DIM);
  float *v = malloc(sizeof(float) * PROMPT * KV_HEADS * HEAD_DIM);
  RopeTensor tq, tk, tv, kc, vc;
  RopePositions positions;

  if (rope_create_hf_json(config, strlen(config), ROPE_LAYER_FULL, CAPACITY, ROPE_BACKEND_AUTO,
                          NULL, 0, &rope, &err) != ROPE_OK)
    return fail("rope_create_hf_json", &err);
  for (i = 0; i < (size_t)PROMPT * Q_HEADS * HEAD_DIM; i++) q[i] = (float)(i % 7) / 7.0f;
  for (i = 0; i < (size_t)PROMPT * KV_HEADS * HEAD_DIM; i++) k[i] = v[i] = (float)(i % 5) / 5.0f;

  memset(&positions, 0, sizeof positions);
  positions.kind = ROPE_POS_START;
  for (pos = 0; pos < PROMPT + STEPS;) {
    /* The prompt in one call, then one token per step. */
    size_t tokens = pos == 0 ? PROMPT : 1;
    tq = tensor(q, tokens * Q_HEADS * HEAD_DIM, ROPE_F32, Q_HEADS);
    tk = tensor(k, tokens * KV_HEADS * HEAD_DIM, ROPE_F32, KV_HEADS);
    tv = tensor(v, tokens * KV_HEADS * HEAD_DIM, ROPE_F32, KV_HEADS);
    /* The caches: [capacity, kv heads, head_dim] f16, a window from this step's row. */
    kc = tensor(k_cache, kv_len, ROPE_F16, KV_HEADS);
    vc = tensor(v_cache, kv_len, ROPE_F16, KV_HEADS);
    kc.window = vc.window = 1;
    kc.first_token = vc.first_token = pos;
    positions.start = pos;
    if (rope_decode(rope, NULL, &tq, &tk, &tv, &kc, &vc, &positions, &err) != ROPE_OK)
      return fail("rope_decode", &err);
    pos += tokens;
  }
  printf("decode loop: %d prompt tokens and %d steps on backend %s; cache rows 0..%zu written\n",
         PROMPT, STEPS, rope_backend_name(rope_backend(rope)), pos);
  /* A step past the capacity is an error that names the cache and writes nothing. */
  kc.first_token = vc.first_token = CAPACITY;
  if (rope_decode(rope, NULL, &tq, &tk, &tv, &kc, &vc, &positions, &err) != ROPE_OK)
    printf("and past the capacity: %s\n", err.message);
  rope_destroy(rope);
  free(q); free(k); free(v); free(k_cache); free(v_cache);
  return 0;
}
