// The two hot loops of the CPU box path, in a portable version and (x86-64, GCC/Clang) AVX2 and AVX-512 versions
// chosen at run time (cpu_isa()). Every version does the same IEEE float operations in the same order as
// region_batch_math.h (lerp_row, lerp_col, normalise, float_to_half_bits), so all of them give bit-identical
// output; only how many lanes one instruction handles and how the taps are gathered differ.
//
//   horizontal pass: one source row (uint8, BGR interleaved, columns xlo..xhi) -> 3 planes of S floats,
//                    h[c][i] = w0[i] * v[c][i0[i]] + w1[i] * v[c][i1[i]];
//   vertical pass:   two such rows -> one output row of each of the 3 output planes,
//                    o[c][i] = normalise(wy0 * h0[src_c][i] + wy1 * h1[src_c][i]), FP32 or FP16.
//
// Portable horizontal pass: the row is converted to floats, then each output column is one 4-lane "pixel vector"
// operation ({c0, c1, c2, -}), transposed 4 columns at a time into the planes. AVX-512: the row is converted and
// split into 3 float planes, then 16 output columns of a plane are one two-register permute (vpermt2ps) per tap
// when their taps lie within 32 consecutive source pixels (any downscale up to ~2x; wider blocks fall back to
// scalar code). AVX2: the portable pixel-vector pass (VEX-encoded) and an 8-lane vertical pass with F16C.
#ifndef RAN_EDGE_CPU_BOX_ROWS_H
#define RAN_EDGE_CPU_BOX_ROWS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_vec.h"
#include "region_batch_math.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RE_X86_SIMD 1
#include <immintrin.h>
#else
#define RE_X86_SIMD 0
#endif

