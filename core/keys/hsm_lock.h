/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside core/keys/: a reader-writer lock shared by the threads of one
 * process and by the processes that open the same lock file (flock). The
 * first reader of a process takes the file's shared lock and the last one
 * drops it; a writer takes it exclusively. Used by hsm_module.c for the
 * backing store and for keys being generated (see hsm_module.h). A lock
 * whose file could not be opened does nothing. Fork: the child calls
 * p11p_hsm_lock_reopen (an flock is shared with the parent's descriptor).
 */
#ifndef P11P_CORE_KEYS_HSM_LOCK_H
#define P11P_CORE_KEYS_HSM_LOCK_H

#include <pthread.h>
#include <stdbool.h>

struct p11p_hsm_lock {
    char *path; /* NULL: no lock */
    int fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned readers; /* of this process */
    bool writer;
};

/* Opens (creating, 0600) <dir>/<name>; a failure is logged once (warning)
 * and leaves a lock that does nothing. dir NULL: no lock. */
void p11p_hsm_lock_open(struct p11p_hsm_lock *l, const char *dir,
                        const char *name, const char *token);
/* In a forked child: forgets the parent's state and opens the file anew. */
void p11p_hsm_lock_reopen(struct p11p_hsm_lock *l, const char *token);
void p11p_hsm_lock_close(struct p11p_hsm_lock *l);

void p11p_hsm_lock_shared(struct p11p_hsm_lock *l);
void p11p_hsm_lock_exclusive(struct p11p_hsm_lock *l);
/* Exclusive without waiting: false if a reader or writer (of this or of
 * another process) holds it. */
bool p11p_hsm_lock_try_exclusive(struct p11p_hsm_lock *l);
void p11p_hsm_lock_release(struct p11p_hsm_lock *l, bool exclusive);

#endif
