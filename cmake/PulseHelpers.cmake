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
function(pulse_lock_integration_tests)
  get_property(tests DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} PROPERTY TESTS)
  foreach(t IN LISTS tests)
    get_test_property(${t} LABELS labels)
    if(labels AND "integration" IN_LIST labels)
      set_tests_properties(${t} PROPERTIES RESOURCE_LOCK machine_network)
    endif()
  endforeach()
endfunction()
