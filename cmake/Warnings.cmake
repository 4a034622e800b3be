# Probed warning flags (STYLE.md 3.15): add only what the compiler accepts.
include(CheckCCompilerFlag)
set(P11P_WARNINGS
  -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes
  -Wmissing-prototypes -Wmissing-declarations -Wold-style-definition
  -Wpointer-arith -Wwrite-strings -Wundef -Wvla -Wimplicit-fallthrough
  -Wredundant-decls -Wnested-externs -Wcast-align
  -Wno-missing-field-initializers
  # gcc only
  -Wjump-misses-init -Wlogical-op -Wduplicated-cond -Wduplicated-branches
  # clang only
  -Wcomma -Wunreachable-code)
foreach(flag IN LISTS P11P_WARNINGS)
  string(MAKE_C_IDENTIFIER "HAVE_FLAG${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    add_compile_options(${flag})
  endif()
endforeach()
