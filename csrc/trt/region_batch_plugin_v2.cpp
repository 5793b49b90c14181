// RanRegionBatch as a TensorRT 8.x plugin (IPluginV2DynamicExt + IPluginCreator), for JetPack 5/6.0 (TRT 8.5/8.6).
// Same I/O, fields and kernel as the IPluginV3 version (plugin_fields.h). Registered when the library is loaded
// (dlopen, ctypes.CDLL, `trtexec --plugins=libran_edge_trt_plugin.so`). Not verified on hardware.
#include <NvInferRuntime.h>

#include <new>
#include <string>

#include "plugin_fields.h"
#include "plugin_trt_common.h"
#include "region_batch_impl.h"

#if NV_TENSORRT_MAJOR >= 10
#error "region_batch_plugin_v2.cpp is for TensorRT 8.x; CMake builds region_batch_plugin_v3.cpp for TensorRT >= 10"
#endif

using namespace nvinfer1;

namespace ran_edge {
namespace trt {
namespace {

class RegionBatchPluginV2 : public IPluginV2DynamicExt {
public:
    explicit RegionBatchPluginV2(const PluginParams& params) : params_(params) {}

    // IPluginV2DynamicExt
    IPluginV2DynamicExt* clone() const noexcept override {
        auto* p = new (std::nothrow) RegionBatchPluginV2(params_);
        if (p != nullptr) p->setPluginNamespace(namespace_.c_str());
        return p;
    }
    DimsExprs getOutputDimensions(int32_t outputIndex, const DimsExprs* inputs, int32_t nbInputs,
                                  IExprBuilder& builder) noexcept override {
        DimsExprs out{};
        if (outputIndex != 0 || nbInputs != 2 || inputs[1].nbDims != 2) return out;  // nbDims 0: rejected
        out.nbDims = 4;
        out.d[0] = builder.operation(DimensionOperation::kPROD, *inputs[1].d[0], *builder.constant(params_.regions.k));
        out.d[1] = builder.constant(3);
        out.d[2] = builder.constant(params_.spec.size);
        out.d[3] = builder.constant(params_.spec.size);
        return out;
    }
    bool supportsFormatCombination(int32_t pos, const PluginTensorDesc* inOut, int32_t nbInputs,
                                   int32_t nbOutputs) noexcept override {
        if (nbInputs != 2 || nbOutputs != 1 || inOut[pos].format != TensorFormat::kLINEAR) return false;
        const DataType t = inOut[pos].type;
        if (pos == 0) return t == DataType::kUINT8 || t == DataType::kFLOAT;
        if (pos == 1) return t == DataType::kFLOAT;
        return t == output_type();
    }
    void configurePlugin(const DynamicPluginTensorDesc*, int32_t, const DynamicPluginTensorDesc*,
                         int32_t) noexcept override {}
    size_t getWorkspaceSize(const PluginTensorDesc*, int32_t, const PluginTensorDesc*,
                            int32_t) const noexcept override {
        return 0;
    }
    int32_t enqueue(const PluginTensorDesc* inputDesc, const PluginTensorDesc*, const void* const* inputs,
                    void* const* outputs, void*, cudaStream_t stream) noexcept override {
        return enqueue_region_batch(params_, inputDesc, inputs, outputs, stream);
    }

    // IPluginV2Ext
    DataType getOutputDataType(int32_t, const DataType*, int32_t) const noexcept override { return output_type(); }

    // IPluginV2
    const char* getPluginType() const noexcept override { return kPluginName; }
    const char* getPluginVersion() const noexcept override { return kPluginVersion; }
    int32_t getNbOutputs() const noexcept override { return 1; }
    int32_t initialize() noexcept override { return 0; }
    void terminate() noexcept override {}
    size_t getSerializationSize() const noexcept override { return serial_size(); }
    void serialize(void* buffer) const noexcept override { ran_edge::trt::serialize(params_, buffer); }
    void destroy() noexcept override { delete this; }
    void setPluginNamespace(const char* ns) noexcept override { namespace_ = ns != nullptr ? ns : ""; }
    const char* getPluginNamespace() const noexcept override { return namespace_.c_str(); }

private:
    DataType output_type() const {
        return params_.spec.dtype == RE_DTYPE_FLOAT16 ? DataType::kHALF : DataType::kFLOAT;
    }

    PluginParams params_;
    std::string namespace_;
};

// IPluginCreator (8.x) returns IPluginV2*, which the 8.5/8.6 headers mark deprecated while no other return type
// exists. This alias is the one place that names it, so that deprecation is acknowledged here, once, and every
// other deprecation warning still fails the -Werror compile check (tests/kernels/test_trt_headers.py).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
using CreatedPlugin = IPluginV2;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

class RegionBatchCreatorV2 : public IPluginCreator {
public:
    RegionBatchCreatorV2() { fields_.build(default_params()); }

    const char* getPluginName() const noexcept override { return kPluginName; }
    const char* getPluginVersion() const noexcept override { return kPluginVersion; }
    const PluginFieldCollection* getFieldNames() noexcept override { return fields_.get(); }
    CreatedPlugin* createPlugin(const char*, const PluginFieldCollection* fc) noexcept override {
        PluginParams p{};
        return params_from_fields(fc, &p) ? with_namespace(new (std::nothrow) RegionBatchPluginV2(p)) : nullptr;
    }
    CreatedPlugin* deserializePlugin(const char*, const void* data, size_t length) noexcept override {
        PluginParams p{};
        const Status s = deserialize(data, length, &p);
        if (!s.ok()) {
            report(s);
            return nullptr;
        }
        return with_namespace(new (std::nothrow) RegionBatchPluginV2(p));
    }
    void setPluginNamespace(const char* ns) noexcept override { namespace_ = ns != nullptr ? ns : ""; }
    const char* getPluginNamespace() const noexcept override { return namespace_.c_str(); }

private:
    CreatedPlugin* with_namespace(RegionBatchPluginV2* plugin) const {
        if (plugin != nullptr) plugin->setPluginNamespace(namespace_.c_str());
        return plugin;
    }

    FieldList fields_;
    std::string namespace_;
};

}  // namespace

REGISTER_TENSORRT_PLUGIN(RegionBatchCreatorV2);

}  // namespace trt
}  // namespace ran_edge
