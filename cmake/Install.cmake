# SPDX-License-Identifier: Apache-2.0
#
# Where `cmake --install` puts things (docs/install.md, "What goes where").
# Included from the top-level CMakeLists.txt before the subdirectories: it
# sets the P11P_INSTALL_* folders (relative to the install prefix, so that
# `cmake --install BUILD --prefix P` relocates everything) that the
# subdirectories' install() rules use, and installs what is not a target:
# the public header, p11portal.pc, the p11-kit .module file, the man pages,
# the example configuration and the systemd units.
#
# The folders follow the system's own p11-kit and OpenSSL, taken relative to
# their prefix: on Debian (prefix /usr) the module lands in p11-kit's
# p11_module_path (/usr/lib/x86_64-linux-gnu/pkcs11), the .module file in
# p11_module_configs (/usr/share/p11-kit/modules) and the provider in
# OpenSSL's modulesdir (/usr/lib/x86_64-linux-gnu/ossl-modules). Under any
# other prefix the same relative folders: <prefix>/lib/<multiarch>/pkcs11,
# <prefix>/share/p11-kit/modules, <prefix>/lib/<multiarch>/ossl-modules.

# At install time (install(CODE) below sets P11P_INSTALL_TIME and the
# folders): p11portal.pc, p11portal.module and the systemd units for the
# install's prefix.
if(P11P_INSTALL_TIME)
  set(P11P_PREFIX "${CMAKE_INSTALL_PREFIX}")
  configure_file(${P11P_SRC}/conf/p11portal.pc.in ${P11P_GEN}/p11portal.pc @ONLY)
  file(READ ${P11P_SRC}/conf/p11portal.module p11p_module)
  string(REGEX REPLACE "(^|\n)module: [^\n]*"
    "\\1module: ${P11P_PREFIX}/${P11P_INSTALL_PKCS11DIR}/libp11portal.so"
    p11p_module "${p11p_module}")
  file(WRITE ${P11P_GEN}/p11portal.module "${p11p_module}")
  # The units run the installed tool.
  foreach(unit IN LISTS P11P_UNITS)
    file(READ ${P11P_SRC}/conf/${unit} p11p_unit)
    string(REPLACE "/usr/bin/p11portal" "${P11P_PREFIX}/${P11P_INSTALL_BINDIR}/p11portal"
      p11p_unit "${p11p_unit}")
    file(WRITE ${P11P_GEN}/${unit} "${p11p_unit}")
  endforeach()
  return()
endif()

# p11p_install_reldir(OUT PATH PREFIX FALLBACK): PATH relative to PREFIX when
# PATH is under PREFIX, else FALLBACK.
function(p11p_install_reldir out path prefix fallback)
  set(rel "${fallback}")
  if(path AND prefix)
    string(LENGTH "${prefix}/" plen)
    string(SUBSTRING "${path}" 0 ${plen} head)
    if(head STREQUAL "${prefix}/")
      string(SUBSTRING "${path}" ${plen} -1 rel)
    endif()
  endif()
  set(${out} "${rel}" PARENT_SCOPE)
endfunction()

# lib/<multiarch> (Debian's layout, whatever the prefix), else GNU libdir.
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(P11P_INSTALL_ARCHLIBDIR lib/${CMAKE_LIBRARY_ARCHITECTURE})
else()
  set(P11P_INSTALL_ARCHLIBDIR ${CMAKE_INSTALL_LIBDIR})
endif()

pkg_get_variable(P11P_P11KIT_PREFIX p11-kit-1 prefix)
pkg_get_variable(P11P_P11KIT_MODULE_PATH p11-kit-1 p11_module_path)
pkg_get_variable(P11P_P11KIT_MODULE_CONFIGS p11-kit-1 p11_module_configs)
pkg_get_variable(P11P_CRYPTO_PREFIX libcrypto prefix)

p11p_install_reldir(P11P_INSTALL_PKCS11DIR "${P11P_P11KIT_MODULE_PATH}"
  "${P11P_P11KIT_PREFIX}" ${P11P_INSTALL_ARCHLIBDIR}/pkcs11)
