/* jws — compact JWS sign and verify (see jws.h for the rules).
 *
 * Hot paths (jws_verify, jws_sign_compact) cost little more than the raw EVP operation:
 *   - the EVP_MD_CTX is duplicated (EVP_MD_CTX_copy_ex) from the per-key, per-alg template
 *     that jwk.c initialised when the key was built, instead of a DigestSign/VerifyInit (which
 *     re-fetches the algorithm and re-derives the provider key context) per call;
 *   - header, signature and signing input live in stack buffers; ES256 r||s <-> DER by hand;
 *   - the header and payload JSON go through jws_json_parse, a strict fast path for flat
 *     objects that hands anything unusual to jsonx_parse (see there);
 *   - the signed header is written directly when kid and typ need no escaping.
 * The signature is checked before the payload is parsed. */
#include "jose/jws.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/mem.h"
#include "jose/internal.h"

#include <openssl/err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWS_MAX_HEADER_B64 2048 /* encoded protected header cap; decoded into a stack buffer */
#define ES256_DER_MAX 72        /* SEQUENCE { INTEGER r, INTEGER s }, each <= 33 octets */

/* One DER INTEGER from a 32-octet big-endian unsigned value (X.690 §8.3: minimal octets,
 * a leading 0x00 when the high bit is set). */
static size_t der_int(unsigned char *out, const unsigned char *v)
{
    size_t i = 0;
    while (i < 31 && v[i] == 0) i++;
    size_t n = 32 - i, o = 0;
    bool pad = v[i] & 0x80;
    out[o++] = 0x02;
    out[o++] = (unsigned char)(n + pad);
    if (pad) out[o++] = 0x00;
    memcpy(out + o, v + i, n);
    return o + n;
}

/* RFC 7518 §3.4: the JWS signature is r||s, 32 octets each; EVP wants DER. */
static size_t es256_to_der(const unsigned char sig[64], unsigned char der[ES256_DER_MAX])
{
    unsigned char body[ES256_DER_MAX];
    size_t n = der_int(body, sig);
    n += der_int(body + n, sig + 32);
    der[0] = 0x30;
    der[1] = (unsigned char)n;
    memcpy(der + 2, body, n);
    return n + 2;
}

/* One non-negative DER INTEGER of at most 32 significant octets, left-padded into out[32]. */
static bool der_take_int(const unsigned char **p, const unsigned char *end, unsigned char out[32])
{
    if (end - *p < 2 || (*p)[0] != 0x02) return false;
    size_t n = (*p)[1];
    const unsigned char *v = *p + 2;
    if (n == 0 || n > (size_t)(end - v) || (v[0] & 0x80)) return false;
    *p = v + n;
    while (n > 0 && *v == 0) v++, n--;
    if (n > 32) return false;
    memset(out, 0, 32 - n);
    memcpy(out + 32 - n, v, n);
    return true;
}

/* The DER ECDSA-Sig-Value OpenSSL just produced (SEQUENCE { INTEGER r, INTEGER s }, short
 * lengths since it is <= 72 octets) to the JWS form r||s (RFC 7518 §3.4). */
static idp_err es256_from_der(const unsigned char *der, size_t len, unsigned char out[64],
                              idp_error *err)
{
    const unsigned char *p = der + 2, *end = der + len;
    bool ok = len >= 2 && der[0] == 0x30 && der[1] == len - 2 && der_take_int(&p, end, out) &&
              der_take_int(&p, end, out + 32) && p == end;
    return ok ? IDP_OK : IDP_FAIL(err, IDP_ERR_CRYPTO, "cannot convert ECDSA signature");
}

/* A fresh context: a copy of the key's template when there is one (tmpl is only read, see
 * internal.h), else a full init. NULL on failure. */
static EVP_MD_CTX *ctx_get(const EVP_MD_CTX *tmpl, jws_alg alg, EVP_PKEY *key, bool sign)
{
    if (tmpl) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (ctx && EVP_MD_CTX_copy_ex(ctx, tmpl) == 1) return ctx;
        EVP_MD_CTX_free(ctx);
        ERR_clear_error();
    }
    return jws_alg_md_ctx(alg, key, sign);
}

