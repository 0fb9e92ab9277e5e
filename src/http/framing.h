/* framing — the HTTP/1.1 message-framing rules libmicrohttpd 0.9.75 does not enforce, checked
 * on the request head before any handler runs (the server answers 400 and closes the
 * connection). They matter behind a proxy: when two parsers disagree on where a request ends, the
 * bytes after it are smuggled in as another request (RFC 9112 §11.2).
 *
 * Refused:
 * - an HTTP/1.1 request without a Host header field, or any request with more than one
 *   (RFC 9112 §3.2);
 * - Content-Length that is not 1*DIGIT, or several Content-Length field lines (RFC 9110 §8.6,
 *   RFC 9112 §6.3 item 5: differing values are unrecoverable; identical repeats are refused too);
 * - Transfer-Encoding together with Content-Length (RFC 9112 §6.3 item 3: such a message "ought to
 *   be handled as an error", and the connection closed);
 * - Transfer-Encoding other than exactly one "chunked" coding: a final coding other than chunked
 *   makes the body length undeterminable (RFC 9112 §6.3 item 4) and we implement no other
 *   transfer coding (RFC 9112 §6.1);
 * - a NUL byte in any header or query name or value (the value would be silently truncated by
 *   every C string consumer). */
#ifndef IDPD_HTTP_FRAMING_H
#define IDPD_HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

typedef struct framing {
    unsigned hosts;     /* Host field lines */
    unsigned lengths;   /* Content-Length field lines */
    bool length_bad;    /* a Content-Length value that is not 1*DIGIT */
    unsigned encodings; /* Transfer-Encoding field lines */
    bool encoding_bad;  /* a Transfer-Encoding value other than "chunked" */
    bool nul;           /* a NUL inside a header or query name or value */
} framing;

/* Adds one header field line (name[0..nlen), value[0..vlen), as the parser delivered them). */
void framing_add_header(framing *f, const char *name, size_t nlen, const char *value, size_t vlen);
/* Adds one decoded query parameter (only the NUL rule applies). */
void framing_add_query(framing *f, const char *name, size_t nlen, const char *value, size_t vlen);
/* NULL when the request head is acceptable, else the reason (static text, for the error body).
 * version is the request's protocol ("HTTP/1.1", "HTTP/1.0"). */
const char *framing_check(const framing *f, const char *version);

#endif
