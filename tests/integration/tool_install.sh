#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 180
#
# Shipping (issue 7 item 8, docs/install.md): `cmake --install` of the
# test's build folder (P11P_BUILD_DIR) into a prefix in the test folder puts
# every file where docs/install.md says; the module is registered for
# p11-kit by the installed .module file alone (in this test's own user
# configuration, "user-config: only", so nothing of the machine's p11-kit
# configuration is used or changed); then `p11-kit list-modules` shows the
# token, `pkcs11-tool` through p11-kit-proxy.so initialises it, generates a
# key that the local CA enrolls and lists key and certificate, `p11tool
# --list-tokens` lists the token, `pkg-config p11portal` gives the header's
# flags (a program including it compiles) and the installed paths, the
# provider loads from the installed OpenSSL modules folder, and each man
# page renders without a warning. The .deb: cpack builds it into the test
# folder; its contents, control fields and Depends are checked; as root
# (CI's throwaway machine), with the package not installed and a build
# without sanitizers, `dpkg -i` installs it (p11-kit sees the module at its
# system path) and `dpkg -P` removes it with no file left behind
# (P11P_TEST_NO_DPKG=1 in the environment skips that, with a note).
#
# p11-kit ignores user configuration in processes running as root: then the
# p11-kit clients run as the user nobody (setpriv), with the test's home
# folder given to nobody. In an ASan build the installed files are the
# ASan build's: the clients get lib.sh's MODULE_ENV (libasan preloaded).
#
# The soft backend only: the token's data must be readable by nobody.
export P11P_TEST_BACKEND=soft
. "$(dirname "$0")/lib.sh"
need p11-kit pkcs11-tool p11tool pkg-config cmake cpack dpkg-deb man groff readelf cc openssl

BUILD_DIR=${P11P_BUILD_DIR:-}
[ -n "$BUILD_DIR" ] || skip "P11P_BUILD_DIR is not set"
[ -f "$BUILD_DIR/cmake_install.cmake" ] || fail "not a build folder: $BUILD_DIR"
[ -f "$BUILD_DIR/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $BUILD_DIR"

# The system's folders, relative to their prefix: the install puts ours at
# the same relative places under its prefix (cmake/Install.cmake).
p11kit_prefix=$(pkg-config --variable=prefix p11-kit-1)
rel_pkcs11=$(pkg-config --variable=p11_module_path p11-kit-1)
rel_pkcs11=${rel_pkcs11#"$p11kit_prefix"/}
rel_p11kit=$(pkg-config --variable=p11_module_configs p11-kit-1)
rel_p11kit=${rel_p11kit#"$p11kit_prefix"/}
crypto_prefix=$(pkg-config --variable=prefix libcrypto)
rel_ossl=$(pkg-config --variable=modulesdir libcrypto)
rel_ossl=${rel_ossl#"$crypto_prefix"/}
rel_archlib=${rel_pkcs11%/pkcs11}
PROXY=$(pkg-config --variable=proxy_module p11-kit-1)
[ -f "$PROXY" ] || skip "p11-kit-proxy.so is not installed ($PROXY: package p11-kit-modules)"

# ---- cmake --install into a prefix ----
PREFIX=$TEST_DIR/prefix
run cmake --install "$BUILD_DIR" --prefix "$PREFIX" >"$TEST_DIR/install.log"
MODULE=$PREFIX/$rel_pkcs11/libp11portal.so
MODULE_CONF=$PREFIX/$rel_p11kit/p11portal.module
PROVIDER_DIR=$PREFIX/$rel_ossl
PC_DIR=$PREFIX/$rel_archlib/pkgconfig
for f in "$MODULE" "$MODULE_CONF" "$PROVIDER_DIR/p11portal.so" "$PREFIX/bin/p11portal" \
    "$PREFIX/include/p11portal/pkcs11-vendor.h" "$PC_DIR/p11portal.pc" \
    "$PREFIX/share/man/man1/p11portal.1" "$PREFIX/share/man/man5/p11portal.conf.5" \
    "$PREFIX/share/man/man7/p11portal-provider.7" \
    "$PREFIX/share/doc/p11portal/p11portal.conf.example"; do
    [ -f "$f" ] || fail "cmake --install did not install $f"
done
for unit in p11portal-sync.service p11portal-sync.timer; do
    if [ -f "$P11P_SOURCE_DIR/conf/$unit" ]; then
        [ -f "$PREFIX/lib/systemd/system/$unit" ] || fail "the systemd unit $unit is not installed"
        if grep '^ExecStart=' "$PREFIX/lib/systemd/system/$unit" | grep -v -F "ExecStart=$PREFIX/bin/p11portal " >/dev/null; then
            fail "$unit does not run the installed tool"
        fi
    fi
done
grep -x "module: $MODULE" "$MODULE_CONF" >/dev/null ||
    fail "$MODULE_CONF does not name $MODULE"
if grep -E '^-- (Installing|Up-to-date): ' "$TEST_DIR/install.log" |
    grep -v -F -e "Installing: $PREFIX/" -e "Up-to-date: $PREFIX/" >/dev/null; then
    fail "cmake --install wrote outside the prefix: $(cat "$TEST_DIR/install.log")"
fi

# The installed tool runs.
version=$(run "${MODULE_ENV[@]}" "$PREFIX/bin/p11portal" --version)
case $version in
"p11portal "[0-9]*) ;;
*) fail "p11portal --version printed '$version'" ;;
esac

# ---- pkg-config ----
export PKG_CONFIG_PATH=$PC_DIR
cflags=$(run pkg-config --cflags p11portal)
case " $cflags " in
*" -I$PREFIX/include "*) ;;
*) fail "pkg-config --cflags p11portal: '$cflags' lacks -I$PREFIX/include" ;;
esac
[ "$(pkg-config --variable=module p11portal)" = "$MODULE" ] || fail "pkg-config: wrong module path"
[ "$(pkg-config --variable=provider p11portal)" = "$PROVIDER_DIR/p11portal.so" ] ||
    fail "pkg-config: wrong provider path"
