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
// scalar code; a face's rows are split into uint8 planes once for all its regions when they fit a per-thread
// cache). AVX2: the portable pixel-vector pass (VEX-encoded) and an 8-lane vertical pass with F16C. The x86
// versions are in cpu_box_rows_x86.h.
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
    const uint8_t* u8;   // AVX-512: when not null, the row already split into 3 uint8 planes `u8_stride` apart
    int32_t u8_stride;   // (pixel xlo first, >= 32 readable bytes after pixel xhi); src and scratch are then unused
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

}  // namespace ran_edge

#include "cpu_box_rows_x86.h"  // AVX2 / AVX-512 versions (x86-64 only; empty elsewhere)

namespace ran_edge {

// The pair of passes for one instruction set and output type.
template <typename OutT>
struct BoxRowFns {
    void (*horizontal)(const RowIn&);
    void (*vertical)(const RowOut<OutT>&);
    bool blocks;  // the horizontal pass reads RowIn::blocks and the 3-plane scratch
    // AVX-512: splits a source row into 3 uint8 planes once for all regions of a face (RowIn::u8); else null
    void (*split_u8)(const uint8_t*, int32_t, uint8_t*, uint8_t*, uint8_t*);
};

inline BoxRowFns<float> box_row_fns(CpuIsa isa, float*) {
#if RE_X86_SIMD
    if (isa == CpuIsa::kAvx512) return {horizontal_avx512_fn, vertical_avx512_fn<float>, true, split_u8_avx512};
    if (isa == CpuIsa::kAvx2) return {horizontal_avx2_fn, vertical_avx2_f32, false, nullptr};
#endif
    (void)isa;
    return {horizontal_portable_fn, vertical_portable_fn<float>, false, nullptr};
}

inline BoxRowFns<uint16_t> box_row_fns(CpuIsa isa, uint16_t*) {
#if RE_X86_SIMD
    if (isa == CpuIsa::kAvx512) return {horizontal_avx512_fn, vertical_avx512_fn<uint16_t>, true, split_u8_avx512};
    if (isa == CpuIsa::kAvx2) return {horizontal_avx2_fn, vertical_avx2_f16, false, nullptr};
#endif
    (void)isa;
    return {horizontal_portable_fn, vertical_portable_fn<uint16_t>, false, nullptr};
}

}  // namespace ran_edge

#endif  // RAN_EDGE_CPU_BOX_ROWS_H
