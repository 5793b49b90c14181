// The sampling math of the fused region-batch kernel, written once for the CPU reference and the CUDA kernel.
//
// Convention (the same as ran_edge/preprocess.py, see csrc/README.md):
//   * pixel i covers [i, i+1); its centre is i + 0.5 (half-pixel centres);
//   * output pixel j of n resampling the source interval [start, end) sits at
//     u = start + (j + 0.5) * ((end - start) / n);
//   * bilinear: linear interpolation between the two nearest pixel centres on each axis, taps past the first or
//     last pixel clamp to that pixel (edge replicate);
//   * a sample point outside the frame (u < 0 or u > size on either axis) takes the raw value 0 (black);
//   * the raw value v then becomes (v * scale - mean[c]) / std[c] in the output colour order.
//
// Coordinates are computed in double (as numpy does); weights and pixel arithmetic are float. Compile with
// -ffp-contract=off (host) and --fmad=false (nvcc) so CPU and GPU round every operation the same way.
#ifndef RAN_EDGE_REGION_BATCH_MATH_H
#define RAN_EDGE_REGION_BATCH_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define RE_HD __host__ __device__ __forceinline__
#else
#define RE_HD inline
#endif

namespace ran_edge {

// Two interpolation taps on one axis. Both weights are 0 when the sample point is outside the source.
struct Tap {
    int32_t i0;
    int32_t i1;
    float w0;
    float w1;
};

// True for finite doubles (no <cmath> dependency, works the same on host and device).
RE_HD bool is_finite(double v) { return v - v == 0.0; }

// Source coordinate of output pixel j of n, resampling [start, end).
RE_HD double axis_sample(double start, double end, int32_t j, int32_t n) {
    return start + (static_cast<double>(j) + 0.5) * ((end - start) / static_cast<double>(n));
}

// Taps for sample coordinate u on an axis of len pixels (half-pixel centres, edge replicate, fill outside).
RE_HD Tap make_tap(double u, int32_t len) {
    Tap t{0, 0, 0.0f, 0.0f};
    const double size = static_cast<double>(len);
    if (!(u >= 0.0 && u <= size)) {  // outside the source, or NaN
        return t;
    }
    const double p = u - 0.5;
    const double f = floor(p);  // in [-1, len - 1]
    const double frac = p - f;
    const double last = size - 1.0;
    const double a = f < 0.0 ? 0.0 : f;
    const double b = f + 1.0 > last ? last : f + 1.0;
    t.i0 = static_cast<int32_t>(a);
    t.i1 = static_cast<int32_t>(b);
    t.w0 = static_cast<float>(1.0 - frac);
    t.w1 = static_cast<float>(frac);
    return t;
}

// Taps of output pixel j along one axis of a region: face box [b0, b1) in frame pixels, region [r0, r1) as
// fractions of the face, n output pixels, len source pixels. Same operation order as resample_matrix().
RE_HD Tap box_axis_tap(double b0, double b1, double r0, double r1, int32_t j, int32_t n, int32_t len) {
    const double extent = b1 - b0;
    return make_tap(axis_sample(b0 + r0 * extent, b0 + r1 * extent, j, n), len);
}

// A face given as a 2x3 affine a = [a00 a01 a02; a10 a11 a12] from face-unit coordinates (fx, fy) in [0,1]^2 to
// frame pixels: X = a00*fx + a01*fy + a02, Y = a10*fx + a11*fy + a12. A box (x0,y0,x1,y1) is the affine
// [x1-x0, 0, x0; 0, y1-y0, y0]. The sums are split into a column part (depends on fx only) and a row part (fy
// only), so each is computed once per output column / row; X = col_x + row_x.
struct AffineParts {
    double x;
    double y;
};

RE_HD AffineParts affine_col(const double a[6], double fx) { return AffineParts{a[0] * fx, a[3] * fx}; }

RE_HD AffineParts affine_row(const double a[6], double fy) { return AffineParts{a[1] * fy + a[2], a[4] * fy + a[5]}; }

// Validity of a face: a box must be finite with x1 > x0 and y1 > y0; an affine finite and not degenerate.
RE_HD bool box_is_valid(double x0, double y0, double x1, double y1) {
    return is_finite(x0) && is_finite(y0) && is_finite(x1) && is_finite(y1) && x1 > x0 && y1 > y0 &&
           is_finite(x1 - x0) && is_finite(y1 - y0);
}

RE_HD bool affine_is_valid(const double a[6]) {
    for (int i = 0; i < 6; ++i) {
        if (!is_finite(a[i])) {
            return false;
        }
    }
    const double det = a[0] * a[4] - a[1] * a[3];
    return det != 0.0 && is_finite(det);
}

// Horizontal then vertical interpolation; `row` points at a frame row, pixels are 3 interleaved channels.
template <typename SrcT>
RE_HD float lerp_row(const SrcT* row, Tap tx, int32_t channel) {
    return tx.w0 * static_cast<float>(row[tx.i0 * 3 + channel]) + tx.w1 * static_cast<float>(row[tx.i1 * 3 + channel]);
}

RE_HD float lerp_col(float h0, float h1, Tap ty) { return ty.w0 * h0 + ty.w1 * h1; }

// Pillow's clip8 (Resample.c, PRECISION_BITS = 22) of a pass's sum that already holds the rounding half 2^21:
// an arithmetic shift (floor), clipped to 0..255.
RE_HD int32_t pillow_clip8(int32_t acc) {
    const int32_t v = acc >> 22;
    return v < 0 ? 0 : (v > 255 ? 255 : v);
}
constexpr int32_t kPillowHalf = 1 << 21;

// Raw value (0..255 units) to model input, as ran_edge.preprocess._normalise: (v * scale - mean) / std. Dividing
// by 1 is exact in IEEE arithmetic, so the division is skipped for std == 1 (the official RAN preprocessing) with
// bit-identical results.
RE_HD float normalise(float v, float scale, float mean, float std) {
    const float centred = v * scale - mean;
    return std == 1.0f ? centred : centred / std;
}

// float -> IEEE half bits, round to nearest even (what numpy's astype(float16) and __float2half_rn do).
RE_HD uint16_t float_to_half_bits(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {  // inf or NaN (quiet)
        return static_cast<uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x0200u : 0u));
    }
    if (ax >= 0x477ff000u) {  // >= 65520 rounds to inf
        return static_cast<uint16_t>(sign | 0x7c00u);
    }
    if (ax < 0x38800000u) {    // below the smallest normal half (2^-14): subnormal or zero
        if (ax < 0x33000000u) {  // below 2^-25: rounds to zero
            return static_cast<uint16_t>(sign);
        }
        const uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126u - (ax >> 23);  // 14..24
        uint32_t h = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1u);
        const uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (h & 1u))) {
            ++h;
        }
        return static_cast<uint16_t>(sign | h);
    }
    uint32_t h = (ax - 0x38000000u) >> 13;  // rebias exponent 127 -> 15
    const uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) {
        ++h;
    }
    return static_cast<uint16_t>(sign | h);
}

RE_HD void store_value(float* out, int64_t index, float v) { out[index] = v; }

RE_HD void store_value(uint16_t* out, int64_t index, float v) { out[index] = float_to_half_bits(v); }

}  // namespace ran_edge

#endif  // RAN_EDGE_REGION_BATCH_MATH_H
