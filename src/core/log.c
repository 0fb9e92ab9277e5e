#include "core/log.h"

#include "core/timeutil.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic int current_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(log_level lvl)
{
    atomic_store(&current_level, (int)lvl);
}

log_level log_level_from_name(const char *name)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (name && strcmp(name, level_names[i]) == 0) return (log_level)i;
    return LOG_INFO;
}

void log_json(log_level lvl, json_t *obj)
{
    if ((int)lvl < atomic_load(&current_level) || !obj) {
        json_decref(obj);
        return;
    }
    char ts[32];
    int64_t ms = time_now_ms();
    char base[21];
    time_format_rfc3339(ms / 1000, base);
    /* 2026-11-23T08:00:00.123Z */
    snprintf(ts, sizeof ts, "%.19s.%03dZ", base, (int)(ms % 1000));
    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[lvl]));
    json_object_update(line, obj);
    json_decref(obj);
    char *s = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!s) return;
    size_t n = strlen(s);
    s[n] = '\n'; /* json_dumps leaves room: replace NUL, write n+1 bytes in one call */
    ssize_t w = write(STDERR_FILENO, s, n + 1);
    (void)w;
    free(s);
}

void log_msg(log_level lvl, const char *fmt, ...)
{
    if ((int)lvl < atomic_load(&current_level)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_object();
    json_object_set_new(o, "msg", json_string(msg));
    log_json(lvl, o);
}
