// ctest: the TensorRT plugin's attribute parsing and serialisation (no TensorRT needed for this part).
#include <string.h>

#include <string>
#include <vector>

#include "../trt/plugin_fields.h"
#include "test_util.h"

using namespace re_test;
using namespace ran_edge::trt;

int main() {
    PluginParams p = default_params();
    RE_CHECK(p.regions.k == 0 && p.spec.size == 224 && p.spec.out_order == RE_ORDER_RGB);
    RE_CHECK(!check_params(p).ok());  // regions are required
    RE_CHECK(check_params(p).message.find("regions") != std::string::npos);

    const std::vector<double> regions = ferplus6();
    RE_CHECK(set_field(&p, "regions", regions.data(), kFieldFloat64, 24).ok());
    RE_CHECK(p.regions.k == 6 && p.regions.box[2][1] == 0.25);
    const std::vector<float> regions32(regions.begin(), regions.end());  // ONNX float attributes arrive as FLOAT32
    PluginParams q = default_params();
    RE_CHECK(set_field(&q, "regions", regions32.data(), kFieldFloat32, 24).ok() && q.regions.box[3][0] == 0.05f);
    const int32_t half = RE_DTYPE_FLOAT16, size = 112;
    const float mean[3] = {0.5f, 0.25f, 0.125f};
    RE_CHECK(set_field(&p, "out_dtype", &half, kFieldInt32, 1).ok());
    RE_CHECK(set_field(&p, "size", &size, kFieldInt32, 1).ok());
    RE_CHECK(set_field(&p, "mean", mean, kFieldFloat32, 3).ok());
    RE_CHECK(check_params(p).ok());
    RE_CHECK(p.spec.dtype == RE_DTYPE_FLOAT16 && p.spec.size == 112 && p.spec.mean[2] == 0.125f);

    // wrong names, types and lengths are errors, with the field named
    RE_CHECK(set_field(&p, "sise", &size, kFieldInt32, 1).message.find("unknown field 'sise'") != std::string::npos);
    RE_CHECK(!set_field(&p, "size", &size, kFieldFloat32, 1).ok());
    RE_CHECK(!set_field(&p, "mean", mean, kFieldFloat32, 2).ok());
    RE_CHECK(!set_field(&p, "regions", regions.data(), kFieldFloat64, 23).ok());
    const int32_t zero = 0;
    PluginParams bad = p;
    RE_CHECK(set_field(&bad, "size", &zero, kFieldInt32, 1).ok() && !check_params(bad).ok());
    const std::vector<double> outside = {0, 0, 1.5, 1};
    bad = p;
    RE_CHECK(set_field(&bad, "regions", outside.data(), kFieldFloat64, 4).ok() && !check_params(bad).ok());

    // serialisation round trip, and corrupted data is rejected
    std::vector<char> buf(serial_size());
    serialize(p, buf.data());
    PluginParams r{};
    RE_CHECK(deserialize(buf.data(), buf.size(), &r).ok());
    RE_CHECK(memcmp(&r.regions, &p.regions, sizeof(r.regions)) == 0 && memcmp(&r.spec, &p.spec, sizeof(r.spec)) == 0);
    RE_CHECK(!deserialize(buf.data(), buf.size() - 1, &r).ok());
    buf[0] ^= 1;
    RE_CHECK(!deserialize(buf.data(), buf.size(), &r).ok());
    return report("test_plugin_fields");
}