[ "$(pkg-config --variable=p11kit_module_config p11portal)" = "$MODULE_CONF" ] ||
    fail "pkg-config: wrong .module path"
cat >"$TEST_DIR/vendor.c" <<'EOF'
#include <p11-kit/pkcs11.h>
#include <p11portal/pkcs11-vendor.h>
int main(void) { return CKA_P11PORTAL_SUBJECT > CKA_VENDOR_DEFINED ? 0 : 1; }
EOF
# shellcheck disable=SC2086 # pkg-config's flags are words
run cc $cflags -Wall -Werror -o "$TEST_DIR/vendor" "$TEST_DIR/vendor.c"
"$TEST_DIR/vendor" || fail "the vendor attributes are not above CKA_VENDOR_DEFINED"
unset PKG_CONFIG_PATH

# ---- man pages ----
for page in man1/p11portal.1 man5/p11portal.conf.5 man7/p11portal-provider.7; do
    f=$PREFIX/share/man/$page
    echo "+ man --warnings -l $f" >&2
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" >"$TEST_DIR/man.out" 2>"$TEST_DIR/man.err" ||
        fail "man -l $page failed: $(cat "$TEST_DIR/man.err")"
    [ ! -s "$TEST_DIR/man.err" ] || fail "man --warnings -l $page: $(cat "$TEST_DIR/man.err")"
    grep '^NAME' "$TEST_DIR/man.out" >/dev/null || fail "$page has no NAME section"
    LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$f" 2>"$TEST_DIR/man.err" || fail "groff failed on $page"
    [ ! -s "$TEST_DIR/man.err" ] || fail "groff -ww $page: $(cat "$TEST_DIR/man.err")"
done
# The pages stay true to the code: p11portal.conf(5) has every key of
# core/conf/conf.c, p11portal(1) every command of tools/p11portal.c.
conf_c=$P11P_SOURCE_DIR/core/conf/conf.c
keys=$(sed -n '/keys_table\[\] = {/,/^};/p' "$conf_c" | grep -o '^ *{ *"[a-z_]*"' | grep -o '[a-z_]*')
[ -n "$keys" ] || fail "no configuration keys found in $conf_c"
for k in $keys log; do
    grep -E "^\.BR? (.*\" )?$k( |\$)" "$PREFIX/share/man/man5/p11portal.conf.5" >/dev/null ||
        fail "p11portal.conf(5) does not document the key $k"
