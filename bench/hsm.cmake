# SPDX-License-Identifier: Apache-2.0
# bench_hsm_sign (issue 5): C_Sign through p11portal with the hsm backend
# over SoftHSM2 against SoftHSM2 directly, same key. A bench, not a test.
# Included from bench/CMakeLists.txt after p11p_bench_common.
add_executable(bench_hsm_sign ${CMAKE_SOURCE_DIR}/bench/bench_hsm_sign.c)
target_link_libraries(bench_hsm_sign PRIVATE p11p_bench_common)
