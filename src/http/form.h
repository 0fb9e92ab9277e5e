/* form — application/x-www-form-urlencoded request bodies (HTML URL-encoding as RFC 6749 §B and
 * RFC 6749 §3.1 use it), strict.
 *
 * Parsing decodes in place: '+' is a space, '%XX' needs two hex digits (anything else rejected),
 * a decoded NUL is rejected, empty segments ("a=1&&b=2", a leading or trailing '&') and empty
 * names are rejected, at most FORM_MAX_PARAMS parameters, names up to FORM_MAX_NAME and values up
 * to FORM_MAX_VALUE decoded bytes. A parameter without a value ("a" or "a=") is dropped: RFC 6749
 * §3.1 "parameters sent without a value MUST be treated as if they were omitted". Every rejection
 * is IDP_ERR_OAUTH_INVALID_REQUEST (the only users are OAuth endpoints). */
#ifndef IDPD_HTTP_FORM_H
#define IDPD_HTTP_FORM_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define FORM_MAX_PARAMS 64
#define FORM_MAX_NAME 128
#define FORM_MAX_VALUE (32u * 1024u)

typedef struct form_param {
    const char *name;  /* borrowed from the parsed data; NUL-terminated */
    const char *value; /* idem; never empty */
    size_t value_len;
} form_param;

typedef struct form {
    form_param params[FORM_MAX_PARAMS];
    size_t n;
} form;

/* Parses data[0..len) in place: data must be writable and hold len + 1 bytes (the byte at
 * data[len] is overwritten with NUL). data may be NULL when len is 0. f borrows data. */
idp_err form_parse(form *f, char *data, size_t len, idp_error *err);

/* Decodes s[0..n) in place ('+' -> space, %XX); *outlen receives the decoded length and s is
 * NUL-terminated at it. IDP_ERR_INVALID on a bad escape or a decoded NUL. */
idp_err form_decode(char *s, size_t n, size_t *outlen);

/* First value of name, or NULL; borrowed. */
const char *form_get(const form *f, const char *name);
size_t form_count(const form *f, const char *name);
/* RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
 * Fails (IDP_ERR_OAUTH_INVALID_REQUEST) when any parameter other than those
 * listed in repeatable (NULL-terminated, may be NULL) occurs more than once. */
idp_err form_check_unique(const form *f, const char *const *repeatable, idp_error *err);

/* True when ct is "application/x-www-form-urlencoded" (case-insensitive), optionally followed by
 * parameters (";charset=UTF-8"), with optional whitespace around the ';'. */
bool form_content_type_ok(const char *ct);

#endif
