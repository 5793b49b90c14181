// Parsing, checking and serialising the RanRegionBatch plugin attributes (no TensorRT types here).
#include "plugin_fields.h"

#include <string.h>

#include <string>

namespace ran_edge {
namespace trt {
namespace {

Status field_error(const char* name, const std::string& expected) {
    return Status::error(RE_ERR_PARAM, std::string(kPluginName) + " field '" + name + "': expected " + expected);
}

bool read_int(const void* data, int32_t type, int32_t length, int32_t* out) {
    if (type != kFieldInt32 || length != 1 || data == nullptr) return false;
    memcpy(out, data, sizeof(*out));
    return true;
}

bool read_floats(const void* data, int32_t type, int32_t length, int32_t count, float* out) {
    if (type != kFieldFloat32 || length != count || data == nullptr) return false;
    memcpy(out, data, sizeof(float) * static_cast<size_t>(count));
    return true;
}

}  // namespace

PluginParams default_params() {
    PluginParams p{};
    p.regions.k = 0;
    p.spec.size = 224;
    p.spec.dtype = RE_DTYPE_FLOAT32;
    p.spec.frame_order = RE_ORDER_BGR;
    p.spec.out_order = RE_ORDER_RGB;
    p.spec.scale = 1.0f / 255.0f;
    for (int c = 0; c < 3; ++c) {
        p.spec.mean[c] = 0.0f;
        p.spec.std[c] = 1.0f;
    }
    return p;
}

Status set_field(PluginParams* p, const char* name, const void* data, int32_t type, int32_t length) {
    const std::string key = name != nullptr ? name : "";
    if (key == "regions") {
        if (length < 4 || length % 4 != 0 || length / 4 > RE_MAX_REGIONS || data == nullptr ||
            (type != kFieldFloat64 && type != kFieldFloat32)) {
            return field_error(name, "FLOAT64 or FLOAT32 with 4*K values, 1 <= K <= 32");
        }
        p->regions.k = length / 4;
        for (int32_t i = 0; i < length; ++i) {
            p->regions.box[i / 4][i % 4] = type == kFieldFloat64 ? static_cast<const double*>(data)[i]
                                                                 : static_cast<const float*>(data)[i];
        }
        return Status{};
    }
    int32_t* ints[] = {&p->spec.size, &p->spec.dtype, &p->spec.frame_order, &p->spec.out_order};
    const char* int_names[] = {"size", "out_dtype", "frame_order", "out_order"};
    for (int i = 0; i < 4; ++i) {
        if (key == int_names[i]) {
            return read_int(data, type, length, ints[i]) ? Status{} : field_error(name, "one INT32");
        }
    }
    if (key == "scale") {
        return read_floats(data, type, length, 1, &p->spec.scale) ? Status{} : field_error(name, "one FLOAT32");
    }
    if (key == "mean" || key == "std") {
        float* dst = key == "mean" ? p->spec.mean : p->spec.std;
        return read_floats(data, type, length, 3, dst) ? Status{} : field_error(name, "3 FLOAT32");
    }
    return Status::error(RE_ERR_PARAM, std::string(kPluginName) + ": unknown field '" + key +
                                           "', expected regions, size, out_dtype, frame_order, out_order, scale, "
                                           "mean or std");
}

Status check_params(const PluginParams& params) {
    if (params.regions.k < 1) {
        return Status::error(RE_ERR_PRESET, std::string(kPluginName) + ": field 'regions' is required (4*K values)");
    }
    Status s = check_spec(params.spec);
    if (!s.ok()) return s;
    re_geometry g{};
    g.kind = RE_GEOMETRY_BOXES;
    g.k = params.regions.k;
    g.regions = &params.regions.box[0][0];
    RegionTable copy{};
    return check_regions(g, &copy);
}

size_t serial_size() { return sizeof(uint32_t) + sizeof(RegionTable) + sizeof(re_output_spec); }

void serialize(const PluginParams& params, void* buffer) {
    char* out = static_cast<char*>(buffer);
    const uint32_t magic = kSerialMagic;
    memcpy(out, &magic, sizeof(magic));
    memcpy(out + sizeof(magic), &params.regions, sizeof(RegionTable));
    memcpy(out + sizeof(magic) + sizeof(RegionTable), &params.spec, sizeof(re_output_spec));
}

Status deserialize(const void* data, size_t length, PluginParams* params) {
    uint32_t magic = 0;
    if (data == nullptr || length != serial_size()) {
        return Status::error(RE_ERR_PARAM, std::string(kPluginName) + ": serialized data has " +
                                               std::to_string(length) + " bytes, expected " +
                                               std::to_string(serial_size()));
    }
    const char* in = static_cast<const char*>(data);
    memcpy(&magic, in, sizeof(magic));
    if (magic != kSerialMagic) {
        return Status::error(RE_ERR_PARAM, std::string(kPluginName) + ": serialized data is not a RanRegionBatch v1");
    }
    memcpy(&params->regions, in + sizeof(magic), sizeof(RegionTable));
    memcpy(&params->spec, in + sizeof(magic) + sizeof(RegionTable), sizeof(re_output_spec));
    return check_params(*params);
}

}  // namespace trt
}  // namespace ran_edge