/* Verification once alg and key are known to fit and siglen is exact. tmpl may be NULL. */
static idp_err verify_core(jws_alg alg, EVP_PKEY *pub, const EVP_MD_CTX *tmpl, const void *in,
                           size_t len, const unsigned char *sig, size_t siglen, idp_error *err)
{
    unsigned char der[ES256_DER_MAX];
    if (alg == JWS_ES256) siglen = es256_to_der(sig, der), sig = der;
    EVP_MD_CTX *ctx = ctx_get(tmpl, alg, pub, false);
    if (!ctx) {
        ERR_clear_error();
        return IDP_FAIL(err, IDP_ERR_CRYPTO, "cannot set up signature verification");
    }
    int r = EVP_DigestVerify(ctx, sig, siglen, in, len);
    EVP_MD_CTX_free(ctx);
    if (r == 1) return IDP_OK;
    ERR_clear_error();
    return IDP_FAIL(err, IDP_ERR_JOSE_SIGNATURE, "signature did not verify");
}

idp_err jws_verify_raw(jws_alg alg, EVP_PKEY *pub, const void *input, size_t len,
                       const unsigned char *sig, size_t siglen, idp_error *err)
{
    if (!pub || !jws_alg_fits_pkey(alg, pub)) return IDP_FAIL(err, IDP_ERR_JOSE_ALG, "alg does not fit the key");
    size_t want = jws_alg_kty_of(alg) == JWS_ALG_KTY_RSA ? (size_t)EVP_PKEY_get_size(pub) : 64;
    if (siglen != want) return IDP_FAIL(err, IDP_ERR_JOSE_SIGNATURE, "signature has the wrong length");
    return verify_core(alg, pub, NULL, input, len, sig, siglen, err);
}

/* Signing once alg is known to fit priv and priv is at most JWS_MAX_SIG octets. tmpl may be
 * NULL. */
static idp_err sign_core(jws_alg alg, EVP_PKEY *priv, const EVP_MD_CTX *tmpl, const void *input,
                         size_t len, unsigned char *sig, size_t *siglen, idp_error *err)
{
    *siglen = 0;
    unsigned char der[ES256_DER_MAX + 8];
    unsigned char *dst = alg == JWS_ES256 ? der : sig;
    size_t n = alg == JWS_ES256 ? sizeof der : JWS_MAX_SIG;
    EVP_MD_CTX *ctx = ctx_get(tmpl, alg, priv, true);
    idp_err rc = IDP_OK;
    if (!ctx || EVP_DigestSign(ctx, dst, &n, input, len) != 1) {
        rc = IDP_FAIL(err, IDP_ERR_CRYPTO, "signing failed");
        goto out;
    }
    if (alg == JWS_ES256) {
        if ((rc = es256_from_der(der, n, sig, err))) goto out;
        n = 64;
    }
    *siglen = n;
out:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

idp_err jws_sign_raw(jws_alg alg, EVP_PKEY *priv, const void *input, size_t len,
                     unsigned char *sig, size_t *siglen, idp_error *err)
{
    *siglen = 0;
    if (!priv || !jws_alg_fits_pkey(alg, priv)) return IDP_FAIL(err, IDP_ERR_JOSE_ALG, "alg does not fit the key");
    if (EVP_PKEY_get_size(priv) > JWS_MAX_SIG) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "key too large");
    return sign_core(alg, priv, NULL, input, len, sig, siglen, err);
}

/* ---- strict JSON, fast path ------------------------------------------------------------ */

