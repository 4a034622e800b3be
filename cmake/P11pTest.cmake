# Test helpers (STYLE.md 3.14). Every test has LABELS and a TIMEOUT; exit 77
# means skipped.
set(P11P_TEST_ENV
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
  "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/lsan.supp"
  "P11P_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
  "P11P_BUILD_DIR=${CMAKE_BINARY_DIR}")

# p11p_add_unit_test(NAME test_x SOURCES a.c LIBS p11p_cache [LABELS unit])
function(p11p_add_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}"
    TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77 ENVIRONMENT "${P11P_TEST_ENV}")
endfunction()

# p11p_add_shell_test(NAME x SCRIPT path [LABELS integration] [TIMEOUT s])
function(p11p_add_shell_test)
  cmake_parse_arguments(T "" "NAME;SCRIPT;TIMEOUT" "LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS integration)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${T_NAME} COMMAND bash ${T_SCRIPT})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}"
    TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77 ENVIRONMENT "${P11P_TEST_ENV}")
endfunction()
