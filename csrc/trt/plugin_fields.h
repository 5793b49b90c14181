// Attributes of the RanRegionBatch TensorRT plugin, independent of the TensorRT headers (so ctest covers them).
//
// Plugin I/O: inputs  0 frame [H, W, 3] uint8 (or float32 after an in-graph Cast), 1 boxes [N, 4] float32 (pixels);
//             output  0 regions [N*K, 3, S, S] float32 or float16.
// Fields (PluginField name: type, length):
//   regions      FLOAT64 or FLOAT32, 4*K   region boxes as fractions of the face, x0,y0,x1,y1 (required)
//   size         INT32, 1                  S (default 224)
//   out_dtype    INT32, 1                  0 float32, 1 float16 (default 0)
//   frame_order  INT32, 1                  0 BGR, 1 RGB (default 0)
//   out_order    INT32, 1                  0 BGR, 1 RGB (default 1)
//   scale        FLOAT32, 1                (default 1/255)
//   mean, std    FLOAT32, 3                (default 0 and 1)
#ifndef RAN_EDGE_TRT_PLUGIN_FIELDS_H
#define RAN_EDGE_TRT_PLUGIN_FIELDS_H

#include <stdint.h>

#include "region_batch_impl.h"

namespace ran_edge {
namespace trt {

constexpr const char* kPluginName = "RanRegionBatch";
constexpr const char* kPluginVersion = "1";

// nvinfer1::PluginFieldType values used here (stable across TensorRT 8.x-10.x).
enum FieldType : int32_t { kFieldFloat32 = 1, kFieldFloat64 = 2, kFieldInt32 = 5 };

struct PluginParams {
    RegionTable regions;
    re_output_spec spec;
};

// Defaults above, with no regions (k = 0).
PluginParams default_params();

// Applies one field; unknown names are an error (a typo must not be ignored).
Status set_field(PluginParams* params, const char* name, const void* data, int32_t type, int32_t length);

// Checks a complete parameter set (regions given, spec valid).
Status check_params(const PluginParams& params);

// Stable byte image of the parameters (IPluginV2 serialization) and its inverse.
constexpr uint32_t kSerialMagic = 0x52424731u;  // "RBG1"
size_t serial_size();
void serialize(const PluginParams& params, void* buffer);
Status deserialize(const void* data, size_t length, PluginParams* params);

}  // namespace trt
}  // namespace ran_edge

#endif  // RAN_EDGE_TRT_PLUGIN_FIELDS_H
