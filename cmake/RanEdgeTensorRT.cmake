# Finding TensorRT for the region-batch plugin; used by the top-level CMakeLists.txt and by the detection
# test project csrc/tests/trt_detect (configured against every vendored header set in make test).
#
# ran_edge_tensorrt_major(<include dir> <out var>)
#   The TensorRT major version written in <include dir>/NvInferVersion.h, or "" when it cannot be read.
#   Two header styles exist (third_party/tensorrt-headers/README.md):
#     8.x, early 10.x (8.5.2, 8.6.1, 10.3.0):  #define NV_TENSORRT_MAJOR 8 //!< TensorRT major version.
#     later 10.x, 11.x (10.13.3, 11.1):        #define TRT_MAJOR_ENTERPRISE 10
#                                              #define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE //!< ...
#   so the value of NV_TENSORRT_MAJOR is read as a number or as the name of another #define (one level).
#
# ran_edge_find_tensorrt()
#   Sets TENSORRT_INCLUDE_DIR, TENSORRT_LIBRARY (cache) and TENSORRT_MAJOR, searching TENSORRT_ROOT first.

function(ran_edge_tensorrt_major include_dir out_var)
  set(_major "")
  set(_header "${include_dir}/NvInferVersion.h")
  if(EXISTS "${_header}")
    file(STRINGS "${_header}" _lines REGEX "^[ \t]*#[ \t]*define[ \t]+NV_TENSORRT_MAJOR[ \t]")
    foreach(_line IN LISTS _lines)
      if(_line MATCHES "define[ \t]+NV_TENSORRT_MAJOR[ \t]+([A-Za-z0-9_]+)")
        set(_value "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    if(_value MATCHES "^[0-9]+$")
      set(_major "${_value}")
    elseif(_value)
      file(STRINGS "${_header}" _lines REGEX "^[ \t]*#[ \t]*define[ \t]+${_value}[ \t]+[0-9]+")
      foreach(_line IN LISTS _lines)
        if(_line MATCHES "define[ \t]+${_value}[ \t]+([0-9]+)")
          set(_major "${CMAKE_MATCH_1}")
        endif()
      endforeach()
    endif()
  endif()
  set(${out_var} "${_major}" PARENT_SCOPE)
endfunction()

macro(ran_edge_find_tensorrt)
  find_path(TENSORRT_INCLUDE_DIR NvInfer.h HINTS "${TENSORRT_ROOT}"
            PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu)
  find_library(TENSORRT_LIBRARY nvinfer HINTS "${TENSORRT_ROOT}"
               PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu)
  set(TENSORRT_MAJOR "")
  if(TENSORRT_INCLUDE_DIR)
    ran_edge_tensorrt_major("${TENSORRT_INCLUDE_DIR}" TENSORRT_MAJOR)
  endif()
endmacro()
