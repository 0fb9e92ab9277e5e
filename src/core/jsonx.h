/* jsonx — strict JSON on top of jansson for untrusted input, and small accessors.
 * Strict means: valid UTF-8, no duplicate member names (RFC 7515 §5.2 / RFC 8259 §4 "SHOULD be
 * unique" made a MUST for security), no NUL in strings, nesting and size capped. */
#ifndef IDPD_CORE_JSONX_H
#define IDPD_CORE_JSONX_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define JSONX_MAX_DEPTH 32

/* Parses s[0..n). Fails with IDP_ERR_TOO_LARGE when n > max_len (0 = no cap beyond the caller's),
 * IDP_ERR_JSON when malformed, duplicated, deeper than max_depth (0 = JSONX_MAX_DEPTH), or
 * (when want_object) not a JSON object. *out is owned (json_decref). */
idp_err jsonx_parse(const char *s, size_t n, size_t max_len, size_t max_depth, bool want_object,
                    json_t **out, idp_error *err);

/* Borrowed accessors: NULL / false when missing or of another type. */
const char *jsonx_str(const json_t *obj, const char *key);
/* Integer member (JSON integer, or a real with no fractional part within int64). */
bool jsonx_int(const json_t *obj, const char *key, int64_t *out);
/* Compact serialization with sorted keys off, no spaces; owned (free()). */
char *jsonx_dump(const json_t *v);

#endif
