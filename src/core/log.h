/* log — one JSON object per line on stderr. Never pass secrets, tokens or key material. */
#ifndef IDPD_CORE_LOG_H
#define IDPD_CORE_LOG_H

#include <jansson.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;

void log_set_level(log_level lvl);
log_level log_level_from_name(const char *name); /* "debug".."error","off"; LOG_INFO if unknown */
/* {"ts":"...","level":"info","msg":"..."} */
void log_msg(log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds "ts" and "level" to obj and writes it as one line; steals the reference to obj. */
void log_json(log_level lvl, json_t *obj);

#endif
