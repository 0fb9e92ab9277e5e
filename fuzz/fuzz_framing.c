/* Fuzz target: the HTTP/1.1 framing rules (http/framing.c) on arbitrary header and query lines.
 * The input is split at '\n'; a line starting with '?' is a query parameter "name=value", any
 * other a header "name:value" (NUL bytes kept). Invariants: a verdict is NULL or a non-empty
 * reason, and a head with a NUL anywhere is always refused. */
#include "http/framing.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) return 0;
    const char *p = (const char *)data, *end = p + size;
    framing f = {0};
    bool nul = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        bool query = p < le && *p == '?';
        const char *s = query ? p + 1 : p;
        const char *sep = memchr(s, query ? '=' : ':', (size_t)(le - s));
        const char *ne = sep ? sep : le, *v = sep ? sep + 1 : le;
        if (memchr(s, '\0', (size_t)(le - s))) nul = true;
        if (query)
            framing_add_query(&f, s, (size_t)(ne - s), sep ? v : NULL, (size_t)(le - v));
        else
            framing_add_header(&f, s, (size_t)(ne - s), v, (size_t)(le - v));
        p = nl ? nl + 1 : end;
    }
    const char *why11 = framing_check(&f, "HTTP/1.1"), *why10 = framing_check(&f, "HTTP/1.0");
    if ((why11 && !*why11) || (why10 && !*why10)) abort();
    if (nul && (!why11 || !why10)) abort();
    if (why11 == NULL && why10 != NULL) abort(); /* 1.0 is never stricter than 1.1 */
    return 0;
}
