// ctest: the CPU reference against known values, an independent naive implementation of the written
// convention, edge cases (boxes outside the frame, tiny and huge boxes, N = 0) and the error codes.
#include <math.h>
#include <string.h>

#include <string>
#include <vector>

#include "cpu_vec.h"
#include "region_batch.h"
#include "region_batch_math.h"
#include "test_util.h"

using namespace re_test;

namespace {

int32_t run(const std::vector<uint8_t>& frame, int32_t h, int32_t w, const re_geometry& g, const re_output_spec& s,
            std::vector<float>* out, int32_t threads = 0) {
    out->assign(static_cast<size_t>(g.n) * g.k * 3 * s.size * s.size, -12345.0f);
    return re_region_batch_cpu(frame.data(), h, w, int64_t{w} * 3, &g, &s, out->data(),
                               static_cast<int64_t>(out->size() * sizeof(float)), threads);
}

// Independent, deliberately naive transcription of the convention (csrc/README.md), in double.
double naive_axis(double lo, double hi, int j, int n, int len, int* i0, int* i1) {
    const double u = lo + (j + 0.5) * (hi - lo) / n;
    if (u < 0.0 || u > len) return -1.0;
    const double p = u - 0.5;
    const double f = floor(p);
    *i0 = f < 0 ? 0 : static_cast<int>(f);
    *i1 = f + 1 > len - 1 ? len - 1 : static_cast<int>(f + 1);
    return p - f;
}

std::vector<double> naive(const std::vector<uint8_t>& frame, int h, int w, const std::vector<double>& boxes,
                          const std::vector<double>& regions, int s) {
    const int n = static_cast<int>(boxes.size() / 4), k = static_cast<int>(regions.size() / 4);
    std::vector<double> out(static_cast<size_t>(n) * k * 3 * s * s, 0.0);
    for (int f = 0; f < n; ++f)
        for (int r = 0; r < k; ++r) {
            const double* b = &boxes[4 * f];
            const double* q = &regions[4 * r];
            const double bw = b[2] - b[0], bh = b[3] - b[1];
            for (int j = 0; j < s; ++j)
                for (int i = 0; i < s; ++i) {
                    int x0 = 0, x1 = 0, y0 = 0, y1 = 0;
                    const double fx = naive_axis(b[0] + q[0] * bw, b[0] + q[2] * bw, i, s, w, &x0, &x1);
                    const double fy = naive_axis(b[1] + q[1] * bh, b[1] + q[3] * bh, j, s, h, &y0, &y1);
                    for (int c = 0; c < 3; ++c) {
                        double v = 0.0;
                        if (fx >= 0.0 && fy >= 0.0) {
                            auto px = [&](int y, int x) { return static_cast<double>(frame[(y * w + x) * 3 + c]); };
                            v = (1 - fy) * ((1 - fx) * px(y0, x0) + fx * px(y0, x1)) +
                                fy * ((1 - fx) * px(y1, x0) + fx * px(y1, x1));
                        }
                        out[((static_cast<size_t>(f * k + r) * 3 + c) * s + j) * s + i] = v;
                    }
                }
        }
    return out;
}

void test_identity_and_known_values() {
    const std::vector<uint8_t> frame = random_frame(4, 4, 1);
    const std::vector<double> box = {0, 0, 4, 4}, full = {0, 0, 1, 1};
    std::vector<float> out;
    RE_CHECK(run(frame, 4, 4, boxes_geometry(box, full), plain_spec(4), &out) == RE_OK);
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x) RE_CHECK(out[(c * 4 + y) * 4 + x] == frame[(y * 4 + x) * 3 + c]);

    // 2x upsampling of the row [0, 255]: half-pixel centres 0.25, 0.75, 1.25, 1.75 -> edge, 1/4, 3/4, edge.
    std::vector<uint8_t> ramp(2 * 2 * 3, 0);
    for (int y = 0; y < 2; ++y) ramp[(y * 2 + 1) * 3 + 0] = 255;
    RE_CHECK(run(ramp, 2, 2, boxes_geometry({0, 0, 2, 2}, full), plain_spec(4), &out) == RE_OK);
    const float expect[4] = {0.0f, 63.75f, 191.25f, 255.0f};
    for (int j = 0; j < 4; ++j)
        for (int i = 0; i < 4; ++i) RE_CHECK(out[j * 4 + i] == expect[i]);

