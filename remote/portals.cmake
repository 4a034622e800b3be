# SPDX-License-Identifier: Apache-2.0
# The portal drivers (Sectigo SCM, DigiCert ONE IoT) and the shared HTTP,
# JSON, retry, credentials and chain helpers under them, added to
# p11p_remote; and their unit tests. Included at the end of
# remote/CMakeLists.txt.
target_sources(p11p_remote PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/http.c
  ${CMAKE_CURRENT_LIST_DIR}/json.c
  ${CMAKE_CURRENT_LIST_DIR}/retry.c
  ${CMAKE_CURRENT_LIST_DIR}/cred.c
  ${CMAKE_CURRENT_LIST_DIR}/chain.c
  ${CMAKE_CURRENT_LIST_DIR}/sectigo/sectigo.c
  ${CMAKE_CURRENT_LIST_DIR}/sectigo/sectigo_api.c
  ${CMAKE_CURRENT_LIST_DIR}/sectigo/sectigo_json.c
  ${CMAKE_CURRENT_LIST_DIR}/digicert/digicert.c
  ${CMAKE_CURRENT_LIST_DIR}/digicert/digicert_api.c
  ${CMAKE_CURRENT_LIST_DIR}/digicert/digicert_json.c
  ${CMAKE_CURRENT_LIST_DIR}/digicert/digicert_batch.c)
find_package(Threads REQUIRED)
target_link_libraries(p11p_remote PUBLIC PkgConfig::CURL PkgConfig::CJSON
  OpenSSL::Crypto OpenSSL::SSL Threads::Threads)

set(_p11p_portal_unit ${PROJECT_SOURCE_DIR}/tests/unit)
foreach(_t test_http_classify test_retry test_json test_sectigo_json
           test_digicert_json test_cred test_chain)
  if(EXISTS ${_p11p_portal_unit}/${_t}.c)
    p11p_add_unit_test(NAME ${_t} SOURCES ${_p11p_portal_unit}/${_t}.c
      LIBS p11p_remote p11p_conf p11p_base LABELS unit remote TIMEOUT 60)
  endif()
endforeach()

# The drivers against the portal simulator (needs python3 + cryptography).
set(_p11p_comp ${PROJECT_SOURCE_DIR}/tests/component/t_portal_drivers.c)
if(EXISTS ${_p11p_comp})
  add_executable(t_portal_drivers ${_p11p_comp})
  target_link_libraries(t_portal_drivers PRIVATE p11p_remote p11p_conf
    p11p_base OpenSSL::Crypto)
  p11p_add_shell_test(NAME sim_drivers
    SCRIPT ${PROJECT_SOURCE_DIR}/tests/integration/sim_drivers.sh
    LABELS component remote TIMEOUT 240)
  set_property(TEST sim_drivers APPEND PROPERTY ENVIRONMENT
    "P11P_T_PORTAL_DRIVERS=$<TARGET_FILE:t_portal_drivers>")
endif()
