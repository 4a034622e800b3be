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

# tool_install (P11P_BUILD_DIR: the build it installs, from P11P_TEST_ENV):
# in the sanitizer build, p11-kit's own clients hang at exit in freelocale()
# with libasan preloaded, with or without modules (hsm_nofreelocale.c);
# the test preloads this shim into them.
if(TEST tool_install AND TARGET p11p_test_nofreelocale)
  set_property(TEST tool_install APPEND PROPERTY ENVIRONMENT
    "P11P_NOFREELOCALE=$<TARGET_FILE:p11p_test_nofreelocale>")
endif()

# The same subcommands over the hsm key backend (keys in a private SoftHSM2,
# lib.sh P11P_TEST_BACKEND=hsm): <name>_hsm runs tool_<name>.sh again.
if(P11P_TOOL_TESTS_REGISTERED)
  foreach(name IN ITEMS tool_batch_range tool_delete_export tool_adopt)
    p11p_add_shell_test(NAME ${name}_hsm
      SCRIPT ${CMAKE_SOURCE_DIR}/tests/integration/${name}.sh
      LABELS integration tool hsm TIMEOUT 300)
    set_property(TEST ${name}_hsm APPEND PROPERTY ENVIRONMENT
      "P11P_MODULE=$<TARGET_FILE:p11portal-pkcs11>"
      "P11P_TOOL=$<TARGET_FILE:p11portal-tool>" "P11P_TEST_BACKEND=hsm")
  endforeach()
endif()
