/* rope-simd's no_std C library on a Cortex-M4F without an operating system, run under
 * QEMU (mps2-an386): builds a Llama-shaped description in a static buffer (no
 * allocation), rotates Q and K, writes K rotated into an f16 cache window, checks every
 * result against hashes of bits computed on the host with the same crate
 * (tests/firmware.rs pins them), checks that a failing call leaves its buffers as they
 * were and reports its code (the library is built without `error-detail`, so the message
 * is the code's summary), and prints the stack each call took. The exit status
 * (semihosting) is 0 only when every hash matches; built with -DPLANT_WRONG it expects a
 * wrong hash, and must fail.
 *
 * The stack is measured by painting: every word from the bottom of the stack to below
 * the live frames is set to a pattern before a call; the lowest word changed after it is
 * the deepest the call went.
 *
 *   firmware/c/run.sh    (arm-none-eabi-gcc, the library built for thumbv7em-none-eabihf) */
#include <stddef.h>
#include <stdint.h>

#include "rope_simd.h"

#define HEADS 8
#define HEAD_DIM 128
#define N (HEADS * HEAD_DIM)

/* The hashes of firmware/src/main.rs: the same inputs and calls give the same bits. */
#define WANT_ROTATE 0x75210691u
#define WANT_INTO 0x6e3dce68u
#ifdef PLANT_WRONG
#undef WANT_INTO
#define WANT_INTO 0x6e3dce69u
#endif

extern uint32_t _stack_top, _stack_bottom;

static uint32_t semihost(uint32_t op, const void *arg) {
  register uint32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static void print(const char *s) { semihost(0x04, s); }

static void print_hex(const char *label, uint32_t v) {
  char buf[80];
  size_t i = 0, d;
  while (label[i] && i < 60) { buf[i] = label[i]; i++; }
  buf[i++] = '0'; buf[i++] = 'x';
  for (d = 0; d < 8; d++) buf[i++] = "0123456789abcdef"[(v >> (28 - 4 * d)) & 0xf];
  buf[i++] = '\n';
  buf[i] = 0;
  print(buf);
}

static void print_dec(const char *label, uint32_t v) {
  char buf[80], digits[12];
  size_t i = 0, n = 0;
  while (label[i] && i < 60) { buf[i] = label[i]; i++; }
  do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (n) buf[i++] = digits[--n];
  buf[i++] = '\n';
  buf[i] = 0;
  print(buf);
}

static void __attribute__((noreturn)) finish(int ok) {
  uint32_t reason = ok ? 0x20026u : 0x20024u; /* ADP_Stopped_ApplicationExit or not */
  semihost(0x18, (const void *)reason);
  for (;;) __asm__ volatile("wfi");
}

void fault(void) {
  print("fault\n");
  finish(0);
}

static uint32_t hash32(const uint32_t *bits, size_t n) {
  uint32_t h = 0x811C9DC5u;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ bits[i]) * 0x01000193u;
  return h;
}

static uint32_t hash16(const uint16_t *bits, size_t n) {
  uint32_t h = 0x811C9DC5u;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ bits[i]) * 0x01000193u;
  return h;
}

static int same_text(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}

static void input(float *x) {
  size_t i;
  for (i = 0; i < N; i++) x[i] = ((float)((i * 37) % 101) - 50.0f) * 0.02f;
}

#define PAINT 0x5EEDCAFEu

static uint32_t *paint(void) {
  uint32_t *p, *top;
  __asm__ volatile("mov %0, sp" : "=r"(top));
  top -= 64; /* clear of this frame */
  for (p = &_stack_bottom; p < top; p++) *(volatile uint32_t *)p = PAINT;
  return top;
}

/* Bytes below the caller's stack pointer that the call used: `top` is 256 bytes below it. */
static uint32_t used(uint32_t *top) {
  uint32_t *low = &_stack_bottom;
  while (low < top && *(volatile uint32_t *)low == PAINT) low++;
  return (uint32_t)((char *)top - (char *)low) + 256;
}

