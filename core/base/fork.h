/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fork generation counter (p11-kit's p11_forkid). A pthread_atfork child
 * handler increments it; code that recorded the generation at initialisation
 * compares to know it now runs in a forked child.
 */
#ifndef P11P_CORE_BASE_FORK_H
#define P11P_CORE_BASE_FORK_H

/* Installs the atfork handler once (idempotent, thread-safe). */
void p11p_fork_install(void);

/* Returns the current fork generation (0 in the original process). */
unsigned long p11p_fork_generation(void);

#endif
