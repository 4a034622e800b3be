# ASan + UBSan build (STYLE.md 3.15), switched on with -DP11P_SANITIZE=ON.
if(P11P_SANITIZE)
  add_compile_options(-O1 -g -fno-omit-frame-pointer
                      -fsanitize=address,undefined -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
  # Modules linked with -z,defs still need the runtime resolved at load time.
  set(P11P_MODULE_LINK_OPTIONS -Wl,--as-needed)
endif()
