#include "scim/username.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static bool is_space(utf8proc_int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x0B ||
           cp == 0x0C;
}

idp_err username_check(const char *name, idp_error *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0) return IDP_FAIL(err, IDP_ERR_INVALID, "userName is empty");
    if (n > USERNAME_MAX_BYTES)
        return IDP_FAIL(err, IDP_ERR_INVALID, "userName is longer than %d bytes", USERNAME_MAX_BYTES);
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)name;
    utf8proc_ssize_t left = (utf8proc_ssize_t)n;
    utf8proc_int32_t cp = 0, first = -1;
    while (left > 0) {
        utf8proc_ssize_t k = utf8proc_iterate(p, left, &cp);
        if (k <= 0 || cp < 0) return IDP_FAIL(err, IDP_ERR_INVALID, "userName is not valid UTF-8");
        if (first < 0) first = cp;
        switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_CC:
        case UTF8PROC_CATEGORY_CF:
        case UTF8PROC_CATEGORY_CS:
        case UTF8PROC_CATEGORY_CO:
        case UTF8PROC_CATEGORY_CN:
        case UTF8PROC_CATEGORY_ZL:
        case UTF8PROC_CATEGORY_ZP:
            return IDP_FAIL(err, IDP_ERR_INVALID,
                            "userName contains a control, format or unassigned character (U+%04X)",
                            (unsigned)cp);
        default:
            break;
        }
        p += k;
        left -= k;
    }
    if (is_space(first) || is_space(cp))
        return IDP_FAIL(err, IDP_ERR_INVALID, "userName begins or ends with white space");
    return IDP_OK;
}

char *username_key(const char *name)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)name, 0, &out,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                          UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
    if (r < 0) {
        free(out);
        return NULL;
    }
    return (char *)out;
}
