// Input checks shared by every host entry point (CPU reference, CUDA convenience call, TensorRT plugins).
#include <stdio.h>

#include <string>

#include "region_batch_impl.h"
#include "region_batch_math.h"

namespace ran_edge {
namespace {

std::string fmt(const char* format, double a = 0, double b = 0, double c = 0, double d = 0, double e = 0) {
    char buf[512];
    snprintf(buf, sizeof(buf), format, a, b, c, d, e);
    return std::string(buf);
}

bool valid_order(int32_t order) { return order == RE_ORDER_BGR || order == RE_ORDER_RGB; }

}  // namespace

Status check_frame(int32_t height, int32_t width, int64_t pitch, int64_t pixel_bytes) {
    if (height < 1 || width < 1) {
        return Status::error(RE_ERR_FRAME, fmt("frame: got %.0fx%.0f pixels, expected height and width >= 1",
                                               height, width));
    }
    if (pitch < static_cast<int64_t>(width) * 3 * pixel_bytes) {
        return Status::error(RE_ERR_FRAME, fmt("frame: row pitch %.0f bytes is smaller than width*3*%.0f = %.0f bytes",
                                               static_cast<double>(pitch), static_cast<double>(pixel_bytes),
                                               static_cast<double>(width) * 3.0 * static_cast<double>(pixel_bytes)));
    }
    return Status{};
}

Status check_spec(const re_output_spec& spec) {
    if (spec.size < 1 || spec.size > RE_MAX_SIZE) {
        return Status::error(RE_ERR_PARAM, fmt("size: got %.0f, expected 1..%.0f", spec.size, RE_MAX_SIZE));
    }
    if (spec.dtype != RE_DTYPE_FLOAT32 && spec.dtype != RE_DTYPE_FLOAT16) {
        return Status::error(RE_ERR_PARAM, fmt("dtype: got %.0f, expected RE_DTYPE_FLOAT32 (0) or RE_DTYPE_FLOAT16 (1)",
                                               spec.dtype));
    }
    if (!valid_order(spec.frame_order) || !valid_order(spec.out_order)) {
        return Status::error(RE_ERR_PARAM, fmt("colour order: got frame %.0f, output %.0f, expected RE_ORDER_BGR (0) "
                                               "or RE_ORDER_RGB (1)", spec.frame_order, spec.out_order));
    }
    if (!is_finite(spec.scale)) {
        return Status::error(RE_ERR_PARAM, "scale: got a non-finite value, expected a finite multiplier such as 1/255");
    }
    for (int c = 0; c < 3; ++c) {
        if (!is_finite(spec.mean[c]) || !is_finite(spec.std[c]) || !(spec.std[c] > 0.0f)) {
            return Status::error(RE_ERR_PARAM, fmt("mean/std channel %.0f: got mean %g, std %g, expected finite "
                                                   "values with std > 0", c, spec.mean[c], spec.std[c]));
        }
    }
    return Status{};
}

Status check_regions(const re_geometry& geometry, RegionTable* table) {
    if (geometry.kind != RE_GEOMETRY_BOXES && geometry.kind != RE_GEOMETRY_AFFINES) {
        return Status::error(RE_ERR_PARAM, fmt("geometry kind: got %.0f, expected RE_GEOMETRY_BOXES (0) or "
                                               "RE_GEOMETRY_AFFINES (1)", geometry.kind));
    }
    if (geometry.n < 0) {
        return Status::error(RE_ERR_BOX, fmt("faces: got n = %.0f, expected n >= 0", geometry.n));
    }
    if (geometry.k < 1 || geometry.k > RE_MAX_REGIONS) {
        return Status::error(RE_ERR_PRESET, fmt("regions: got k = %.0f, expected 1..%.0f", geometry.k, RE_MAX_REGIONS));
    }
    if (geometry.regions == nullptr) {
        return Status::error(RE_ERR_NULL_POINTER, "regions: got NULL, expected k*4 fractions x0,y0,x1,y1");
    }
    table->k = geometry.k;
    for (int32_t r = 0; r < geometry.k; ++r) {
        const double* b = geometry.regions + 4 * r;
        bool ok = true;
        for (int i = 0; i < 4; ++i) {
            ok = ok && is_finite(b[i]) && b[i] >= 0.0 && b[i] <= 1.0;
        }
        if (!ok || !(b[2] > b[0] && b[3] > b[1])) {
            return Status::error(RE_ERR_PRESET, fmt("region %.0f: got [%g, %g, %g, %g], expected fractions of the face "
                                                    "with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1",
                                                    r, b[0], b[1], b[2], b[3]));
        }
        for (int i = 0; i < 4; ++i) {
            table->box[r][i] = b[i];
        }
    }
    return Status{};
}

Status check_faces(const re_geometry& geometry) {
    if (geometry.n > 0 && geometry.faces == nullptr) {
        return Status::error(RE_ERR_NULL_POINTER, "faces: got NULL with n > 0, expected n boxes or affines");
    }
    for (int32_t i = 0; i < geometry.n; ++i) {
        if (geometry.kind == RE_GEOMETRY_BOXES) {
            const double* b = geometry.faces + 4 * i;
            if (!box_is_valid(b[0], b[1], b[2], b[3])) {
                const bool finite = is_finite(b[0]) && is_finite(b[1]) && is_finite(b[2]) && is_finite(b[3]);
                return Status::error(RE_ERR_BOX, fmt(finite ? "box %.0f: got [%g, %g, %g, %g], which is empty or "
                                                              "inverted; expected x1 > x0 and y1 > y0 (pixels)"
                                                            : "box %.0f: got [%g, %g, %g, %g], expected finite "
                                                              "pixel coordinates (no NaN or Inf)",
                                                     i, b[0], b[1], b[2], b[3]));
            }
        } else if (!affine_is_valid(geometry.faces + 6 * i)) {
            return Status::error(RE_ERR_BOX, fmt("affine %.0f: got a non-finite or degenerate 2x3 matrix "
                                                 "(determinant 0), expected an invertible face-to-frame map", i));
        }
    }
    return Status{};
}

Status check_output(int32_t n, int32_t k, const re_output_spec& spec, int64_t out_bytes) {
    const int64_t needed = re_output_bytes(n, k, spec.size, spec.dtype);
    if (needed < 0) {
        return Status::error(RE_ERR_OUTPUT, fmt("output: %.0f faces x %.0f regions x 3 x %.0f x %.0f does not fit in "
                                                "memory indices", n, k, spec.size, spec.size));
    }
    if (out_bytes >= 0 && out_bytes < needed) {
        return Status::error(RE_ERR_OUTPUT, fmt("output: buffer has %.0f bytes, expected at least %.0f",
                                                static_cast<double>(out_bytes), static_cast<double>(needed)));
    }
    return Status{};
}

Status check_host_call(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                       const re_geometry* geometry, const re_output_spec* spec, const void* out, int64_t out_bytes,
                       RegionTable* table) {
    if (geometry == nullptr || spec == nullptr) {
        return Status::error(RE_ERR_NULL_POINTER, "geometry/spec: got NULL, expected pointers to the structs");
    }
    Status s = check_spec(*spec);
    if (s.ok()) s = check_regions(*geometry, table);
    if (s.ok()) s = check_output(geometry->n, geometry->k, *spec, out_bytes);
    if (!s.ok() || geometry->n == 0) {
        return s;  // nothing to read or write for n == 0
    }
    if (frame == nullptr || out == nullptr) {
        return Status::error(RE_ERR_NULL_POINTER, "frame/out: got NULL with n > 0, expected buffers");
    }
    s = check_frame(height, width, pitch, 1);
    if (s.ok()) s = check_faces(*geometry);
    return s;
}

Status check_tap_tables(const re_tap_tables* tables, int32_t height, int32_t width, int32_t size) {
    if (tables->items < 0) {
        return Status::error(RE_ERR_BOX, fmt("tap tables: got %.0f items, expected >= 0", tables->items));
    }
    if (tables->x_taps < 1 || tables->x_taps > RE_MAX_TAPS || tables->y_taps < 1 || tables->y_taps > RE_MAX_TAPS) {
        return Status::error(RE_ERR_PARAM, fmt("tap tables: got %.0f x taps and %.0f y taps, expected 1..%.0f",
                                               tables->x_taps, tables->y_taps, RE_MAX_TAPS));
    }
    if (tables->arithmetic != RE_ARITH_FLOAT && tables->arithmetic != RE_ARITH_PILLOW_U8) {
        return Status::error(RE_ERR_PARAM, fmt("tap tables: got arithmetic %.0f, expected %.0f (float) or %.0f (Pillow "
                                               "uint8)", tables->arithmetic, RE_ARITH_FLOAT, RE_ARITH_PILLOW_U8));
    }
    if (tables->items == 0) {
        return Status{};
    }
    if (!tables->x_index || !tables->x_weight || !tables->y_index || !tables->y_weight) {
        return Status::error(RE_ERR_NULL_POINTER, "tap tables: got a NULL index or weight array, expected all four");
    }
    const int64_t per_axis = static_cast<int64_t>(tables->items) * size;
    for (int axis = 0; axis < 2; ++axis) {
        const int64_t count = per_axis * (axis == 0 ? tables->x_taps : tables->y_taps);
        const int32_t* index = axis == 0 ? tables->x_index : tables->y_index;
        const float* weight = axis == 0 ? tables->x_weight : tables->y_weight;
        const int32_t limit = axis == 0 ? width : height;
        for (int64_t i = 0; i < count; ++i) {
            if (index[i] < 0 || index[i] >= limit || !is_finite(weight[i])) {
                return Status::error(RE_ERR_BOX, std::string("tap tables: ") + (axis == 0 ? "x" : "y") +
                                                     fmt(" tap %.0f has index %.0f or a non-finite weight, expected an "
                                                         "index in 0..%.0f and a finite weight",
                                                         static_cast<double>(i), index[i], limit - 1));
            }
            // Pillow's fixed-point coefficients: integers below 2^24 (22-bit precision, at most ~1.25 in value).
            if (tables->arithmetic == RE_ARITH_PILLOW_U8 &&
                (weight[i] >= 16777216.0f || weight[i] <= -16777216.0f ||
                 weight[i] != static_cast<float>(static_cast<int32_t>(weight[i])))) {
                return Status::error(RE_ERR_PARAM, std::string("tap tables: ") + (axis == 0 ? "x" : "y") +
                                                       fmt(" tap %.0f has weight %g, expected an integer fixed-point "
                                                           "coefficient below 2^24 (Pillow uint8 arithmetic)",
                                                           static_cast<double>(i), weight[i]));
            }
        }
    }
    return Status{};
}

Status check_taps_host_call(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                            const re_tap_tables* tables, const re_output_spec* spec, const void* out,
                            int64_t out_bytes) {
    if (tables == nullptr || spec == nullptr) {
        return Status::error(RE_ERR_NULL_POINTER, "tables/spec: got NULL, expected pointers to the structs");
    }
    Status s = check_spec(*spec);
    if (s.ok()) s = check_output(tables->items, 1, *spec, out_bytes);
    if (s.ok()) s = check_frame(height, width, pitch, 1);
    if (!s.ok() || tables->items == 0) {
        return s;
    }
    if (frame == nullptr || out == nullptr) {
        return Status::error(RE_ERR_NULL_POINTER, "frame/out: got NULL with items > 0, expected buffers");
    }
    return check_tap_tables(tables, height, width, spec->size);
}

}  // namespace ran_edge

extern "C" RE_API int64_t re_output_bytes(int32_t n, int32_t k, int32_t size, int32_t dtype) {
    if (n < 0 || k < 0 || size < 0 || (dtype != RE_DTYPE_FLOAT32 && dtype != RE_DTYPE_FLOAT16)) {
        return -1;
    }
    const int64_t per_region = 3LL * size * size * (dtype == RE_DTYPE_FLOAT32 ? 4 : 2);
    const int64_t regions = static_cast<int64_t>(n) * k;
    if (regions > 0 && per_region > (INT64_MAX / 4) / regions) {
        return -1;
    }
    return regions * per_region;
}
