// RanRegionBatch as a TensorRT >= 10 plugin (IPluginV3 with the V3One core/build/runtime capabilities).
// I/O and fields: plugin_fields.h. Registered when the library is loaded (dlopen, ctypes.CDLL,
// `trtexec --staticPlugins=libran_edge_trt_plugin.so`). Not verified on hardware (no TensorRT where it was written).
#include <NvInferRuntime.h>

#include <new>

#include "plugin_fields.h"
#include "plugin_trt_common.h"
#include "region_batch_impl.h"

#if NV_TENSORRT_MAJOR < 10
#error "region_batch_plugin_v3.cpp needs TensorRT >= 10; CMake builds region_batch_plugin_v2.cpp for TensorRT 8.x"
#endif

using namespace nvinfer1;

namespace ran_edge {
namespace trt {
namespace {

class RegionBatchPlugin : public IPluginV3,
                          public IPluginV3OneCore,
                          public IPluginV3OneBuild,
                          public IPluginV3OneRuntime {
public:
    explicit RegionBatchPlugin(const PluginParams& params) : params_(params) {}

    // IPluginV3
    IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override {
        switch (type) {
            case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
            case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
            case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }
    IPluginV3* clone() noexcept override { return new (std::nothrow) RegionBatchPlugin(params_); }

    // IPluginV3OneCore
    const char* getPluginName() const noexcept override { return kPluginName; }
    const char* getPluginVersion() const noexcept override { return kPluginVersion; }
    const char* getPluginNamespace() const noexcept override { return ""; }

    // IPluginV3OneBuild
    int32_t getNbOutputs() const noexcept override { return 1; }
    int32_t configurePlugin(const DynamicPluginTensorDesc*, int32_t, const DynamicPluginTensorDesc*,
                            int32_t) noexcept override {
        return 0;
    }
    int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, const DataType*,
                               int32_t nbInputs) const noexcept override {
        if (nbOutputs != 1 || nbInputs != 2) return 1;
        outputTypes[0] = params_.spec.dtype == RE_DTYPE_FLOAT16 ? DataType::kHALF : DataType::kFLOAT;
        return 0;
    }
    int32_t getOutputShapes(const DimsExprs* inputs, int32_t nbInputs, const DimsExprs*, int32_t, DimsExprs* outputs,
                            int32_t nbOutputs, IExprBuilder& builder) noexcept override {
        if (nbInputs != 2 || nbOutputs != 1 || inputs[0].nbDims != 3 || inputs[1].nbDims != 2) return 1;
        outputs[0].nbDims = 4;
        outputs[0].d[0] = builder.operation(DimensionOperation::kPROD, *inputs[1].d[0],
                                            *builder.constant(params_.regions.k));
        outputs[0].d[1] = builder.constant(3);
        outputs[0].d[2] = builder.constant(params_.spec.size);
        outputs[0].d[3] = builder.constant(params_.spec.size);
        return 0;
    }
    bool supportsFormatCombination(int32_t pos, const DynamicPluginTensorDesc* inOut, int32_t nbInputs,
                                   int32_t nbOutputs) noexcept override {
        if (nbInputs != 2 || nbOutputs != 1 || inOut[pos].desc.format != TensorFormat::kLINEAR) return false;
        const DataType t = inOut[pos].desc.type;
        if (pos == 0) return t == DataType::kUINT8 || t == DataType::kFLOAT;
        if (pos == 1) return t == DataType::kFLOAT;
        return t == (params_.spec.dtype == RE_DTYPE_FLOAT16 ? DataType::kHALF : DataType::kFLOAT);
    }

    // IPluginV3OneRuntime
    int32_t onShapeChange(const PluginTensorDesc*, int32_t, const PluginTensorDesc*, int32_t) noexcept override {
        return 0;
    }
    int32_t enqueue(const PluginTensorDesc* inputDesc, const PluginTensorDesc* outputDesc, const void* const* inputs,
                    void* const* outputs, void*, cudaStream_t stream) noexcept override {
        (void)outputDesc;
        return enqueue_region_batch(params_, inputDesc, inputs, outputs, stream);
    }
    IPluginV3* attachToContext(IPluginResourceContext*) noexcept override { return clone(); }
    const PluginFieldCollection* getFieldsToSerialize() noexcept override {
        fields_.build(params_);
        return fields_.get();
    }

private:
    PluginParams params_;
    FieldList fields_;
};

class RegionBatchCreator : public IPluginCreatorV3One {
public:
    RegionBatchCreator() { fields_.build(default_params()); }

    const char* getPluginName() const noexcept override { return kPluginName; }
    const char* getPluginVersion() const noexcept override { return kPluginVersion; }
    const char* getPluginNamespace() const noexcept override { return ""; }
    const PluginFieldCollection* getFieldNames() noexcept override { return fields_.get(); }

    IPluginV3* createPlugin(const char*, const PluginFieldCollection* fc, TensorRTPhase) noexcept override {
        PluginParams p{};
        return params_from_fields(fc, &p) ? new (std::nothrow) RegionBatchPlugin(p) : nullptr;
    }

private:
    FieldList fields_;
};

}  // namespace

REGISTER_TENSORRT_PLUGIN(RegionBatchCreator);

}  // namespace trt
}  // namespace ran_edge