namespace ran_edge {

// Instruction sets of the box path, best last.
enum class CpuIsa : int32_t { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

// The best instruction set this CPU runs. $RAN_EDGE_CPU_ISA = portable | avx2 | avx512 caps it (for tests and
// comparisons; read on every call, unknown values are ignored).
inline CpuIsa cpu_isa() {
    CpuIsa best = CpuIsa::kPortable;
#if RE_X86_SIMD
    if (__builtin_cpu_supports("avx512f")) {
        best = CpuIsa::kAvx512;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) {
        best = CpuIsa::kAvx2;
    }
#endif
    const char* cap = getenv("RAN_EDGE_CPU_ISA");
    if (cap != nullptr) {
        CpuIsa want = best;
        if (strcmp(cap, "portable") == 0) want = CpuIsa::kPortable;
        if (strcmp(cap, "avx2") == 0) want = CpuIsa::kAvx2;
        if (strcmp(cap, "avx512") == 0) want = CpuIsa::kAvx512;
        if (static_cast<int32_t>(want) < static_cast<int32_t>(best)) best = want;
    }
    return best;
}

// 16 output columns of the AVX-512 horizontal pass: v[base + idx0[l]] and v[base + idx1[l]] with weights w0/w1.
// `fits`: every index is in [0, 32), so two 16-float loads at base and one permute per tap gather them; otherwise
// base is 0 and the indices are absolute (scalar code).
constexpr int32_t kBlock = 16;
struct PermBlock {
    int32_t base;
    int32_t fits;
    int32_t idx0[kBlock];
    int32_t idx1[kBlock];
    float w0[kBlock];
    float w1[kBlock];
};

// Floats of slack after each source plane of the AVX-512 pass (a block loads 32 floats from base <= last pixel).
constexpr int32_t kPlanePad = 2 * kBlock;

// Stride of the 3 planes of a horizontally interpolated row: room for S columns after a phase of up to
// kBlock - 1 columns, rounded up to a multiple of kBlock.
inline int32_t plane_stride(int32_t n) { return (n + 2 * kBlock - 1) / kBlock * kBlock; }

// Blocks of the AVX-512 pass for S = s columns at `phase` (0..kBlock-1): block b, lane l is column
// kBlock * b + l - phase, so block b is stored at plane offset kBlock * b and column i at phase + i. The phase
// lines the blocks up with 64-byte boundaries of the output rows (aligned, streamable stores). Built from the x
// taps of a region (pixel offsets relative to xlo; columns with zero weights hold an in-range neighbour's
// offsets); lanes outside 0..s-1 repeat the nearest column with zero weights. Returns the number of blocks.
inline int32_t build_blocks(const Tap* xtap, int32_t s, int32_t phase, PermBlock* blocks) {
    const int32_t nblocks = (s + phase + kBlock - 1) / kBlock;
    for (int32_t b = 0; b < nblocks; ++b) {
        PermBlock& k = blocks[b];
        int32_t lo = 0, hi = 0;
        for (int32_t l = 0; l < kBlock; ++l) {
            const int32_t col = kBlock * b + l - phase;
            const Tap& t = xtap[col < 0 ? 0 : (col >= s ? s - 1 : col)];
            lo = l == 0 || t.i0 < lo ? t.i0 : lo;
            hi = l == 0 || t.i1 > hi ? t.i1 : hi;
        }
        k.fits = hi - lo < 2 * kBlock;
        k.base = k.fits ? lo : 0;
        for (int32_t l = 0; l < kBlock; ++l) {
            const int32_t col = kBlock * b + l - phase;
            const bool real = col >= 0 && col < s;
            const Tap& t = xtap[col < 0 ? 0 : (col >= s ? s - 1 : col)];
            k.idx0[l] = t.i0 - k.base;
            k.idx1[l] = t.i1 - k.base;
            k.w0[l] = real ? t.w0 : 0.0f;
            k.w1[l] = real ? t.w1 : 0.0f;
        }
    }
    return nblocks;
}

// One source row for the horizontal pass.
struct RowIn {
    const uint8_t* src;  // pixel xlo of the source row (3 bytes per pixel)
    int32_t npx;         // pixels xlo..xhi (0 when the region reads no column)
    const Tap* xtap;     // S taps, offsets relative to xlo: in pixels (AVX-512) or floats (3 per pixel; the others)
    const PermBlock* blocks;
    int32_t nblocks;
    float* scratch;      // portable: 3 * npx + 4 floats; AVX-512: 3 planes of `scratch_stride` floats
    int32_t scratch_stride;
    int32_t s;
    float* h;            // out: 3 planes of `stride` floats (plane l = source channel l), column i at i (portable,
    int32_t stride;      // AVX2) or at phase + i (AVX-512, see build_blocks)
};

// One output row for the vertical pass.
template <typename OutT>
struct RowOut {
    const float* h0;  // interpolated source rows (3 planes of `stride`, 64-byte aligned, see RowIn::h)
    const float* h1;
    int32_t stride;
    int32_t phase;    // AVX-512: build_blocks' phase and block count
    int32_t nblocks;
    Tap ty;
    int32_t src_c[3];  // output channel c reads plane src_c[c]
    float scale, mean[3], std[3];
    OutT* o[3];        // output rows of the 3 output planes
    int32_t s;
    bool stream;       // FP32 output may bypass the caches (non-temporal stores of whole 64-byte lines; AVX-512 only)
    // AVX-512 FP32 with S a multiple of 16 and phase > 0: row j's last block and row j+1's first block share one
    // 64-byte line. carry_out: keep this row's last block in carry[c] (kBlock floats per output plane) instead of
    // storing it; carry_in: carry[c] holds the previous row's, merge it into this row's first block and store the
    // whole line. The caller stores a carry that no next row picks up (flush_carry).
    float* carry;
    bool carry_in;
    bool carry_out;
};

// ---- portable versions (also compiled into the AVX2 ones) ----

// (Fields are copied to locals first: the stores below may alias anything, which would make the compiler
// reload them from `r` in every iteration.)
__attribute__((always_inline)) inline void horizontal_portable(const RowIn& r) {
    float* const px = r.scratch;
    const uint8_t* const src = r.src;
    const Tap* const xtap = r.xtap;
    const int32_t count = 3 * r.npx, s = r.s, st = r.stride;
    for (int32_t x = 0; x < count; ++x) px[x] = static_cast<float>(src[x]);
    float* const h = r.h;
    int32_t i = 0;
    for (; i + 4 <= s; i += 4) {  // 4 columns at a time, transposed into the 3 planes
        V4 v[4];
        for (int q = 0; q < 4; ++q) {
            const Tap t = xtap[i + q];
            v[q] = lerp_pixels(load4(px + static_cast<uint32_t>(t.i0)), load4(px + static_cast<uint32_t>(t.i1)), t);
        }
        store_planes4(h + i, h + st + i, h + 2 * st + i, v);
    }
    for (; i < s; ++i) {
        const Tap t = xtap[i];
        const V4 v = lerp_pixels(load4(px + static_cast<uint32_t>(t.i0)), load4(px + static_cast<uint32_t>(t.i1)), t);
        h[i] = v[0];
        h[st + i] = v[1];
        h[2 * st + i] = v[2];
    }
}

template <typename OutT>
__attribute__((always_inline)) inline void vertical_portable(const RowOut<OutT>& r) {
    const RowOut<OutT> l = r;  // locals (see horizontal_portable)
    for (int c = 0; c < 3; ++c) {
        const int32_t plane = l.src_c[c] * l.stride;
        blend_row(l.h0 + plane, l.h1 + plane, l.ty, l.scale, l.mean[c], l.std[c], l.o[c], l.s);
    }
}

inline void horizontal_portable_fn(const RowIn& r) { horizontal_portable(r); }
template <typename OutT>
void vertical_portable_fn(const RowOut<OutT>& r) {
    vertical_portable(r);
}

#if RE_X86_SIMD

// ---- AVX2 + F16C ----

__attribute__((target("avx2,f16c"))) inline void horizontal_avx2_fn(const RowIn& r) { horizontal_portable(r); }

__attribute__((target("avx2,f16c"))) inline void vertical_avx2_f32(const RowOut<float>& r) {
    const __m256 w0 = _mm256_set1_ps(r.ty.w0), w1 = _mm256_set1_ps(r.ty.w1), sc = _mm256_set1_ps(r.scale);
    for (int c = 0; c < 3; ++c) {
        const float* a = r.h0 + r.src_c[c] * r.stride;
        const float* b = r.h1 + r.src_c[c] * r.stride;
        float* o = r.o[c];
        const __m256 mu = _mm256_set1_ps(r.mean[c]), sd = _mm256_set1_ps(r.std[c]);
        const bool divide = r.std[c] != 1.0f;  // as normalise(): dividing by 1 is exact and skipped
        int32_t i = 0;
        for (; i + 8 <= r.s; i += 8) {
            __m256 v = _mm256_add_ps(_mm256_mul_ps(w0, _mm256_loadu_ps(a + i)), _mm256_mul_ps(w1, _mm256_loadu_ps(b + i)));
            v = _mm256_sub_ps(_mm256_mul_ps(v, sc), mu);
            if (divide) v = _mm256_div_ps(v, sd);
            _mm256_storeu_ps(o + i, v);
        }
        for (; i < r.s; ++i) o[i] = normalise(lerp_col(a[i], b[i], r.ty), r.scale, r.mean[c], r.std[c]);
    }
}

// F16C's vcvtps2ph with round-to-nearest-even equals float_to_half_bits for every non-NaN float (ctest sweep);
// the values here are never NaN (finite inputs, finite scale/mean, std > 0).
__attribute__((target("avx2,f16c"))) inline void vertical_avx2_f16(const RowOut<uint16_t>& r) {
    const __m256 w0 = _mm256_set1_ps(r.ty.w0), w1 = _mm256_set1_ps(r.ty.w1), sc = _mm256_set1_ps(r.scale);
    for (int c = 0; c < 3; ++c) {
        const float* a = r.h0 + r.src_c[c] * r.stride;
        const float* b = r.h1 + r.src_c[c] * r.stride;
        uint16_t* o = r.o[c];
        const __m256 mu = _mm256_set1_ps(r.mean[c]), sd = _mm256_set1_ps(r.std[c]);
        const bool divide = r.std[c] != 1.0f;
        int32_t i = 0;
        for (; i + 8 <= r.s; i += 8) {
            __m256 v = _mm256_add_ps(_mm256_mul_ps(w0, _mm256_loadu_ps(a + i)), _mm256_mul_ps(w1, _mm256_loadu_ps(b + i)));
            v = _mm256_sub_ps(_mm256_mul_ps(v, sc), mu);
            if (divide) v = _mm256_div_ps(v, sd);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
        }
        for (; i < r.s; ++i) o[i] = float_to_half_bits(normalise(lerp_col(a[i], b[i], r.ty), r.scale, r.mean[c], r.std[c]));
    }
}

// ---- AVX-512F ----

// GCC 12's avx512fintrin.h triggers -Wmaybe-uninitialized false positives (_mm512_undefined_*) once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Source row -> 3 float planes (plane l = channel l), 16 pixels per step: 3 x 16 bytes -> 3 x 16 floats
// (interleaved), then two two-register permutes per plane.
__attribute__((target("avx512f"))) inline void split_planes_avx512(const uint8_t* src, int32_t npx, float* p0,
                                                                   float* p1, float* p2) {
    // Plane c takes interleaved element 3k + c: first from A|B (elements 0..31), then the rest from C.
    alignas(64) int32_t ab[3][16], abc[3][16];
    for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 16; ++k) {
            const int e = 3 * k + c;
            ab[c][k] = e < 32 ? e : 0;
            abc[c][k] = e < 32 ? k : 16 + (e - 32);
        }
    const __m512i ab0 = _mm512_load_si512(ab[0]), ab1 = _mm512_load_si512(ab[1]), ab2 = _mm512_load_si512(ab[2]);
    const __m512i c0 = _mm512_load_si512(abc[0]), c1 = _mm512_load_si512(abc[1]), c2 = _mm512_load_si512(abc[2]);
    int32_t x = 0;
    for (; x + 16 <= npx; x += 16) {
        const uint8_t* s = src + 3 * x;
        const __m512 a = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s))));
        const __m512 b = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16))));
        const __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32))));
        _mm512_storeu_ps(p0 + x, _mm512_permutex2var_ps(_mm512_permutex2var_ps(a, ab0, b), c0, c));
        _mm512_storeu_ps(p1 + x, _mm512_permutex2var_ps(_mm512_permutex2var_ps(a, ab1, b), c1, c));
        _mm512_storeu_ps(p2 + x, _mm512_permutex2var_ps(_mm512_permutex2var_ps(a, ab2, b), c2, c));
    }
    for (; x < npx; ++x) {
        p0[x] = static_cast<float>(src[3 * x]);
        p1[x] = static_cast<float>(src[3 * x + 1]);
        p2[x] = static_cast<float>(src[3 * x + 2]);
    }
}

