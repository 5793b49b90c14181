/* C API of the fused region-batch kernel (libran_edge_kernels, libran_edge_kernels_cuda).
 *
 * One call turns a uint8 video frame and N face boxes (or N 2x3 affines) into the engine's `regions` input
 * [N*K, 3, S, S] (row n*K + k is region k of face n), FP32 or FP16, following the sampling convention in
 * region_batch_math.h / csrc/README.md. Only C types cross this boundary; every function returns an re_status
 * and, on error, re_last_error() (CPU library) or re_cuda_last_error() (CUDA library) gives a one-line message
 * for the calling thread.
 */
#ifndef RAN_EDGE_REGION_BATCH_H
#define RAN_EDGE_REGION_BATCH_H

#include <stdint.h>

#if defined(_WIN32)
#define RE_API __declspec(dllexport)
#else
#define RE_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct or signature below changes; the Python loader refuses a mismatching library. */
#define RE_ABI_VERSION 3
/* Most regions per preset (the CUDA kernel takes the region table by value). */
#define RE_MAX_REGIONS 32
/* Largest output side S. */
#define RE_MAX_SIZE 8192

typedef enum re_status {
    RE_OK = 0,
    RE_ERR_NULL_POINTER = 1, /* a required pointer is NULL */
    RE_ERR_FRAME = 2,        /* frame size or row pitch invalid */
    RE_ERR_BOX = 3,          /* a face box is NaN/Inf, empty or inverted; or an affine is non-finite/degenerate */
    RE_ERR_PRESET = 4,       /* region table invalid (K out of range, box not inside [0,1], empty) */
    RE_ERR_PARAM = 5,        /* size, dtype, colour order, scale or std invalid */
    RE_ERR_OUTPUT = 6,       /* output buffer too small, or the output would be too large */
    RE_ERR_NO_CUDA = 7,      /* no CUDA device or driver */
    RE_ERR_CUDA = 8,         /* a CUDA runtime call failed (message has the CUDA error name) */
    RE_ERR_INTERNAL = 9      /* thread start failure, out of host memory */
} re_status;

enum { RE_DTYPE_FLOAT32 = 0, RE_DTYPE_FLOAT16 = 1, RE_DTYPE_FLOAT64 = 2 /* faces on the device only */ };
enum { RE_ORDER_BGR = 0, RE_ORDER_RGB = 1 };
enum { RE_GEOMETRY_BOXES = 0, RE_GEOMETRY_AFFINES = 1 };

/* Output format and the model's preprocessing. */
typedef struct re_output_spec {
    int32_t size;        /* S, output side in pixels, 1..RE_MAX_SIZE */
    int32_t dtype;       /* RE_DTYPE_FLOAT32 or RE_DTYPE_FLOAT16 */
    int32_t frame_order; /* RE_ORDER_* of the input frame (OpenCV frames are BGR) */
    int32_t out_order;   /* RE_ORDER_* of the output channels */
    float scale;         /* raw value multiplier, e.g. 1/255 */
    float mean[3];       /* per output channel, after scaling */
    float std[3];        /* per output channel, > 0 */
} re_output_spec;

/* Faces and regions, all host memory, row-major float64. */
typedef struct re_geometry {
    int32_t kind;          /* RE_GEOMETRY_BOXES: faces = [n,4] x0,y0,x1,y1 in frame pixels;
                              RE_GEOMETRY_AFFINES: faces = [n,6] a00,a01,a02,a10,a11,a12 mapping face-unit
                              coordinates (fx,fy) in [0,1]^2 to frame pixels */
    int32_t n;             /* number of faces, >= 0 (0: nothing is written, out may be NULL) */
    const double* faces;   /* n*4 or n*6 values */
    int32_t k;             /* number of regions, 1..RE_MAX_REGIONS */
    const double* regions; /* k*4 values x0,y0,x1,y1 as fractions of the face, 0 <= x0 < x1 <= 1 */
} re_geometry;

/* Separable resampling tables, for crop conventions given as weights instead of boxes (the "official" conventions:
 * whole-pixel boxes + Pillow's resize filter, computed once in ran_edge/crop.py and passed in). For item i (row
 * n*K + k of the output) and output pixel (j, x), with arithmetic RE_ARITH_FLOAT:
 *   out[i][c][j][x] = sum_ty y_weight[(i*size+j)*y_taps+ty] * sum_tx x_weight[(i*size+x)*x_taps+tx] *
 *                     frame[y_index[...ty]][x_index[...tx]][c]
 * (vertical taps applied first on the CPU, as the numpy reference's my @ X @ mx^T). With RE_ARITH_PILLOW_U8 the
 * weights are Pillow's 22-bit fixed-point coefficients (integers, |w| < 2^24, exact in float) and the arithmetic is
 * Pillow's 8-bit resize (Resample.c): the horizontal pass first, h = clip8(2^21 + sum_tx x_weight * frame) per
 * frame row the vertical taps read, clip8(v) = min(max(v >> 22, 0), 255), then the vertical pass over those uint8
 * values, out = clip8(2^21 + sum_ty y_weight * h), all in int32 (ran-edge's "official-uint8" convention,
 * bit-exact with Pillow). Unused taps have weight 0 and any valid index; pixels outside the frame are simply left
 * out (they are black). Raw values are then scaled and normalised as re_output_spec says. */
