# SPDX-License-Identifier: Apache-2.0
#
# The Debian package (docs/install.md, "The .deb"): `cpack -G DEB` in a
# build folder, or `cmake --build BUILD --target package`, makes
# p11portal_<version>_amd64.deb from the install rules (cmake/Install.cmake
# and the subdirectories' install() rules), installed under /usr. Included
# last from the top-level CMakeLists.txt. Configure the build with
# -DCMAKE_INSTALL_PREFIX=/usr for a package: the provider's compiled-in
# default module path is the configured prefix's (provider/CMakeLists.txt).

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME p11portal)
set(CPACK_PACKAGE_VENDOR p11portal)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "PKCS#11 module and OpenSSL provider presenting a certificate portal as a token")
set(CPACK_PACKAGE_DESCRIPTION
  "libp11portal.so is a PKCS#11 module whose key pair generation enrolls the
key with a certificate portal (Sectigo, DigiCert ONE, or an embedded local
CA) and stores the issued certificate and chain next to the key. The
package also has the OpenSSL 3 provider p11portal.so, the p11portal tool
(batch provisioning, import, adopt, renew, revoke, sync), the p11-kit
registration, the public header with its pkg-config file and man pages.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES OFF)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "p11portal maintainers <p11portal@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "p11-kit, p11-kit-modules")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "opensc, gnutls-bin")

# Depends: computed by dpkg-shlibdeps (package dpkg-dev) from what the
# module, the provider and the tool link; without it, the runtime
# libraries of Debian 12 listed by hand.
find_program(P11P_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(P11P_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libssl3, libsqlite3-0, libp11-kit0, libcurl4, libcjson1, libinih1, libzip4")
endif()

# No source package: keep build folders out if someone asks for one.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/")

if(NOT CMAKE_INSTALL_PREFIX STREQUAL CPACK_PACKAGING_INSTALL_PREFIX)
  message(STATUS "package: the .deb installs under "
    "${CPACK_PACKAGING_INSTALL_PREFIX}; configure with "
    "-DCMAKE_INSTALL_PREFIX=${CPACK_PACKAGING_INSTALL_PREFIX} for a package "
    "(the provider's default module path is the configured prefix's)")
endif()

include(CPack)