/* The description lives here: no allocator. */
static uint64_t handle_memory[8192 / 8];
static float q[N], k[N];
static uint16_t cache[4 * N];

static int run(void) {
  RopeConfig config;
  RopeErrorInfo err;
  RopeHandle *rope = 0;
  RopeTensor tq = {0}, tk = {0}, tc = {0};
  RopePositions at = {0};
  uint32_t *top, build_stack, qk_stack, into_stack, h_q, h_k, h_c, h_in;
  int ok;

  if (rope_handle_size() > sizeof handle_memory) { print("handle memory too small\n"); return 0; }
  rope_config_init(&config, HEAD_DIM);
  config.base = 500000.0;
  top = paint();
  if (rope_create(&config, handle_memory, sizeof handle_memory, &rope, &err) != ROPE_OK) {
    print(err.message);
    return 0;
  }
  build_stack = used(top);

  input(q);
  input(k);
  tq.data = q; tq.len = N; tq.dtype = ROPE_F32; tq.heads = HEADS;
  tk = tq;
  tk.data = k;
  at.kind = ROPE_POS_START;
  at.start = 1234;
  top = paint();
  if (rope_apply_qk(rope, 0, &tq, &tk, &at, ROPE_FORWARD, &err) != ROPE_OK) { print(err.message); return 0; }
  qk_stack = used(top);

  h_q = hash32((const uint32_t *)q, N);
  h_k = hash32((const uint32_t *)k, N);

  /* K (a fresh copy) rotated into rows 3.. of a [4, 8, 128] f16 cache. */
  input(k);
  tc.data = cache; tc.len = 4 * N; tc.dtype = ROPE_F16; tc.heads = HEADS;
  tc.window = 1; tc.first_token = 3;
  top = paint();
  if (rope_apply_into(rope, 0, &tk, &tc, &at, ROPE_FORWARD, &err) != ROPE_OK) { print(err.message); return 0; }
  into_stack = used(top);

  h_c = hash16(cache, 4 * N);

  /* A failing call (K one element short): the code, its summary, and Q and K untouched. */
  tk.len = N - 1;
  h_in = hash32((const uint32_t *)k, N);
  if (rope_apply_qk(rope, 0, &tq, &tk, &at, ROPE_FORWARD, &err) != ROPE_ERR_BUFFER_LENGTH ||
      err.code != ROPE_ERR_BUFFER_LENGTH ||
      !same_text(err.message, rope_error_message(ROPE_ERR_BUFFER_LENGTH)) ||
      hash32((const uint32_t *)q, N) != h_q || hash32((const uint32_t *)k, N) != h_in) {
    print("a failing call: wrong code or message, or a buffer changed\n");
    return 0;
  }
  print("a failing call: ");
  print(err.message);
  print("\n");
  print_hex("rotate q and k: q hash ", h_q);
  print_hex("rotate q and k: k hash ", h_k);
  print_hex("k into an f16 cache: hash ", h_c);
  print_dec("stack: rope_create bytes ", build_stack);
  print_dec("stack: rope_apply_qk bytes ", qk_stack);
  print_dec("stack: rope_apply_into f16 bytes ", into_stack);
  ok = h_q == WANT_ROTATE && h_k == WANT_ROTATE && h_c == WANT_INTO;
  print(ok ? "firmware (C): ok\n" : "firmware (C): WRONG BITS\n");
  return ok;
}

void reset(void) {
  /* Enable the FPU (CP10 and CP11 full access) before any float work. */
  volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
  *cpacr |= 0xFu << 20;
  __asm__ volatile("dsb\n isb");
  finish(run());
}

__attribute__((section(".vector_table"), used)) static const void *const vectors[] = {
    &_stack_top, (const void *)reset, (const void *)fault, (const void *)fault,
    (const void *)fault, (const void *)fault, (const void *)fault,
};
