/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test-only LD_PRELOAD shim for GnuTLS p11tool in the sanitizer build
 * over the hsm backend (lib.sh's p11tool_, tests/integration/hsm.cmake).
 * With the ASan runtime preloaded, loading SoftHSM2 into p11tool leaves
 * glibc's locale lock with a negative reader count, so p11-kit's library
 * destructor hangs for ever in freelocale() at exit, after p11tool has done
 * its work (`p11tool --provider libsofthsm2.so --list-tokens` alone hangs
 * the same way). Freeing nothing at exit is harmless; nothing else changes.
 * Not part of p11portal.
 */
#include <locale.h>

/* Does not free: see the file comment. */
void freelocale(locale_t loc)
{
    (void)loc;
}
