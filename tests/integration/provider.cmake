# Integration tests of the OpenSSL provider (the openssl CLI) and its
# component test. Included from provider/CMakeLists.txt; guarded so that a
# second include is harmless. The list is explicit: other openssl_*.sh
# scripts belong to other suites.
#
# Each shared scenario runs twice: over SoftHSM2 (<name>_softhsm; a plain
# PKCS#11 module, no enrollment) and over our module (<name>_p11portal;
# keys are enrolled by the local CA when they are generated). Scenarios
# that need enrollment or a portal run over our module only.
if(NOT P11P_PROVIDER_TESTS_REGISTERED)
  set(P11P_PROVIDER_TESTS_REGISTERED ON)
  set(p11p_prov_softhsm /usr/lib/softhsm/libsofthsm2.so)
  set(p11p_prov_ours "$<TARGET_FILE:p11portal-pkcs11>")

  # Sanitized builds run every openssl process under ASan: slower.
  if(P11P_SANITIZE)
    set(p11p_prov_timeout 900)
  else()
    set(p11p_prov_timeout 400)
  endif()

  # p11p_prov_add_test(script suffix module)
  function(p11p_prov_add_test script suffix module)
    p11p_add_shell_test(NAME ${script}_${suffix}
      SCRIPT ${CMAKE_SOURCE_DIR}/tests/integration/${script}.sh
      LABELS integration TIMEOUT ${p11p_prov_timeout})
    set_property(TEST ${script}_${suffix} APPEND PROPERTY ENVIRONMENT
      "P11P_TEST_MODULE=${module}")
  endfunction()

  foreach(name IN ITEMS openssl_store_pkey openssl_sign_decrypt
                        openssl_req_x509_cms openssl_genpkey_req
                        openssl_s_server_tls)
    p11p_prov_add_test(${name} softhsm ${p11p_prov_softhsm})
    if(TARGET p11portal-pkcs11)
      p11p_prov_add_test(${name} p11portal ${p11p_prov_ours})
    endif()
  endforeach()

  if(TARGET p11portal-pkcs11)
    foreach(name IN ITEMS openssl_enroll_tls openssl_portal_reentry)
      p11p_prov_add_test(${name} p11portal ${p11p_prov_ours})
    endforeach()

    # Fork safety of the provider over our module (tests/component).
    p11p_add_unit_test(NAME t_provider_fork
      SOURCES ${CMAKE_SOURCE_DIR}/tests/component/t_provider_fork.c
      LIBS p11t OpenSSL::Crypto LABELS component TIMEOUT 120)
    add_dependencies(t_provider_fork p11portal-provider p11portal-pkcs11)
    set_property(TEST t_provider_fork APPEND PROPERTY ENVIRONMENT
      "P11P_MODULE=${p11p_prov_ours}"
      "OPENSSL_MODULES=$<TARGET_FILE_DIR:p11portal-provider>")
  endif()
endif()