__attribute__((target("avx512f"))) inline void horizontal_avx512_fn(const RowIn& r) {
    // locals: the intrinsic stores may alias anything (see horizontal_portable)
    float* const p0 = r.scratch;
    float* const p1 = p0 + r.scratch_stride;
    float* const p2 = p1 + r.scratch_stride;
    const PermBlock* const blocks = r.blocks;
    const int32_t nblocks = r.nblocks, st = r.stride;
    float* const h0 = r.h;
    float* const h1 = h0 + st;
    float* const h2 = h1 + st;
    split_planes_avx512(r.src, r.npx, p0, p1, p2);
    for (int32_t b = 0; b < nblocks; ++b) {
        const PermBlock& k = blocks[b];
        const int32_t o = b * kBlock;
        if (k.fits) {
            const __m512i i0 = _mm512_loadu_si512(k.idx0), i1 = _mm512_loadu_si512(k.idx1);
            const __m512 w0 = _mm512_loadu_ps(k.w0), w1 = _mm512_loadu_ps(k.w1);
            const int32_t base = k.base;
            const __m512 lo0 = _mm512_loadu_ps(p0 + base), hi0 = _mm512_loadu_ps(p0 + base + kBlock);
            const __m512 lo1 = _mm512_loadu_ps(p1 + base), hi1 = _mm512_loadu_ps(p1 + base + kBlock);
            const __m512 lo2 = _mm512_loadu_ps(p2 + base), hi2 = _mm512_loadu_ps(p2 + base + kBlock);
            _mm512_storeu_ps(h0 + o, _mm512_add_ps(_mm512_mul_ps(w0, _mm512_permutex2var_ps(lo0, i0, hi0)),
                                                   _mm512_mul_ps(w1, _mm512_permutex2var_ps(lo0, i1, hi0))));
            _mm512_storeu_ps(h1 + o, _mm512_add_ps(_mm512_mul_ps(w0, _mm512_permutex2var_ps(lo1, i0, hi1)),
                                                   _mm512_mul_ps(w1, _mm512_permutex2var_ps(lo1, i1, hi1))));
            _mm512_storeu_ps(h2 + o, _mm512_add_ps(_mm512_mul_ps(w0, _mm512_permutex2var_ps(lo2, i0, hi2)),
                                                   _mm512_mul_ps(w1, _mm512_permutex2var_ps(lo2, i1, hi2))));
        } else {
            for (int32_t l = 0; l < kBlock; ++l) {
                h0[o + l] = k.w0[l] * p0[k.idx0[l]] + k.w1[l] * p0[k.idx1[l]];
                h1[o + l] = k.w0[l] * p1[k.idx0[l]] + k.w1[l] * p1[k.idx1[l]];
                h2[o + l] = k.w0[l] * p2[k.idx0[l]] + k.w1[l] * p2[k.idx1[l]];
            }
        }
    }
}

