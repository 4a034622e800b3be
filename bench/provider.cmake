# bench_provider_sign: signatures/s through the p11portal provider, the
# default provider with the key in memory and the libp11 PKCS#11 engine
# (libengine-pkcs11-openssl) over the same module. A bench, not a test:
# built on demand (cmake --build <dir> --target bench_provider_sign).
if(NOT TARGET bench_provider_sign)
  add_executable(bench_provider_sign EXCLUDE_FROM_ALL
                 ${CMAKE_SOURCE_DIR}/bench/bench_provider_sign.c)
  target_link_libraries(bench_provider_sign PRIVATE OpenSSL::Crypto)
  # The engine API is deprecated in OpenSSL 3; the comparison needs it.
  target_compile_options(bench_provider_sign PRIVATE -Wno-deprecated-declarations)
  add_dependencies(bench_provider_sign p11portal-provider)
endif()
