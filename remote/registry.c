/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver registry: name -> driver vtable, one const row per portal
 * (STYLE.md 3.12). Adding a portal is a folder under remote/ and a row here.
 */
#include <string.h>

#include "remote/driver.h"
#include "remote/internal.h"
#include "remote/portals.h"

/* clang-format off */
static const struct p11p_driver *const drivers_table[] = {
    &p11p_driver_local,
    &p11p_driver_sectigo,
    &p11p_driver_digicert,
};
/* clang-format on */

#define N_DRIVERS (sizeof(drivers_table) / sizeof(drivers_table[0]))

const struct p11p_driver *p11p_registry_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < N_DRIVERS; i++) {
        if (strcmp(drivers_table[i]->name, name) == 0) {
            return drivers_table[i];
        }
    }
    return NULL;
}

void p11p_registry_names(char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0) {
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < N_DRIVERS; i++) {
        size_t n = strlen(drivers_table[i]->name);
        size_t sep = i > 0 ? 2 : 0;
        if (used + sep + n + 1 > size) {
            break;
        }
        if (sep != 0) {
            memcpy(buf + used, ", ", 2);
        }
        memcpy(buf + used + sep, drivers_table[i]->name, n + 1);
        used += sep + n;
    }
}