// normalise(lerp_col(a[l], b[l])) for 16 lanes.
__attribute__((target("avx512f"), always_inline)) inline __m512 blend16(const float* a, const float* b, __m512 w0,
                                                                         __m512 w1, __m512 sc, __m512 mu, __m512 sd,
                                                                         bool divide) {
    const __m512 v = _mm512_sub_ps(_mm512_mul_ps(_mm512_add_ps(_mm512_mul_ps(w0, _mm512_loadu_ps(a)),
                                                               _mm512_mul_ps(w1, _mm512_loadu_ps(b))), sc), mu);
    return divide ? _mm512_div_ps(v, sd) : v;
}

template <typename OutT>
__attribute__((target("avx512f"))) inline void vertical_avx512_fn(const RowOut<OutT>& row) {
    const RowOut<OutT> r = row;  // locals (see horizontal_avx512_fn)
    const __m512 w0 = _mm512_set1_ps(r.ty.w0), w1 = _mm512_set1_ps(r.ty.w1), sc = _mm512_set1_ps(r.scale);
    for (int c = 0; c < 3; ++c) {
        const float* a = r.h0 + r.src_c[c] * r.stride;
        const float* b = r.h1 + r.src_c[c] * r.stride;
        OutT* o = r.o[c];
        const __m512 mu = _mm512_set1_ps(r.mean[c]), sd = _mm512_set1_ps(r.std[c]);
        const bool divide = r.std[c] != 1.0f;  // as normalise(): dividing by 1 is exact and skipped
        // Block k holds columns kBlock * k - phase ... (+15); the stores mask the lanes outside 0..s-1 (masked-out
        // lanes are never written, whatever the address).
        for (int32_t k = 0; k < r.nblocks; ++k) {
            const int32_t col = kBlock * k - r.phase;
            const __m512 v = blend16(a + kBlock * k, b + kBlock * k, w0, w1, sc, mu, sd, divide);
            uint32_t mask = 0xffffu;
            if (col < 0) mask &= 0xffffu << static_cast<uint32_t>(-col);
            if (r.s - col < kBlock) mask &= (1u << static_cast<uint32_t>(r.s - col)) - 1u;
            if (sizeof(OutT) == 4) {
                const uintptr_t dst = reinterpret_cast<uintptr_t>(o) + 4 * static_cast<intptr_t>(col);
                if (k == 0 && col < 0 && r.carry_in) {  // the previous row's last columns complete the line
                    const __m512 line = _mm512_mask_blend_ps(static_cast<__mmask16>(mask),
                                                             _mm512_loadu_ps(r.carry + kBlock * c), v);
                    if (r.stream && dst % 64 == 0) {
                        _mm512_stream_ps(reinterpret_cast<float*>(dst), line);
                    } else {
                        _mm512_storeu_ps(reinterpret_cast<float*>(dst), line);
                    }
                } else if (k == r.nblocks - 1 && mask != 0xffffu && col > 0 && r.carry_out) {
                    _mm512_storeu_ps(r.carry + kBlock * c, v);
                } else if (mask != 0xffffu) {
                    _mm512_mask_storeu_ps(reinterpret_cast<float*>(dst), static_cast<__mmask16>(mask), v);
                } else if (r.stream && dst % 64 == 0) {
                    _mm512_stream_ps(reinterpret_cast<float*>(dst), v);
                } else {
                    _mm512_storeu_ps(reinterpret_cast<float*>(dst), v);
                }
            } else {  // FP16 runs at phase 0
                // vcvtps2ph, round to nearest even: equals float_to_half_bits on non-NaN values (see the AVX2 one)
                const __m256i hv = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
                uint16_t* oh = reinterpret_cast<uint16_t*>(o) + col;
                if (mask == 0xffffu) {
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(oh), hv);
                } else {
                    alignas(32) uint16_t tmp[kBlock];
                    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), hv);
                    memcpy(oh, tmp, sizeof(uint16_t) * static_cast<size_t>(r.s - col));
                }
            }
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Orders the non-temporal stores of the calling thread before what follows (the end of its share of a call).
inline void store_fence() { _mm_sfence(); }

