# pulse_add_test(NAME name SOURCES a.cc ... LIBS lib ... [LABELS l ...] [TIMEOUT s])
# Builds one GoogleTest binary and registers it with ctest.
function(pulse_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "PULSE_SOURCE_DIR=${CMAKE_SOURCE_DIR};PULSE_BINARY_DIR=${CMAKE_BINARY_DIR}")
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
    # Tests that drive Open vSwitch, Mininet, etcd or podman share machine-wide state
    # (bridges, namespaces, ports): never run two of them at once.
    if("integration" IN_LIST T_LABELS)
      set_tests_properties(${T_NAME} PROPERTIES RESOURCE_LOCK machine_network)
    endif()
  else()
    set_tests_properties(${T_NAME} PROPERTIES LABELS "unit")
  endif()
endfunction()

# pulse_lock_integration_tests(): every test of the calling directory labelled `integration`
# gets RESOURCE_LOCK machine_network, however it was added (pulse_add_test or a plain add_test for
# a Python or shell script): they share Open vSwitch, Mininet's clean-up and network namespaces,
# so no two may run at once. Call it at the end of a CMakeLists.txt that uses plain add_test.
# (CMake 3.25 can set test properties only from the directory that added the test.)
# A Python scenario of integration/ run as a test: /usr/bin/python3 (the one that sees Mininet),
# label integration, the source and build trees in PULSE_SOURCE_DIR / PULSE_BINARY_DIR.
#   pulse_add_script_test(NAME n SCRIPT file.py TIMEOUT seconds)
function(pulse_add_script_test)
  cmake_parse_arguments(ARG "" "NAME;SCRIPT;TIMEOUT" "" ${ARGN})
  add_test(NAME ${ARG_NAME} COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_SCRIPT})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS integration TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "PULSE_SOURCE_DIR=${CMAKE_SOURCE_DIR};PULSE_BINARY_DIR=${CMAKE_BINARY_DIR}")
endfunction()

function(pulse_lock_integration_tests)
  get_property(tests DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} PROPERTY TESTS)
  foreach(t IN LISTS tests)
    get_test_property(${t} LABELS labels)
    if(labels AND "integration" IN_LIST labels)
      set_tests_properties(${t} PROPERTIES RESOURCE_LOCK machine_network)
    endif()
  endforeach()
endfunction()

# pulse_grpc_proto(TARGET lib IMPORT_DIR dir OUT_DIR dir PROTOS a.proto ... [COMMENT text])
# Generates C++ message and gRPC service code for PROTOS with protoc and the gRPC C++ plugin, and
# compiles it into library TARGET (created when it does not exist yet, else the code is added to
# it). A proto is named by its path from IMPORT_DIR: that name is what generated code #includes,
# what other protos import and what gRPC reflection shows, so pick IMPORT_DIR for the name wanted
# ("pulse/v1/pulse.proto", not "proto/pulse/v1/pulse.proto"). Code goes to OUT_DIR under the same
# relative paths, and OUT_DIR is on TARGET's public include path. Generated code is not ours to
# fix, so TARGET compiles without warnings.
function(pulse_grpc_proto)
  cmake_parse_arguments(P "" "TARGET;IMPORT_DIR;OUT_DIR;COMMENT" "PROTOS" ${ARGN})
  if(NOT P_TARGET OR NOT P_IMPORT_DIR OR NOT P_OUT_DIR OR NOT P_PROTOS)
    message(FATAL_ERROR "pulse_grpc_proto: TARGET, IMPORT_DIR, OUT_DIR and PROTOS are required")
  endif()
  if(NOT P_COMMENT)
    set(P_COMMENT "Generating C++ code for ${P_TARGET}")
  endif()
  set(sources)
  set(headers)
  foreach(proto IN LISTS P_PROTOS)
    file(RELATIVE_PATH name ${P_IMPORT_DIR} ${proto})
    if(name MATCHES "^\\.\\./")
      message(FATAL_ERROR "pulse_grpc_proto: ${proto} is not under IMPORT_DIR ${P_IMPORT_DIR}")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem ${name})
    list(APPEND sources ${P_OUT_DIR}/${stem}.pb.cc ${P_OUT_DIR}/${stem}.grpc.pb.cc)
    list(APPEND headers ${P_OUT_DIR}/${stem}.pb.h ${P_OUT_DIR}/${stem}.grpc.pb.h)
  endforeach()
  add_custom_command(
    OUTPUT ${sources} ${headers}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${P_OUT_DIR}
    COMMAND protobuf::protoc
      -I ${P_IMPORT_DIR}
      --cpp_out=${P_OUT_DIR}
      --grpc_out=${P_OUT_DIR}
      --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
      ${P_PROTOS}
    DEPENDS ${P_PROTOS}
    COMMENT "${P_COMMENT}"
    VERBATIM
  )
  if(TARGET ${P_TARGET})
    target_sources(${P_TARGET} PRIVATE ${sources})
  else()
    add_library(${P_TARGET} ${sources})
    target_compile_options(${P_TARGET} PRIVATE -w)
    target_link_libraries(${P_TARGET} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  endif()
  target_include_directories(${P_TARGET} PUBLIC ${P_OUT_DIR})
endfunction()
