# SPDX-License-Identifier: Apache-2.0
# Issue 7: the p11portal tool under test. Every tests/integration/tool_*.sh
# but tool_lib.sh is a test (label "tool"); a first line "# timeout: N" sets its timeout
# (default 300 s). Scripts find the tool in P11P_TOOL and the module in
# P11P_MODULE; tool_lib.sh has their helpers.
if(TARGET p11portal-tool AND TARGET p11portal-pkcs11
   AND NOT P11P_TOOL_TESTS_REGISTERED)
  set(P11P_TOOL_TESTS_REGISTERED ON)
  file(GLOB P11P_TOOL_TESTS CONFIGURE_DEPENDS
    ${CMAKE_SOURCE_DIR}/tests/integration/tool_*.sh)
  list(FILTER P11P_TOOL_TESTS EXCLUDE REGEX "/tool_lib\\.sh$")
  foreach(script IN LISTS P11P_TOOL_TESTS)
    get_filename_component(name ${script} NAME_WE)
    file(STRINGS ${script} tline REGEX "^# timeout: [0-9]+" LIMIT_COUNT 1)
    set(timeout 300)
    if(tline)
      string(REGEX REPLACE "^# timeout: ([0-9]+).*" "\\1" timeout "${tline}")
    endif()
    p11p_add_shell_test(NAME ${name} SCRIPT ${script}
      LABELS integration tool TIMEOUT ${timeout})
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT
      "P11P_MODULE=$<TARGET_FILE:p11portal-pkcs11>"
      "P11P_TOOL=$<TARGET_FILE:p11portal-tool>")
  endforeach()
endif()
