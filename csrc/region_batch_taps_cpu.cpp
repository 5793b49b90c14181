// CPU reference of the tap-table path (re_region_batch_taps_cpu): separable resampling with weights given per
// output pixel, for crop conventions that are not bilinear boxes (the "official" conventions: whole-pixel boxes and
// Pillow's resize filter; the weights come from ran_edge/crop.py, one definition for every path). "official-uint8"
// (RE_ARITH_PILLOW_U8) runs Pillow's integer arithmetic instead: run_item_u8.
//
// Per item (one region of one face): the vertical taps are applied first, over the frame columns the item's
// horizontal taps read (a float row of that span), then the horizontal taps; as the numpy reference my @ X @ mx^T.
#include <stdint.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include "region_batch_impl.h"
#include "region_batch_math.h"
#include "thread_pool.h"

namespace ran_edge {
namespace {

template <typename OutT>
void run_item(const uint8_t* frame, int64_t pitch, const re_tap_tables& t, const re_output_spec& spec, int64_t item,
              const int src_c[3], std::vector<float>& row, OutT* out) {
    const int32_t size = spec.size;
    const int32_t* xi = t.x_index + item * size * t.x_taps;
    const float* xw = t.x_weight + item * size * t.x_taps;
    // Columns the item reads: taps with a non-zero weight only (padding taps may point anywhere valid).
    int32_t lo = INT32_MAX, hi = -1;
    for (int64_t i = 0; i < static_cast<int64_t>(size) * t.x_taps; ++i) {
        if (xw[i] != 0.0f) {
            lo = std::min(lo, xi[i]);
            hi = std::max(hi, xi[i]);
        }
    }
    if (hi < lo) lo = hi = 0;  // nothing read: every output is the fill value
    const int32_t span = hi - lo + 1;
    row.assign(static_cast<size_t>(span) * 3, 0.0f);
    const int64_t plane = static_cast<int64_t>(size) * size;
    OutT* base = out + item * 3 * plane;
    for (int32_t j = 0; j < size; ++j) {
        const int32_t* yi = t.y_index + (item * size + j) * t.y_taps;
        const float* yw = t.y_weight + (item * size + j) * t.y_taps;
        std::fill(row.begin(), row.end(), 0.0f);
        for (int32_t ty = 0; ty < t.y_taps; ++ty) {
            const float w = yw[ty];
            if (w == 0.0f) continue;
            const uint8_t* src = frame + static_cast<int64_t>(yi[ty]) * pitch + static_cast<int64_t>(lo) * 3;
            for (int32_t x = 0; x < span * 3; ++x) row[static_cast<size_t>(x)] += w * static_cast<float>(src[x]);
        }
        for (int32_t x = 0; x < size; ++x) {
            const int32_t* ti = xi + static_cast<int64_t>(x) * t.x_taps;
            const float* tw = xw + static_cast<int64_t>(x) * t.x_taps;
            float acc[3] = {0.0f, 0.0f, 0.0f};
            for (int32_t tx = 0; tx < t.x_taps; ++tx) {
                if (tw[tx] == 0.0f) continue;
                const float* px = row.data() + static_cast<int64_t>(ti[tx] - lo) * 3;
                for (int c = 0; c < 3; ++c) acc[c] += tw[tx] * px[c];
            }
            for (int c = 0; c < 3; ++c) {
                const float v = normalise(acc[src_c[c]], spec.scale, spec.mean[c], spec.std[c]);
                store_value(base, c * plane + static_cast<int64_t>(j) * size + x, v);
            }
        }
    }
}

// RE_ARITH_PILLOW_U8 (Pillow's 8-bit resize, region_batch.h): the horizontal pass over the frame rows the item's
// vertical taps read, rounded and clipped to uint8 in `temp`, then the vertical pass over `temp`, in int32.
template <typename OutT>
void run_item_u8(const uint8_t* frame, int64_t pitch, const re_tap_tables& t, const re_output_spec& spec, int64_t item,
                 const int src_c[3], std::vector<int32_t>& temp, OutT* out) {
    const int32_t size = spec.size;
    const int32_t* xi = t.x_index + item * size * t.x_taps;
    const float* xw = t.x_weight + item * size * t.x_taps;
    const int32_t* yi_all = t.y_index + item * size * t.y_taps;
    const float* yw_all = t.y_weight + item * size * t.y_taps;
    int32_t lo = INT32_MAX, hi = -1;  // frame rows read by non-zero vertical taps
    for (int64_t i = 0; i < static_cast<int64_t>(size) * t.y_taps; ++i) {
        if (yw_all[i] != 0.0f) {
            lo = std::min(lo, yi_all[i]);
            hi = std::max(hi, yi_all[i]);
        }
    }
    if (hi < lo) lo = hi = 0;  // nothing read: every output is the fill value
    const int32_t rows = hi - lo + 1;
    temp.assign(static_cast<size_t>(rows) * size * 3, 0);
    for (int32_t y = 0; y < rows; ++y) {  // horizontal pass
        const uint8_t* src = frame + static_cast<int64_t>(lo + y) * pitch;
        int32_t* dst = temp.data() + static_cast<int64_t>(y) * size * 3;
        for (int32_t x = 0; x < size; ++x) {
            int32_t acc[3] = {kPillowHalf, kPillowHalf, kPillowHalf};
            for (int32_t tx = 0; tx < t.x_taps; ++tx) {
                const int32_t w = static_cast<int32_t>(xw[static_cast<int64_t>(x) * t.x_taps + tx]);
                if (w == 0) continue;
                const uint8_t* px = src + static_cast<int64_t>(xi[static_cast<int64_t>(x) * t.x_taps + tx]) * 3;
                for (int c = 0; c < 3; ++c) acc[c] += static_cast<int32_t>(px[c]) * w;
            }
            for (int c = 0; c < 3; ++c) dst[x * 3 + c] = pillow_clip8(acc[c]);
        }
    }
    const int64_t plane = static_cast<int64_t>(size) * size;
    OutT* base = out + item * 3 * plane;
    for (int32_t j = 0; j < size; ++j) {  // vertical pass
        const int32_t* yi = yi_all + static_cast<int64_t>(j) * t.y_taps;
        const float* yw = yw_all + static_cast<int64_t>(j) * t.y_taps;
        for (int32_t x = 0; x < size; ++x) {
            int32_t acc[3] = {kPillowHalf, kPillowHalf, kPillowHalf};
            for (int32_t ty = 0; ty < t.y_taps; ++ty) {
                const int32_t w = static_cast<int32_t>(yw[ty]);
                if (w == 0) continue;
                const int32_t* px = temp.data() + (static_cast<int64_t>(yi[ty] - lo) * size + x) * 3;
                for (int c = 0; c < 3; ++c) acc[c] += px[c] * w;
            }
            for (int c = 0; c < 3; ++c) {
                const float v = static_cast<float>(pillow_clip8(acc[src_c[c]]));
                store_value(base, c * plane + static_cast<int64_t>(j) * size + x,
                            normalise(v, spec.scale, spec.mean[c], spec.std[c]));
            }
        }
    }
}

template <typename OutT>
Status run_typed(const uint8_t* frame, int64_t pitch, const re_tap_tables& t, const re_output_spec& spec, void* out,
                 int32_t num_threads) {
    int64_t threads = num_threads > 0 ? num_threads : static_cast<int64_t>(std::thread::hardware_concurrency());
    threads = std::max<int64_t>(1, std::min<int64_t>(threads, t.items));
    const bool swap = spec.frame_order != spec.out_order;
    int src_c[3];
    for (int c = 0; c < 3; ++c) src_c[c] = swap ? 2 - c : c;
    try {
        std::vector<std::vector<float>> rows(static_cast<size_t>(threads));
        std::vector<std::vector<int32_t>> temps(static_cast<size_t>(threads));
        std::atomic<int64_t> next{0};
        const bool u8 = t.arithmetic == RE_ARITH_PILLOW_U8;
        const std::function<void(int)> work = [&](int w) {
            for (int64_t item = next.fetch_add(1); item < t.items; item = next.fetch_add(1)) {
                if (u8) {
                    run_item_u8(frame, pitch, t, spec, item, src_c, temps[static_cast<size_t>(w)],
                                static_cast<OutT*>(out));
                } else {
                    run_item(frame, pitch, t, spec, item, src_c, rows[static_cast<size_t>(w)], static_cast<OutT*>(out));
                }
            }
        };
        try {
            ThreadPool::instance().run(static_cast<int>(threads - 1), work);
        } catch (const std::system_error& e) {
            return Status::error(RE_ERR_INTERNAL, std::string("could not start a worker thread: ") + e.what());
        }
    } catch (const std::bad_alloc&) {
        return Status::error(RE_ERR_INTERNAL, "out of host memory for the row buffers");
    }
    return Status{};
}

}  // namespace

Status run_taps_cpu(const uint8_t* frame, int64_t pitch, const re_tap_tables& tables, const re_output_spec& spec,
                    void* out, int32_t num_threads) {
    if (spec.dtype == RE_DTYPE_FLOAT16) {
        return run_typed<uint16_t>(frame, pitch, tables, spec, out, num_threads);
    }
    return run_typed<float>(frame, pitch, tables, spec, out, num_threads);
}

}  // namespace ran_edge