done
cmds=$(sed -n '/cmds\[\] = {/,/^};/p' "$P11P_SOURCE_DIR/tools/p11portal.c" | grep -o '{ "[a-z]*"' | grep -o '[a-z]*')
[ -n "$cmds" ] || fail "no commands found in tools/p11portal.c"
for c in $cmds; do
    grep -x "\.SS $c" "$PREFIX/share/man/man1/p11portal.1" >/dev/null ||
        fail "p11portal(1) does not document the command $c"
done
[ "$(MANPATH=$PREFIX/share/man man -w p11portal.conf)" = "$PREFIX/share/man/man5/p11portal.conf.5" ] ||
    fail "man -w does not find p11portal.conf(5) under the prefix"

# ---- the provider, from the installed modules folder ----
run "${MODULE_ENV[@]}" env P11PORTAL_MODULE="$MODULE" OPENSSL_CONF=/dev/null \
    openssl list -providers -provider-path "$PROVIDER_DIR" -provider p11portal \
    >"$TEST_DIR/providers.txt"
grep -i 'status: active' "$TEST_DIR/providers.txt" >/dev/null ||
    fail "the installed provider is not active: $(cat "$TEST_DIR/providers.txt")"

# ---- p11-kit: the token through the installed .module file ----
HOME_DIR=$TEST_DIR/home
mkdir -p "$HOME_DIR/.config/pkcs11/modules" "$HOME_DIR/data"
cp "$MODULE_CONF" "$HOME_DIR/.config/pkcs11/modules/"
printf 'user-config: only\n' >"$HOME_DIR/.config/pkcs11/pkcs11.conf"
cp "$P11PORTAL_CONF" "$HOME_DIR/p11portal.conf"
AS_USER=()
if [ "$(id -u)" -eq 0 ]; then
    need setpriv
    # p11-kit: "skipping user config in program running as root".
    chmod 0755 "$TEST_DIR"
    chown -R nobody:nogroup "$HOME_DIR"
    AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
# The ASan build: MODULE_ENV's preload, and the shim that keeps p11-kit's
# destructor from hanging in freelocale() at exit with libasan preloaded
# (tools.cmake, hsm_nofreelocale.c; `p11-kit list-modules` hangs so even
# with no module configured).
CLIENT_ENV=()
if [ ${#MODULE_ENV[@]} -gt 0 ]; then
    CLIENT_ENV=("${MODULE_ENV[@]:1}")
    shim=${P11P_NOFREELOCALE:-}
    if [ -z "$shim" ] || [ ! -f "$shim" ]; then
        fail "sanitizer build: P11P_NOFREELOCALE ('$shim') is not built: cmake --build $BUILD_DIR --target p11p_test_nofreelocale"
    fi
    CLIENT_ENV[0]="${CLIENT_ENV[0]}:$shim"
fi
# client CMD...: a p11-kit client with the test's home and token data.
client() {
    run "${AS_USER[@]}" env HOME="$HOME_DIR" XDG_DATA_HOME="$HOME_DIR/data" \
        P11PORTAL_CONF="$HOME_DIR/p11portal.conf" "${CLIENT_ENV[@]}" "$@"
}
proxy() {
    client pkcs11-tool --module "$PROXY" "$@"
}

client p11-kit list-modules >"$TEST_DIR/modules.txt"
grep -x "p11portal: $MODULE" "$TEST_DIR/modules.txt" >/dev/null ||
    fail "p11-kit list-modules does not show p11portal: $(cat "$TEST_DIR/modules.txt")"
grep -E '^ +token: p11portal$' "$TEST_DIR/modules.txt" >/dev/null ||
    fail "p11-kit list-modules does not show the token p11portal"

proxy --list-token-slots | tee "$TEST_DIR/slots.txt"
grep 'p11portal' "$TEST_DIR/slots.txt" >/dev/null || fail "p11-kit-proxy.so shows no p11portal slot"
proxy --token-label p11portal --init-token --label p11portal --so-pin "$SO_PIN" >/dev/null
proxy --token-label p11portal --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$USER_PIN" >/dev/null
proxy --token-label p11portal --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --label inst01 --usage-sign >/dev/null
proxy --token-label p11portal --login --pin "$USER_PIN" --list-objects | tee "$TEST_DIR/objects.txt"
for kind in 'Private Key Object' 'Public Key Object' 'Certificate Object'; do
    awk '/^[A-Z]/ { obj = $0 } $1 == "label:" && $2 == "inst01" { print obj }' \
        "$TEST_DIR/objects.txt" | grep "^$kind" >/dev/null ||
        fail "no $kind labelled inst01 through p11-kit-proxy.so"
done
proxy --token-label p11portal --read-object --type cert --label inst01 \
    --output-file "$HOME_DIR/inst01.der" >/dev/null
subject=$(openssl x509 -inform DER -in "$HOME_DIR/inst01.der" -noout -subject -issuer)
case $subject in
*"CN = inst01"*"issuer="*"p11portal local issuing CA"*) ;;
*) fail "the certificate of inst01 is not the local CA's: $subject" ;;
esac