/* jws_json_parse has exactly the contract of jsonx_parse(s, n, 0, 0, true, out, NULL): a
 * strict JSON object (RFC 8259; duplicate member names rejected, RFC 7515 §5.2 / RFC 7519 §7.2),
 * and jansson's general lexer costs more than the RSA verification it guards. So a fast path
 * recognises the subset tokens actually use and builds the same tree directly:
 *   one object; member names and string values of printable ASCII (0x20..0x7e) without '"'
 *   or '\'; integers -?(0|[1-9][0-9]*) of at most 18 digits; true, false, null; arrays of
 *   these; JSON whitespace between tokens; unique member names.
 * The fast path never rejects: on anything outside the subset (escapes, non-ASCII, fractions,
 * exponents, nested objects, duplicates, any syntax error) it stops and jsonx_parse decides
 * on the whole input. Everything it accepts is valid JSON that jansson would parse to an equal
 * tree (checked by test_jws json_fast_path_differential). */

typedef struct jscan {
    const char *p, *end;
} jscan;

static void js_ws(jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* True when the next character ends a scalar: whitespace, ',', ']' or '}'. */
static bool js_delim(const jscan *s)
{
    if (s->p >= s->end) return false;
    char c = *s->p;
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}';
}

static bool js_str(jscan *s, const char **str, size_t *len)
{
    if (s->p >= s->end || *s->p != '"') return false;
    const char *b = ++s->p;
    for (; s->p < s->end; s->p++) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            *str = b;
            *len = (size_t)(s->p++ - b);
            return true;
        }
        if (c < 0x20 || c > 0x7e || c == '\\') return false;
    }
    return false;
}

static json_t *js_int(jscan *s)
{
    bool neg = *s->p == '-';
    if (neg) s->p++;
    const char *d = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    size_t nd = (size_t)(s->p - d);
    if (nd == 0 || nd > 18 || (nd > 1 && *d == '0') || !js_delim(s)) return NULL;
    long long v = 0; /* at most 18 digits: no overflow */
    for (size_t i = 0; i < nd; i++) v = v * 10 + (d[i] - '0');
    return json_integer(neg ? -v : v);
}

static json_t *js_scalar(jscan *s)
{
    static const char lit[][6] = {"true", "false", "null"};
    if (s->p >= s->end) return NULL;
    if (*s->p == '"') {
        const char *v;
        size_t n;
        return js_str(s, &v, &n) ? json_stringn_nocheck(v, n) : NULL;
    }
    if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) return js_int(s);
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lit[i]);
        if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit[i], n) != 0) continue;
        s->p += n;
        if (!js_delim(s)) return NULL;
        return i == 0 ? json_true() : i == 1 ? json_false() : json_null();
    }
    return NULL;
}

/* '[' scalars ']' with the '[' already consumed. */
static json_t *js_array(jscan *s)
{
    json_t *a = json_array();
    js_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return a;
    }
    for (;;) {
        json_t *v = js_scalar(s);
        if (!v || json_array_append_new(a, v)) break;
        js_ws(s);
        if (s->p >= s->end) break;
        if (*s->p++ == ']') return a;
        if (s->p[-1] != ',') break;
        js_ws(s);
    }
    json_decref(a);
    return NULL;
}

/* One "name": value member appended to o; false to leave the fast path. */
static bool js_member(jscan *s, json_t *o)
{
    const char *k;
    size_t kn;
    if (!js_str(s, &k, &kn)) return false;
    js_ws(s);
    if (s->p >= s->end || *s->p++ != ':') return false;
    js_ws(s);
    json_t *v = NULL;
    if (s->p < s->end && *s->p == '[') {
        s->p++;
        v = js_array(s);
    } else {
        v = js_scalar(s);
    }
    if (!v) return false;
    if (json_object_getn(o, k, kn)) { /* duplicate: jsonx_parse rejects it */
        json_decref(v);
        return false;
    }
    return json_object_setn_new_nocheck(o, k, kn, v) == 0;
}

