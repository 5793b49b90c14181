// AVX2 and AVX-512 versions of the CPU box path's two passes (see cpu_box_rows.h, which includes this file after
// the portable versions). Compiled with per-function target attributes, so the library needs no -m flags and runs
// on any x86-64; cpu_isa() picks the version at run time. On AVX-512 the horizontal pass reads a face's source
// rows split once into 3 uint8 planes (split_u8_avx512, shared by all regions of the face) or, for faces too big
// for that cache, splits the region's part of the row into 3 float planes itself; 16 output columns of a plane are
// then gathered with one two-register permute per tap. Same IEEE operations, same order as the portable code.
#ifndef RAN_EDGE_CPU_BOX_ROWS_X86_H
#define RAN_EDGE_CPU_BOX_ROWS_X86_H
#ifndef RAN_EDGE_CPU_BOX_ROWS_H
#error "include cpu_box_rows.h (this file uses its RowIn, RowOut, PermBlock and kBlock)"
#endif

namespace ran_edge {
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

// Source row -> 3 uint8 planes (plane l = channel l), 16 pixels per step with three byte shuffles per plane.
__attribute__((target("avx512f"))) inline void split_u8_avx512(const uint8_t* src, int32_t npx, uint8_t* q0,
                                                               uint8_t* q1, uint8_t* q2) {
    alignas(16) int8_t m[3][3][16];  // [plane][source vector][k]: byte 3k + plane from vector a, b or c
    for (int c = 0; c < 3; ++c)
        for (int v = 0; v < 3; ++v)
            for (int k = 0; k < 16; ++k) {
                const int e = 3 * k + c - 16 * v;
                m[c][v][k] = static_cast<int8_t>(e >= 0 && e < 16 ? e : -128);
            }
    __m128i mk[3][3];
    for (int c = 0; c < 3; ++c)
        for (int v = 0; v < 3; ++v) mk[c][v] = _mm_load_si128(reinterpret_cast<const __m128i*>(m[c][v]));
    uint8_t* q[3] = {q0, q1, q2};
    int32_t x = 0;
    for (; x + 16 <= npx; x += 16) {
        const uint8_t* s = src + 3 * x;
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
        const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
        for (int l = 0; l < 3; ++l) {
            const __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, mk[l][0]), _mm_shuffle_epi8(b, mk[l][1])),
                                           _mm_shuffle_epi8(c, mk[l][2]));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(q[l] + x), v);
        }
    }
    for (; x < npx; ++x) {
        q0[x] = src[3 * x];
        q1[x] = src[3 * x + 1];
        q2[x] = src[3 * x + 2];
    }
}

// 16 uint8 values from p as floats.
__attribute__((target("avx512f"), always_inline)) inline __m512 load16_u8(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// The blocks of one row from its 3 uint8 planes.
__attribute__((target("avx512f"))) inline void blocks_from_u8_avx512(const RowIn& r) {
    const uint8_t* const q0 = r.u8;
    const uint8_t* const q1 = q0 + r.u8_stride;
    const uint8_t* const q2 = q1 + r.u8_stride;
    const PermBlock* const blocks = r.blocks;
    const int32_t nblocks = r.nblocks, st = r.stride;
    float* const h0 = r.h;
    float* const h1 = h0 + st;
    float* const h2 = h1 + st;
    for (int32_t b = 0; b < nblocks; ++b) {
        const PermBlock& k = blocks[b];
        const int32_t o = b * kBlock;
        if (k.fits) {
            const __m512i i0 = _mm512_loadu_si512(k.idx0), i1 = _mm512_loadu_si512(k.idx1);
            const __m512 w0 = _mm512_loadu_ps(k.w0), w1 = _mm512_loadu_ps(k.w1);
            const int32_t base = k.base;
            const __m512 lo0 = load16_u8(q0 + base), hi0 = load16_u8(q0 + base + kBlock);
            const __m512 lo1 = load16_u8(q1 + base), hi1 = load16_u8(q1 + base + kBlock);
            const __m512 lo2 = load16_u8(q2 + base), hi2 = load16_u8(q2 + base + kBlock);
            _mm512_storeu_ps(h0 + o, _mm512_add_ps(_mm512_mul_ps(w0, _mm512_permutex2var_ps(lo0, i0, hi0)),
                                                   _mm512_mul_ps(w1, _mm512_permutex2var_ps(lo0, i1, hi0))));
            _mm512_storeu_ps(h1 + o, _mm512_add_ps(_mm512_mul_ps(w0, _mm512_permutex2var_ps(lo1, i0, hi1)),
                                                   _mm512_mul_ps(w1, _mm512_permutex2var_ps(lo1, i1, hi1))));
            _mm512_storeu_ps(h2 + o, _mm512_add_ps(_mm512_mul_ps(w0, _mm512_permutex2var_ps(lo2, i0, hi2)),
                                                   _mm512_mul_ps(w1, _mm512_permutex2var_ps(lo2, i1, hi2))));
        } else {
            for (int32_t l = 0; l < kBlock; ++l) {
                h0[o + l] = k.w0[l] * static_cast<float>(q0[k.idx0[l]]) + k.w1[l] * static_cast<float>(q0[k.idx1[l]]);
                h1[o + l] = k.w0[l] * static_cast<float>(q1[k.idx0[l]]) + k.w1[l] * static_cast<float>(q1[k.idx1[l]]);
                h2[o + l] = k.w0[l] * static_cast<float>(q2[k.idx0[l]]) + k.w1[l] * static_cast<float>(q2[k.idx1[l]]);
            }
        }
    }
}

__attribute__((target("avx512f"))) inline void horizontal_avx512_fn(const RowIn& r) {
    if (r.u8 != nullptr) {
        blocks_from_u8_avx512(r);
        return;
    }
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

}  // namespace ran_edge

#endif  // RAN_EDGE_CPU_BOX_ROWS_X86_H
