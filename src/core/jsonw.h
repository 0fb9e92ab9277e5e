/* jsonw — writing JSON text directly into a buffer, for hot-path responses and token claims
 * where building a jansson tree would cost more than the work itself. */
#ifndef IDPD_OAUTH_JSONW_H
#define IDPD_OAUTH_JSONW_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Appends s[0..n) as a JSON string with quotes. '"', '\\' and control characters are escaped;
 * other bytes are copied (callers pass UTF-8). Returns -1 when b's cap is hit. */
int jsonw_str(idp_buf *b, const char *s, size_t n);
/* Appends "name":"value" with a leading ',' unless first. */
int jsonw_member_str(idp_buf *b, int first, const char *name, const char *value);
int jsonw_member_int(idp_buf *b, int first, const char *name, int64_t value);

#endif