    // 2x downsampling averages pixel pairs.
    RE_CHECK(run(frame, 4, 4, boxes_geometry(box, full), plain_spec(2), &out) == RE_OK);
    const double avg = (frame[0] + frame[3] + frame[12] + frame[15]) / 4.0;  // pixels (0,0) (0,1) (1,0) (1,1), c=0
    RE_CHECK_NEAR(out[0], avg, 1e-4);
}

void test_colour_order_and_normalisation() {
    std::vector<uint8_t> px = {10, 20, 30};  // one BGR pixel
    re_output_spec s = plain_spec(2);
    s.out_order = RE_ORDER_RGB;
    s.scale = 1.0f / 255.0f;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; ++c) {
        s.mean[c] = mean[c];
        s.std[c] = stdv[c];
    }
    std::vector<float> out;
    RE_CHECK(run(px, 1, 1, boxes_geometry({0, 0, 1, 1}, {0, 0, 1, 1}), s, &out) == RE_OK);
    const float rgb[3] = {30.0f, 20.0f, 10.0f};
    for (int c = 0; c < 3; ++c) RE_CHECK(out[c * 4] == (rgb[c] * s.scale - mean[c]) / stdv[c]);
    // An RGB frame into an RGB model: no swap.
    s.frame_order = RE_ORDER_RGB;
    RE_CHECK(run(px, 1, 1, boxes_geometry({0, 0, 1, 1}, {0, 0, 1, 1}), s, &out) == RE_OK);
    RE_CHECK(out[0] == (10.0f * s.scale - mean[0]) / stdv[0]);
}

void test_against_naive_reference() {
    const int h = 37, w = 53, s = 19;
    const std::vector<uint8_t> frame = random_frame(h, w, 7);
    const std::vector<double> boxes = {3.25, 4.5, 40.75, 30.0,    // inside
                                       -10.0, -6.5, 20.0, 25.0,   // partly outside (negative coordinates are legal)
                                       45.5, 30.25, 70.0, 52.0,   // partly outside on the far side
                                       10.0, 10.0, 10.5, 11.0};   // sub-pixel box
    const std::vector<double> regions = ferplus6();
    std::vector<float> out;
    RE_CHECK(run(frame, h, w, boxes_geometry(boxes, regions), plain_spec(s), &out) == RE_OK);
    const std::vector<double> ref = naive(frame, h, w, boxes, regions, s);
    double worst = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) worst = fmax(worst, fabs(ref[i] - out[i]));
    RE_CHECK_NEAR(worst, 0.0, 1e-3);  // raw 0..255 units, float vs double rounding only

    // Thread count does not change a single bit.
    std::vector<float> one, many;
    RE_CHECK(run(frame, h, w, boxes_geometry(boxes, regions), plain_spec(s), &one, 1) == RE_OK);
    RE_CHECK(run(frame, h, w, boxes_geometry(boxes, regions), plain_spec(s), &many, 7) == RE_OK);
    RE_CHECK(memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0);
    RE_CHECK(memcmp(one.data(), out.data(), one.size() * sizeof(float)) == 0);
}

