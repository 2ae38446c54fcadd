# The packaging test (cmake -P, registered in CTest by tests/CMakeLists.txt). MODE is one of
#   find_shared   install a shared xgrad into a temporary prefix; a separate project finds it
#                 with find_package(xgrad CONFIG REQUIRED) and links xgrad::xgrad
#   find_static   the same with a static libxgrad.a (OpenBLAS comes through the package)
#   subdirectory  a separate project builds xgrad with add_subdirectory
# and then runs the consumer, which checks a gradient. Library objects come from ccache: the flags
# match the main build (same compiler, Release, same XGRAD_NATIVE), and the library is built in
# LIB_BUILD_DIR, beside the main build directory, so the paths ccache sees match too.
cmake_minimum_required(VERSION 3.25)

foreach(var MODE XGRAD_SOURCE_DIR WORK_DIR LIB_BUILD_DIR GENERATOR CXX_COMPILER NATIVE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_package_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(work ${WORK_DIR}/${MODE})
file(REMOVE_RECURSE ${work} ${LIB_BUILD_DIR})
file(MAKE_DIRECTORY ${work})
set(common_args -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX_COMPILER})

function(run step)
  message(STATUS "[${MODE}] ${step}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${MODE}] ${step} failed (${rc})")
  endif()
endfunction()

set(package_dir ${XGRAD_SOURCE_DIR}/tests/package)

if(MODE STREQUAL "find_shared" OR MODE STREQUAL "find_static")
  if(MODE STREQUAL "find_shared")
    set(shared ON)
  else()
    set(shared OFF)
  endif()
  set(prefix ${work}/prefix)
  run("configure xgrad" ${CMAKE_COMMAND} -S ${XGRAD_SOURCE_DIR} -B ${LIB_BUILD_DIR} ${common_args}
      -DXGRAD_BUILD_TESTS=OFF -DXGRAD_BUILD_EXAMPLES=OFF -DXGRAD_BUILD_BENCH=OFF
      -DXGRAD_NATIVE=${NATIVE} -DBUILD_SHARED_LIBS=${shared} -DCMAKE_INSTALL_PREFIX=${prefix})
  run("build xgrad" ${CMAKE_COMMAND} --build ${LIB_BUILD_DIR} --parallel 2)
  run("install xgrad" ${CMAKE_COMMAND} --install ${LIB_BUILD_DIR})

  # The package's pieces are where find_package and the compiler look for them.
  foreach(expected include/xgrad/xgrad.h include/xgrad/tensor.h include/xgrad/ops.h)
    if(NOT EXISTS ${prefix}/${expected})
      message(FATAL_ERROR "[${MODE}] ${expected} was not installed")
    endif()
  endforeach()
  file(GLOB_RECURSE config_files RELATIVE ${prefix} ${prefix}/*/cmake/xgrad/*.cmake)
  foreach(name xgradConfig.cmake xgradConfigVersion.cmake xgradTargets.cmake)
    if(NOT config_files MATCHES "${name}")
      message(FATAL_ERROR "[${MODE}] ${name} was not installed (found: ${config_files})")
    endif()
  endforeach()
  if(shared)
    file(GLOB_RECURSE libs ${prefix}/*/libxgrad.so)
  else()
    file(GLOB_RECURSE libs ${prefix}/*/libxgrad.a)
  endif()
  if(NOT libs)
    message(FATAL_ERROR "[${MODE}] the installed library is missing")
  endif()
  # xtensor stays out of the public headers (only the opt-in xgrad/xtensor.h may use it).
  file(GLOB installed_headers ${prefix}/include/xgrad/*.h)
  foreach(header ${installed_headers})
    get_filename_component(header_name ${header} NAME)
    file(READ ${header} text)
    if(NOT header_name STREQUAL "xtensor.h" AND text MATCHES "#include <xtensor")
      message(FATAL_ERROR "[${MODE}] public header ${header_name} includes xtensor")
    endif()
  endforeach()

  run("configure consumer" ${CMAKE_COMMAND} -S ${package_dir}/find_package -B ${work}/consumer ${common_args}
      -DCMAKE_PREFIX_PATH=${prefix})
  run("build xtensor consumer" ${CMAKE_COMMAND} --build ${work}/consumer --target xtensor_app)
  run("run xtensor consumer" ${work}/consumer/xtensor_app)

  # pkg-config, without CMake.
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig:${prefix}/lib/x86_64-linux-gnu/pkgconfig")
  if(shared)
    set(pc_args --cflags --libs xgrad)
  else()
    set(pc_args --cflags --libs --static xgrad)
  endif()
  execute_process(COMMAND ${PKG_CONFIG} ${pc_args} OUTPUT_VARIABLE pc_flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${MODE}] pkg-config does not find xgrad.pc")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  get_filename_component(libdir ${libs} DIRECTORY)
  run("pkg-config consumer" ${CXX_COMPILER} -std=c++20 ${package_dir}/circuit.cpp ${pc_flags}
      -Wl,-rpath,${libdir} -o ${work}/pc_app)
  run("run pkg-config consumer" ${work}/pc_app)
elseif(MODE STREQUAL "subdirectory")
  # A parent without a build type (as many are): xgrad's own code must still be optimised.
  # Configure-only: building it would compile the library cold (other flags, no ccache hits).
  run("configure consumer without a build type" ${CMAKE_COMMAND} -S ${package_dir}/subdirectory
      -B ${work}/consumer-no-build-type -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
      -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DXGRAD_SOURCE_DIR=${XGRAD_SOURCE_DIR} -DXGRAD_NATIVE=${NATIVE})
  file(READ ${work}/consumer-no-build-type/compile_commands.json commands)
  string(REGEX MATCH "\"command\": \"[^\"]*core/engine.cpp[^\"]*\"" engine_command "${commands}")
  if(NOT engine_command MATCHES " -O[23] ")
    message(FATAL_ERROR "[${MODE}] xgrad compiles without optimisation in a parent without a build type:\n"
                        "${engine_command}")
  endif()
  set(consumer ${LIB_BUILD_DIR})  # it builds the library: beside the main build, as above
  run("configure consumer" ${CMAKE_COMMAND} -S ${package_dir}/subdirectory -B ${consumer} ${common_args}
      -DXGRAD_SOURCE_DIR=${XGRAD_SOURCE_DIR} -DXGRAD_NATIVE=${NATIVE})
else()
  message(FATAL_ERROR "run_package_test.cmake: unknown MODE '${MODE}'")
endif()

if(NOT DEFINED consumer)
  set(consumer ${work}/consumer)
endif()
run("build consumer" ${CMAKE_COMMAND} --build ${consumer} --parallel 2)
run("run consumer" ${consumer}/app)
message(STATUS "[${MODE}] ok")
