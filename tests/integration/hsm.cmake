# SPDX-License-Identifier: Apache-2.0
# Tests of the hsm key backend (issue 5) over a private SoftHSM2. Included
# from tests/CMakeLists.txt inside the block that defines
# p11p_add_integration_test (the module target exists):
#   include(${CMAKE_CURRENT_SOURCE_DIR}/integration/hsm.cmake)
p11p_add_integration_test(hsm_softhsm_keygen TIMEOUT 300
  LABELS integration hsm)
p11p_add_integration_test(hsm_pin_source TIMEOUT 200 LABELS integration hsm)

# In the sanitizer build, p11tool with SoftHSM2 loaded hangs at exit in
# p11-kit's destructor (see hsm_nofreelocale.c): lib.sh preloads this shim
# into p11tool over the hsm backend.
if(P11P_SANITIZE)
  add_library(p11p_test_nofreelocale MODULE
    ${CMAKE_CURRENT_SOURCE_DIR}/integration/hsm_nofreelocale.c)
  set_target_properties(p11p_test_nofreelocale PROPERTIES PREFIX ""
    OUTPUT_NAME hsm_nofreelocale)
  set(P11P_NOFREELOCALE_ENV
    "P11P_NOFREELOCALE=$<TARGET_FILE:p11p_test_nofreelocale>")
endif()

# The token's integration tests again, over the hsm backend
# (P11P_TEST_BACKEND=hsm, lib.sh): <name>_hsm runs <name>.sh with the token's
# keys in a private SoftHSM2 and the PINs passed through.
# p11p_add_hsm_variant(name [TIMEOUT s])
function(p11p_add_hsm_variant name)
  cmake_parse_arguments(V "" "TIMEOUT" "" ${ARGN})
  if(NOT V_TIMEOUT)
    set(V_TIMEOUT 300)
  endif()
  p11p_add_shell_test(NAME ${name}_hsm
    SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/integration/${name}.sh
    LABELS integration hsm TIMEOUT ${V_TIMEOUT})
  set_property(TEST ${name}_hsm APPEND PROPERTY ENVIRONMENT
    "${P11P_MODULE_ENV}" "P11P_TEST_BACKEND=hsm" ${P11P_NOFREELOCALE_ENV})
endfunction()

p11p_add_hsm_variant(pkcs11tool_token_init TIMEOUT 120)
p11p_add_hsm_variant(pkcs11tool_keypairgen_enroll TIMEOUT 400)
p11p_add_hsm_variant(p11tool_list_objects TIMEOUT 120)
p11p_add_hsm_variant(openssl_verify_chain TIMEOUT 120)
p11p_add_hsm_variant(multiproc_enroll_same_token TIMEOUT 300)

# Adoption of keys already in the backing token (the module adopts after a
# user login) and certificates written back to it (hsm_write_certs).
p11p_add_integration_test(hsm_adopt TIMEOUT 200 LABELS integration hsm)
p11p_add_integration_test(hsm_softhsm_write_certs TIMEOUT 200
  LABELS integration hsm)

# The hsm backend under the enrollment engine (a C test over SoftHSM2 and
# the local CA): registered here because p11p_enroll is defined after
# core/keys.
if(TARGET p11p_enroll)
  p11p_add_unit_test(NAME test_hsm_enroll
    SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_hsm_enroll.c
    LIBS p11p_enroll
    LABELS unit hsm
    TIMEOUT 120)
  # Full stacks, so SoftHSM2's own leak matches tests/lsan.supp.
  set_property(TEST test_hsm_enroll APPEND PROPERTY ENVIRONMENT
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0")
endif()

# The OpenSSL provider's tests over our module with the hsm backend
# (issue 4's tests, issue 5's proof): openssl_<name>_hsm runs the same
# script as <name>_p11portal (provider.cmake), with P11P_TEST_BACKEND=hsm
# (provider_lib.sh keeps the token's keys in a SoftHSM2 token).
# openssl_sign_decrypt skips its OAEP SHA-256 + label step over hsm, which
# SoftHSM2 2.6 refuses (docs/hsm.md, "OAEP").
if(TARGET p11portal-provider)
  # Under the sanitizers every openssl process unwinds each malloc (about a
  # minute per script): there, two scripts stand for the set. The hsm
  # paths of the module run under ASan through the token's tests above,
  # and the provider's through <name>_p11portal.
  if(P11P_SANITIZE)
    set(p11p_prov_hsm_timeout 900)
    set(p11p_prov_hsm_tests openssl_genpkey_req openssl_portal_reentry)
  else()
    set(p11p_prov_hsm_timeout 400)
    set(p11p_prov_hsm_tests openssl_store_pkey openssl_sign_decrypt
      openssl_req_x509_cms
      openssl_genpkey_req openssl_s_server_tls openssl_enroll_tls
      openssl_portal_reentry)
  endif()
  foreach(name IN LISTS p11p_prov_hsm_tests)
    p11p_add_shell_test(NAME ${name}_hsm
      SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/integration/${name}.sh
      LABELS integration hsm TIMEOUT ${p11p_prov_hsm_timeout})
    set_property(TEST ${name}_hsm APPEND PROPERTY ENVIRONMENT
      "P11P_TEST_MODULE=$<TARGET_FILE:p11portal-pkcs11>"
      "P11P_TEST_BACKEND=hsm")
  endforeach()
endif()
