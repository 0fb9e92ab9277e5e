/* bearer — Authorization: Bearer parsing (see bearer.h). */
#include "proto/bearer.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* RFC 6750 §2.1 b64token characters before the trailing '=' padding. */
static bool b64token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

idp_err bearer_parse(const char *header, const char **token, size_t *n, idp_error *err)
{
    if (!header || strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\0'))
        return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "no Bearer credentials");
    const char *p = header + 6;
    while (*p == ' ')
        p++;
    size_t len = strnlen(p, BEARER_MAX_TOKEN + 1);
    if (len > BEARER_MAX_TOKEN)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "bearer token longer than %u characters",
                        (unsigned)BEARER_MAX_TOKEN);
    size_t i = 0;
    while (i < len && b64token_char((unsigned char)p[i]))
        i++;
    if (i == 0) return IDP_FAIL(err, IDP_ERR_INVALID, "malformed Bearer credentials");
    while (i < len && p[i] == '=')
        i++;
    if (i != len) return IDP_FAIL(err, IDP_ERR_INVALID, "malformed Bearer credentials");
    *token = p;
    *n = len;
    return IDP_OK;
}
