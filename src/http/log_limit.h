/* log_limit — a rate limit on repetitive log lines (libmicrohttpd's warnings): at most
 * per_window lines of one kind per window, the rest counted and reported as one summary line, so
 * a flood of abandoned connections cannot fill the log while the first lines of every kind stay
 * visible. Pure logic on a caller's clock; not thread-safe (the caller holds a lock).
 *
 * A kind is identified by the address of a string with static storage (MHD's format strings):
 * compared by address, never read here. LOG_LIMIT_SLOTS - 1 kinds are tracked apart; any further
 * kind shares the last slot (reported with kind NULL). */
#ifndef IDPD_HTTP_LOG_LIMIT_H
#define IDPD_HTTP_LOG_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_LIMIT_SLOTS 32

typedef struct log_limit_slot {
    const char *kind; /* NULL: free (or the shared last slot) */
    bool used;
    int64_t window_start; /* ms */
    unsigned written;     /* lines written in this window */
    uint64_t suppressed;  /* lines dropped in this window */
} log_limit_slot;

typedef struct log_limit {
    log_limit_slot slot[LOG_LIMIT_SLOTS];
    unsigned per_window;
    int64_t window_ms;
} log_limit;

void log_limit_init(log_limit *l, unsigned per_window, int64_t window_ms);
/* One line of kind at now_ms: true when it is to be written. When the kind's previous window
 * ended with lines suppressed, *suppressed receives their number (else 0) and *suppressed_kind
 * their kind, to be reported (one summary line) before this one. */
bool log_limit_take(log_limit *l, const char *kind, int64_t now_ms, uint64_t *suppressed,
                    const char **suppressed_kind);
/* Reports (report(kind, n, cls)) and resets every window that has ended at now_ms with lines
 * suppressed, so a flood that stops is still summarised. Returns the number of reports. */
size_t log_limit_flush(log_limit *l, int64_t now_ms,
                       void (*report)(const char *kind, uint64_t n, void *cls), void *cls);

#endif
