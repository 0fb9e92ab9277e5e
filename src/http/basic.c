#include "http/basic.h"

#include "core/mem.h"
#include "http/form.h"

#include <string.h>
#include <strings.h>

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

idp_err basic_b64_decode(const char *s, size_t n, unsigned char *out, size_t outcap, size_t *outlen)
{
    if (n % 4 != 0 || outcap < n / 4 * 3) return IDP_ERR_B64;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int v[4];
        size_t pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)s[i + j];
            if (c == '=' && last && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad) return IDP_ERR_B64; /* data after padding */
            if ((v[j] = b64val(c)) < 0) return IDP_ERR_B64;
        }
        /* Canonical encoding only: the bits dropped by padding must be zero (RFC 4648 §3.5). */
        if (pad == 2 && (v[1] & 0x0f)) return IDP_ERR_B64;
        if (pad == 1 && (v[2] & 0x03)) return IDP_ERR_B64;
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2) out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
        if (pad < 1) out[o++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
    }
    *outlen = o;
    return IDP_OK;
}

bool basic_is_basic(const char *a)
{
    return a && strncasecmp(a, "Basic", 5) == 0 && (a[5] == ' ' || a[5] == '\0');
}

idp_err basic_parse(const char *a, basic_creds *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!basic_is_basic(a) || a[5] != ' ')
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "malformed Basic credentials");
    const char *tok = a + 6;
    size_t n = strlen(tok);
    if (n == 0 || n >= BASIC_MAX_HEADER)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "malformed Basic credentials");
    size_t dl = 0;
    if (basic_b64_decode(tok, n, (unsigned char *)out->buf, sizeof out->buf - 1, &dl) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "Basic credentials are not valid base64");
    out->buf[dl] = '\0';
    char *colon = memchr(out->buf, ':', dl);
    if (!colon) {
        basic_clear(out);
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "Basic credentials lack a ':'");
    }
    char *sec = colon + 1;
    size_t sl = dl - (size_t)(sec - out->buf);
    size_t il = (size_t)(colon - out->buf);
    /* RFC 6749 §2.3.1: both are form-urlencoded inside Basic. Decode the secret first: decoding
     * the id writes its NUL over the ':'. */
    if (form_decode(sec, sl, &out->secret_len) != IDP_OK ||
        form_decode(out->buf, il, &out->id_len) != IDP_OK) {
        basic_clear(out);
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "Basic credentials are not valid form-urlencoding");
    }
    if (out->id_len == 0) {
        basic_clear(out);
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_CLIENT, "Basic credentials have an empty client id");
    }
    out->id = out->buf;
    out->secret = sec;
    return IDP_OK;
}

void basic_clear(basic_creds *c)
{
    if (!c) return;
    mem_wipe(c, sizeof *c);
}