json_t *jws_json_fast(const char *str, size_t n)
{
    jscan s = {str, str + n};
    js_ws(&s);
    if (s.p >= s.end || *s.p++ != '{') return NULL;
    json_t *o = json_object();
    js_ws(&s);
    bool ok = s.p < s.end && *s.p == '}';
    if (ok) s.p++;
    while (!ok && js_member(&s, o)) {
        js_ws(&s);
        if (s.p >= s.end) break;
        char c = *s.p++;
        if (c == '}') ok = true;
        else if (c != ',') break;
        else js_ws(&s);
    }
    js_ws(&s);
    if (ok && s.p == s.end) return o;
    json_decref(o);
    return NULL;
}

idp_err jws_json_parse(const char *s, size_t n, json_t **out)
{
    *out = jws_json_fast(s, n);
    if (*out) return IDP_OK;
    return jsonx_parse(s, n, 0, 0, true, out, NULL);
}

/* ---- compact verification ---------------------------------------------------------------- */

typedef struct span {
    const char *p;
    size_t n;
} span;

/* RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature). */
static idp_err split_token(const char *t, size_t len, span parts[3], idp_error *err)
{
    const char *d1 = memchr(t, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)))
        return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS compact serialization needs exactly 3 parts");
    parts[0] = (span){t, (size_t)(d1 - t)};
    parts[1] = (span){d1 + 1, (size_t)(d2 - d1 - 1)};
    parts[2] = (span){d2 + 1, len - (size_t)(d2 + 1 - t)};
    if (parts[2].n == 0) return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS without a signature");
    return IDP_OK;
}

static idp_err parse_header(span h, json_t **out, idp_error *err)
{
    unsigned char buf[JWS_MAX_HEADER_B64 / 4 * 3 + 4];
    size_t len = 0;
    if (h.n > JWS_MAX_HEADER_B64) return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS header too long");
    if (b64url_decode_to(h.p, h.n, buf, sizeof buf, &len))
        return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS header is not strict base64url");
    if (jws_json_parse((const char *)buf, len, out))
        return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS header is not a strict JSON object");
    return IDP_OK;
}

/* RFC 7515 §4.1.9 / RFC 7519 §5.1: media types compare case-insensitively and may omit
 * the "application/" prefix. */
static bool typ_matches(const char *want, const char *got)
{
    static const char pfx[] = "application/";
    if (strncasecmp(want, pfx, sizeof pfx - 1) == 0) want += sizeof pfx - 1;
    if (strncasecmp(got, pfx, sizeof pfx - 1) == 0) got += sizeof pfx - 1;
    return strcasecmp(want, got) == 0;
}

static idp_err check_header(const json_t *h, const jws_verify_opts *o, jws_alg *alg,
                            const char **kid, idp_error *err)
{
    /* RFC 7515 §4.1.11: we understand no extension, so any crit fails; b64 (RFC 7797) too. */
    if (json_object_get(h, "crit") || json_object_get(h, "b64"))
        return IDP_FAIL(err, IDP_ERR_JOSE_CRIT, "unsupported critical header");
    json_t *a = json_object_get(h, "alg");
    if (!json_is_string(a)) return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS header without a string alg");
    /* RFC 8725 §3.1-3.2: only our asymmetric algs, never none or HS*, and only allowed ones. */
    *alg = jws_alg_from_name(json_string_value(a), json_string_length(a));
    if (*alg == JWS_ALG_INVALID || !(o->allowed_algs & JWS_ALGS_ALL & JWS_ALG_BIT(*alg)))
        return IDP_FAIL(err, IDP_ERR_JOSE_ALG, "JWS alg not allowed");
    json_t *k = json_object_get(h, "kid"), *t = json_object_get(h, "typ");
    if (k && !json_is_string(k)) return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS kid is not a string");
    if (t && !json_is_string(t)) return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS typ is not a string");
    *kid = k ? json_string_value(k) : NULL;
    if (o->typ && (t ? !typ_matches(o->typ, json_string_value(t)) : !o->typ_optional))
        return IDP_FAIL(err, IDP_ERR_JWT_TYP, "JWS typ is not the expected one");
    return IDP_OK;
}

