/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging (STYLE.md 3.7). P11PORTAL_LOG=<level>[,<component>...] with level
 * error|warn|info|debug (default warn); components narrow debug output.
 * One event per line: "p11portal[pid] <level> <component>: <message>", with
 * "(file.c:123 function)" added at debug level. Never pass a secret.
 */
#ifndef P11P_CORE_BASE_LOG_H
#define P11P_CORE_BASE_LOG_H

#include <stdbool.h>

enum p11p_log_level {
    P11P_LOG_ERROR = 0,
    P11P_LOG_WARN = 1,
    P11P_LOG_INFO = 2,
    P11P_LOG_DEBUG = 3,
};

/* Returns true if a message of this level and component would be written.
 * Reads P11PORTAL_LOG once (thread-safe); cheap afterwards. */
bool p11p_log_enabled(enum p11p_log_level level, const char *component);

/* Writes one log line. Use the P11P_LOG_* macros instead. */
void p11p_log_write(enum p11p_log_level level, const char *component,
                    const char *file, int line, const char *func,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Sends the log to "stderr", "syslog" or "file:PATH" (from the config).
 * Unknown targets leave stderr. Thread-safe. */
void p11p_log_set_target(const char *target);

/* Forces the level (tests, tools' -v); overrides P11PORTAL_LOG. */
void p11p_log_set_level(enum p11p_log_level level);

#define P11P_LOG_AT(lvl, comp, ...)                                     \
    do {                                                                \
        if (p11p_log_enabled((lvl), (comp))) {                          \
            p11p_log_write((lvl), (comp), __FILE__, __LINE__, __func__, \
                           __VA_ARGS__);                                \
        }                                                               \
    } while (0)

#define P11P_ERROR(comp, ...) P11P_LOG_AT(P11P_LOG_ERROR, comp, __VA_ARGS__)
#define P11P_WARN(comp, ...)  P11P_LOG_AT(P11P_LOG_WARN, comp, __VA_ARGS__)
#define P11P_INFO(comp, ...)  P11P_LOG_AT(P11P_LOG_INFO, comp, __VA_ARGS__)
#define P11P_DEBUG(comp, ...) P11P_LOG_AT(P11P_LOG_DEBUG, comp, __VA_ARGS__)

#endif
