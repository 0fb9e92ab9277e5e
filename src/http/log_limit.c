/* log_limit — rate limit on repetitive log lines (see log_limit.h). */
#include "http/log_limit.h"

#include <string.h>

void log_limit_init(log_limit *l, unsigned per_window, int64_t window_ms)
{
    memset(l, 0, sizeof *l);
    l->per_window = per_window;
    l->window_ms = window_ms;
}

static log_limit_slot *slot_for(log_limit *l, const char *kind)
{
    for (size_t i = 0; i + 1 < LOG_LIMIT_SLOTS; i++) {
        log_limit_slot *s = &l->slot[i];
        if (s->used && s->kind == kind) return s;
        if (!s->used) {
            s->used = true;
            s->kind = kind;
            return s;
        }
    }
    log_limit_slot *shared = &l->slot[LOG_LIMIT_SLOTS - 1];
    shared->used = true;
    shared->kind = NULL;
    return shared;
}

bool log_limit_take(log_limit *l, const char *kind, int64_t now_ms, uint64_t *suppressed,
                    const char **suppressed_kind)
{
    log_limit_slot *s = slot_for(l, kind);
    *suppressed = 0;
    *suppressed_kind = s->kind;
    if (s->written == 0 && s->suppressed == 0) s->window_start = now_ms;
    if (now_ms - s->window_start >= l->window_ms) {
        *suppressed = s->suppressed;
        s->window_start = now_ms;
        s->written = 0;
        s->suppressed = 0;
    }
    if (s->written < l->per_window) {
        s->written++;
        return true;
    }
    s->suppressed++;
    return false;
}

size_t log_limit_flush(log_limit *l, int64_t now_ms,
                       void (*report)(const char *kind, uint64_t n, void *cls), void *cls)
{
    size_t k = 0;
    for (size_t i = 0; i < LOG_LIMIT_SLOTS; i++) {
        log_limit_slot *s = &l->slot[i];
        if (!s->used || !s->suppressed || now_ms - s->window_start < l->window_ms) continue;
        report(s->kind, s->suppressed, cls);
        s->written = 0;
        s->suppressed = 0;
        k++;
    }
    return k;
}