/* Keys come from opts.keys only, never from jku/x5u/jwk/x5c (RFC 8725 §3.10). */
static idp_err select_key(const jwks *keys, const char *kid, jws_alg alg, const jwk **out,
                          idp_error *err)
{
    const jwk *k = NULL;
    if (kid) {
        k = jwks_find(keys, kid);
        if (!k) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "no key for this kid");
    } else {
        for (size_t i = 0; i < jwks_count(keys); i++) {
            if (!jwk_allows(jwks_at(keys, i), alg)) continue;
            if (k) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "JWS without kid and several candidate keys");
            k = jwks_at(keys, i);
        }
        if (!k) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "no key for this alg");
    }
    if (!jwk_allows(k, alg)) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "key does not allow this alg");
    *out = k;
    return IDP_OK;
}

static idp_err decode_sig(span s, size_t want, unsigned char *sig, idp_error *err)
{
    size_t len = 0;
    if (s.n > b64url_encoded_len(JWS_MAX_SIG) + 1)
        return IDP_FAIL(err, IDP_ERR_JOSE_SIGNATURE, "signature has the wrong length");
    if (b64url_decode_to(s.p, s.n, sig, JWS_MAX_SIG + 3, &len))
        return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS signature is not strict base64url");
    if (len != want) return IDP_FAIL(err, IDP_ERR_JOSE_SIGNATURE, "signature has the wrong length");
    return IDP_OK;
}

idp_err jws_verify(const char *token, size_t len, const jws_verify_opts *opts, jws_verified *out,
                   idp_error *err)
{
    memset(out, 0, sizeof *out);
    size_t max = opts->max_len ? opts->max_len : JWS_MAX_LEN;
    span parts[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    unsigned char sig[JWS_MAX_SIG + 3];
    const char *kid = NULL;
    jws_alg alg = JWS_ALG_INVALID;
    const jwk *key = NULL;
    idp_err rc;
    if (!token || len > max) return IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS too long");
    if ((rc = split_token(token, len, parts, err))) goto out;
    if ((rc = parse_header(parts[0], &out->header, err))) goto out;
    if ((rc = check_header(out->header, opts, &alg, &kid, err))) goto out;
    if ((rc = select_key(opts->keys, kid, alg, &key, err))) goto out;
    if ((rc = decode_sig(parts[2], jwk_sig_len(key), sig, err))) goto out;
    if (b64url_decode(parts[1].p, parts[1].n, &out->raw_payload, &out->raw_payload_len)) {
        rc = IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS payload is not strict base64url");
        goto out;
    }
    /* RFC 7515 §5.2 step 8: the signing input is the first two parts as sent. */
    rc = verify_core(alg, jwk_pkey(key), jwk_md_template(key, alg, false), token,
                     (size_t)(parts[2].p - 1 - token), sig, jwk_sig_len(key), err);
    if (rc) goto out;
    if (opts->payload_json &&
        jws_json_parse((const char *)out->raw_payload, out->raw_payload_len, &out->payload)) {
        rc = IDP_FAIL(err, IDP_ERR_JOSE_FORMAT, "JWS payload is not a strict JSON object");
        goto out;
    }
    out->key = key;
    out->alg = alg;
out:
    if (rc) jws_verified_clear(out);
    return rc;
}

void jws_verified_clear(jws_verified *v)
{
    if (!v) return;
    json_decref(v->header);
    json_decref(v->payload);
    free(v->raw_payload);
    memset(v, 0, sizeof *v);
}

/* ---- compact signing --------------------------------------------------------------------- */

static char *header_json(jws_alg alg, const char *kid, const char *typ)
{
    json_t *h = json_object();
    char *s = NULL;
    if (json_object_set_new(h, "alg", json_string(jws_alg_name(alg))) ||
        (kid && json_object_set_new(h, "kid", json_string(kid))) ||
        (typ && json_object_set_new(h, "typ", json_string(typ))))
        goto out; /* not UTF-8 */
    s = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(h);
    return s;
}

/* Length of s when it is printable ASCII without '"' or '\' (jansson prints it verbatim),
 * else SIZE_MAX. */
static size_t plain_len(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return SIZE_MAX;
    }
    return n;
}

