# SPDX-License-Identifier: Apache-2.0
# bench_enroll (issue 3): enrollments per second through the module against
# the portal simulator; run by bench/run_enroll.sh. A bench, not a test:
# built on demand. Include from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/enroll.cmake)
if(NOT TARGET bench_enroll)
  find_package(Threads REQUIRED)
  add_executable(bench_enroll EXCLUDE_FROM_ALL
                 ${CMAKE_SOURCE_DIR}/bench/bench_enroll.c)
  target_include_directories(bench_enroll PRIVATE ${CMAKE_SOURCE_DIR})
  target_link_libraries(bench_enroll PRIVATE p11p_bench_common Threads::Threads)
  if(TARGET p11portal-pkcs11)
    add_dependencies(bench_enroll p11portal-pkcs11)
  endif()
endif()