#define RE_ARITH_FLOAT 0
#define RE_ARITH_PILLOW_U8 1
typedef struct re_tap_tables {
    int32_t items;           /* n*k output regions, >= 0 */
    int32_t x_taps;          /* taps per output column, 1..RE_MAX_TAPS */
    int32_t y_taps;          /* taps per output row, 1..RE_MAX_TAPS */
    const int32_t* x_index;  /* items*size*x_taps column indices, 0 <= index < width */
    const float* x_weight;   /* items*size*x_taps finite weights */
    const int32_t* y_index;  /* items*size*y_taps row indices, 0 <= index < height */
    const float* y_weight;   /* items*size*y_taps finite weights */
    int32_t arithmetic;      /* RE_ARITH_FLOAT or RE_ARITH_PILLOW_U8 (weights are then integers, |w| < 2^24) */
} re_tap_tables;
/* Most taps per output pixel and axis (Pillow's BICUBIC downscaling by 32, LANCZOS by 21). */
#define RE_MAX_TAPS 130

/* ---- libran_edge_kernels (CPU reference, always built) ---- */

RE_API int32_t re_abi_version(void);
RE_API const char* re_status_name(int32_t status);
/* Message of the last failed call on this thread ("" when none). */
RE_API const char* re_last_error(void);

/* Bytes the output of n faces x k regions x size needs for dtype (-1 when it does not fit in int64). */
RE_API int64_t re_output_bytes(int32_t n, int32_t k, int32_t size, int32_t dtype);

/* CPU reference. frame: height x width x 3 uint8, `pitch` bytes between rows (>= 3*width). out: host buffer of
 * out_bytes >= re_output_bytes(...). num_threads: 0 = all hardware threads. */
RE_API int32_t re_region_batch_cpu(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                                   const re_geometry* geometry, const re_output_spec* spec, void* out,
                                   int64_t out_bytes, int32_t num_threads);

/* CPU reference of the tap-table path (size = spec->size). */
RE_API int32_t re_region_batch_taps_cpu(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                                        const re_tap_tables* tables, const re_output_spec* spec, void* out,
                                        int64_t out_bytes, int32_t num_threads);

/* ---- libran_edge_kernels_cuda (built when nvcc is found) ---- */

RE_API int32_t re_cuda_abi_version(void);
RE_API const char* re_cuda_last_error(void);
/* Number of CUDA devices; 0 when there is no device or driver (the reason is in re_cuda_last_error()). */
RE_API int32_t re_cuda_device_count(void);

/* Convenience entry: host frame, host faces, host output. Copies to `device`, runs one kernel launch, copies
 * back, synchronously. Validates every face first (same errors as the CPU reference). */
RE_API int32_t re_region_batch_cuda_host(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                                         const re_geometry* geometry, const re_output_spec* spec, void* out,
                                         int64_t out_bytes, int32_t device);

/* Tap-table path on the GPU, host memory in and out (copies, one launch, copies back, synchronously). */
RE_API int32_t re_region_batch_taps_cuda_host(const uint8_t* frame, int32_t height, int32_t width, int64_t pitch,
                                              const re_tap_tables* tables, const re_output_spec* spec, void* out,
                                              int64_t out_bytes, int32_t device);

/* Zero-copy entry: d_frame, d_faces and d_out are device pointers; from `geometry` only kind, n, k and regions
 * are used (regions stay host memory: they are passed by value to the kernel; geometry->faces is ignored, the faces
 * are d_faces); `faces_dtype` is RE_DTYPE_FLOAT32 or RE_DTYPE_FLOAT64 (below).
 * Enqueues one kernel on `stream` (a cudaStream_t, NULL = default stream) and returns without synchronising.
 * Faces cannot be checked on the host here: an invalid face writes fill values for its regions and, when
 * d_error_flag (device int32) is not NULL, the kernel stores RE_ERR_BOX into it (the caller zeroes it first). */
RE_API int32_t re_region_batch_cuda_device(const uint8_t* d_frame, int32_t height, int32_t width, int64_t pitch,
                                           const re_geometry* geometry, const void* d_faces, int32_t faces_dtype,
                                           const re_output_spec* spec, void* d_out, int64_t out_bytes,
                                           void* stream, int32_t* d_error_flag);

#ifdef __cplusplus
}
#endif

#endif /* RAN_EDGE_REGION_BATCH_H */
