// TensorRT-side helpers shared by the IPluginV3 (TensorRT >= 10) and IPluginV2DynamicExt (8.x) plugins.
// Include after <NvInferRuntime.h>.
#ifndef RAN_EDGE_TRT_PLUGIN_TRT_COMMON_H
#define RAN_EDGE_TRT_PLUGIN_TRT_COMMON_H

#include <stdio.h>

#include <vector>

#include "plugin_fields.h"
#include "region_batch_impl.h"

namespace ran_edge {
namespace trt {

inline void report(const Status& s) { fprintf(stderr, "[ran_edge] %s plugin: %s\n", kPluginName, s.message.c_str()); }

// The PluginFields of a parameter set; owns the values they point to.
class FieldList {
public:
    FieldList() = default;
    FieldList(const FieldList&) = delete;
    FieldList& operator=(const FieldList&) = delete;

    void build(const PluginParams& params) {
        p_ = params;
        const PluginParams& p = p_;
        for (int32_t r = 0; r < p.regions.k; ++r)
            for (int i = 0; i < 4; ++i) regions_[4 * r + i] = p.regions.box[r][i];
        fields_.clear();
        fields_.emplace_back("regions", regions_, nvinfer1::PluginFieldType::kFLOAT64, 4 * p.regions.k);
        fields_.emplace_back("size", &p.spec.size, nvinfer1::PluginFieldType::kINT32, 1);
        fields_.emplace_back("out_dtype", &p.spec.dtype, nvinfer1::PluginFieldType::kINT32, 1);
        fields_.emplace_back("frame_order", &p.spec.frame_order, nvinfer1::PluginFieldType::kINT32, 1);
        fields_.emplace_back("out_order", &p.spec.out_order, nvinfer1::PluginFieldType::kINT32, 1);
        fields_.emplace_back("scale", &p.spec.scale, nvinfer1::PluginFieldType::kFLOAT32, 1);
        fields_.emplace_back("mean", p.spec.mean, nvinfer1::PluginFieldType::kFLOAT32, 3);
        fields_.emplace_back("std", p.spec.std, nvinfer1::PluginFieldType::kFLOAT32, 3);
        collection_.nbFields = static_cast<int32_t>(fields_.size());
        collection_.fields = fields_.data();
    }
    const nvinfer1::PluginFieldCollection* get() const { return &collection_; }

private:
    PluginParams p_{};
    double regions_[4 * RE_MAX_REGIONS] = {};
    std::vector<nvinfer1::PluginField> fields_;
    nvinfer1::PluginFieldCollection collection_{};
};

// Runs the kernel for inputs (frame [H,W,3] uint8/float32, boxes [N,4] float32) on `stream`; 0 on success.
inline int32_t enqueue_region_batch(const PluginParams& params, const nvinfer1::PluginTensorDesc* inputDesc,
                                    const void* const* inputs, void* const* outputs, cudaStream_t stream) {
    CudaLaunch l{};
    const bool f32 = inputDesc[0].type == nvinfer1::DataType::kFLOAT;
    l.frame = inputs[0];
    l.frame_type = f32 ? FrameType::kFloat32 : FrameType::kUint8;
    l.height = static_cast<int32_t>(inputDesc[0].dims.d[0]);
    l.width = static_cast<int32_t>(inputDesc[0].dims.d[1]);
    l.pitch = static_cast<int64_t>(l.width) * 3 * (f32 ? 4 : 1);
    l.kind = RE_GEOMETRY_BOXES;
    l.n = static_cast<int32_t>(inputDesc[1].dims.d[0]);
    l.faces = inputs[1];
    l.faces_dtype = RE_DTYPE_FLOAT32;
    l.regions = params.regions;
    l.spec = params.spec;
    l.out = outputs[0];
    l.error_flag = nullptr;  // invalid boxes give fill values (no host check possible inside an engine)
    Status s = check_frame(l.height, l.width, l.pitch, f32 ? 4 : 1);
    if (s.ok()) s = launch_cuda(l, stream);
    if (!s.ok()) report(s);
    return s.ok() ? 0 : 1;
}

// Parses a field collection into checked parameters (nullptr-safe); reports and returns false on error.
inline bool params_from_fields(const nvinfer1::PluginFieldCollection* fc, PluginParams* p) {
    *p = default_params();
    Status s;
    for (int32_t i = 0; fc != nullptr && s.ok() && i < fc->nbFields; ++i) {
        const nvinfer1::PluginField& f = fc->fields[i];
        s = set_field(p, f.name, f.data, static_cast<int32_t>(f.type), f.length);
    }
    if (s.ok()) s = check_params(*p);
    if (!s.ok()) report(s);
    return s.ok();
}

}  // namespace trt
}  // namespace ran_edge

#endif  // RAN_EDGE_TRT_PLUGIN_TRT_COMMON_H