#else
inline void store_fence() {}
#endif  // RE_X86_SIMD

// The pair of passes for one instruction set and output type.
template <typename OutT>
struct BoxRowFns {
    void (*horizontal)(const RowIn&);
    void (*vertical)(const RowOut<OutT>&);
    bool blocks;  // the horizontal pass reads RowIn::blocks and the 3-plane scratch
};

inline BoxRowFns<float> box_row_fns(CpuIsa isa, float*) {
#if RE_X86_SIMD
    if (isa == CpuIsa::kAvx512) return {horizontal_avx512_fn, vertical_avx512_fn<float>, true};
    if (isa == CpuIsa::kAvx2) return {horizontal_avx2_fn, vertical_avx2_f32, false};
#endif
    (void)isa;
    return {horizontal_portable_fn, vertical_portable_fn<float>, false};
}

inline BoxRowFns<uint16_t> box_row_fns(CpuIsa isa, uint16_t*) {
#if RE_X86_SIMD
    if (isa == CpuIsa::kAvx512) return {horizontal_avx512_fn, vertical_avx512_fn<uint16_t>, true};
    if (isa == CpuIsa::kAvx2) return {horizontal_avx2_fn, vertical_avx2_f16, false};
#endif
    (void)isa;
    return {horizontal_portable_fn, vertical_portable_fn<uint16_t>, false};
}

}  // namespace ran_edge

#endif  // RAN_EDGE_CPU_BOX_ROWS_H
