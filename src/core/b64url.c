#include "core/b64url.h"

#include "core/mem.h"

#include <stdint.h>
#include <stdlib.h>

static const char enc_tab[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0xff = not in the alphabet */
static const uint8_t dec_tab[256] = {
#define X 0xff
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

size_t b64url_encoded_len(size_t n)
{
    return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t b64url_decoded_max(size_t n)
{
    return (n / 4) * 3 + 3;
}

void b64url_encode_to(char *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i = 0, o = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = enc_tab[v >> 18];
        out[o++] = enc_tab[(v >> 12) & 63];
        out[o++] = enc_tab[(v >> 6) & 63];
        out[o++] = enc_tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        out[o++] = enc_tab[v >> 18];
        out[o++] = enc_tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        out[o++] = enc_tab[v >> 18];
        out[o++] = enc_tab[(v >> 12) & 63];
        out[o++] = enc_tab[(v >> 6) & 63];
    }
    out[o] = '\0';
}

char *b64url_encode(const void *p, size_t n)
{
    char *out = xmalloc(b64url_encoded_len(n) + 1);
    b64url_encode_to(out, p, n);
    return out;
}

int b64url_encode_buf(idp_buf *b, const void *p, size_t n)
{
    size_t len = b64url_encoded_len(n);
    char stackbuf[512];
    char *tmp = len < sizeof stackbuf ? stackbuf : xmalloc(len + 1);
    b64url_encode_to(tmp, p, n);
    int r = buf_append(b, tmp, len);
    if (tmp != stackbuf) free(tmp);
    return r;
}

idp_err b64url_decode_to(const char *s, size_t n, unsigned char *out, size_t outcap,
                         size_t *outlen)
{
    if (n % 4 == 1) return IDP_ERR_B64;
    size_t need = (n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > outcap) return IDP_ERR_B64;
    size_t i = 0, o = 0;
    for (; i + 4 <= n; i += 4) {
        uint8_t a = dec_tab[(uint8_t)s[i]], b = dec_tab[(uint8_t)s[i + 1]],
                c = dec_tab[(uint8_t)s[i + 2]], d = dec_tab[(uint8_t)s[i + 3]];
        if ((a | b | c | d) & 0xc0) return IDP_ERR_B64;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    size_t rem = n - i;
    if (rem >= 2) {
        uint8_t a = dec_tab[(uint8_t)s[i]], b = dec_tab[(uint8_t)s[i + 1]];
        uint8_t c = rem == 3 ? dec_tab[(uint8_t)s[i + 2]] : 0;
        if ((a | b | c) & 0xc0) return IDP_ERR_B64;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        /* Canonical encoding: the bits below the last whole byte must be zero. */
        if (rem == 2 && (b & 0x0f)) return IDP_ERR_B64;
        if (rem == 3 && (c & 0x03)) return IDP_ERR_B64;
        out[o++] = (unsigned char)(v >> 16);
        if (rem == 3) out[o++] = (unsigned char)(v >> 8);
    }
    *outlen = o;
    return IDP_OK;
}

idp_err b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
    size_t cap = b64url_decoded_max(n) + 1;
    unsigned char *p = xmalloc(cap);
    size_t len = 0;
    idp_err r = b64url_decode_to(s, n, p, cap - 1, &len);
    if (r) {
        free(p);
        *out = NULL;
        *outlen = 0;
        return r;
    }
    p[len] = '\0';
    *out = p;
    *outlen = len;
    return IDP_OK;
}