void test_row_pitch() {
    const int h = 9, w = 11, pitch = 40;  // rows padded to 40 bytes
    const std::vector<uint8_t> dense = random_frame(h, w, 3);
    std::vector<uint8_t> padded(static_cast<size_t>(h) * pitch, 77);
    for (int y = 0; y < h; ++y) memcpy(&padded[y * pitch], &dense[y * w * 3], w * 3);
    const std::vector<double> boxes = {1.5, 0.5, 9.0, 8.0}, regions = ferplus6();
    const re_geometry g = boxes_geometry(boxes, regions);
    const re_output_spec s = plain_spec(8);
    std::vector<float> a, b(6 * 3 * 64);
    RE_CHECK(run(dense, h, w, g, s, &a) == RE_OK);
    RE_CHECK(re_region_batch_cpu(padded.data(), h, w, pitch, &g, &s, b.data(), b.size() * 4, 0) == RE_OK);
    RE_CHECK(memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void test_outside_tiny_huge() {
    const std::vector<uint8_t> frame = random_frame(4, 4, 5);
    const std::vector<double> full = {0, 0, 1, 1};
    re_output_spec s = plain_spec(4);
    s.scale = 1.0f / 255.0f;
    for (int c = 0; c < 3; ++c) s.mean[c] = s.std[c] = 0.5f;  // fill value becomes (0 - 0.5) / 0.5 = -1
    std::vector<float> out;
    // Left half outside: sample centres at x = -3, -1, 1, 3.
    RE_CHECK(run(frame, 4, 4, boxes_geometry({-4, 0, 4, 4}, full), s, &out) == RE_OK);
    for (int j = 0; j < 4; ++j) RE_CHECK(out[j * 4 + 0] == -1.0f && out[j * 4 + 1] == -1.0f);
    const float mid = (frame[0] + frame[3]) / 2.0f;  // x = 1: halfway between pixels 0 and 1 of row 0
    RE_CHECK_NEAR(out[2], (mid / 255.0f - 0.5f) / 0.5f, 1e-6);
    // Fully outside: every value is the fill value.
    RE_CHECK(run(frame, 4, 4, boxes_geometry({10, 10, 20, 20}, full), s, &out) == RE_OK);
    for (float v : out) RE_CHECK(v == -1.0f);
    // Huge box: samples land far outside the 4x4 frame.
    RE_CHECK(run(frame, 4, 4, boxes_geometry({-1e6, -1e6, 1e6, 1e6}, full), s, &out) == RE_OK);
    for (float v : out) RE_CHECK(v == -1.0f);
    RE_CHECK(run(frame, 4, 4, boxes_geometry({-1e12, -3, 1e12, 7}, full), plain_spec(1), &out) == RE_OK);
    for (float v : out) RE_CHECK(isfinite(v));
    // A 1-pixel box on pixel (1,1): the middle of 3 samples hits its centre exactly.
    RE_CHECK(run(frame, 4, 4, boxes_geometry({1, 1, 2, 2}, full), plain_spec(3), &out) == RE_OK);
    for (int c = 0; c < 3; ++c) RE_CHECK(out[(c * 3 + 1) * 3 + 1] == frame[(1 * 4 + 1) * 3 + c]);
    // Output size 1: the centre of the face.
    RE_CHECK(run(frame, 4, 4, boxes_geometry({0, 0, 4, 4}, full), plain_spec(1), &out) == RE_OK);
    const double centre = (frame[(1 * 4 + 1) * 3] + frame[(1 * 4 + 2) * 3] + frame[(2 * 4 + 1) * 3] +
                           frame[(2 * 4 + 2) * 3]) / 4.0;
    RE_CHECK_NEAR(out[0], centre, 1e-4);
}

void test_affine_faces() {
    const int n = 8;  // powers of two keep the affine and box coordinate arithmetic exact
    const std::vector<uint8_t> frame = random_frame(n, n, 9);
    const std::vector<double> full = {0, 0, 1, 1};
    re_geometry g{};
    g.kind = RE_GEOMETRY_AFFINES;
    g.n = 1;
    g.k = 1;
    g.regions = full.data();
    // Identity-like affine == the box path.
    const double ident[6] = {8, 0, 0, 0, 8, 0};
    g.faces = ident;
    std::vector<float> a, b;
    RE_CHECK(run(frame, n, n, g, plain_spec(n), &a) == RE_OK);
    RE_CHECK(run(frame, n, n, boxes_geometry({0, 0, 8, 8}, full), plain_spec(n), &b) == RE_OK);
    RE_CHECK(memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    // X = 8*fy, Y = 8*fx: the output is the transposed frame.
    const double transpose[6] = {0, 8, 0, 8, 0, 0};
    g.faces = transpose;
    RE_CHECK(run(frame, n, n, g, plain_spec(n), &a) == RE_OK);
    for (int c = 0; c < 3; ++c)
        for (int j = 0; j < n; ++j)
            for (int i = 0; i < n; ++i) RE_CHECK(a[(c * n + j) * n + i] == frame[(i * n + j) * 3 + c]);
    // Degenerate and non-finite affines are errors.
    const double flat[6] = {1, 2, 0, 2, 4, 0};
    g.faces = flat;
    RE_CHECK(run(frame, n, n, g, plain_spec(n), &a) == RE_ERR_BOX);
    const double nan_aff[6] = {1, 0, NAN, 0, 1, 0};
    g.faces = nan_aff;
    RE_CHECK(run(frame, n, n, g, plain_spec(n), &a) == RE_ERR_BOX);
    RE_CHECK(std::string(re_last_error()).find("affine 0") != std::string::npos);
}

void test_empty_batch_and_errors() {
    const std::vector<uint8_t> frame = random_frame(8, 8, 2);
    const std::vector<double> regions = ferplus6();
    const re_output_spec s = plain_spec(4);
    re_geometry g = boxes_geometry({}, regions);
    RE_CHECK(re_region_batch_cpu(nullptr, 0, 0, 0, &g, &s, nullptr, 0, 0) == RE_OK);  // N = 0: nothing to do
    RE_CHECK(re_output_bytes(0, 6, 224, RE_DTYPE_FLOAT32) == 0);
    RE_CHECK(re_output_bytes(4, 6, 224, RE_DTYPE_FLOAT16) == 4LL * 6 * 3 * 224 * 224 * 2);

    std::vector<float> out;
    struct Case {
        std::vector<double> box;
        int32_t code;
        const char* words;
    };
    const Case cases[] = {{{0, 0, NAN, 4}, RE_ERR_BOX, "NaN"},
                          {{0, 0, 4, INFINITY}, RE_ERR_BOX, "finite"},
                          {{5, 0, 1, 4}, RE_ERR_BOX, "inverted"},
                          {{1, 1, 1, 4}, RE_ERR_BOX, "empty"},
                          {{-3, -2, 4, 4}, RE_OK, ""}};
    for (const Case& c : cases) {
        std::vector<double> faces = {0, 0, 8, 8};
        faces.insert(faces.end(), c.box.begin(), c.box.end());
        RE_CHECK(run(frame, 8, 8, boxes_geometry(faces, regions), s, &out) == c.code);
        RE_CHECK(std::string(re_last_error()).find(c.words) != std::string::npos);
        if (c.code != RE_OK) RE_CHECK(std::string(re_last_error()).find("box 1") != std::string::npos);
    }
    const std::vector<double> box = {0, 0, 8, 8};
    g = boxes_geometry(box, regions);
    std::vector<float> buf(6 * 3 * 16);
    const int64_t bytes = static_cast<int64_t>(buf.size() * 4);
    RE_CHECK(re_region_batch_cpu(frame.data(), 8, 8, 24, &g, &s, buf.data(), bytes - 4, 0) == RE_ERR_OUTPUT);
    RE_CHECK(re_region_batch_cpu(frame.data(), 8, 8, 23, &g, &s, buf.data(), bytes, 0) == RE_ERR_FRAME);
    RE_CHECK(re_region_batch_cpu(nullptr, 8, 8, 24, &g, &s, buf.data(), bytes, 0) == RE_ERR_NULL_POINTER);
    RE_CHECK(re_region_batch_cpu(frame.data(), 8, 8, 24, nullptr, &s, buf.data(), bytes, 0) == RE_ERR_NULL_POINTER);
    re_output_spec bad = s;
    bad.size = 0;
    RE_CHECK(re_region_batch_cpu(frame.data(), 8, 8, 24, &g, &bad, buf.data(), bytes, 0) == RE_ERR_PARAM);
    bad = s;
    bad.std[1] = 0.0f;
    RE_CHECK(re_region_batch_cpu(frame.data(), 8, 8, 24, &g, &bad, buf.data(), bytes, 0) == RE_ERR_PARAM);
    bad = s;
    bad.dtype = 7;
    RE_CHECK(re_region_batch_cpu(frame.data(), 8, 8, 24, &g, &bad, buf.data(), bytes, 0) == RE_ERR_PARAM);
    const std::vector<double> outside = {0, 0, 1.5, 1};
    re_geometry bad_regions = boxes_geometry(box, outside);
    RE_CHECK(re_region_batch_cpu(frame.data(), 8, 8, 24, &bad_regions, &s, buf.data(), bytes, 0) == RE_ERR_PRESET);
    RE_CHECK(std::string(re_status_name(RE_ERR_PRESET)) == "RE_ERR_PRESET");
    RE_CHECK(re_abi_version() == RE_ABI_VERSION);
}

void test_half_output() {
    using ran_edge::float_to_half_bits;
    RE_CHECK(float_to_half_bits(1.0f) == 0x3c00);
    RE_CHECK(float_to_half_bits(-2.0f) == 0xc000);
    RE_CHECK(float_to_half_bits(65504.0f) == 0x7bff);
    RE_CHECK(float_to_half_bits(65520.0f) == 0x7c00);  // tie rounds to even = inf
    RE_CHECK(float_to_half_bits(ldexpf(1.0f, -24)) == 0x0001);
    RE_CHECK(float_to_half_bits(ldexpf(1.0f, -25)) == 0x0000);  // tie to even = 0
    RE_CHECK(float_to_half_bits(ldexpf(3.0f, -26)) == 0x0001);
    RE_CHECK(float_to_half_bits(1.0f / 3.0f) == 0x3555);
    RE_CHECK(float_to_half_bits(1.0f + ldexpf(1.0f, -11)) == 0x3c00);                    // tie, even stays
    RE_CHECK(float_to_half_bits(1.0f + 3.0f * ldexpf(1.0f, -11)) == 0x3c02);             // tie, odd rounds up
    // The 4-lane conversion of the CPU fast path equals the scalar one on a sweep of all float bit patterns.
    size_t mismatches = 0;
    for (uint64_t b = 0; b < (1ull << 32); b += 4099) {
        float f[4];
        for (int l = 0; l < 4; ++l) {
            const uint32_t bits = static_cast<uint32_t>(b + l * 1031u);
            memcpy(&f[l], &bits, 4);
        }
        const ran_edge::U4 h = ran_edge::half_bits4(ran_edge::v4(f[0], f[1], f[2], f[3]));
        for (int l = 0; l < 4; ++l) mismatches += h[l] != float_to_half_bits(f[l]);
    }
    RE_CHECK(mismatches == 0);
    const std::vector<uint8_t> frame = random_frame(16, 16, 4);
    const std::vector<double> box = {2, 1, 15, 14}, regions = ferplus6();
    const re_geometry g = boxes_geometry(box, regions);
    re_output_spec s = plain_spec(8, RE_DTYPE_FLOAT16);
    s.scale = 1.0f / 255.0f;
    std::vector<uint16_t> half(6 * 3 * 64);
    std::vector<float> full;
    RE_CHECK(re_region_batch_cpu(frame.data(), 16, 16, 48, &g, &s, half.data(), half.size() * 2, 0) == RE_OK);
    s.dtype = RE_DTYPE_FLOAT32;
    RE_CHECK(run(frame, 16, 16, g, s, &full) == RE_OK);
    for (size_t i = 0; i < full.size(); ++i) RE_CHECK(half[i] == float_to_half_bits(full[i]));
}

}  // namespace

// Tap tables (the "official" crop convention): known answers, pitch, colour swap, errors.
void test_tap_tables() {
    const int32_t h = 6, w = 8, size = 2;
    std::vector<uint8_t> frame(static_cast<size_t>(h) * 32, 0);  // pitch 32 > 3*w
    for (int32_t y = 0; y < h; ++y)
        for (int32_t x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                frame[static_cast<size_t>(y) * 32 + x * 3 + c] = static_cast<uint8_t>(10 * y + x + 100 * c);
    // one item, output 2x2: row j averages frame rows (2j, 2j+1); column x takes frame column 3x+1 (one tap + a
    // padded zero-weight tap).
    const int32_t yi[4] = {0, 1, 2, 3};
    const float yw[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    const int32_t xi[4] = {1, 0, 4, 0};
    const float xw[4] = {1.0f, 0.0f, 1.0f, 0.0f};
    re_tap_tables t{1, 2, 2, xi, xw, yi, yw, RE_ARITH_FLOAT};
    re_output_spec s = plain_spec(size);
    s.out_order = RE_ORDER_RGB;  // frame is BGR: output channel 0 reads source channel 2
    std::vector<float> out(3 * size * size);
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &t, &s, out.data(), out.size() * 4, 1) == RE_OK);
    RE_CHECK_NEAR(out[0], 200 + 5 + 1, 1e-5);   // c=0 (source 2), j=0: rows 0,1 -> 5; x=0 -> column 1
    RE_CHECK_NEAR(out[1], 200 + 5 + 4, 1e-5);   // x=1 -> column 4
    RE_CHECK_NEAR(out[2], 200 + 25 + 1, 1e-5);  // j=1: rows 2,3 -> 25
    RE_CHECK_NEAR(out[8], 0 + 5 + 1, 1e-5);     // c=2 (source 0)
    // errors: index out of range, NaN weight, too many taps, short output, NULL arrays; items = 0 is a no-op
    int32_t bad_xi[4] = {1, 0, 8, 0};
    re_tap_tables b = t;
    b.x_index = bad_xi;
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &b, &s, out.data(), out.size() * 4, 1) == RE_ERR_BOX);
    RE_CHECK(std::string(re_last_error()).find("x tap 2") != std::string::npos);
    float bad_yw[4] = {0.5f, NAN, 0.5f, 0.5f};
    b = t;
    b.y_weight = bad_yw;
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &b, &s, out.data(), out.size() * 4, 1) == RE_ERR_BOX);
    b = t;
    b.x_taps = RE_MAX_TAPS + 1;
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &b, &s, out.data(), out.size() * 4, 1) == RE_ERR_PARAM);
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &t, &s, out.data(), out.size() * 4 - 4, 1) ==
             RE_ERR_OUTPUT);
    b = t;
    b.y_index = nullptr;
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &b, &s, out.data(), out.size() * 4, 1) ==
             RE_ERR_NULL_POINTER);
    b = t;
    b.items = 0;
    RE_CHECK(re_region_batch_taps_cpu(nullptr, h, w, 32, &b, &s, nullptr, 0, 1) == RE_OK);
    // Pillow's uint8 arithmetic: 22-bit integer weights, each pass rounded half up and clipped. Rows 0 and 1 weighted
    // 1/4 and 3/4 give 208.5 in float, 209 with Pillow's rounding; output column 1 takes 1.25 x frame column 7, which
    // overshoots 255 for channel 2 (clipped in the first pass) and is rounded per pass for channel 0.
    const float yw_u8[4] = {1048576.0f, 3145728.0f, 1048576.0f, 3145728.0f};
    const float xw_u8[4] = {4194304.0f, 0.0f, 5242880.0f, 0.0f};
    const int32_t xi_u8[4] = {1, 0, 7, 0};
    re_tap_tables u = t;
    u.arithmetic = RE_ARITH_PILLOW_U8;
    u.y_weight = yw_u8;
    u.x_weight = xw_u8;
    u.x_index = xi_u8;
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &u, &s, out.data(), out.size() * 4, 1) == RE_OK);
    RE_CHECK(out[0] == 209.0f);                 // c=0 (source 2): 0.25 * 201 + 0.75 * 211 = 208.5 -> 209
    RE_CHECK(out[1] == 255.0f);                 // x=1: 1.25 * 207 = 258.75 and 1.25 * 217 -> 255 in the first pass
    RE_CHECK(out[8] == 9.0f);                   // c=2 (source 0): 0.25 * 1 + 0.75 * 11 = 8.5 -> 9
    RE_CHECK(out[9] == 18.0f);                  // 1.25 * 7 -> 9, 1.25 * 17 -> 21; 0.25 * 9 + 0.75 * 21 = 18
    float frac_xw[4] = {4194304.5f, 0.0f, 4194304.0f, 0.0f};
    u.x_weight = frac_xw;
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &u, &s, out.data(), out.size() * 4, 1) == RE_ERR_PARAM);
    u = t;
    u.arithmetic = 7;
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), h, w, 32, &u, &s, out.data(), out.size() * 4, 1) == RE_ERR_PARAM);
}

int main() {
    test_tap_tables();
    test_identity_and_known_values();
    test_colour_order_and_normalisation();
    test_against_naive_reference();
    test_row_pitch();
    test_outside_tiny_huge();
    test_affine_faces();
    test_empty_batch_and_errors();
    test_half_output();
    return report("test_region_batch_cpu");
}