client p11tool --list-tokens >"$TEST_DIR/tokens.txt"
grep -E '^[[:space:]]+Label: p11portal$' "$TEST_DIR/tokens.txt" >/dev/null ||
    fail "p11tool --list-tokens does not list p11portal: $(cat "$TEST_DIR/tokens.txt")"
grep -F "Module: $MODULE" "$TEST_DIR/tokens.txt" >/dev/null ||
    fail "p11tool --list-tokens does not name the installed module"

# ---- the .deb ----
# The package is made from a staged install of this build (prefix /usr):
# what `cpack -G DEB` makes from the install rules, without the build of
# "all" that cpack runs first (ctest has built this folder already).
STAGE=$TEST_DIR/stage
DESTDIR=$STAGE run cmake --install "$BUILD_DIR" --prefix /usr >/dev/null
run cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$TEST_DIR/deb" \
    -D CPACK_INSTALL_CMAKE_PROJECTS= -D "CPACK_INSTALLED_DIRECTORIES=$STAGE;." \
    -D CPACK_PACKAGING_INSTALL_PREFIX=/ >"$TEST_DIR/cpack.log" ||
    fail "cpack failed: $(cat "$TEST_DIR/cpack.log")"
deb_version=$(PKG_CONFIG_PATH=$PC_DIR pkg-config --modversion p11portal)
DEB=$TEST_DIR/deb/p11portal_${deb_version}_$(dpkg --print-architecture).deb
[ -f "$DEB" ] || fail "cpack made no $DEB: $(ls "$TEST_DIR/deb")"
dpkg-deb -c "$DEB" >"$TEST_DIR/deb-contents.txt"
awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' "$TEST_DIR/deb-contents.txt" >"$TEST_DIR/deb-files.txt"
cat "$TEST_DIR/deb-files.txt"
for f in "/usr/$rel_pkcs11/libp11portal.so" "/usr/$rel_p11kit/p11portal.module" \
    "/usr/$rel_ossl/p11portal.so" /usr/bin/p11portal /usr/include/p11portal/pkcs11-vendor.h \
    "/usr/$rel_archlib/pkgconfig/p11portal.pc" /usr/share/man/man1/p11portal.1 \
    /usr/share/man/man5/p11portal.conf.5 /usr/share/man/man7/p11portal-provider.7 \
    /usr/share/doc/p11portal/p11portal.conf.example; do
    grep -x -F "$f" "$TEST_DIR/deb-files.txt" >/dev/null || fail "the .deb lacks $f"
done
if grep -v '^/usr/' "$TEST_DIR/deb-files.txt" | grep -v '^/lib/systemd/system/' >/dev/null; then
    fail "the .deb has files outside /usr"
fi
dpkg-deb --fsys-tarfile "$DEB" | tar -xO "./usr/$rel_p11kit/p11portal.module" >"$TEST_DIR/deb.module"
grep -x "module: /usr/$rel_pkcs11/libp11portal.so" "$TEST_DIR/deb.module" >/dev/null ||
    fail "the .deb's p11portal.module does not name /usr/$rel_pkcs11/libp11portal.so"
