#include "http/form.h"

#include <string.h>
#include <strings.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

idp_err form_decode(char *s, size_t n, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (n - i < 3) return IDP_ERR_INVALID;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) return IDP_ERR_INVALID;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0') return IDP_ERR_INVALID;
        s[o++] = (char)c;
    }
    s[o] = '\0';
    *outlen = o;
    return IDP_OK;
}

/* One "name[=value]" segment s[0..n) (s[n] writable). */
static idp_err parse_pair(form *f, char *s, size_t n, idp_error *err)
{
    if (n == 0) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "malformed form body: empty parameter");
    char *eq = memchr(s, '=', n);
    size_t nlen = eq ? (size_t)(eq - s) : n;
    char *val = eq ? eq + 1 : s + n;
    size_t vlen = eq ? n - nlen - 1 : 0;
    if (nlen == 0) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "malformed form body: empty parameter name");
    /* Decode the value first: decoding the name writes a NUL over the '='. */
    size_t dv = 0, dn = 0;
    if (form_decode(val, vlen, &dv) != IDP_OK || form_decode(s, nlen, &dn) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "malformed form body: invalid percent-encoding");
    if (dn == 0) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "malformed form body: empty parameter name");
    if (dn > FORM_MAX_NAME) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "form parameter name too long");
    if (dv > FORM_MAX_VALUE) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "form parameter value too long");
    if (dv == 0) return IDP_OK; /* RFC 6749 §3.1: treated as omitted */
    if (f->n == FORM_MAX_PARAMS) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "too many form parameters");
    f->params[f->n++] = (form_param){.name = s, .value = val, .value_len = dv};
    return IDP_OK;
}

idp_err form_parse(form *f, char *data, size_t len, idp_error *err)
{
    f->n = 0;
    if (len == 0) return IDP_OK;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != '&') continue;
        idp_err rc = parse_pair(f, data + start, i - start, err);
        if (rc != IDP_OK) {
            f->n = 0;
            return rc;
        }
        start = i + 1;
    }
    return IDP_OK;
}

const char *form_get(const form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->params[i].name, name) == 0) return f->params[i].value;
    return NULL;
}

size_t form_count(const form *f, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->params[i].name, name) == 0) k++;
    return k;
}

static bool listed(const char *name, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0) return true;
    return false;
}

idp_err form_check_unique(const form *f, const char *const *repeatable, idp_error *err)
{
    for (size_t i = 0; i < f->n; i++) {
        if (listed(f->params[i].name, repeatable)) continue;
        for (size_t j = i + 1; j < f->n; j++)
            if (strcmp(f->params[i].name, f->params[j].name) == 0)
                return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                                "parameter included more than once (RFC 6749 section 3.1)");
    }
    return IDP_OK;
}

bool form_content_type_ok(const char *ct)
{
    static const char want[] = "application/x-www-form-urlencoded";
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t') ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t') ct++;
    return *ct == '\0' || *ct == ';';
}
