/* Optional CPU kernels of JAX's stream for the torch reference (reference/rng/_native.py builds and loads them).

   Threefry-2x32 (20 rounds, uint32 words) and XLA:CPU's float32 normal, op for op as reference/rng/torch_ref.py
   computes them: the same float32 operations in the same order, FMA exactly where XLA:CPU contracts (fmaf), no
   contraction elsewhere (built with -ffp-contract=off), no fast-math (IEEE division and square root, denormals
   kept). Every loop body is branch-free (both branches of log1p and of erf_inv computed, then selected), so the
   compiler vectorises it. The constants come from reference/rng/_constants.py: _native.py prepends them as
   #defines (float32 roundings written as hex floats). Exactness: parity_tests/test_rng_native.py (every one of
   the 2^23 float32 inputs of the normal against XLA:CPU, and the whole API against the pure-torch path). */

#include <math.h>
#include <stdint.h>
#include <string.h>

#define ROTL(x, r) (((x) << (r)) | ((x) >> (32 - (r))))
#define RND(r) do { x0 += x1; x1 = ROTL(x1, r) ^ x0; } while (0)

/* (x0, x1) <- E_{(k0, k1)}(x0, x1) */
static inline __attribute__((always_inline)) void threefry(uint32_t k0, uint32_t k1, uint32_t *a, uint32_t *b) {
    const uint32_t k2 = k0 ^ k1 ^ KS_PARITY;
    uint32_t x0 = *a + k0, x1 = *b + k1;
    RND(R00); RND(R01); RND(R02); RND(R03); x0 += k1; x1 += k2 + 1u;
    RND(R10); RND(R11); RND(R12); RND(R13); x0 += k2; x1 += k0 + 2u;
    RND(R00); RND(R01); RND(R02); RND(R03); x0 += k0; x1 += k1 + 3u;
    RND(R10); RND(R11); RND(R12); RND(R13); x0 += k1; x1 += k2 + 4u;
    RND(R00); RND(R01); RND(R02); RND(R03); x0 += k2; x1 += k0 + 5u;
    *a = x0;
    *b = x1;
}

/* bits of counter (0, lo) under key (k0, k1): y0 ^ y1 */
static inline __attribute__((always_inline)) uint32_t bits_at(uint32_t k0, uint32_t k1, uint32_t lo) {
    uint32_t x0 = 0u, x1 = lo;
    threefry(k0, k1, &x0, &x1);
    return x0 ^ x1;
}

/* c ? a : b without a branch (the vectoriser will not if-convert the float select) */
static inline __attribute__((always_inline)) float select_f32(int c, float a, float b);

static inline __attribute__((always_inline)) float as_f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline __attribute__((always_inline)) uint32_t as_u32(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
static inline __attribute__((always_inline)) float select_f32(int c, float a, float b) {
    const uint32_t m = 0u - (uint32_t)(c != 0);
    return as_f32((as_u32(a) & m) | (as_u32(b) & ~m));
}

/* XLA:CPU float32 log of y > 0 (normal): log(m 2^e) = t - t^2/2 + t^3 P(t) + e log 2, m in [sqrt(1/2), sqrt(2)) */
static inline __attribute__((always_inline)) float xla_logf(float y) {
    const int32_t ix = (int32_t)(as_u32(y) - SQRT_HALF_BITS);
    const float e = (float)(ix >> 23);
    float t = as_f32(((uint32_t)ix & 0x7FFFFFu) + SQRT_HALF_BITS) - 1.0f;
    const float t2 = t * t;
    const float t3 = t2 * t;
    float y0 = fmaf(fmaf(LOG_P0, t, LOG_P1), t, LOG_P2);
    const float y1 = fmaf(fmaf(LOG_P3, t, LOG_P4), t, LOG_P5);
    const float y2 = fmaf(fmaf(LOG_P6, t, LOG_P7), t, LOG_P8);
    y0 = fmaf(y0, t3, y1);
    y0 = fmaf(y0, t3, y2);
    y0 = fmaf(y0, t3, e * LOG_Q1);
    t = t - 0.5f * t2; /* 0.5 t^2 is exact: the same as XLA's fma(-0.5, t^2, t) */
    t = t + y0;
    return t + e * LOG_Q2; /* Q2 e is exact */
}

/* XLA:CPU float32 log1p(x) at x = -u^2: the Cephes rational below sqrt(2) - 1, else logf(1 + x) */
static inline __attribute__((always_inline)) float xla_log1p_neg_sq(float u) {
    const float x = -(u * u);
    float num = fmaf(LOG1P_N0, x, LOG1P_N1);
    num = fmaf(num, x, LOG1P_N2);
    num = fmaf(num, x, LOG1P_N3);
    num = fmaf(num, x, LOG1P_N4);
    num = fmaf(num, x, LOG1P_N5);
    num = fmaf(num, x, LOG1P_N6);
    float den = x + LOG1P_D1;
    den = fmaf(den, x, LOG1P_D2);
    den = fmaf(den, x, LOG1P_D3);
    den = fmaf(den, x, LOG1P_D4);
    den = fmaf(den, x, LOG1P_D5);
    den = fmaf(den, x, LOG1P_D6);
    const float x2 = x * x;
    float small = (num / den) * (x * x2);
    small = small - 0.5f * x2;
    small = small + x;
    const float large = xla_logf(x + 1.0f);
    return select_f32(fabsf(x) >= SQRT2_M1_F, large, small);
}

/* XLA's float32 erf_inv (Giles) for |u| < 1 */
static inline __attribute__((always_inline)) float xla_erfinv(float u) {
    const float w = -xla_log1p_neg_sq(u);
    const float t = w - 2.5f;
    float p = fmaf(ERF_S0, t, ERF_S1);
    p = fmaf(p, t, ERF_S2);
    p = fmaf(p, t, ERF_S3);
    p = fmaf(p, t, ERF_S4);
    p = fmaf(p, t, ERF_S5);
    p = fmaf(p, t, ERF_S6);
    p = fmaf(p, t, ERF_S7);
    p = fmaf(p, t, ERF_S8);
    const float tb = sqrtf(w) - 3.0f;
    float pb = fmaf(ERF_L0, tb, ERF_L1);
    pb = fmaf(pb, tb, ERF_L2);
    pb = fmaf(pb, tb, ERF_L3);
    pb = fmaf(pb, tb, ERF_L4);
    pb = fmaf(pb, tb, ERF_L5);
    pb = fmaf(pb, tb, ERF_L6);
    pb = fmaf(pb, tb, ERF_L7);
    pb = fmaf(pb, tb, ERF_L8);
    return select_f32(w >= 5.0f, pb, p) * u;
}

/* ------------------------------------------------------------------------------------------- entry points
   keys: nkeys interleaved (k0, k1) word pairs; counters 0..n-1 per key; outputs row-major (nkeys, n). */

#define GATHER_BLOCK 512
#define PT_EXPORT __attribute__((visibility("default")))

PT_EXPORT int pt_abi_version(void) { return 1; }

/* elementwise Threefry: (y0, y1)[i] = E_{(k0[i], k1[i])}(x0[i], x1[i]); outputs may alias the inputs */
PT_EXPORT void pt_threefry(const uint32_t *k0, const uint32_t *k1, const uint32_t *x0, const uint32_t *x1,
                           int64_t n, uint32_t *y0, uint32_t *y1) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t a = x0[i], b = x1[i];
        threefry(k0[i], k1[i], &a, &b);
        y0[i] = a;
        y1[i] = b;
    }
}

