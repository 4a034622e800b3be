# Hardening (STYLE.md 3.15).
include(CheckCCompilerFlag)
add_compile_options(-fstack-protector-strong -fvisibility=hidden)
check_c_compiler_flag(-ftrivial-auto-var-init=zero HAVE_AUTO_VAR_INIT)
if(HAVE_AUTO_VAR_INIT)
  add_compile_options(-ftrivial-auto-var-init=zero)
endif()
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT P11P_SANITIZE)
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
add_link_options(-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)
# For shared objects only: a missing library is a link error, not a dlopen one.
set(P11P_MODULE_LINK_OPTIONS -Wl,-z,defs -Wl,--as-needed)
