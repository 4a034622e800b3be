/* SPDX-License-Identifier: Apache-2.0 */
/* Fork generation counter. */
#include "core/base/fork.h"

#include <pthread.h>
#include <stdatomic.h>

static atomic_ulong fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
}

static void install_once(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

void p11p_fork_install(void)
{
    pthread_once(&fork_once, install_once);
}

unsigned long p11p_fork_generation(void)
{
    return atomic_load_explicit(&fork_gen, memory_order_relaxed);
}
