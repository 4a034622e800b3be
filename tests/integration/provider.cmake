# Integration tests of the OpenSSL provider (openssl CLI over SoftHSM2, or
# the module named by P11P_TEST_MODULE). Included from
# provider/CMakeLists.txt; guarded so that a second include is harmless.
# The list is explicit: other openssl_*.sh scripts belong to other suites.
if(NOT P11P_PROVIDER_TESTS_REGISTERED)
  set(P11P_PROVIDER_TESTS_REGISTERED ON)
  foreach(name IN ITEMS openssl_store_pkey openssl_sign_decrypt
                        openssl_req_x509_cms openssl_genpkey_req
                        openssl_s_server_tls)
    p11p_add_shell_test(NAME ${name}
      SCRIPT ${CMAKE_SOURCE_DIR}/tests/integration/${name}.sh
      LABELS integration TIMEOUT 400)
  endforeach()
endif()
