// C API of libran_edge_kernels: the CPU reference. No C++ type or exception crosses this boundary.
#include <string>

#include "region_batch.h"
#include "region_batch_impl.h"

namespace {

thread_local std::string g_last_error;

}  // namespace

extern "C" {

RE_API int32_t re_abi_version(void) { return RE_ABI_VERSION; }

RE_API const char* re_status_name(int32_t status) {
    switch (status) {
        case RE_OK: return "RE_OK";
        case RE_ERR_NULL_POINTER: return "RE_ERR_NULL_POINTER";
        case RE_ERR_FRAME: return "RE_ERR_FRAME";
        case RE_ERR_BOX: return "RE_ERR_BOX";
        case RE_ERR_PRESET: return "RE_ERR_PRESET";
        case RE_ERR_PARAM: return "RE_ERR_PARAM";
        case RE_ERR_OUTPUT: return "RE_ERR_OUTPUT";
        case RE_ERR_NO_CUDA: return "RE_ERR_NO_CUDA";
        case RE_ERR_CUDA: return "RE_ERR_CUDA";
        case RE_ERR_INTERNAL: return "RE_ERR_INTERNAL";
        default: return "RE_ERR_UNKNOWN";
    }
}

RE_API const char* re_last_error(void) { return g_last_error.c_str(); }

RE_API int32_t re_region_batch_cpu(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                                   const re_geometry* geometry, const re_output_spec* spec, void* out,
                                   int64_t out_bytes, int32_t num_threads) {
    return ran_edge::guarded_call(g_last_error, [&]() -> ran_edge::Status {
        ran_edge::CpuRequest request{};
        ran_edge::Status status =
            ran_edge::check_host_call(frame, height, width, pitch, geometry, spec, out, out_bytes, &request.regions);
        if (!status.ok() || geometry->n == 0) {
            return status;
        }
        request.frame = frame;
        request.height = height;
        request.width = width;
        request.pitch = pitch;
        request.kind = geometry->kind;
        request.n = geometry->n;
        request.faces = geometry->faces;
        request.spec = *spec;
        request.out = out;
        return ran_edge::run_cpu(request, num_threads);
    });
}

RE_API int32_t re_region_batch_taps_cpu(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                                        const re_tap_tables* tables, const re_output_spec* spec, void* out,
                                        int64_t out_bytes, int32_t num_threads) {
    return ran_edge::guarded_call(g_last_error, [&]() -> ran_edge::Status {
        ran_edge::Status status =
            ran_edge::check_taps_host_call(frame, height, width, pitch, tables, spec, out, out_bytes);
        if (!status.ok() || tables->items == 0) {
            return status;
        }
        return ran_edge::run_taps_cpu(frame, pitch, *tables, *spec, out, num_threads);
    });
}

}  // extern "C"