p11p_install_reldir(P11P_INSTALL_P11KITDIR "${P11P_P11KIT_MODULE_CONFIGS}"
  "${P11P_P11KIT_PREFIX}" ${CMAKE_INSTALL_DATADIR}/p11-kit/modules)
p11p_install_reldir(P11P_INSTALL_OSSLDIR "${OPENSSL_MODULESDIR}"
  "${P11P_CRYPTO_PREFIX}" ${P11P_INSTALL_ARCHLIBDIR}/ossl-modules)
set(P11P_INSTALL_PKGCONFIGDIR ${P11P_INSTALL_ARCHLIBDIR}/pkgconfig)
set(P11P_INSTALL_SYSTEMDDIR lib/systemd/system)

# The absolute paths of this configuration's prefix: compiled into the
# provider as its default PKCS#11 module (provider/CMakeLists.txt).
set(P11P_INSTALL_FULL_PKCS11DIR ${CMAKE_INSTALL_PREFIX}/${P11P_INSTALL_PKCS11DIR})

message(STATUS "install: module ${P11P_INSTALL_PKCS11DIR}, "
  "p11-kit ${P11P_INSTALL_P11KITDIR}, provider ${P11P_INSTALL_OSSLDIR} "
  "(under ${CMAKE_INSTALL_PREFIX} or cmake --install --prefix)")

set(P11P_SRC ${CMAKE_CURRENT_SOURCE_DIR})
set(P11P_GEN ${CMAKE_CURRENT_BINARY_DIR}/install-gen)

install(FILES ${P11P_SRC}/include/p11portal/pkcs11-vendor.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/p11portal)

# The daily sync/renew units (issue 7 item 7), when they are in conf/.
set(P11P_UNITS "")
foreach(unit p11portal-sync.service p11portal-sync.timer)
  if(EXISTS ${P11P_SRC}/conf/${unit})
    list(APPEND P11P_UNITS ${unit})
  endif()
endforeach()

# p11portal.pc, p11portal.module and the units name absolute paths under
# the prefix of the install (not of the configuration): this file writes
# them when installing (the part at its top), with the prefix that
# `cmake --install --prefix` or CPack gives.
install(CODE "
  set(P11P_INSTALL_TIME ON)
  set(P11P_VERSION \"${PROJECT_VERSION}\")
  set(P11P_SRC \"${P11P_SRC}\")
  set(P11P_GEN \"${P11P_GEN}\")
  set(P11P_INSTALL_ARCHLIBDIR \"${P11P_INSTALL_ARCHLIBDIR}\")
  set(P11P_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(P11P_INSTALL_PKCS11DIR \"${P11P_INSTALL_PKCS11DIR}\")
  set(P11P_INSTALL_OSSLDIR \"${P11P_INSTALL_OSSLDIR}\")
  set(P11P_INSTALL_P11KITDIR \"${P11P_INSTALL_P11KITDIR}\")
  set(P11P_INSTALL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(P11P_UNITS \"${P11P_UNITS}\")
  include(\"${CMAKE_CURRENT_LIST_FILE}\")
")
install(FILES ${P11P_GEN}/p11portal.pc DESTINATION ${P11P_INSTALL_PKGCONFIGDIR})
install(FILES ${P11P_GEN}/p11portal.module DESTINATION ${P11P_INSTALL_P11KITDIR})

install(FILES ${P11P_SRC}/man/p11portal.1
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${P11P_SRC}/man/p11portal.conf.5
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${P11P_SRC}/man/p11portal-provider.7
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)

install(FILES ${P11P_SRC}/conf/p11portal.conf.example
  ${P11P_SRC}/conf/openssl-p11portal.cnf
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

foreach(unit IN LISTS P11P_UNITS)
  install(FILES ${P11P_GEN}/${unit} DESTINATION ${P11P_INSTALL_SYSTEMDDIR})
endforeach()
