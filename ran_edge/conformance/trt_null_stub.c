/* Null stand-ins for the few TensorRT entry points that NVIDIA's Python bindings link (`nm -D
 * --undefined-only tensorrt.so`). Built once per soname (libnvinfer.so.8/.10/.11, libnvonnxparser,
 * libnvinfer_plugin, libnvparsers.so.8) so the real bindings module imports without TensorRT.
 * Every factory returns NULL: any call that needs TensorRT fails at once ("factory function returned
 * nullptr"), so nothing built on these can be mistaken for a TensorRT result. */
#include <stddef.h>

void *createInferBuilder_INTERNAL(void *logger, int version) { (void)logger; (void)version; return NULL; }
void *createInferRuntime_INTERNAL(void *logger, int version) { (void)logger; (void)version; return NULL; }
void *createInferRefitter_INTERNAL(void *engine, void *logger, int version) { (void)engine; (void)logger; (void)version; return NULL; }
void *createNvOnnxParser_INTERNAL(void *network, void *logger, int version) { (void)network; (void)logger; (void)version; return NULL; }
void *createNvOnnxParserRefitter_INTERNAL(void *refitter, void *logger, int version) { (void)refitter; (void)logger; (void)version; return NULL; }
int getNvOnnxParserVersion(void) { return 0; }
void *getPluginRegistry(void) { return NULL; }
void *getBuilderPluginRegistry(int kind) { (void)kind; return NULL; }
int initLibNvInferPlugins(void *logger, const char *ns) { (void)logger; (void)ns; return 0; }

/* TensorRT 8.x bindings also link libnvparsers (UFF and Caffe); these are their C++ mangled names. */
void *_ZN11nvuffparser15createUffParserEv(void) { return NULL; }
void _ZN11nvuffparser8FieldMapC1EPKcPKvNS_9FieldTypeEi(void *self, const char *name, const void *data, int type, int length) {
  (void)self; (void)name; (void)data; (void)type; (void)length;
}
void *_ZN14nvcaffeparser117createCaffeParserEv(void) { return NULL; }
void _ZN14nvcaffeparser123shutdownProtobufLibraryEv(void) {}
