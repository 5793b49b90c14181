// Minimal test helpers for the plain C++ tests (no test framework download).
#ifndef RAN_EDGE_TEST_UTIL_H
#define RAN_EDGE_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <string>
#include <vector>

#include "region_batch.h"

namespace re_test {

inline int& failures() {
    static int count = 0;
    return count;
}

#define RE_CHECK(cond)                                                             \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++re_test::failures();                                                 \
        }                                                                          \
    } while (0)

#define RE_CHECK_NEAR(a, b, tol)                                                                        \
    do {                                                                                                \
        const double va_ = (a), vb_ = (b);                                                              \
        if (!(fabs(va_ - vb_) <= (tol))) {                                                              \
            fprintf(stderr, "%s:%d: %s = %.9g, %s = %.9g, |diff| > %g\n", __FILE__, __LINE__, #a, va_, #b, vb_, \
                    (double)(tol));                                                                     \
            ++re_test::failures();                                                                      \
        }                                                                                               \
    } while (0)

// Deterministic pseudo-random bytes (LCG), so tests need no <random> seeding discussions.
inline std::vector<uint8_t> random_frame(int32_t h, int32_t w, uint32_t seed) {
    std::vector<uint8_t> f(static_cast<size_t>(h) * w * 3);
    uint32_t x = seed * 2654435761u + 12345u;
    for (uint8_t& v : f) {
        x = x * 1664525u + 1013904223u;
        v = static_cast<uint8_t>(x >> 24);
    }
    return f;
}

inline re_output_spec plain_spec(int32_t size, int32_t dtype = RE_DTYPE_FLOAT32) {
    re_output_spec s{};
    s.size = size;
    s.dtype = dtype;
    s.frame_order = RE_ORDER_BGR;
    s.out_order = RE_ORDER_BGR;
    s.scale = 1.0f;
    for (int c = 0; c < 3; ++c) {
        s.mean[c] = 0.0f;
        s.std[c] = 1.0f;
    }
    return s;
}

inline re_geometry boxes_geometry(const std::vector<double>& faces, const std::vector<double>& regions) {
    re_geometry g{};
    g.kind = RE_GEOMETRY_BOXES;
    g.n = static_cast<int32_t>(faces.size() / 4);
    g.faces = faces.empty() ? nullptr : faces.data();
    g.k = static_cast<int32_t>(regions.size() / 4);
    g.regions = regions.data();
    return g;
}

// The ferplus6 preset of ran_edge/presets.py.
inline std::vector<double> ferplus6() {
    return {0.0, 0.0, 0.75, 0.75, 0.25, 0.0, 1.0, 0.75, 0.125, 0.25, 0.875, 1.0,
            0.05, 0.05, 0.95, 0.95, 0.075, 0.075, 0.925, 0.925, 0.0, 0.0, 1.0, 1.0};
}

inline int report(const char* name) {
    if (failures() == 0) {
        printf("%s: all checks passed\n", name);
        return 0;
    }
    printf("%s: %d check(s) failed\n", name, failures());
    return 1;
}

}  // namespace re_test

#endif  // RAN_EDGE_TEST_UTIL_H
