// CUDA implementation of the fused region-batch kernel: one launch writes the whole [N*K,3,S,S] output.
//
// Grid: x = 32x32 output tiles of one region, y = regions (grid-stride over N*K). Block: 32x8 threads.
// Per block and region, the 32 column taps and 32 row taps (box faces) or column/row affine parts (affine faces)
// are computed once into shared memory with the same double-precision math as the CPU reference
// (region_batch_math.h); each thread then writes 4 rows x 3 channels, threadIdx.x running along the output row,
// so every store of a warp is one contiguous 128-byte (FP32) or 64-byte (FP16) segment. No intermediate image.
#include <cuda_runtime.h>

#include <string>

#include "region_batch_impl.h"
#include "region_batch_math.h"

namespace ran_edge {
namespace {

constexpr int kTile = 32;
constexpr int kBlockRows = 8;
constexpr unsigned kMaxGridY = 65535;

struct KernelParams {
    const unsigned char* frame;
    int64_t pitch;
    int32_t height;
    int32_t width;
    const void* faces;
    int32_t n;
    RegionTable regions;
    int32_t size;
    int32_t src_c[3];
    float scale;
    float mean[3];
    float std[3];
    void* out;
    int32_t* error_flag;
};

template <typename GeoT>
__device__ void load_face(const KernelParams& p, int64_t n, bool affine, double f[6]) {
    const GeoT* src = static_cast<const GeoT*>(p.faces) + n * (affine ? 6 : 4);
    for (int i = 0; i < (affine ? 6 : 4); ++i) f[i] = static_cast<double>(src[i]);
}

template <typename SrcT>
__device__ const SrcT* frame_row(const KernelParams& p, int32_t y) {
    return reinterpret_cast<const SrcT*>(p.frame + static_cast<int64_t>(y) * p.pitch);
}

template <typename SrcT, typename GeoT, typename OutT, bool kAffine>
__global__ void __launch_bounds__(kTile* kBlockRows) region_batch_kernel(KernelParams p) {
    __shared__ Tap s_xtap[kTile];
    __shared__ Tap s_ytap[kTile];
    __shared__ AffineParts s_col[kTile];
    __shared__ AffineParts s_row[kTile];

    const int32_t s = p.size;
    const int32_t tiles_x = (s + kTile - 1) / kTile;
    const int32_t x0 = static_cast<int32_t>(blockIdx.x % tiles_x) * kTile;
    const int32_t y0 = static_cast<int32_t>(blockIdx.x / tiles_x) * kTile;
    const int64_t regions = static_cast<int64_t>(p.n) * p.regions.k;
    const int64_t plane = static_cast<int64_t>(s) * s;
    OutT* out = static_cast<OutT*>(p.out);

    for (int64_t r = blockIdx.y; r < regions; r += gridDim.y) {
        const int64_t n = r / p.regions.k;
        const int64_t k = r % p.regions.k;
        double reg[4];
        for (int q = 0; q < 4; ++q) reg[q] = p.regions.box[k][q];
        double f[6];
        load_face<GeoT>(p, n, kAffine, f);
        const bool valid = kAffine ? affine_is_valid(f) : box_is_valid(f[0], f[1], f[2], f[3]);
        if (!valid && p.error_flag != nullptr && blockIdx.x == 0 && threadIdx.x == 0 && threadIdx.y == 0) {
            atomicExch(p.error_flag, static_cast<int32_t>(RE_ERR_BOX));
        }
        const int32_t t = static_cast<int32_t>(threadIdx.x);
        if (threadIdx.y < 2) {  // warp 0: column parameters, warp 1: row parameters
            const bool cols = threadIdx.y == 0;
            const int32_t idx = (cols ? x0 : y0) + t;
            Tap tap{0, 0, 0.0f, 0.0f};
            AffineParts part{0.0, 0.0};
            if (valid && idx < s) {
                if (kAffine) {
                    part = cols ? affine_col(f, axis_sample(reg[0], reg[2], idx, s))
                                : affine_row(f, axis_sample(reg[1], reg[3], idx, s));
                } else {
                    tap = cols ? box_axis_tap(f[0], f[2], reg[0], reg[2], idx, s, p.width)
                               : box_axis_tap(f[1], f[3], reg[1], reg[3], idx, s, p.height);
                }
            }
            if (cols) {
                s_xtap[t] = tap;
                s_col[t] = part;
            } else {
                s_ytap[t] = tap;
                s_row[t] = part;
            }
        }
        __syncthreads();
        const int32_t i = x0 + t;
        for (int32_t row = static_cast<int32_t>(threadIdx.y); row < kTile; row += kBlockRows) {
            const int32_t j = y0 + row;
            if (i >= s || j >= s) continue;
            Tap tx{0, 0, 0.0f, 0.0f};
            Tap ty{0, 0, 0.0f, 0.0f};
            if (!kAffine) {
                tx = s_xtap[t];
                ty = s_ytap[row];
            } else if (valid) {
                tx = make_tap(s_col[t].x + s_row[row].x, p.width);
                ty = make_tap(s_col[t].y + s_row[row].y, p.height);
            }
            const SrcT* row0 = frame_row<SrcT>(p, ty.i0);
            const SrcT* row1 = frame_row<SrcT>(p, ty.i1);
            const int64_t base = r * 3 * plane + static_cast<int64_t>(j) * s + i;
            for (int c = 0; c < 3; ++c) {
                const float v = lerp_col(lerp_row(row0, tx, p.src_c[c]), lerp_row(row1, tx, p.src_c[c]), ty);
                store_value(out, base + c * plane, normalise(v, p.scale, p.mean[c], p.std[c]));
            }
        }
        __syncthreads();  // shared parameters are rewritten for the next region
    }
}

template <typename SrcT, typename GeoT, typename OutT>
void launch_typed(const KernelParams& p, bool affine, dim3 grid, cudaStream_t stream) {
    const dim3 block(kTile, kBlockRows);
    if (affine) {
        region_batch_kernel<SrcT, GeoT, OutT, true><<<grid, block, 0, stream>>>(p);
    } else {
        region_batch_kernel<SrcT, GeoT, OutT, false><<<grid, block, 0, stream>>>(p);
    }
}

template <typename SrcT, typename GeoT>
void launch_out(const KernelParams& p, bool affine, bool half, dim3 grid, cudaStream_t stream) {
    if (half) {
        launch_typed<SrcT, GeoT, uint16_t>(p, affine, grid, stream);
    } else {
        launch_typed<SrcT, GeoT, float>(p, affine, grid, stream);
    }
}

template <typename SrcT>
void launch_geo(const KernelParams& p, bool f64, bool affine, bool half, dim3 grid, cudaStream_t stream) {
    if (f64) {
        launch_out<SrcT, double>(p, affine, half, grid, stream);
    } else {
        launch_out<SrcT, float>(p, affine, half, grid, stream);
    }
}

}  // namespace

Status launch_cuda(const CudaLaunch& l, void* stream) {
    const int64_t regions = static_cast<int64_t>(l.n) * l.regions.k;
    if (regions == 0) {
        return Status{};
    }
    if (l.faces_dtype != RE_DTYPE_FLOAT32 && l.faces_dtype != RE_DTYPE_FLOAT64) {
        return Status::error(RE_ERR_PARAM, "faces dtype: expected RE_DTYPE_FLOAT32 (0) or RE_DTYPE_FLOAT64 (2)");
    }
    KernelParams p{};
    p.frame = static_cast<const unsigned char*>(l.frame);
    p.pitch = l.pitch;
    p.height = l.height;
    p.width = l.width;
    p.faces = l.faces;
    p.n = l.n;
    p.regions = l.regions;
    p.size = l.spec.size;
    const bool swap = l.spec.frame_order != l.spec.out_order;
    for (int c = 0; c < 3; ++c) {
        p.src_c[c] = swap ? 2 - c : c;
        p.mean[c] = l.spec.mean[c];
        p.std[c] = l.spec.std[c];
    }
    p.scale = l.spec.scale;
    p.out = l.out;
    p.error_flag = l.error_flag;

    const int64_t tiles_side = (l.spec.size + kTile - 1) / kTile;
    const dim3 grid(static_cast<unsigned>(tiles_side * tiles_side),
                    static_cast<unsigned>(regions < kMaxGridY ? regions : kMaxGridY));
    const bool f64 = l.faces_dtype == RE_DTYPE_FLOAT64;
    const bool affine = l.kind == RE_GEOMETRY_AFFINES;
    const bool half = l.spec.dtype == RE_DTYPE_FLOAT16;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    if (l.frame_type == FrameType::kFloat32) {
        launch_geo<float>(p, f64, affine, half, grid, s);
    } else {
        launch_geo<unsigned char>(p, f64, affine, half, grid, s);
    }
    return kernel_launch_status("region-batch kernel");
}

Status kernel_launch_status(const char* what) {
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) {
        return Status::error(RE_ERR_CUDA, std::string(what) + " launch failed: " + cudaGetErrorName(err) + " (" +
                                              cudaGetErrorString(err) + ")");
    }
    return Status{};
}

}  // namespace ran_edge
