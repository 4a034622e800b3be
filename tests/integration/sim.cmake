# SPDX-License-Identifier: Apache-2.0
# Issue 3: the token against the portal simulator through the real module
# and real clients (pkcs11-tool, python ctypes over the module's PKCS#11
# interface): per-driver flows, the fault matrix, kill -9, TLS and secrets.
# Each script starts its own simulator on port 0 in its own folder. Include
# from tests/CMakeLists.txt after the module's target exists:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/integration/sim.cmake)
if(TARGET p11portal-pkcs11 AND NOT P11P_SIM_TESTS_REGISTERED)
  set(P11P_SIM_TESTS_REGISTERED ON)
  foreach(spec IN ITEMS "sim_enroll_flows;240" "sim_fault_matrix;600"
                        "sim_kill9;300" "sim_tls_secrets;240"
                        "sim_digicert_rekey;240")
    list(GET spec 0 name)
    list(GET spec 1 timeout)
    p11p_add_shell_test(NAME ${name}
      SCRIPT ${CMAKE_SOURCE_DIR}/tests/integration/${name}.sh
      LABELS integration sim TIMEOUT ${timeout})
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT
      "P11P_MODULE=$<TARGET_FILE:p11portal-pkcs11>")
  endforeach()
endif()
