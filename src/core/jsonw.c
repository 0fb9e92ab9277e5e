#include "core/jsonw.h"

#include <inttypes.h>
#include <string.h>

int jsonw_str(idp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_putc(b, '"') != 0) return -1;
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (buf_append(b, s + run, i - run) != 0) return -1;
        char esc[7] = {'\\', (char)c, 0};
        size_t el = 2;
        if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if (buf_append(b, esc, el) != 0) return -1;
        run = i + 1;
    }
    if (buf_append(b, s + run, n - run) != 0) return -1;
    return buf_putc(b, '"');
}

int jsonw_member_str(idp_buf *b, int first, const char *name, const char *value)
{
    if (!first && buf_putc(b, ',') != 0) return -1;
    if (jsonw_str(b, name, strlen(name)) != 0 || buf_putc(b, ':') != 0) return -1;
    return jsonw_str(b, value, strlen(value));
}

int jsonw_member_int(idp_buf *b, int first, const char *name, int64_t value)
{
    if (!first && buf_putc(b, ',') != 0) return -1;
    if (jsonw_str(b, name, strlen(name)) != 0) return -1;
    return buf_printf(b, ":%" PRId64, value);
}