PT_EXPORT void pt_bits(const uint32_t *keys, int64_t nkeys, int64_t n, uint32_t *out) {
    for (int64_t k = 0; k < nkeys; k++) {
        const uint32_t k0 = keys[2 * k], k1 = keys[2 * k + 1];
        uint32_t *o = out + k * n;
        for (int64_t i = 0; i < n; i++) o[i] = bits_at(k0, k1, (uint32_t)i);
    }
}

/* float32 normals: u = 2 f + lo (exact: bitcast((b >> 9) | bits(2.0)) - 2, then + lo), z = f32(sqrt 2) erf_inv(u) */
PT_EXPORT void pt_normal_f32(const uint32_t *keys, int64_t nkeys, int64_t n, float *out) {
    for (int64_t k = 0; k < nkeys; k++) {
        const uint32_t k0 = keys[2 * k], k1 = keys[2 * k + 1];
        float *o = out + k * n;
        for (int64_t i = 0; i < n; i++) {
            const uint32_t b = bits_at(k0, k1, (uint32_t)i);
            const float u = (as_f32((b >> 9) | 0x40000000u) - 2.0f) + NORMAL_LO;
            o[i] = xla_erfinv(u) * SQRT2_F;
        }
    }
}

/* 16-bit normals: table[(bits & (2^w - 1)) >> (w - nmant)], the table of all 2^nmant values (16-bit words) */
PT_EXPORT void pt_gather16(const uint32_t *keys, int64_t nkeys, int64_t n, int w, int nmant,
                           const uint16_t *restrict table, uint16_t *restrict out) {
    const uint32_t mask = (w >= 32) ? 0xFFFFFFFFu : ((1u << w) - 1u);
    const int shift = w - nmant;
    uint32_t idx[GATHER_BLOCK];
    for (int64_t k = 0; k < nkeys; k++) {
        const uint32_t k0 = keys[2 * k], k1 = keys[2 * k + 1];
        uint16_t *o = out + k * n;
        for (int64_t s = 0; s < n; s += GATHER_BLOCK) { /* the cipher vectorised, then the lookups */
            const int64_t m = n - s < GATHER_BLOCK ? n - s : GATHER_BLOCK;
            for (int64_t i = 0; i < m; i++) idx[i] = (bits_at(k0, k1, (uint32_t)(s + i)) & mask) >> shift;
            for (int64_t i = 0; i < m; i++) o[s + i] = table[idx[i]];
        }
    }
}

/* erf_inv of |x| < 1 (the caller handles |x| == 1) */
PT_EXPORT void pt_erfinv_f32(const float *x, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = xla_erfinv(x[i]);
}
