// A 4-float "pixel vector" {c0, c1, c2, unused} and 4-lane helpers for the CPU reference, with GCC/Clang vector
// extensions (SSE2 on x86-64, NEON on aarch64). Element-wise IEEE float operations only, so results are
// bit-identical to the scalar math of region_batch_math.h (built with -ffp-contract=off).
#ifndef RAN_EDGE_CPU_VEC_H
#define RAN_EDGE_CPU_VEC_H

#include <stdint.h>
#include <string.h>

#include "region_batch_math.h"

namespace ran_edge {

#if !defined(__GNUC__)
#error "the CPU reference needs GCC or Clang (vector extensions)"
#endif

typedef float V4 __attribute__((vector_size(16)));
typedef uint32_t U4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
inline V4 v4(float a, float b, float c, float d) { return V4{a, b, c, d}; }
inline V4 splat(float a) { return V4{a, a, a, a}; }

// Loads 4 consecutive floats (e.g. a pixel's 3 channels and one more value).
inline V4 load4(const float* p) {
    V4 v;
    memcpy(&v, p, sizeof(v));
    return v;
}

// Transposes 4 pixel vectors {c0, c1, c2, -} into 4 values of each of the planes c0, c1, c2.
inline void store_planes4(float* p0, float* p1, float* p2, const V4 v[4]) {
#if defined(__clang__)
#define RE_SHUFFLE(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define RE_SHUFFLE(a, b, i, j, k, l) __builtin_shuffle(a, b, U4{i, j, k, l})
#endif
    const V4 lo01 = RE_SHUFFLE(v[0], v[1], 0, 4, 1, 5);  // a0 a1 b0 b1
    const V4 lo23 = RE_SHUFFLE(v[2], v[3], 0, 4, 1, 5);  // a2 a3 b2 b3
    const V4 hi01 = RE_SHUFFLE(v[0], v[1], 2, 6, 3, 7);  // c0 c1 - -
    const V4 hi23 = RE_SHUFFLE(v[2], v[3], 2, 6, 3, 7);  // c2 c3 - -
    const V4 a = RE_SHUFFLE(lo01, lo23, 0, 1, 4, 5);
    const V4 b = RE_SHUFFLE(lo01, lo23, 2, 3, 6, 7);
    const V4 c = RE_SHUFFLE(hi01, hi23, 0, 1, 4, 5);
#undef RE_SHUFFLE
    memcpy(p0, &a, sizeof(a));
    memcpy(p1, &b, sizeof(b));
    memcpy(p2, &c, sizeof(c));
}

// lerp_row on a pixel vector: same operations, in the same order, on every lane.
inline V4 lerp_pixels(V4 p0, V4 p1, Tap t) { return splat(t.w0) * p0 + splat(t.w1) * p1; }

// float_to_half_bits on 4 lanes, branch-free (F. Giesen's float_to_half_fast3_rtne): round to nearest even,
// subnormals by a float addition that rounds at 2^-24, overflow to inf, NaN to quiet NaN with the sign kept.
inline U4 half_bits4(V4 v) {
    U4 x;
    memcpy(&x, &v, sizeof(x));
    const U4 sign = x & 0x80000000u;
    const U4 a = x ^ sign;
    const I4 as = (I4)a;                       // sign bit clear: signed compares (cheaper on SSE2) are exact
    const U4 big = (U4)(as >= 0x47800000);    // |v| >= 65536 (or inf/NaN)
    const U4 nan = (U4)(as > 0x7f800000);
    const U4 small = (U4)(as < 0x38800000);   // result is subnormal or zero
    V4 af;
    memcpy(&af, &a, sizeof(af));
    const V4 shifted = af + splat(0.5f);      // 0.5f = 126 << 23 aligns the 10 half-mantissa bits at the bottom
    U4 sub;
    memcpy(&sub, &shifted, sizeof(sub));
    sub -= 0x3f000000u;
    const U4 norm = (a + (0xc8000fffu + ((a >> 13) & 1u))) >> 13;  // rebias 127 -> 15, round half to even
    U4 r = (small & sub) | (~small & norm);
    r = (big & (0x7c00u | (nan & 0x0200u))) | (~big & r);
    return r | (sign >> 16);
}

// Stores the low 16 bits of 4 lanes.
inline void store_u16x4(uint16_t* o, U4 h) {
#if defined(__clang__) || __GNUC__ >= 9
    typedef uint16_t H4 __attribute__((vector_size(8)));
    const H4 packed = __builtin_convertvector(h, H4);
    memcpy(o, &packed, sizeof(packed));
#else  // GCC 7/8 (JetPack 4)
    for (int l = 0; l < 4; ++l) o[l] = static_cast<uint16_t>(h[l]);
#endif
}

#define RE_RESTRICT __restrict

// One output row of one plane: o[i] = normalise(lerp_col(a[i], b[i], ty)) for i < n.
inline void blend_row(const float* RE_RESTRICT a, const float* RE_RESTRICT b, Tap ty, float scale, float mean,
                      float std, float* RE_RESTRICT o, int32_t n) {
    if (std == 1.0f) {  // normalise() without its (exact, skipped) division, as separate vectorisable loops
        for (int32_t i = 0; i < n; ++i) o[i] = lerp_col(a[i], b[i], ty) * scale - mean;
    } else {
        for (int32_t i = 0; i < n; ++i) o[i] = (lerp_col(a[i], b[i], ty) * scale - mean) / std;
    }
}

inline void blend_row(const float* RE_RESTRICT a, const float* RE_RESTRICT b, Tap ty, float scale, float mean,
                      float std, uint16_t* RE_RESTRICT o, int32_t n) {
    int32_t i = 0;
    const V4 w0 = splat(ty.w0), w1 = splat(ty.w1), sc = splat(scale), mu = splat(mean), sd = splat(std);
    const bool divide = std != 1.0f;  // as normalise(): dividing by 1 is exact and skipped
    for (; i + 4 <= n; i += 4) {
        const V4 centred = (w0 * load4(a + i) + w1 * load4(b + i)) * sc - mu;
        const U4 h = half_bits4(divide ? centred / sd : centred);
        store_u16x4(o + i, h);
    }
    for (; i < n; ++i) o[i] = float_to_half_bits(normalise(lerp_col(a[i], b[i], ty), scale, mean, std));
}

template <typename OutT>
inline void fill_row(OutT* o, float v, int32_t n) {
    for (int32_t i = 0; i < n; ++i) store_value(o, i, v);
}

}  // namespace ran_edge

#endif  // RAN_EDGE_CPU_VEC_H
