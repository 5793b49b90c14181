// ctest: the CUDA kernel against the CPU reference (both C API entry points, FP32/FP16, boxes/affines, a stream,
// the device error flag). Exits 77 (ctest: skipped) when there is no CUDA device.
#include <cuda_runtime.h>
#include <math.h>
#include <string.h>

#include <string>
#include <vector>

#include "region_batch.h"
#include "test_util.h"

using namespace re_test;

namespace {

const int kH = 123, kW = 211;

void compare_host_call(const std::vector<uint8_t>& frame, const re_geometry& g, re_output_spec s) {
    const int64_t bytes = re_output_bytes(g.n, g.k, s.size, s.dtype);
    std::vector<uint8_t> cpu(static_cast<size_t>(bytes)), gpu(static_cast<size_t>(bytes));
    RE_CHECK(re_region_batch_cpu(frame.data(), kH, kW, kW * 3, &g, &s, cpu.data(), bytes, 0) == RE_OK);
    const int32_t rc = re_region_batch_cuda_host(frame.data(), kH, kW, kW * 3, &g, &s, gpu.data(), bytes, 0);
    if (rc != RE_OK) fprintf(stderr, "cuda host call: %s\n", re_cuda_last_error());
    RE_CHECK(rc == RE_OK);
    double worst = 0.0;
    size_t differing = 0;
    if (s.dtype == RE_DTYPE_FLOAT32) {
        const float* a = reinterpret_cast<const float*>(cpu.data());
        const float* b = reinterpret_cast<const float*>(gpu.data());
        for (size_t i = 0; i < cpu.size() / 4; ++i) {
            worst = fmax(worst, fabs(a[i] - b[i]));
            differing += a[i] != b[i];
        }
        RE_CHECK_NEAR(worst, 0.0, 1e-6);
    } else {
        const uint16_t* a = reinterpret_cast<const uint16_t*>(cpu.data());
        const uint16_t* b = reinterpret_cast<const uint16_t*>(gpu.data());
        for (size_t i = 0; i < cpu.size() / 2; ++i) {
            const int d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
            worst = fmax(worst, d);
            differing += d != 0;
        }
        RE_CHECK(worst <= 1.0);  // at most one FP16 ulp (only if an FP32 value differs in its last bit)
    }
    printf("kind=%d dtype=%d: max |cpu - gpu| = %g (%s), %zu values not bit-identical\n", g.kind, s.dtype, worst,
           s.dtype == RE_DTYPE_FLOAT32 ? "float" : "half ulps", differing);
}

void test_device_entry(const std::vector<uint8_t>& frame, const std::vector<double>& boxes,
                       const std::vector<double>& regions, const re_output_spec& s) {
    re_geometry g = boxes_geometry(boxes, regions);
    const int64_t bytes = re_output_bytes(g.n, g.k, s.size, s.dtype);
    std::vector<float> cpu(static_cast<size_t>(bytes) / 4), gpu(cpu.size());
    RE_CHECK(re_region_batch_cpu(frame.data(), kH, kW, kW * 3, &g, &s, cpu.data(), bytes, 0) == RE_OK);
    std::vector<float> boxes32(boxes.begin(), boxes.end());
    void *d_frame = nullptr, *d_faces = nullptr, *d_out = nullptr;
    int32_t* d_flag = nullptr;
    cudaStream_t stream = nullptr;
    RE_CHECK(cudaStreamCreate(&stream) == cudaSuccess);
    RE_CHECK(cudaMalloc(&d_frame, frame.size()) == cudaSuccess);
    RE_CHECK(cudaMalloc(&d_faces, boxes32.size() * 4) == cudaSuccess);
    RE_CHECK(cudaMalloc(&d_out, bytes) == cudaSuccess);
    RE_CHECK(cudaMalloc(&d_flag, 4) == cudaSuccess);
    RE_CHECK(cudaMemcpy(d_frame, frame.data(), frame.size(), cudaMemcpyHostToDevice) == cudaSuccess);
    RE_CHECK(cudaMemcpy(d_faces, boxes32.data(), boxes32.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess);
    RE_CHECK(cudaMemset(d_flag, 0, 4) == cudaSuccess);
    g.faces = nullptr;  // ignored by the device entry
    RE_CHECK(re_region_batch_cuda_device(static_cast<const uint8_t*>(d_frame), kH, kW, kW * 3, &g, d_faces,
                                         RE_DTYPE_FLOAT32, &s, d_out, bytes, stream, d_flag) == RE_OK);
    int32_t flag = -1;
    RE_CHECK(cudaMemcpyAsync(gpu.data(), d_out, bytes, cudaMemcpyDeviceToHost, stream) == cudaSuccess);
    RE_CHECK(cudaMemcpyAsync(&flag, d_flag, 4, cudaMemcpyDeviceToHost, stream) == cudaSuccess);
    RE_CHECK(cudaStreamSynchronize(stream) == cudaSuccess);
    RE_CHECK(flag == 0);
    // float32 faces: the CPU reference used the float64 boxes, which are exactly representable here.
    double worst = 0.0;
    for (size_t i = 0; i < cpu.size(); ++i) worst = fmax(worst, fabs(cpu[i] - gpu[i]));
    RE_CHECK_NEAR(worst, 0.0, 1e-6);

    // Informational timing (not asserted): kernel only, on the stream, events around 50 launches.
    cudaEvent_t start, stop;
    RE_CHECK(cudaEventCreate(&start) == cudaSuccess && cudaEventCreate(&stop) == cudaSuccess);
    RE_CHECK(cudaEventRecord(start, stream) == cudaSuccess);
    for (int rep = 0; rep < 50; ++rep) {
        re_region_batch_cuda_device(static_cast<const uint8_t*>(d_frame), kH, kW, kW * 3, &g, d_faces,
                                    RE_DTYPE_FLOAT32, &s, d_out, bytes, stream, nullptr);
    }
    RE_CHECK(cudaEventRecord(stop, stream) == cudaSuccess && cudaEventSynchronize(stop) == cudaSuccess);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    printf("kernel: %d faces x %d regions x 3 x %d x %d (%s): %.1f us per launch, %.1f GB/s written\n", g.n, g.k,
           s.size, s.size, s.dtype == RE_DTYPE_FLOAT32 ? "fp32" : "fp16", 1000.0f * ms / 50,
           bytes / (1e6 * ms / 50));
    cudaEventDestroy(start);
    cudaEventDestroy(stop);

    // An inverted box on the device: fill values for its regions and the error flag set.
    const float bad[4] = {50.0f, 50.0f, 10.0f, 10.0f};
    RE_CHECK(cudaMemcpy(d_faces, bad, sizeof(bad), cudaMemcpyHostToDevice) == cudaSuccess);
    RE_CHECK(re_region_batch_cuda_device(static_cast<const uint8_t*>(d_frame), kH, kW, kW * 3, &g, d_faces,
                                         RE_DTYPE_FLOAT32, &s, d_out, bytes, stream, d_flag) == RE_OK);
    RE_CHECK(cudaMemcpyAsync(&flag, d_flag, 4, cudaMemcpyDeviceToHost, stream) == cudaSuccess);
    RE_CHECK(cudaStreamSynchronize(stream) == cudaSuccess);
    RE_CHECK(flag == RE_ERR_BOX);
    cudaFree(d_frame);
    cudaFree(d_faces);
    cudaFree(d_out);
    cudaFree(d_flag);
    cudaStreamDestroy(stream);
}

// IEEE half bits -> double (normal and subnormal numbers; the outputs here are finite).
double half_value(uint16_t h) {
    const int sign = (h >> 15) ? -1 : 1;
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    if (exp == 0) return sign * ldexp(mant, -24);
    return sign * ldexp(1024 + mant, exp - 25);
}

// Tap tables: the GPU against the CPU reference on pseudo-random tables (4 taps, some zero weights).
void compare_taps(const std::vector<uint8_t>& frame, int32_t dtype, int32_t arithmetic = RE_ARITH_FLOAT) {
    const int32_t items = 5, size = 64, taps = 4;
    std::vector<int32_t> xi(items * size * taps), yi(items * size * taps);
    std::vector<float> xw(xi.size()), yw(yi.size());
    uint32_t r = 7;
    for (size_t i = 0; i < xi.size(); ++i) {
        r = r * 1664525u + 1013904223u;
        xi[i] = static_cast<int32_t>((r >> 8) % kW);
        yi[i] = static_cast<int32_t>((r >> 12) % kH);
        xw[i] = (i % 5 == 4) ? 0.0f : static_cast<float>((r >> 20) % 1000) / 1000.0f - 0.1f;
        yw[i] = (i % 7 == 6) ? 0.0f : static_cast<float>((r >> 16) % 1000) / 1000.0f - 0.1f;
        if (arithmetic == RE_ARITH_PILLOW_U8) {  // 22-bit fixed-point integers, sums within int32
            xw[i] = static_cast<float>(static_cast<int32_t>(xw[i] * 1048576.0f * 1.5f));
            yw[i] = static_cast<float>(static_cast<int32_t>(yw[i] * 1048576.0f * 1.5f));
        }
    }
    const re_tap_tables t{items, taps, taps, xi.data(), xw.data(), yi.data(), yw.data(), arithmetic};
    re_output_spec s = plain_spec(size, dtype);
    s.out_order = RE_ORDER_RGB;
    s.scale = 1.0f / 255.0f;
    const int64_t bytes = re_output_bytes(items, 1, size, dtype);
    std::vector<uint8_t> cpu(static_cast<size_t>(bytes)), gpu(static_cast<size_t>(bytes));
    RE_CHECK(re_region_batch_taps_cpu(frame.data(), kH, kW, kW * 3, &t, &s, cpu.data(), bytes, 0) == RE_OK);
    RE_CHECK(re_region_batch_taps_cuda_host(frame.data(), kH, kW, kW * 3, &t, &s, gpu.data(), bytes, 0) == RE_OK);
    const int64_t count = bytes / (dtype == RE_DTYPE_FLOAT32 ? 4 : 2);
    double worst = 0.0;
    for (int64_t i = 0; i < count; ++i) {
        double a, b;
        if (dtype == RE_DTYPE_FLOAT32) {
            a = reinterpret_cast<const float*>(cpu.data())[i];
            b = reinterpret_cast<const float*>(gpu.data())[i];
        } else {
            a = half_value(reinterpret_cast<const uint16_t*>(cpu.data())[i]);
            b = half_value(reinterpret_cast<const uint16_t*>(gpu.data())[i]);
        }
        worst = fabs(a - b) > worst ? fabs(a - b) : worst;
    }
    // Pillow's integer arithmetic is the same on both: equal results (float16 rounds the same float values).
    RE_CHECK(worst <= (arithmetic == RE_ARITH_PILLOW_U8 ? 0.0 : (dtype == RE_DTYPE_FLOAT32 ? 1e-4 : 1e-2)));
}

}  // namespace

int main() {
    const int32_t devices = re_cuda_device_count();
    if (devices == 0) {
        printf("test_region_batch_cuda: skipped, no CUDA device (%s)\n", re_cuda_last_error());
        return 77;
    }
    RE_CHECK(re_cuda_abi_version() == RE_ABI_VERSION);
    const std::vector<uint8_t> frame = random_frame(kH, kW, 11);
    const std::vector<double> regions = ferplus6();
    const std::vector<double> boxes = {20.5, 10.25, 120.0, 110.75, -30.0, -12.0, 60.0, 70.0,
                                       150.0, 60.0, 260.0, 170.0, 100.0, 50.0, 101.0, 51.0};
    re_output_spec s = plain_spec(224);
    s.out_order = RE_ORDER_RGB;
    s.scale = 1.0f / 255.0f;
    compare_host_call(frame, boxes_geometry(boxes, regions), s);
    s.dtype = RE_DTYPE_FLOAT16;
    compare_host_call(frame, boxes_geometry(boxes, regions), s);
    s.dtype = RE_DTYPE_FLOAT32;
    const double affines[12] = {80.0, -20.0, 40.0, 25.0, 90.0, 5.0, 60.0, 0.0, 100.0, 0.0, 60.0, 30.0};
    re_geometry g = boxes_geometry({}, regions);
    g.kind = RE_GEOMETRY_AFFINES;
    g.n = 2;
    g.faces = affines;
    compare_host_call(frame, g, s);
    // Errors: validated on the host before any copy.
    std::vector<double> inverted = {10, 10, 5, 20};
    std::vector<float> out(6 * 3 * 224 * 224);
    const re_geometry gi = boxes_geometry(inverted, regions);
    RE_CHECK(re_region_batch_cuda_host(frame.data(), kH, kW, kW * 3, &gi, &s, out.data(), out.size() * 4, 0) ==
             RE_ERR_BOX);
    RE_CHECK(re_region_batch_cuda_host(frame.data(), kH, kW, kW * 3, &gi, &s, out.data(), out.size() * 4, devices) ==
             RE_ERR_BOX);  // validation comes first
    const re_geometry empty = boxes_geometry({}, regions);
    RE_CHECK(re_region_batch_cuda_host(nullptr, 0, 0, 0, &empty, &s, nullptr, 0, 0) == RE_OK);
    test_device_entry(frame, boxes, regions, s);
    compare_taps(frame, RE_DTYPE_FLOAT32);
    compare_taps(frame, RE_DTYPE_FLOAT16);
    compare_taps(frame, RE_DTYPE_FLOAT32, RE_ARITH_PILLOW_U8);
    compare_taps(frame, RE_DTYPE_FLOAT16, RE_ARITH_PILLOW_U8);
    return report("test_region_batch_cuda");
}
