// CUDA kernel of the tap-table path (re_region_batch_taps_cuda_host): one thread per output pixel of one region,
// the three channels together; vertical taps outer, horizontal taps inner, as the CPU reference
// (region_batch_taps_cpu.cpp) and the numpy reference (my @ X @ mx^T). The tables come from ran_edge/crop.py.
// "official-uint8" (RE_ARITH_PILLOW_U8): taps_u8_kernel, Pillow's integer arithmetic.
#include <cuda_runtime.h>

#include "region_batch_impl.h"
#include "region_batch_math.h"

namespace ran_edge {
namespace {

struct TapParams {
    const unsigned char* frame;
    int64_t pitch;
    re_tap_tables t;
    int32_t size;
    int32_t src_c[3];
    float scale;
    float mean[3];
    float std[3];
    void* out;
};

template <typename OutT>
__global__ void taps_kernel(TapParams p) {
    const int64_t plane = static_cast<int64_t>(p.size) * p.size;
    const int64_t total = static_cast<int64_t>(p.t.items) * plane;
    for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
         idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t item = idx / plane;
        const int32_t j = static_cast<int32_t>((idx % plane) / p.size);
        const int32_t x = static_cast<int32_t>(idx % p.size);
        const int32_t* yi = p.t.y_index + (item * p.size + j) * p.t.y_taps;
        const float* yw = p.t.y_weight + (item * p.size + j) * p.t.y_taps;
        const int32_t* xi = p.t.x_index + (item * p.size + x) * p.t.x_taps;
        const float* xw = p.t.x_weight + (item * p.size + x) * p.t.x_taps;
        float acc[3] = {0.0f, 0.0f, 0.0f};
        for (int32_t ty = 0; ty < p.t.y_taps; ++ty) {
            const float wy = yw[ty];
            if (wy == 0.0f) continue;
            const unsigned char* row = p.frame + static_cast<int64_t>(yi[ty]) * p.pitch;
            float h[3] = {0.0f, 0.0f, 0.0f};
            for (int32_t tx = 0; tx < p.t.x_taps; ++tx) {
                const unsigned char* px = row + static_cast<int64_t>(xi[tx]) * 3;
                for (int c = 0; c < 3; ++c) h[c] += xw[tx] * static_cast<float>(px[c]);
            }
            for (int c = 0; c < 3; ++c) acc[c] += wy * h[c];
        }
        OutT* out = static_cast<OutT*>(p.out) + item * 3 * plane + static_cast<int64_t>(j) * p.size + x;
        for (int c = 0; c < 3; ++c) {
            store_value(out, c * plane, normalise(acc[p.src_c[c]], p.scale, p.mean[c], p.std[c]));
        }
    }
}

// RE_ARITH_PILLOW_U8: Pillow's 8-bit resize (region_batch.h), the same int32 arithmetic as run_item_u8 of the CPU
// reference: for each vertical tap, the horizontal pass of that frame row at this column, rounded and clipped to
// uint8 (recomputed per output pixel instead of stored), then the vertical pass over those values.
template <typename OutT>
__global__ void taps_u8_kernel(TapParams p) {
    const int64_t plane = static_cast<int64_t>(p.size) * p.size;
    const int64_t total = static_cast<int64_t>(p.t.items) * plane;
    for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
         idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t item = idx / plane;
        const int32_t j = static_cast<int32_t>((idx % plane) / p.size);
        const int32_t x = static_cast<int32_t>(idx % p.size);
        const int32_t* yi = p.t.y_index + (item * p.size + j) * p.t.y_taps;
        const float* yw = p.t.y_weight + (item * p.size + j) * p.t.y_taps;
        const int32_t* xi = p.t.x_index + (item * p.size + x) * p.t.x_taps;
        const float* xw = p.t.x_weight + (item * p.size + x) * p.t.x_taps;
        int32_t acc[3] = {kPillowHalf, kPillowHalf, kPillowHalf};
        for (int32_t ty = 0; ty < p.t.y_taps; ++ty) {
            const int32_t wy = static_cast<int32_t>(yw[ty]);
            if (wy == 0) continue;
            const unsigned char* row = p.frame + static_cast<int64_t>(yi[ty]) * p.pitch;
            int32_t h[3] = {kPillowHalf, kPillowHalf, kPillowHalf};
            for (int32_t tx = 0; tx < p.t.x_taps; ++tx) {
                const int32_t wx = static_cast<int32_t>(xw[tx]);
                const unsigned char* px = row + static_cast<int64_t>(xi[tx]) * 3;
                for (int c = 0; c < 3; ++c) h[c] += static_cast<int32_t>(px[c]) * wx;
            }
            for (int c = 0; c < 3; ++c) acc[c] += pillow_clip8(h[c]) * wy;
        }
        OutT* out = static_cast<OutT*>(p.out) + item * 3 * plane + static_cast<int64_t>(j) * p.size + x;
        for (int c = 0; c < 3; ++c) {
            const float v = static_cast<float>(pillow_clip8(acc[p.src_c[c]]));
            store_value(out, c * plane, normalise(v, p.scale, p.mean[c], p.std[c]));
        }
    }
}

}  // namespace

Status launch_taps_cuda(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch, const re_tap_tables& tables,
                        const re_output_spec& spec, void* out, void* stream) {
    (void)height;
    (void)width;
    if (tables.items == 0) {
        return Status{};
    }
    TapParams p{};
    p.frame = frame;
    p.pitch = pitch;
    p.t = tables;
    p.size = spec.size;
    const bool swap = spec.frame_order != spec.out_order;
    for (int c = 0; c < 3; ++c) {
        p.src_c[c] = swap ? 2 - c : c;
        p.mean[c] = spec.mean[c];
        p.std[c] = spec.std[c];
    }
    p.scale = spec.scale;
    p.out = out;
    const int64_t total = static_cast<int64_t>(tables.items) * spec.size * spec.size;
    const int threads = 256;
    const int64_t blocks64 = (total + threads - 1) / threads;
    const unsigned blocks = static_cast<unsigned>(blocks64 < 1048576 ? blocks64 : 1048576);
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    const bool u8 = tables.arithmetic == RE_ARITH_PILLOW_U8;
    if (spec.dtype == RE_DTYPE_FLOAT16) {
        if (u8) {
            taps_u8_kernel<uint16_t><<<blocks, threads, 0, s>>>(p);
        } else {
            taps_kernel<uint16_t><<<blocks, threads, 0, s>>>(p);
        }
    } else if (u8) {
        taps_u8_kernel<float><<<blocks, threads, 0, s>>>(p);
    } else {
        taps_kernel<float><<<blocks, threads, 0, s>>>(p);
    }
    return kernel_launch_status("tap-table kernel");
}

}  // namespace ran_edge
