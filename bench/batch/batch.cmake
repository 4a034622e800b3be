# SPDX-License-Identifier: Apache-2.0
# The batch benchmark (issue 7, bench/batch/run.sh): batch_keygen (the
# machine's key + CSR rate) and batch_simload (the portal simulator's
# ceiling). Benches, not tests: built on demand (EXCLUDE_FROM_ALL).
if(NOT TARGET batch_keygen)
  find_package(Threads REQUIRED)
  add_library(p11p_bench_batch_csr STATIC EXCLUDE_FROM_ALL
              ${CMAKE_CURRENT_LIST_DIR}/batch_csr.c)
  target_include_directories(p11p_bench_batch_csr PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(p11p_bench_batch_csr PUBLIC OpenSSL::Crypto)

  add_executable(batch_keygen EXCLUDE_FROM_ALL
                 ${CMAKE_CURRENT_LIST_DIR}/batch_keygen.c)
  target_link_libraries(batch_keygen PRIVATE p11p_bench_batch_csr
                        Threads::Threads)

  add_executable(batch_simload EXCLUDE_FROM_ALL
                 ${CMAKE_CURRENT_LIST_DIR}/batch_simload.c)
  target_link_libraries(batch_simload PRIVATE p11p_bench_batch_csr
                        PkgConfig::CURL)
endif()
