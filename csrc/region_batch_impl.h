// Internal C++ interface shared by the C API, the CPU reference, the CUDA launcher and the TensorRT plugins.
// Nothing here crosses the library boundary.
#ifndef RAN_EDGE_REGION_BATCH_IMPL_H
#define RAN_EDGE_REGION_BATCH_IMPL_H

#include <stdint.h>

#include <exception>
#include <string>
#include <utility>

#include "region_batch.h"

namespace ran_edge {

// A status code with its one-line message ("what was wrong, what was expected").
struct Status {
    int32_t code = RE_OK;
    std::string message;

    bool ok() const { return code == RE_OK; }
    static Status error(int32_t code, std::string message) { return Status{code, std::move(message)}; }
};

// The body of every C entry point: runs `call` (returning a Status), keeps its message in `last_error` and returns
// its code; a C++ exception becomes RE_ERR_INTERNAL, so none crosses the C boundary.
template <typename Call>
int32_t guarded_call(std::string& last_error, Call&& call) {
    Status status;
    try {
        status = call();
    } catch (const std::exception& e) {
        status = Status::error(RE_ERR_INTERNAL, std::string("unexpected C++ exception: ") + e.what());
    }
    last_error = status.message;
    return status.code;
}

// Region table passed by value to the kernel.
struct RegionTable {
    int32_t k;
    double box[RE_MAX_REGIONS][4];
};

// ---- validate.cpp: checks of everything the host can see ----

// frame size and pitch (pixel_bytes: 1 for uint8 frames, 4 for float frames)
Status check_frame(int32_t height, int32_t width, int64_t pitch, int64_t pixel_bytes);
// size, dtype, colour orders, scale, mean/std
Status check_spec(const re_output_spec& spec);
// kind, n >= 0, k and region boxes (copied into `table`)
Status check_regions(const re_geometry& geometry, RegionTable* table);
// every face (host memory): finite, non-empty boxes / non-degenerate affines
Status check_faces(const re_geometry& geometry);
// output size for n*k regions, and that out_bytes is enough (out_bytes < 0: size check only)
Status check_output(int32_t n, int32_t k, const re_output_spec& spec, int64_t out_bytes);
// all of the above for a host call with host faces
Status check_host_call(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                       const re_geometry* geometry, const re_output_spec* spec, const void* out, int64_t out_bytes,
                       RegionTable* table);

// tap tables of a host call: counts, pointers, every index in range, every weight finite
Status check_tap_tables(const re_tap_tables* tables, int32_t height, int32_t width, int32_t size);
// all checks of a tap-table host call
Status check_taps_host_call(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                            const re_tap_tables* tables, const re_output_spec* spec, const void* out,
                            int64_t out_bytes);

// ---- region_batch_taps_cpu.cpp ----

// Runs a validated tap-table call on num_threads threads (0 = hardware concurrency).
Status run_taps_cpu(const uint8_t* frame, int64_t pitch, const re_tap_tables& tables, const re_output_spec& spec,
                    void* out, int32_t num_threads);

// ---- region_batch_cpu.cpp ----

struct CpuRequest {
    const uint8_t* frame;
    int32_t height;
    int32_t width;
    int64_t pitch;
    int32_t kind;  // RE_GEOMETRY_*
    int32_t n;
    const double* faces;
    RegionTable regions;
    re_output_spec spec;
    void* out;
};

// Runs a validated request on num_threads threads (0 = hardware concurrency).
Status run_cpu(const CpuRequest& request, int32_t num_threads);

// ---- region_batch_cuda.cu ----

enum class FrameType : int32_t { kUint8 = 0, kFloat32 = 1 };

struct CudaLaunch {
    const void* frame;  // device, height x width x 3 of frame_type, rows `pitch` bytes apart
    FrameType frame_type;
    int32_t height;
    int32_t width;
    int64_t pitch;
    int32_t kind;         // RE_GEOMETRY_*
    int32_t n;
    const void* faces;    // device, n*4 or n*6 values
    int32_t faces_dtype;  // RE_DTYPE_FLOAT32 or RE_DTYPE_FLOAT64
    RegionTable regions;
    re_output_spec spec;
    void* out;            // device, n*k*3*size*size of spec.dtype
    int32_t* error_flag;  // device, optional
};

// Enqueues the one kernel launch on `stream` (a cudaStream_t); n == 0 launches nothing.
Status launch_cuda(const CudaLaunch& launch, void* stream);
// RE_OK, or RE_ERR_CUDA "<what> launch failed: <CUDA error>" when the last kernel launch failed (region_batch_cuda.cu).
Status kernel_launch_status(const char* what);

// Tap-table launch: every pointer is device memory (tables' arrays included), uint8 frame.
Status launch_taps_cuda(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch, const re_tap_tables& tables,
                        const re_output_spec& spec, void* out, void* stream);

}  // namespace ran_edge

#endif  // RAN_EDGE_REGION_BATCH_IMPL_H
