/* Fuzz target: the cookie reader and writer (http/cookie.c). The first byte selects:
 *   'F': the rest is "name\nvalue" for cookie_format, and a formatted cookie must read back;
 *   else: the rest is a Cookie header, read with a few names (and its own first name). */
#include "http/cookie.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool octets_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\') return false;
    }
    return true;
}

static void read_one(const char *header, const char *name)
{
    char out[64];
    if (cookie_get(header, name, out, sizeof out)) {
        if (strlen(out) >= sizeof out || !octets_ok(out)) abort();
    } else if (out[0] != '\0') {
        abort();
    }
}

static void format_one(char *s, uint8_t flags)
{
    char *nl = strchr(s, '\n');
    if (!nl) return;
    *nl = '\0';
    cookie_attrs a = {.name = s,
                      .value = nl + 1,
                      .http_only = flags & 1,
                      .secure = flags & 2,
                      .same_site = (cookie_samesite)((flags >> 2) % 3),
                      .max_age = (flags & 0x20)   ? 3600
                                 : (flags & 0x40) ? COOKIE_DELETE
                                                  : 0,
                      .path = (flags & 0x80) ? "/login" : NULL};
    char out[512], back[512];
    int n = cookie_format(out, sizeof out, &a);
    if (n < 0) {
        if (out[0] != '\0') abort();
        return;
    }
    if ((size_t)n != strlen(out)) abort();
    /* "name=value; Path=..." is also a valid Cookie header whose first pair is ours. */
    if (!cookie_get(out, a.name, back, sizeof back) || strcmp(back, a.value) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 64 * 1024) return 0;
    char *s = malloc(size); /* size - 1 bytes of input + NUL */
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] == 'F') {
        format_one(s, (uint8_t)(size * 31));
    } else {
        read_one(s, "sid");
        read_one(s, "a");
        read_one(s, "__Host-idpd");
        char name[32];
        size_t n = strcspn(s, "=;");
        if (n < sizeof name) {
            memcpy(name, s, n);
            name[n] = '\0';
            read_one(s, name);
        }
    }
    free(s);
    return 0;
}
