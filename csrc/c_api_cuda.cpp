// C API of libran_edge_kernels_cuda: device count, the host-memory convenience call and the zero-copy call.
// Every CUDA status becomes an re_status with the CUDA error name in re_cuda_last_error().
#include <cuda_runtime.h>

#include <string>

#include "region_batch.h"
#include "region_batch_impl.h"

namespace {

using ran_edge::Status;

thread_local std::string g_last_error;

Status cuda_status(cudaError_t err, const char* what) {
    if (err == cudaSuccess) {
        return Status{};
    }
    cudaGetLastError();  // reset the (non-sticky) last-error state so the next call starts clean
    return Status::error(err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver ? RE_ERR_NO_CUDA : RE_ERR_CUDA,
                         std::string(what) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                             ")");
}

// Device allocation freed on scope exit.
struct DeviceBuffer {
    void* ptr = nullptr;
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() {
        if (ptr != nullptr) cudaFree(ptr);
    }
    Status alloc(size_t bytes, const char* what) { return cuda_status(cudaMalloc(&ptr, bytes > 0 ? bytes : 1), what); }
};

struct Stream {
    cudaStream_t handle = nullptr;
    Stream() = default;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream() {
        if (handle != nullptr) cudaStreamDestroy(handle);
    }
};

Status select_device(int32_t device) {
    int count = 0;
    Status s = cuda_status(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    if (!s.ok()) return s;
    if (device < 0 || device >= count) {
        return Status::error(RE_ERR_NO_CUDA, "device " + std::to_string(device) + ": expected 0.." +
                                                 std::to_string(count - 1) + " (" + std::to_string(count) +
                                                 " CUDA devices)");
    }
    return cuda_status(cudaSetDevice(device), "cudaSetDevice");
}

// Copies a packed uint8 HxWx3 frame (host, row pitch `pitch`) to `d_frame` with rows packed to width * 3 bytes.
Status upload_frame(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch, void* d_frame,
                    cudaStream_t stream) {
    const size_t row_bytes = static_cast<size_t>(width) * 3;
    return cuda_status(cudaMemcpy2DAsync(d_frame, row_bytes, frame, static_cast<size_t>(pitch), row_bytes,
                                         static_cast<size_t>(height), cudaMemcpyHostToDevice, stream),
                       "cudaMemcpy2DAsync(frame)");
}

Status run_host(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch, const re_geometry* geometry,
                const re_output_spec* spec, void* out, int64_t out_bytes, int32_t device) {
    ran_edge::CudaLaunch l{};
    Status s = ran_edge::check_host_call(frame, height, width, pitch, geometry, spec, out, out_bytes, &l.regions);
    if (!s.ok() || geometry->n == 0) return s;
    s = select_device(device);
    if (!s.ok()) return s;

    const size_t frame_bytes = static_cast<size_t>(height) * width * 3;
    const size_t face_bytes = static_cast<size_t>(geometry->n) * (geometry->kind == RE_GEOMETRY_BOXES ? 4 : 6) * 8;
    const size_t result_bytes =
        static_cast<size_t>(re_output_bytes(geometry->n, geometry->k, spec->size, spec->dtype));
    Stream stream;
    DeviceBuffer d_frame, d_faces, d_out;
    s = cuda_status(cudaStreamCreateWithFlags(&stream.handle, cudaStreamNonBlocking), "cudaStreamCreate");
    if (s.ok()) s = d_frame.alloc(frame_bytes, "cudaMalloc(frame)");
    if (s.ok()) s = d_faces.alloc(face_bytes, "cudaMalloc(faces)");
    if (s.ok()) s = d_out.alloc(result_bytes, "cudaMalloc(output)");
    if (s.ok()) s = upload_frame(frame, height, width, pitch, d_frame.ptr, stream.handle);
    if (s.ok()) {
        s = cuda_status(
            cudaMemcpyAsync(d_faces.ptr, geometry->faces, face_bytes, cudaMemcpyHostToDevice, stream.handle),
            "cudaMemcpyAsync(faces)");
    }
    if (!s.ok()) return s;
    l.frame = d_frame.ptr;
    l.frame_type = ran_edge::FrameType::kUint8;
    l.height = height;
    l.width = width;
    l.pitch = static_cast<int64_t>(width) * 3;
    l.kind = geometry->kind;
    l.n = geometry->n;
    l.faces = d_faces.ptr;
    l.faces_dtype = RE_DTYPE_FLOAT64;
    l.spec = *spec;
    l.out = d_out.ptr;
    l.error_flag = nullptr;
    s = ran_edge::launch_cuda(l, stream.handle);
    if (s.ok()) {
        s = cuda_status(cudaMemcpyAsync(out, d_out.ptr, result_bytes, cudaMemcpyDeviceToHost, stream.handle),
                        "cudaMemcpyAsync(output)");
    }
    const Status sync = cuda_status(cudaStreamSynchronize(stream.handle), "cudaStreamSynchronize");
    return s.ok() ? sync : s;
}

Status run_device(const uint8_t* d_frame, int32_t height, int32_t width, int64_t pitch, const re_geometry* geometry,
                  const void* d_faces, int32_t faces_dtype, const re_output_spec* spec, void* d_out,
                  int64_t out_bytes, void* stream, int32_t* d_error_flag) {
    if (geometry == nullptr || spec == nullptr) {
        return Status::error(RE_ERR_NULL_POINTER, "geometry/spec: got NULL, expected pointers to the structs");
    }
    ran_edge::CudaLaunch l{};
    Status s = ran_edge::check_spec(*spec);
    if (s.ok()) s = ran_edge::check_regions(*geometry, &l.regions);
    if (s.ok()) s = ran_edge::check_output(geometry->n, geometry->k, *spec, out_bytes);
    if (!s.ok() || geometry->n == 0) return s;
    if (d_frame == nullptr || d_faces == nullptr || d_out == nullptr) {
        return Status::error(RE_ERR_NULL_POINTER, "d_frame/d_faces/d_out: got NULL with n > 0, expected device "
                                                  "pointers");
    }
    s = ran_edge::check_frame(height, width, pitch, 1);
    if (!s.ok()) return s;
    l.frame = d_frame;
    l.frame_type = ran_edge::FrameType::kUint8;
    l.height = height;
    l.width = width;
    l.pitch = pitch;
    l.kind = geometry->kind;
    l.n = geometry->n;
    l.faces = d_faces;
    l.faces_dtype = faces_dtype;
    l.spec = *spec;
    l.out = d_out;
    l.error_flag = d_error_flag;
    return ran_edge::launch_cuda(l, stream);
}

Status run_taps_host(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch, const re_tap_tables* tables,
                     const re_output_spec* spec, void* out, int64_t out_bytes, int32_t device) {
    Status s = ran_edge::check_taps_host_call(frame, height, width, pitch, tables, spec, out, out_bytes);
    if (!s.ok() || tables->items == 0) return s;
    s = select_device(device);
    if (!s.ok()) return s;
    const size_t frame_bytes = static_cast<size_t>(height) * width * 3;
    const size_t per_axis = static_cast<size_t>(tables->items) * static_cast<size_t>(spec->size);
    const size_t x_count = per_axis * static_cast<size_t>(tables->x_taps);
    const size_t y_count = per_axis * static_cast<size_t>(tables->y_taps);
    const size_t result_bytes = static_cast<size_t>(re_output_bytes(tables->items, 1, spec->size, spec->dtype));
    Stream stream;
    DeviceBuffer d_frame, d_xi, d_xw, d_yi, d_yw, d_out;
    s = cuda_status(cudaStreamCreateWithFlags(&stream.handle, cudaStreamNonBlocking), "cudaStreamCreate");
    if (s.ok()) s = d_frame.alloc(frame_bytes, "cudaMalloc(frame)");
    if (s.ok()) s = d_xi.alloc(x_count * 4, "cudaMalloc(x index)");
    if (s.ok()) s = d_xw.alloc(x_count * 4, "cudaMalloc(x weight)");
    if (s.ok()) s = d_yi.alloc(y_count * 4, "cudaMalloc(y index)");
    if (s.ok()) s = d_yw.alloc(y_count * 4, "cudaMalloc(y weight)");
    if (s.ok()) s = d_out.alloc(result_bytes, "cudaMalloc(output)");
    if (s.ok()) s = upload_frame(frame, height, width, pitch, d_frame.ptr, stream.handle);
    const void* host[4] = {tables->x_index, tables->x_weight, tables->y_index, tables->y_weight};
    void* dev[4] = {d_xi.ptr, d_xw.ptr, d_yi.ptr, d_yw.ptr};
    const size_t bytes[4] = {x_count * 4, x_count * 4, y_count * 4, y_count * 4};
    for (int i = 0; i < 4 && s.ok(); ++i) {
        s = cuda_status(cudaMemcpyAsync(dev[i], host[i], bytes[i], cudaMemcpyHostToDevice, stream.handle),
                        "cudaMemcpyAsync(tap tables)");
    }
    if (!s.ok()) return s;
    re_tap_tables d_tables = *tables;
    d_tables.x_index = static_cast<const int32_t*>(d_xi.ptr);
    d_tables.x_weight = static_cast<const float*>(d_xw.ptr);
    d_tables.y_index = static_cast<const int32_t*>(d_yi.ptr);
    d_tables.y_weight = static_cast<const float*>(d_yw.ptr);
    s = ran_edge::launch_taps_cuda(static_cast<const uint8_t*>(d_frame.ptr), height, width,
                                   static_cast<int64_t>(width) * 3, d_tables, *spec, d_out.ptr, stream.handle);
    if (s.ok()) {
        s = cuda_status(cudaMemcpyAsync(out, d_out.ptr, result_bytes, cudaMemcpyDeviceToHost, stream.handle),
                        "cudaMemcpyAsync(output)");
    }
    const Status sync = cuda_status(cudaStreamSynchronize(stream.handle), "cudaStreamSynchronize");
    return s.ok() ? sync : s;
}

}  // namespace

extern "C" {

RE_API int32_t re_cuda_abi_version(void) { return RE_ABI_VERSION; }

RE_API const char* re_cuda_last_error(void) { return g_last_error.c_str(); }

RE_API int32_t re_cuda_device_count(void) {
    int count = 0;
    const Status s = cuda_status(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    g_last_error = s.message;
    return s.ok() ? count : 0;
}

RE_API int32_t re_region_batch_cuda_host(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                                         const re_geometry* geometry, const re_output_spec* spec, void* out,
                                         int64_t out_bytes, int32_t device) {
    return ran_edge::guarded_call(
        g_last_error, [&] { return run_host(frame, height, width, pitch, geometry, spec, out, out_bytes, device); });
}

RE_API int32_t re_region_batch_cuda_device(const uint8_t* d_frame, int32_t height, int32_t width, int64_t pitch,
                                           const re_geometry* geometry, const void* d_faces, int32_t faces_dtype,
                                           const re_output_spec* spec, void* d_out, int64_t out_bytes,
                                           void* stream, int32_t* d_error_flag) {
    return ran_edge::guarded_call(g_last_error, [&] {
        return run_device(d_frame, height, width, pitch, geometry, d_faces, faces_dtype, spec, d_out, out_bytes, stream,
                          d_error_flag);
    });
}

RE_API int32_t re_region_batch_taps_cuda_host(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                                              const re_tap_tables* tables, const re_output_spec* spec, void* out,
                                              int64_t out_bytes, int32_t device) {
    return ran_edge::guarded_call(
        g_last_error, [&] { return run_taps_host(frame, height, width, pitch, tables, spec, out, out_bytes, device); });
}

}  // extern "C"