static size_t put_member(char *out, size_t o, const char *name, const char *v, size_t vn)
{
    out[o++] = ',';
    out[o++] = '"';
    memcpy(out + o, name, 3);
    o += 3;
    memcpy(out + o, "\":\"", 3);
    o += 3;
    memcpy(out + o, v, vn);
    o += vn;
    out[o++] = '"';
    return o;
}

/* Writes into out[cap] exactly what header_json would return, when kid and typ need no
 * escaping. Returns the length, or 0 when header_json must do it. */
static size_t header_fast(char *out, size_t cap, jws_alg alg, const char *kid, const char *typ)
{
    size_t kn = kid ? plain_len(kid) : 0, tn = typ ? plain_len(typ) : 0;
    if (kn == SIZE_MAX || tn == SIZE_MAX || kn + tn > cap - 64) return 0;
    static const char pfx[] = "{\"alg\":\"";
    const char *a = jws_alg_name(alg);
    size_t an = strlen(a), o = sizeof pfx - 1;
    memcpy(out, pfx, o);
    memcpy(out + o, a, an);
    o += an;
    out[o++] = '"';
    if (kid) o = put_member(out, o, "kid", kid, kn);
    if (typ) o = put_member(out, o, "typ", typ, tn);
    out[o++] = '}';
    return o;
}

#define JWS_HDR_FAST_MAX 512
#define JWS_SIGN_STACK 4096

idp_err jws_sign_compact(const jwk *key, jws_alg alg, const char *typ, const void *payload,
                         size_t payload_len, idp_buf *out, idp_error *err)
{
    if (!key || !jwk_is_private(key)) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "signing needs a private key");
    if (!jwk_allows(key, alg)) return IDP_FAIL(err, IDP_ERR_JOSE_ALG, "key does not allow this alg");
    if (jwk_sig_len(key) > JWS_MAX_SIG) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "key too large");
    char hbuf[JWS_HDR_FAST_MAX], stack[JWS_SIGN_STACK];
    char *hdyn = NULL, *tok = NULL;
    unsigned char sig[JWS_MAX_SIG];
    size_t siglen = 0, hl = header_fast(hbuf, sizeof hbuf, alg, jwk_kid(key), typ);
    idp_err rc = IDP_OK;
    if (!hl && !(hdyn = header_json(alg, jwk_kid(key), typ))) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "cannot build the JWS header");
        goto out;
    }
    const char *hdr = hdyn ? hdyn : hbuf;
    if (hdyn) hl = strlen(hdyn);
    /* Everything is sized up front, so the buffer cap is checked before any allocation. */
    size_t avail = out->max > out->len ? out->max - out->len : 0;
    size_t h64 = b64url_encoded_len(hl), in_len = 0, total = 0;
    if (payload_len <= avail) {
        in_len = h64 + 1 + b64url_encoded_len(payload_len);
        total = in_len + 1 + b64url_encoded_len(jwk_sig_len(key));
    }
    if (payload_len > avail || total > avail) {
        rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "JWS larger than the buffer cap");
        goto out;
    }
    tok = total < sizeof stack ? stack : xmalloc(total + 1);
    b64url_encode_to(tok, hdr, hl);
    tok[h64] = '.';
    b64url_encode_to(tok + h64 + 1, payload, payload_len);
    rc = sign_core(alg, jwk_pkey(key), jwk_md_template(key, alg, true), tok, in_len, sig, &siglen,
                   err);
    if (rc) goto out;
    tok[in_len] = '.';
    b64url_encode_to(tok + in_len + 1, sig, siglen);
    if (buf_append(out, tok, in_len + 1 + b64url_encoded_len(siglen)))
        rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "JWS larger than the buffer cap");
out:
    free(hdyn);
    if (tok != stack) free(tok);
    return rc;
}
