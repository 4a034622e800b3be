/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The log sink. Reads P11PORTAL_LOG once through pthread_once; writes whole
 * lines with one write(2) each so that lines of concurrent threads and
 * processes never interleave.
 */
#include "core/base/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#define MAX_COMPONENTS 8
#define COMPONENT_LEN  16
#define LINE_MAX_LEN   4096

enum log_sink {
    SINK_STDERR,
    SINK_SYSLOG,
    SINK_FILE,
};

static struct {
    pthread_once_t once;
    pthread_mutex_t lock; /* guards sink changes only */
    int level;
    int forced_level; /* -1: not forced */
    size_t n_components;
    char components[MAX_COMPONENTS][COMPONENT_LEN];
    enum log_sink sink;
    int fd;
} log_state = {
    .once = PTHREAD_ONCE_INIT,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .level = P11P_LOG_WARN,
    .forced_level = -1,
    .sink = SINK_STDERR,
    .fd = -1,
};

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static int parse_level(const char *s, size_t len)
{
    for (int i = 0; i < 4; i++) {
        if (strlen(level_names[i]) == len
            && strncasecmp(s, level_names[i], len) == 0) {
            return i;
        }
    }
    if (len == 7 && strncasecmp(s, "warning", len) == 0) {
        return P11P_LOG_WARN;
    }
    return -1;
}

static void log_init_once(void)
{
    const char *env = secure_getenv("P11PORTAL_LOG");
    if (env == NULL || *env == '\0') {
        return;
    }
    const char *p = env;
    bool first = true;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        if (first) {
            int lvl = parse_level(p, len);
            if (lvl >= 0) {
                log_state.level = lvl;
            }
            first = false;
        } else if (len > 0 && len < COMPONENT_LEN
                   && log_state.n_components < MAX_COMPONENTS) {
            memcpy(log_state.components[log_state.n_components], p, len);
            log_state.components[log_state.n_components][len] = '\0';
            log_state.n_components++;
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
}

static bool component_selected(const char *component)
{
    if (log_state.n_components == 0 || component == NULL) {
        return true;
    }
    for (size_t i = 0; i < log_state.n_components; i++) {
        if (strcmp(log_state.components[i], component) == 0) {
            return true;
        }
    }
    return false;
}

bool p11p_log_enabled(enum p11p_log_level level, const char *component)
{
    pthread_once(&log_state.once, log_init_once);
    int max =
        log_state.forced_level >= 0 ? log_state.forced_level : log_state.level;
    if ((int)level > max) {
        return false;
    }
    /* Components narrow debug output only; errors always pass. */
    if (level == P11P_LOG_DEBUG) {
        return component_selected(component);
    }
    return true;
}

void p11p_log_set_level(enum p11p_log_level level)
{
    pthread_once(&log_state.once, log_init_once);
    log_state.forced_level = (int)level;
}

void p11p_log_set_target(const char *target)
{
    pthread_once(&log_state.once, log_init_once);
    if (target == NULL) {
        return;
    }
    pthread_mutex_lock(&log_state.lock);
    if (strcmp(target, "stderr") == 0) {
        log_state.sink = SINK_STDERR;
    } else if (strcmp(target, "syslog") == 0) {
        log_state.sink = SINK_SYSLOG;
    } else if (strncmp(target, "file:", 5) == 0) {
        int fd =
            open(target + 5, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (log_state.fd >= 0) {
                close(log_state.fd);
            }
            log_state.fd = fd;
            log_state.sink = SINK_FILE;
        }
    }
    pthread_mutex_unlock(&log_state.lock);
}

static int syslog_priority(enum p11p_log_level level)
{
    switch (level) {
    case P11P_LOG_ERROR:
        return LOG_ERR;
    case P11P_LOG_WARN:
        return LOG_WARNING;
    case P11P_LOG_INFO:
        return LOG_INFO;
    case P11P_LOG_DEBUG:
        return LOG_DEBUG;
    }
    return LOG_INFO;
}

void p11p_log_write(enum p11p_log_level level, const char *component,
                    const char *file, int line, const char *func,
                    const char *fmt, ...)
{
    char msg[LINE_MAX_LEN];
    char out[LINE_MAX_LEN + 256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    /* One line per event: fold embedded newlines. */
    for (char *c = msg; *c != '\0'; c++) {
        if (*c == '\n' || *c == '\r') {
            *c = ' ';
        }
    }
    const char *base = file != NULL ? strrchr(file, '/') : NULL;
    base = base != NULL ? base + 1 : file;
    int max =
        log_state.forced_level >= 0 ? log_state.forced_level : log_state.level;
    if (log_state.sink == SINK_SYSLOG) {
        if (max >= P11P_LOG_DEBUG && base != NULL) {
            syslog(syslog_priority(level), "%s: %s (%s:%d %s)",
                   component ? component : "core", msg, base, line, func);
        } else {
            syslog(syslog_priority(level), "%s: %s",
                   component ? component : "core", msg);
        }
        return;
    }
    if (max >= P11P_LOG_DEBUG && base != NULL) {
        n = snprintf(out, sizeof(out), "p11portal[%ld] %s %s: %s (%s:%d %s)\n",
                     (long)getpid(), level_names[level],
                     component ? component : "core", msg, base, line, func);
    } else {
        n = snprintf(out, sizeof(out), "p11portal[%ld] %s %s: %s\n",
                     (long)getpid(), level_names[level],
                     component ? component : "core", msg);
    }
    if (n < 0) {
        return;
    }
    size_t len = (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1;
    int fd = log_state.sink == SINK_FILE ? log_state.fd : STDERR_FILENO;
    ssize_t w = write(fd, out, len);
    (void)w;
}