depends=$(dpkg-deb -f "$DEB" Depends)
echo "Depends: $depends"
# Every library the module, the provider and the tool link is depended on.
# lib_package SONAME: the package of the x86-64 library SONAME (dpkg knows
# /lib and /usr/lib apart, merged or not).
lib_package() {
    local path real p
    path=$(ldconfig -p | awk -v l="$1" '$1 == l && /x86-64/ { print $NF; exit }')
    [ -n "$path" ] || path=$(gcc -print-file-name="$1")
    real=$(readlink -f "$path")
    for p in "$path" "$real" "${real#/usr}" "/usr${real}"; do
        if dpkg -S "$p" >"$TEST_DIR/dpkg-S.txt" 2>/dev/null; then
            head -n1 "$TEST_DIR/dpkg-S.txt" | cut -d: -f1
            return 0
        fi
    done
}
for elf in "$MODULE" "$PROVIDER_DIR/p11portal.so" "$PREFIX/bin/p11portal"; do
    for lib in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        pkg=$(lib_package "$lib")
        [ -n "$pkg" ] || fail "no package owns $lib, needed by $elf"
        case ", $depends" in
        *", $pkg "* | *", $pkg,"* | *", $pkg") ;;
        *) fail "$elf needs $lib ($pkg) but the .deb does not depend on $pkg" ;;
        esac
    done
done

# dpkg -i / dpkg -P: only where changing the machine is fine.
if [ "$(id -u)" -ne 0 ]; then
    echo "NOTE: dpkg -i/-P of the .deb skipped: not root (CI runs them as root)"
elif [ ${#MODULE_ENV[@]} -gt 0 ]; then
    echo "NOTE: dpkg -i/-P of the .deb skipped in the ASan build: a system-wide" \
        "ASan module would break every p11-kit client on the machine that does not" \
        "preload libasan; the gcc build's run of this test installs and removes it"
elif [ "$(dpkg-query -W -f='${Status}' p11portal 2>/dev/null || true)" = "install ok installed" ]; then
    echo "NOTE: dpkg -i/-P of the .deb skipped: a p11portal package is installed already"
elif [ -n "${P11P_TEST_NO_DPKG:-}" ]; then
    echo "NOTE: dpkg -i/-P of the .deb skipped: P11P_TEST_NO_DPKG is set"
else
    # dpkg_retry ARGS...: dpkg, waiting (bounded) while another dpkg or
    # apt holds the lock.
    dpkg_retry() {
        local i
        for i in $(seq 1 60); do
            if run dpkg "$@" >"$TEST_DIR/dpkg.log" 2>&1; then
                return 0
            fi
            grep -i 'lock' "$TEST_DIR/dpkg.log" >/dev/null || break
            echo "dpkg is locked, waiting ($i)" >&2
            sleep 1
        done
        cat "$TEST_DIR/dpkg.log" >&2
        return 1
    }
    # On any failure from here on, the package is removed before cleanup.
    deb_cleanup() {
        local rc=$?
        dpkg -P p11portal >/dev/null 2>&1 || true
        # cleanup reads the exit status from $?: hand it rc.
        if [ "$rc" -eq 0 ]; then
            cleanup
        else
            (exit "$rc") || cleanup
        fi
    }
    trap deb_cleanup EXIT
    dpkg_retry -i "$DEB" || fail "dpkg -i $DEB failed"
    while read -r f; do
        [ -e "$f" ] || fail "dpkg -i did not install $f"
    done <"$TEST_DIR/deb-files.txt"
    # The system's p11-kit configuration now names the module (root: no
    # user configuration).
    run p11-kit list-modules >"$TEST_DIR/modules-sys.txt" 2>/dev/null || true
    grep -x "p11portal: /usr/$rel_pkcs11/libp11portal.so" "$TEST_DIR/modules-sys.txt" >/dev/null ||
        fail "after dpkg -i, p11-kit list-modules does not show p11portal"
    dpkg_retry -P p11portal || fail "dpkg -P p11portal failed"
    trap cleanup EXIT
    while read -r f; do
        [ ! -e "$f" ] || fail "dpkg -P left $f behind"
    done <"$TEST_DIR/deb-files.txt"
    for d in /usr/include/p11portal /usr/share/doc/p11portal; do
        [ ! -e "$d" ] || fail "dpkg -P left $d behind"
    done
    echo "dpkg -i and dpkg -P of $(basename "$DEB"): ok"
fi
echo "PASS"
