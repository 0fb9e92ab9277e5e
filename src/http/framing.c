/* framing — HTTP/1.1 framing rules on the request head (see framing.h). */
#include "http/framing.h"

#include <string.h>
#include <strings.h>

static bool named(const char *name, size_t nlen, const char *want)
{
    return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

static bool has_nul(const char *s, size_t n)
{
    return s && memchr(s, '\0', n) != NULL;
}

/* OWS-trimmed value equals "chunked" (case-insensitive, RFC 9112 §7). */
static bool only_chunked(const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return n == 7 && strncasecmp(v, "chunked", 7) == 0;
}

static bool all_digits(const char *v, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9') return false;
    return true;
}

void framing_add_header(framing *f, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (has_nul(name, nlen) || has_nul(value, vlen)) f->nul = true;
    if (!value) vlen = 0;
    if (named(name, nlen, "Host")) {
        f->hosts++;
    } else if (named(name, nlen, "Content-Length")) {
        f->lengths++;
        if (!all_digits(value, vlen)) f->length_bad = true;
    } else if (named(name, nlen, "Transfer-Encoding")) {
        f->encodings++;
        if (!only_chunked(value, vlen)) f->encoding_bad = true;
    }
}

void framing_add_query(framing *f, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (has_nul(name, nlen) || has_nul(value, vlen)) f->nul = true;
}

const char *framing_check(const framing *f, const char *version)
{
    if (f->nul) return "NUL byte in a header or query parameter";
    if (f->hosts > 1) return "more than one Host header (RFC 9112 section 3.2)";
    if (f->hosts == 0 && version && strcmp(version, "HTTP/1.1") == 0)
        return "HTTP/1.1 request without Host header (RFC 9112 section 3.2)";
    if (f->encodings && f->lengths)
        return "both Transfer-Encoding and Content-Length (RFC 9112 section 6.3)";
    if (f->lengths > 1) return "more than one Content-Length (RFC 9112 section 6.3)";
    if (f->length_bad) return "invalid Content-Length (RFC 9110 section 8.6)";
    if (f->encodings > 1 || f->encoding_bad)
        return "unsupported Transfer-Encoding: only chunked (RFC 9112 section 6.1)";
    return NULL;
}
