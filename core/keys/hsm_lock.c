/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process-shared reader-writer lock over flock (hsm_lock.h).
 */
#include "core/keys/hsm_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/str.h"

#define COMP "keys"

static void open_fd(struct p11p_hsm_lock *l, const char *token)
{
    l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (l->fd < 0) {
        P11P_WARN(COMP,
                  "token \"%s\": cannot open %s (%s): backing token calls of "
                  "several processes are not serialised",
                  token, l->path, strerror(errno));
    }
}

void p11p_hsm_lock_open(struct p11p_hsm_lock *l, const char *dir,
                        const char *name, const char *token)
{
    size_t len;

    memset(l, 0, sizeof(*l));
    l->fd = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (dir == NULL) {
        return;
    }
    len = strlen(dir) + 1 + strlen(name) + 1;
    l->path = malloc(len);
    if (l->path == NULL) {
        return;
    }
    snprintf(l->path, len, "%s/%s", dir, name);
    open_fd(l, token);
}

void p11p_hsm_lock_reopen(struct p11p_hsm_lock *l, const char *token)
{
    if (l->fd >= 0) {
        close(l->fd);
    }
    l->fd = -1;
    l->readers = 0;
    l->writer = false;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (l->path != NULL) {
        open_fd(l, token);
    }
}

void p11p_hsm_lock_close(struct p11p_hsm_lock *l)
{
    if (l->fd >= 0) {
        close(l->fd);
    }
    l->fd = -1;
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->path);
    l->path = NULL;
}

static bool do_flock(const struct p11p_hsm_lock *l, int op)
{
    int rc;

    while ((rc = flock(l->fd, op)) != 0 && errno == EINTR) {
    }
    return rc == 0;
}

void p11p_hsm_lock_shared(struct p11p_hsm_lock *l)
{
    if (l->fd < 0) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    while (l->writer) {
        pthread_cond_wait(&l->cv, &l->mu);
    }
    if (l->readers++ == 0) {
        do_flock(l, LOCK_SH); /* the first reader of this process */
    }
    pthread_mutex_unlock(&l->mu);
}

void p11p_hsm_lock_exclusive(struct p11p_hsm_lock *l)
{
    if (l->fd < 0) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    while (l->writer || l->readers > 0) {
        pthread_cond_wait(&l->cv, &l->mu);
    }
    l->writer = true;
    pthread_mutex_unlock(&l->mu);
    do_flock(l, LOCK_EX);
}

bool p11p_hsm_lock_try_exclusive(struct p11p_hsm_lock *l)
{
    bool ok;

    if (l->fd < 0) {
        return true;
    }
    pthread_mutex_lock(&l->mu);
    ok = !l->writer && l->readers == 0 && do_flock(l, LOCK_EX | LOCK_NB);
    l->writer = ok;
    pthread_mutex_unlock(&l->mu);
    return ok;
}

void p11p_hsm_lock_release(struct p11p_hsm_lock *l, bool exclusive)
{
    if (l->fd < 0) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    if (exclusive) {
        do_flock(l, LOCK_UN);
        l->writer = false;
    } else if (l->readers > 0 && --l->readers == 0) {
        do_flock(l, LOCK_UN);
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}
