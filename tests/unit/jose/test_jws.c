/* Unit tests for src/jose/jws.c: RFC 7515 / RFC 7520 / RFC 8037 examples, Wycheproof JWS and
 * primitive vectors, one negative test per rejection rule of jws.h, sign/verify round trips. */
#include "testutil.h"

#include "core/b64url.h"
#include "core/buf.h"
#include "core/jsonx.h"
#include "jose/jwk.h"
#include "jose/internal.h"
#include "jose/jws.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 7515 Appendix A.2.1 (public part) and the A.2 token. */
#define A2_N                                                                                       \
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d" \
    "4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMd" \
    "bBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-" \
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define RFC7515_PAYLOAD                                                                            \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
static const char a2_jwk[] = "{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"}";
static const char a2_token[] =
    "eyJhbGciOiJSUzI1NiJ9." RFC7515_PAYLOAD
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
    "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUi"
    "pUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
/* RFC 7515 Appendix A.3.1 key (with d) and the A.3 token. */
static const char a3_jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                             "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                             "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
                             "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}";
static const char a3_token[] =
    "eyJhbGciOiJFUzI1NiJ9." RFC7515_PAYLOAD
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
/* RFC 7515 Appendix A.1 (HS256) and A.5 (unsecured). */
static const char a1_token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC7515_PAYLOAD
                               ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char a5_token[] = "eyJhbGciOiJub25lIn0." RFC7515_PAYLOAD ".";

static jwk *key_from_str(const char *s)
{
    json_t *o = NULL;
    assert_int_equal(jsonx_parse(s, strlen(s), 0, 0, true, &o, NULL), IDP_OK);
    jwk *k = NULL;
    idp_error e = {0};
    idp_err rc = jwk_from_json(o, &k, &e);
    if (rc) fail_msg("key rejected: %s", e.msg);
    json_decref(o);
    return k;
}

static jwks *set_of(jwk *a, jwk *b)
{
    jwks *s = jwks_new();
    if (a) assert_int_equal(jwks_add(s, a, NULL), IDP_OK);
    if (b) assert_int_equal(jwks_add(s, b, NULL), IDP_OK);
    return s;
}

static idp_err verify_with(const char *tok, const jwks *keys, bool json, idp_error *e)
{
    jws_verify_opts o = {.allowed_algs = ~0u, .keys = keys, .payload_json = json};
    jws_verified v;
    idp_err rc = jws_verify(tok, strlen(tok), &o, &v, e);
    if (rc == IDP_OK) assert_non_null(v.key);
    else assert_null(v.header);
    jws_verified_clear(&v);
    return rc;
}

static void rfc7515_examples(void **state)
{
    jwk *rsa = key_from_str(a2_jwk), *ec = key_from_str(a3_jwk);
    assert_true(jwk_is_private(ec));
    jwks *s = set_of(rsa, ec);
    jws_verify_opts o = {.allowed_algs = JWS_ALGS_ALL, .keys = s, .payload_json = true};
    jws_verified v;
    assert_int_equal(jws_verify(a2_token, strlen(a2_token), &o, &v, NULL), IDP_OK);
    assert_ptr_equal(v.key, rsa);
    assert_int_equal(v.alg, JWS_RS256);
    assert_string_equal(jsonx_str(v.payload, "iss"), "joe");
    jws_verified_clear(&v);
    assert_int_equal(jws_verify(a3_token, strlen(a3_token), &o, &v, NULL), IDP_OK);
    assert_ptr_equal(v.key, ec);
    assert_int_equal(v.alg, JWS_ES256);
    jws_verified_clear(&v);
    /* A.1 is HS256: never accepted, whatever bits the caller sets. */
    assert_int_equal(verify_with(a1_token, s, true, NULL), IDP_ERR_JOSE_ALG);
    /* A.5 is unsecured (alg none, empty signature). */
    assert_int_not_equal(verify_with(a5_token, s, true, NULL), IDP_OK);
    char none_sig[sizeof a5_token + 4];
    snprintf(none_sig, sizeof none_sig, "%sAAAA", a5_token);
    assert_int_equal(verify_with(none_sig, s, true, NULL), IDP_ERR_JOSE_ALG);
    jwks_unref(s);
    jwk_unref(rsa);
    jwk_unref(ec);
}

static jwks *set_from_vector_key(const char *rel, const char *member)
{
    json_t *doc = tu_load_vector_json(rel);
    json_t *kj = member ? json_object_get(json_object_get(doc, "input"), member) : doc;
    jwk *k = NULL;
    idp_error e = {0};
    if (jwk_from_json(kj, &k, &e)) fail_msg("%s: %s", rel, e.msg);
    jwks *s = set_of(k, NULL);
    jwk_unref(k);
    json_decref(doc);
    return s;
}

static idp_err verify_vector(const char *rel, const jwks *s)
{
    json_t *doc = tu_load_vector_json(rel);
    const char *tok = json_string_value(json_object_get(json_object_get(doc, "output"), "compact"));
    assert_non_null(tok);
    idp_err rc = verify_with(tok, s, false, NULL);
    json_decref(doc);
    return rc;
}

static void rfc7520_cookbook(void **state)
{
    jwks *pub = set_from_vector_key("jose-cookbook/jwk/3_3.rsa_public_key.json", NULL);
    jwks *priv = set_from_vector_key("jose-cookbook/jwk/3_4.rsa_private_key.json", NULL);
    assert_int_equal(verify_vector("jose-cookbook/jws/4_1.rsa_v15_signature.json", pub), IDP_OK);
    assert_int_equal(verify_vector("jose-cookbook/jws/4_1.rsa_v15_signature.json", priv), IDP_OK);
    assert_int_equal(verify_vector("jose-cookbook/jws/4_2.rsa-pss_signature.json", pub), IDP_ERR_JOSE_ALG);
    assert_int_equal(verify_vector("jose-cookbook/jws/4_3.ecdsa_signature.json", pub), IDP_ERR_JOSE_ALG);
    assert_int_equal(verify_vector("jose-cookbook/jws/4_4.hmac-sha2_integrity_protection.json", pub),
                     IDP_ERR_JOSE_ALG);
    jwks *ed = set_from_vector_key("jose-cookbook/curve25519/jws.json", "key");
    assert_int_equal(verify_vector("jose-cookbook/curve25519/jws.json", ed), IDP_OK);
    /* RFC 7797 b64:false: crit [b64] is refused before anything else. */
    assert_int_equal(verify_vector("jose-cookbook/rfc7797/hmac-sha2_b64_false.json", pub),
                     IDP_ERR_JOSE_CRIT);
    jwks_unref(ed);
    jwks_unref(pub);
    jwks_unref(priv);
}

/* ---- Wycheproof json_web_signature_test.json -------------------------------------------- */

static jwks *set_from_json(const json_t *kj)
{
    jwks *s = NULL;
    if (json_object_get(kj, "keys")) {
        char *txt = jsonx_dump(kj);
        if (jwks_from_json(txt, strlen(txt), &s, NULL)) s = NULL;
        free(txt);
        return s;
    }
    jwk *k = NULL;
    if (jwk_from_json(kj, &k, NULL)) return NULL;
    s = set_of(k, NULL);
    jwk_unref(k);
    return s;
}

static bool header_alg_is(const char *tok, const char *prefix)
{
    const char *dot = strchr(tok, '.');
    if (!dot) return false;
    unsigned char *h = NULL;
    size_t hl = 0;
    if (b64url_decode(tok, (size_t)(dot - tok), &h, &hl)) return false;
    json_t *o = NULL;
    bool r = false;
    if (!jsonx_parse((char *)h, hl, 0, 0, true, &o, NULL)) {
        const char *alg = jsonx_str(o, "alg");
        r = alg && strncmp(alg, prefix, strlen(prefix)) == 0;
    }
    json_decref(o);
    free(h);
    return r;
}

/* Expected outcome for idpd: "valid" cases of algs we do not implement (HS*, RS384/512,
 * PS384/512, ES512) are rejections by policy; tcId 372/373 are rejections (strict base64url,
 * see tests/vectors/README.md). */
static bool jws_case_expect_ok(const json_t *t, const char *tok)
{
    int64_t id = 0;
    jsonx_int(t, "tcId", &id);
    if (id == 372 || id == 373) return false;
    if (strcmp(jsonx_str(t, "result"), "valid") != 0) return false;
    return header_alg_is(tok, "ES256") || header_alg_is(tok, "RS256") || header_alg_is(tok, "PS256");
}

static void run_jws_vectors(const char *rel, int *n_ok, int *n_rej)
{
    json_t *doc = tu_load_vector_json(rel);
    json_t *groups = json_object_get(doc, "testGroups");
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *grp = json_array_get(groups, g), *tests = json_object_get(grp, "tests");
        json_t *kj = json_object_get(grp, "public");
        if (!kj) kj = json_object_get(grp, "private");
        jwks *s = set_from_json(kj);
        for (size_t i = 0; i < json_array_size(tests); i++) {
            json_t *t = json_array_get(tests, i);
            const char *tok = jsonx_str(t, "jws");
            bool want = jws_case_expect_ok(t, tok);
            idp_err rc = s ? verify_with(tok, s, false, NULL) : IDP_ERR_JOSE_KEY;
            if ((rc == IDP_OK) != want) {
                int64_t id = 0;
                jsonx_int(t, "tcId", &id);
                fail_msg("%s tcId %lld: got %s, expected %s", rel, (long long)id, idp_err_name(rc),
                         want ? "OK" : "rejection");
            }
            (rc == IDP_OK ? (*n_ok)++ : (*n_rej)++);
        }
        jwks_unref(s);
    }
    json_decref(doc);
}

static void wycheproof_jws(void **state)
{
    int ok = 0, rej = 0;
    run_jws_vectors("wycheproof/testvectors_v1/json_web_signature_test.json", &ok, &rej);
    printf("json_web_signature_test.json: %d cases, %d verified, %d rejected\n", ok + rej, ok, rej);
    assert_true(ok > 10);
    assert_true(rej > 300);
}

/* ---- Wycheproof primitive files through jws_verify_raw ---------------------------------- */

static unsigned char *hex(const char *s, size_t *n)
{
    size_t l = strlen(s) / 2;
    unsigned char *p = malloc(l + 1);
    for (size_t i = 0; i < l; i++) {
        unsigned v = 0;
        sscanf(s + 2 * i, "%2x", &v);
        p[i] = (unsigned char)v;
    }
    *n = l;
    return p;
}

/* Some ECDSA groups carry no publicKeyJwk: build it from publicKey.wx/wy (hex, maybe with a
 * leading 00 octet), left-padded to 32 octets (RFC 7518 §6.2.1.2). Owned. */
static json_t *ec_jwk_from_hex(const json_t *pk)
{
    const char *c[2] = {jsonx_str(pk, "wx"), jsonx_str(pk, "wy")};
    char enc[2][64];
    for (int i = 0; i < 2; i++) {
        if (!c[i]) return NULL;
        size_t n;
        unsigned char *b = hex(c[i], &n), v[32] = {0};
        size_t skip = n > 32 ? n - 32 : 0;
        memcpy(v + 32 - (n - skip), b + skip, n - skip);
        b64url_encode_to(enc[i], v, 32);
        free(b);
    }
    return json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", enc[0], "y", enc[1]);
}

/* "acceptable" cases (legacy encodings some libraries tolerate) count as passing either way;
 * groups whose publicKeyJwk jwk_from_json refuses (weak RSA) are counted as refused keys, and
 * none of their cases may verify. */
static void run_primitive(const char *rel, jws_alg alg)
{
    json_t *doc = tu_load_vector_json(rel);
    json_t *groups = json_object_get(doc, "testGroups");
    int ok = 0, rej = 0, acc = 0, refused = 0;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *grp = json_array_get(groups, g), *tests = json_object_get(grp, "tests");
        json_t *kj = json_incref(json_object_get(grp, "publicKeyJwk"));
        if (!kj) kj = json_incref(json_object_get(grp, "keyJwk"));
        if (!kj && alg == JWS_ES256) kj = ec_jwk_from_hex(json_object_get(grp, "publicKey"));
        jwk *k = NULL;
        idp_err krc = jwk_from_json(kj, &k, NULL);
        json_decref(kj);
        if (krc) {
            refused += (int)json_array_size(tests);
            continue;
        }
        for (size_t i = 0; i < json_array_size(tests); i++) {
            json_t *t = json_array_get(tests, i);
            size_t ml, sl;
            unsigned char *msg = hex(jsonx_str(t, "msg"), &ml), *sig = hex(jsonx_str(t, "sig"), &sl);
            idp_err rc = jws_verify_raw(alg, jwk_pkey(k), msg, ml, sig, sl, NULL);
            const char *res = jsonx_str(t, "result");
            int64_t id = 0;
            jsonx_int(t, "tcId", &id);
            if (strcmp(res, "acceptable") == 0) acc++;
            else if ((rc == IDP_OK) != (strcmp(res, "valid") == 0))
                fail_msg("%s tcId %lld: got %s for a %s case", rel, (long long)id, idp_err_name(rc), res);
            else (rc == IDP_OK ? ok++ : rej++);
            if (rc != IDP_OK && rc != IDP_ERR_JOSE_SIGNATURE)
                fail_msg("%s tcId %lld: unexpected code %s", rel, (long long)id, idp_err_name(rc));
            free(msg);
            free(sig);
        }
        jwk_unref(k);
    }
    printf("%s: %d valid verified, %d invalid rejected, %d acceptable (either), %d with a refused key\n",
           rel, ok, rej, acc, refused);
    assert_true(ok > 0 && rej > 0);
    json_decref(doc);
}

static void wycheproof_primitives(void **state)
{
    run_primitive("wycheproof/testvectors_v1/ecdsa_secp256r1_sha256_p1363_test.json", JWS_ES256);
    run_primitive("wycheproof/testvectors_v1/ed25519_test.json", JWS_EDDSA);
    run_primitive("wycheproof/testvectors_v1/rsa_signature_2048_sha256_test.json", JWS_RS256);
    run_primitive("wycheproof/testvectors_v1/rsa_pss_2048_sha256_mgf1_32_test.json", JWS_PS256);
}

/* ---- negative tests, one per rule -------------------------------------------------------- */

typedef struct fixture {
    jwk *ec, *rsa, *ed, *ec2, *rsa_any; /* rsa_any: same RSA key without a pinned alg */
    jwks *set;
} fixture;

static fixture fx;

static int setup(void **state)
{
    assert_int_equal(jwk_generate(JWS_ES256, 0, &fx.ec, NULL), IDP_OK);
    assert_int_equal(jwk_generate(JWS_RS256, 2048, &fx.rsa, NULL), IDP_OK);
    assert_int_equal(jwk_generate(JWS_EDDSA, 0, &fx.ed, NULL), IDP_OK);
    assert_int_equal(jwk_generate(JWS_ES256, 0, &fx.ec2, NULL), IDP_OK);
    fx.set = jwks_new();
    assert_int_equal(jwks_add(fx.set, fx.ec, NULL), IDP_OK);
    assert_int_equal(jwks_add(fx.set, fx.rsa, NULL), IDP_OK);
    assert_int_equal(jwks_add(fx.set, fx.ed, NULL), IDP_OK);
    assert_int_equal(jwk_from_pkey(jwk_pkey(fx.rsa), JWS_ALG_INVALID, "rsa-any", &fx.rsa_any, NULL), IDP_OK);
    assert_int_equal(jwks_add(fx.set, fx.rsa_any, NULL), IDP_OK);
    return 0;
}

static int teardown(void **state)
{
    jwks_unref(fx.set);
    jwk_unref(fx.ec);
    jwk_unref(fx.rsa);
    jwk_unref(fx.ed);
    jwk_unref(fx.ec2);
    jwk_unref(fx.rsa_any);
    return 0;
}

/* A token with an arbitrary header, correctly signed with key/alg. Owned. */
static char *forge(const jwk *key, jws_alg alg, const char *header, const char *payload)
{
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(b64url_encode_buf(&b, header, strlen(header)), 0);
    buf_putc(&b, '.');
    assert_int_equal(b64url_encode_buf(&b, payload, strlen(payload)), 0);
    unsigned char sig[JWS_MAX_SIG];
    size_t sl = 0;
    assert_int_equal(jws_sign_raw(alg, jwk_pkey(key), b.data, b.len, sig, &sl, NULL), IDP_OK);
    buf_putc(&b, '.');
    assert_int_equal(b64url_encode_buf(&b, sig, sl), 0);
    return buf_steal(&b);
}

static char *hdr(const char *alg, const jwk *k, const char *extra)
{
    idp_buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"alg\":\"%s\",\"kid\":\"%s\"%s}", alg, jwk_kid(k), extra ? extra : "");
    return buf_steal(&b);
}

static idp_err verify_opts(const char *tok, jws_verify_opts o)
{
    jws_verified v;
    idp_err rc = jws_verify(tok, strlen(tok), &o, &v, NULL);
    jws_verified_clear(&v);
    return rc;
}

static void expect_forged(const jwk *key, jws_alg alg, const char *header, const char *payload,
                          idp_err want)
{
    char *t = forge(key, alg, header, payload);
    assert_int_equal(verify_with(t, fx.set, true, NULL), want);
    free(t);
}

static void reject_header_rules(void **state)
{
    char *h = hdr("ES256", fx.ec, NULL);
    expect_forged(fx.ec, JWS_ES256, h, "{}", IDP_OK);
    free(h);
    /* duplicate member (RFC 7515 §5.2 step 4 strictness) */
    h = hdr("ES256", fx.ec, ",\"alg\":\"ES256\"");
    expect_forged(fx.ec, JWS_ES256, h, "{}", IDP_ERR_JOSE_FORMAT);
    free(h);
    expect_forged(fx.ec, JWS_ES256, "[\"ES256\"]", "{}", IDP_ERR_JOSE_FORMAT);   /* not an object */
    expect_forged(fx.ec, JWS_ES256, "{\"alg\":1}", "{}", IDP_ERR_JOSE_FORMAT);   /* alg type */
    h = hdr("ES256", fx.ec, ",\"crit\":[\"exp\"],\"exp\":1");
    expect_forged(fx.ec, JWS_ES256, h, "{}", IDP_ERR_JOSE_CRIT);
    free(h);
    h = hdr("ES256", fx.ec, ",\"b64\":true");
    expect_forged(fx.ec, JWS_ES256, h, "{}", IDP_ERR_JOSE_CRIT);
    free(h);
    expect_forged(fx.ec, JWS_ES256, "{\"alg\":\"ES256\",\"kid\":7}", "{}", IDP_ERR_JOSE_FORMAT);
    h = hdr("ES256", fx.ec, ",\"typ\":[]");
    expect_forged(fx.ec, JWS_ES256, h, "{}", IDP_ERR_JOSE_FORMAT);
    free(h);
    /* alg names are case-sensitive; HS256 and none never pass */
    h = hdr("es256", fx.ec, NULL);
    expect_forged(fx.ec, JWS_ES256, h, "{}", IDP_ERR_JOSE_ALG);
    free(h);
    h = hdr("HS256", fx.ec, NULL);
    expect_forged(fx.ec, JWS_ES256, h, "{}", IDP_ERR_JOSE_ALG);
    free(h);
    /* jwk header is never used to find a key: an attacker key in the header is ignored */
    json_t *pj = jwk_to_public_json(fx.ec2);
    char *pjs = jsonx_dump(pj), ext[1024];
    snprintf(ext, sizeof ext, ",\"jwk\":%s", pjs);
    h = hdr("ES256", fx.ec, ext);
    expect_forged(fx.ec2, JWS_ES256, h, "{}", IDP_ERR_JOSE_SIGNATURE);
    free(h);
    free(pjs);
    json_decref(pj);
}

static void reject_alg_not_allowed(void **state)
{
    char *h = hdr("EdDSA", fx.ed, NULL);
    char *t = forge(fx.ed, JWS_EDDSA, h, "{}");
    jws_verify_opts o = {.allowed_algs = JWS_ALG_BIT(JWS_ES256) | JWS_ALG_BIT(JWS_RS256), .keys = fx.set};
    assert_int_equal(verify_opts(t, o), IDP_ERR_JOSE_ALG);
    o.allowed_algs = 0;
    assert_int_equal(verify_opts(t, o), IDP_ERR_JOSE_ALG);
    o.allowed_algs = JWS_ALG_BIT(JWS_EDDSA);
    assert_int_equal(verify_opts(t, o), IDP_OK);
    free(t);
    free(h);
}

static void reject_key_rules(void **state)
{
    /* RS256 header naming an EC key */
    char *h = hdr("RS256", fx.ec, NULL);
    expect_forged(fx.rsa, JWS_RS256, h, "{}", IDP_ERR_JOSE_KEY);
    free(h);
    /* kid not found */
    expect_forged(fx.ec, JWS_ES256, "{\"alg\":\"ES256\",\"kid\":\"nope\"}", "{}", IDP_ERR_JOSE_KEY);
    /* no kid: one candidate is fine, two are ambiguous */
    expect_forged(fx.ec, JWS_ES256, "{\"alg\":\"ES256\"}", "{}", IDP_OK);
    jwks *two = set_of(fx.ec, fx.ec2);
    char *t = forge(fx.ec, JWS_ES256, "{\"alg\":\"ES256\"}", "{}");
    assert_int_equal(verify_with(t, two, true, NULL), IDP_ERR_JOSE_KEY);
    assert_int_equal(verify_with(t, NULL, true, NULL), IDP_ERR_JOSE_KEY);
    free(t);
    jwks_unref(two);
    /* key pinned to RS256 (its JWK alg) refuses a PS256 header (RFC 8725 §3.1) */
    assert_int_equal(jwk_alg(fx.rsa), JWS_RS256);
    assert_int_equal(jwk_alg(fx.rsa_any), JWS_ALG_INVALID);
    json_t *pj = jwk_to_public_json(fx.rsa_any);
    json_object_set_new(pj, "alg", json_string("RS256"));
    jwk *pinned = NULL;
    assert_int_equal(jwk_from_json(pj, &pinned, NULL), IDP_OK);
    jwks *ps = set_of(pinned, NULL);
    h = hdr("PS256", fx.rsa_any, NULL);
    t = forge(fx.rsa_any, JWS_PS256, h, "{}");
    assert_int_equal(verify_with(t, ps, true, NULL), IDP_ERR_JOSE_KEY);
    assert_int_equal(verify_with(t, fx.set, true, NULL), IDP_OK); /* unpinned key allows PS256 */
    free(t);
    free(h);
    jwks_unref(ps);
    jwk_unref(pinned);
    json_decref(pj);
}

static void reject_structure_rules(void **state)
{
    char *h = hdr("ES256", fx.ec, NULL);
    char *t = forge(fx.ec, JWS_ES256, h, "{\"a\":1}");
    size_t n = strlen(t);
    char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    char buf[4096];
    /* 2 parts, 4 parts */
    snprintf(buf, sizeof buf, "%.*s", (int)(d2 - t), t);
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_FORMAT);
    snprintf(buf, sizeof buf, "%s.AAAA", t);
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_FORMAT);
    /* empty signature */
    snprintf(buf, sizeof buf, "%.*s", (int)(d2 + 1 - t), t);
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_FORMAT);
    /* bad base64url in each part: '+', '=' padding, a space */
    snprintf(buf, sizeof buf, "+%s", t + 1);
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_FORMAT);
    snprintf(buf, sizeof buf, "%.*s=%s", (int)(d2 - t), t, d2);
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_FORMAT);
    snprintf(buf, sizeof buf, "%.*s/%s", (int)(n - 1), t, "");
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_FORMAT);
    snprintf(buf, sizeof buf, "%.*s %s", (int)(d1 + 1 - t), t, d1 + 1);
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_FORMAT);
    /* wrong signature length: 63 and 65 octets for ES256 */
    unsigned char sig[65] = {1};
    char enc[100];
    b64url_encode_to(enc, sig, 63);
    snprintf(buf, sizeof buf, "%.*s%s", (int)(d2 + 1 - t), t, enc);
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_SIGNATURE);
    b64url_encode_to(enc, sig, 65);
    snprintf(buf, sizeof buf, "%.*s%s", (int)(d2 + 1 - t), t, enc);
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_SIGNATURE);
    /* modified signature: flip one character (keeping canonical base64url) */
    snprintf(buf, sizeof buf, "%s", t);
    buf[d2 + 3 - t] = buf[d2 + 3 - t] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_with(buf, fx.set, true, NULL), IDP_ERR_JOSE_SIGNATURE);
    /* too long: the cap applies before any decoding */
    jws_verify_opts o = {.allowed_algs = ~0u, .keys = fx.set, .max_len = n - 1};
    assert_int_equal(verify_opts(t, o), IDP_ERR_JOSE_FORMAT);
    o.max_len = n;
    assert_int_equal(verify_opts(t, o), IDP_OK);
    char *big = malloc(JWS_MAX_LEN + 2);
    memset(big, 'A', JWS_MAX_LEN + 1);
    big[JWS_MAX_LEN + 1] = '\0';
    big[10] = '.';
    big[20] = '.';
    assert_int_equal(verify_with(big, fx.set, true, NULL), IDP_ERR_JOSE_FORMAT);
    free(big);
    free(t);
    free(h);
}

static void reject_payload_rules(void **state)
{
    char *h = hdr("ES256", fx.ec, NULL);
    expect_forged(fx.ec, JWS_ES256, h, "[1,2]", IDP_ERR_JOSE_FORMAT);
    expect_forged(fx.ec, JWS_ES256, h, "not json", IDP_ERR_JOSE_FORMAT);
    expect_forged(fx.ec, JWS_ES256, h, "{\"a\":1,\"a\":2}", IDP_ERR_JOSE_FORMAT);
    /* without payload_json the bytes are returned as they are */
    char *t = forge(fx.ec, JWS_ES256, h, "not json");
    jws_verify_opts o = {.allowed_algs = JWS_ALGS_ALL, .keys = fx.set};
    jws_verified v;
    assert_int_equal(jws_verify(t, strlen(t), &o, &v, NULL), IDP_OK);
    assert_null(v.payload);
    assert_int_equal(v.raw_payload_len, 8);
    assert_string_equal((char *)v.raw_payload, "not json");
    jws_verified_clear(&v);
    free(t);
    free(h);
}

/* verify_opts for an ES256 token of fx.ec whose header adds extra. */
static idp_err typ_case(const char *extra, jws_verify_opts o)
{
    char *h = hdr("ES256", fx.ec, extra);
    char *t = forge(fx.ec, JWS_ES256, h, "{}");
    idp_err rc = verify_opts(t, o);
    free(t);
    free(h);
    return rc;
}

static void typ_rules(void **state)
{
    char *h = hdr("ES256", fx.ec, ",\"typ\":\"application/AT+JWT\"");
    char *t = forge(fx.ec, JWS_ES256, h, "{}");
    jws_verify_opts o = {.allowed_algs = JWS_ALGS_ALL, .keys = fx.set, .typ = "at+jwt"};
    assert_int_equal(verify_opts(t, o), IDP_OK);
    o.typ = "application/at+jwt";
    assert_int_equal(verify_opts(t, o), IDP_OK);
    o.typ = "JWT";
    assert_int_equal(verify_opts(t, o), IDP_ERR_JWT_TYP);
    free(t);
    free(h);
    h = hdr("ES256", fx.ec, NULL); /* no typ at all */
    t = forge(fx.ec, JWS_ES256, h, "{}");
    o.typ = "at+jwt";
    assert_int_equal(verify_opts(t, o), IDP_ERR_JWT_TYP);
    o.typ = NULL;
    assert_int_equal(verify_opts(t, o), IDP_OK);
    free(t);
    free(h);
    /* typ_optional: no typ passes, a present typ must still match */
    o.typ = "JWT";
    o.typ_optional = true;
    assert_int_equal(typ_case(NULL, o), IDP_OK);
    assert_int_equal(typ_case(",\"typ\":\"jwt\"", o), IDP_OK);
    assert_int_equal(typ_case(",\"typ\":\"at+jwt\"", o), IDP_ERR_JWT_TYP);
    o.typ_optional = false;
    assert_int_equal(typ_case(NULL, o), IDP_ERR_JWT_TYP);
}

/* ---- round trips ------------------------------------------------------------------------- */

static void roundtrip_alg(const jwk *k, jws_alg alg)
{
    const char *payload = "{\"iss\":\"https://idp.example\",\"sub\":\"u1\",\"n\":\"\xc3\xa9\"}";
    idp_buf b;
    buf_init(&b, 0);
    buf_puts(&b, "Bearer "); /* jws_sign_compact appends */
    assert_int_equal(jws_sign_compact(k, alg, "at+jwt", payload, strlen(payload), &b, NULL), IDP_OK);
    const char *tok = b.data + 7;
    jws_verify_opts o = {.allowed_algs = JWS_ALG_BIT(alg), .keys = fx.set, .typ = "at+jwt",
                         .payload_json = true};
    jws_verified v;
    idp_error e = {0};
    assert_int_equal(jws_verify(tok, strlen(tok), &o, &v, &e), IDP_OK);
    assert_int_equal(v.alg, alg);
    assert_string_equal(jsonx_str(v.header, "kid"), jwk_kid(k));
    assert_string_equal(jsonx_str(v.header, "typ"), "at+jwt");
    assert_string_equal(jsonx_str(v.payload, "sub"), "u1");
    assert_memory_equal(v.raw_payload, payload, strlen(payload));
    jws_verified_clear(&v);
    /* the public key alone (exported and re-imported) verifies too */
    json_t *pj = jwk_to_public_json(k);
    jwk *pub = NULL;
    assert_int_equal(jwk_from_json(pj, &pub, NULL), IDP_OK);
    assert_false(jwk_is_private(pub));
    jwks *ps = set_of(pub, NULL);
    o.keys = ps;
    assert_int_equal(jws_verify(tok, strlen(tok), &o, &v, NULL), IDP_OK);
    jws_verified_clear(&v);
    /* a public key cannot sign; a failed sign leaves the buffer unchanged */
    size_t before = b.len;
    assert_int_equal(jws_sign_compact(pub, alg, NULL, "{}", 2, &b, NULL), IDP_ERR_JOSE_KEY);
    assert_int_equal(b.len, before);
    jwks_unref(ps);
    jwk_unref(pub);
    json_decref(pj);
    buf_free(&b);
}

static void sign_verify_roundtrips(void **state)
{
    roundtrip_alg(fx.ec, JWS_ES256);
    roundtrip_alg(fx.rsa, JWS_RS256);
    roundtrip_alg(fx.rsa_any, JWS_PS256);
    roundtrip_alg(fx.rsa_any, JWS_RS256);
    roundtrip_alg(fx.ed, JWS_EDDSA);
    /* alg that does not fit the key */
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(jws_sign_compact(fx.ec, JWS_RS256, NULL, "{}", 2, &b, NULL), IDP_ERR_JOSE_ALG);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    unsigned char sig[JWS_MAX_SIG];
    size_t sl;
    assert_int_equal(jws_sign_raw(JWS_EDDSA, jwk_pkey(fx.ec), "x", 1, sig, &sl, NULL), IDP_ERR_JOSE_ALG);
    assert_int_equal(jws_verify_raw(JWS_PS256, jwk_pkey(fx.ed), "x", 1, sig, 64, NULL), IDP_ERR_JOSE_ALG);
}

/* ES256 signatures are malleable: (r, n-s) verifies too (tests/vectors/README.md). This pins
 * the behaviour so nobody keys revocation on a hash of the token string. */
static void es256_malleability_documented(void **state)
{
    static const unsigned char order[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    unsigned char sig[JWS_MAX_SIG];
    size_t sl = 0;
    assert_int_equal(jws_sign_raw(JWS_ES256, jwk_pkey(fx.ec), "msg", 3, sig, &sl, NULL), IDP_OK);
    assert_int_equal(sl, 64);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = order[i] - sig[32 + i] - borrow;
        borrow = d < 0;
        sig[32 + i] = (unsigned char)(d + (borrow ? 256 : 0));
    }
    assert_int_equal(jws_verify_raw(JWS_ES256, jwk_pkey(fx.ec), "msg", 3, sig, 64, NULL), IDP_OK);
}

/* ---- fast paths (jws.c): same results as the general code ------------------------------- */

/* Every document the JSON fast path accepts, jsonx_parse accepts with an equal tree; and
 * jws_json_parse (fast path + fallback) agrees with jsonx_parse on every input. Inputs: seeds
 * plus every one-byte deletion, replacement and insertion from a JSON-ish alphabet. */
static void check_json_pair(const char *s, size_t n, int *n_fast)
{
    json_t *fast = jws_json_fast(s, n), *slow = NULL, *both = NULL;
    idp_err rs = jsonx_parse(s, n, 0, 0, true, &slow, NULL);
    idp_err rb = jws_json_parse(s, n, &both);
    if (fast) {
        (*n_fast)++;
        if (rs != IDP_OK || !json_equal(fast, slow)) fail_msg("fast path accepted %.*s", (int)n, s);
    }
    assert_int_equal(rb, rs);
    if (rs == IDP_OK) assert_true(json_equal(both, slow));
    else assert_null(both);
    json_decref(fast);
    json_decref(slow);
    json_decref(both);
}

static void json_fast_path_differential(void **state)
{
    static const char *const seeds[] = {
        "{\"iss\":\"https://idp.example\",\"exp\":1700000300,\"aud\":[\"a\",\"b\"],\"ok\":true}",
        " {\t\"a\" : -0 ,\"b\":null,\"c\":[ 1 , false ,\"x\"],\"d\":[]}\r\n",
        "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}",
        "{}",
        "{\"n\":123456789012345678,\"m\":-123456789012345678}",
        "{\"n\":1234567890123456789}",
        "{\"n\":9223372036854775808}",
        "{\"r\":1.5,\"e\":1e3,\"z\":0}",
        "{\"s\":\"a\\\"b\",\"u\":\"\\u00e9\",\"v\":\"\xc3\xa9\"}",
        "{\"o\":{\"a\":1},\"a\":[[1]]}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":[1,2,],\"b\":}",
        "[1,2]",
        "{\"\":\"\",\"t\":true,\"f\":false}",
    };
    static const char alphabet[] = "{}[]\":,-01 .eE\t\nax\\/tfn\x7f\x80";
    int n_fast = 0;
    char buf[256];
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        const char *seed = seeds[i];
        size_t n = strlen(seed);
        assert_true(n + 1 < sizeof buf);
        check_json_pair(seed, n, &n_fast);
        check_json_pair(seed, n + 1, &n_fast); /* trailing NUL byte: never valid */
        for (size_t pos = 0; pos < n; pos++) {
            memcpy(buf, seed, pos);
            memcpy(buf + pos, seed + pos + 1, n - pos - 1);
            check_json_pair(buf, n - 1, &n_fast); /* deletion */
            for (size_t c = 0; c < sizeof alphabet - 1; c++) {
                memcpy(buf, seed, n);
                buf[pos] = alphabet[c];
                check_json_pair(buf, n, &n_fast); /* replacement */
                memcpy(buf, seed, pos);
                buf[pos] = alphabet[c];
                memcpy(buf + pos + 1, seed + pos, n - pos);
                check_json_pair(buf, n + 1, &n_fast); /* insertion */
            }
        }
    }
    assert_true(n_fast > 1000); /* the fast path was really exercised */
    /* the fast path declines what it must not decide */
    assert_null(jws_json_fast("{\"a\":1,\"a\":1}", 13));
    assert_null(jws_json_fast("{\"a\":1.0}", 9));
    assert_null(jws_json_fast("{\"a\":\"\\n\"}", 10));
    json_t *t = jws_json_fast("{\"a\":[1,\"b\",null]}", 18);
    assert_non_null(t);
    assert_int_equal(json_array_size(json_object_get(t, "a")), 3);
    json_decref(t);
}

/* The signed header is byte-for-byte what jansson prints, whether it is written directly
 * (plain kid/typ) or through jansson (anything to escape). */
static void sign_header_bytes(void **state)
{
    static const char *const kids[] = {"k1", "a\"b", "x/y", "tab\there", "del\x7f", "\xc3\xa9t\xc3\xa9",
                                       "back\\slash"};
    static const char *const typs[] = {"at+jwt", NULL, "JWT", "a\"t"};
    for (size_t i = 0; i < sizeof kids / sizeof *kids; i++) {
        jwk *k = NULL;
        assert_int_equal(jwk_from_pkey(jwk_pkey(fx.ec), JWS_ES256, kids[i], &k, NULL), IDP_OK);
        for (size_t j = 0; j < sizeof typs / sizeof *typs; j++) {
            json_t *h = json_object();
            json_object_set_new(h, "alg", json_string("ES256"));
            json_object_set_new(h, "kid", json_string(kids[i]));
            if (typs[j]) json_object_set_new(h, "typ", json_string(typs[j]));
            char *want = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
            idp_buf b;
            buf_init(&b, 0);
            assert_int_equal(jws_sign_compact(k, JWS_ES256, typs[j], "{}", 2, &b, NULL), IDP_OK);
            const char *dot = strchr(b.data, '.');
            unsigned char got[512];
            size_t gl = 0;
            assert_int_equal(b64url_decode_to(b.data, (size_t)(dot - b.data), got, sizeof got, &gl), IDP_OK);
            assert_int_equal(gl, strlen(want));
            assert_memory_equal(got, want, gl);
            jwks *s = set_of(k, NULL);
            jws_verify_opts o = {.allowed_algs = JWS_ALGS_ALL, .keys = s, .payload_json = true};
            assert_int_equal(verify_opts(b.data, o), IDP_OK);
            jwks_unref(s);
            buf_free(&b);
            free(want);
            json_decref(h);
        }
        jwk_unref(k);
    }
}

/* A buffer cap too small for the token fails cleanly and leaves the buffer as it was. */
static void sign_buffer_cap(void **state)
{
    idp_buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_puts(&b, "x"), 0);
    assert_int_equal(jws_sign_compact(fx.ed, JWS_EDDSA, "at+jwt", "{}", 2, &b, NULL), IDP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 1);
    assert_string_equal(b.data, "x");
    buf_free(&b);
    buf_init(&b, 0);
    assert_int_equal(jws_sign_compact(fx.ed, JWS_EDDSA, "at+jwt", "{}", SIZE_MAX / 2, &b, NULL),
                     IDP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* jwks are shared between threads and every sign/verify copies the key's context template:
 * concurrent use must give the same results as sequential use. */
typedef struct mt_arg {
    const char *rsa_tok;
    int failures;
} mt_arg;

static void *mt_worker(void *p)
{
    mt_arg *a = p;
    const jwk *keys[] = {fx.ec, fx.ed, fx.rsa_any};
    const jws_alg algs[] = {JWS_ES256, JWS_EDDSA, JWS_PS256};
    for (int i = 0; i < 60; i++) {
        size_t w = (size_t)i % 3;
        idp_buf b;
        buf_init(&b, 0);
        jws_verify_opts o = {.allowed_algs = JWS_ALGS_ALL, .keys = fx.set, .payload_json = true};
        /* RSA signing is slow under sanitizers: verify a shared RSA token instead */
        const char *tok = a->rsa_tok;
        if (w < 2) {
            if (jws_sign_compact(keys[w], algs[w], "at+jwt", "{\"i\":1}", 7, &b, NULL)) a->failures++;
            tok = b.data;
        }
        if (!tok || verify_opts(tok, o) != IDP_OK) a->failures++;
        char *bad = strdup(tok ? tok : "");
        if (bad && strlen(bad) > 10) {
            bad[strlen(bad) - 3] ^= 0x01; /* flips a bit of the signature */
            if (verify_opts(bad, o) == IDP_OK) a->failures++;
        }
        free(bad);
        buf_free(&b);
    }
    return NULL;
}

static void shared_keys_across_threads(void **state)
{
    idp_buf rb;
    buf_init(&rb, 0);
    assert_int_equal(jws_sign_compact(fx.rsa_any, JWS_PS256, NULL, "{}", 2, &rb, NULL), IDP_OK);
    mt_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (mt_arg){.rsa_tok = rb.data};
        assert_int_equal(pthread_create(&th[i], NULL, mt_worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
    buf_free(&rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc7515_examples),
        cmocka_unit_test(rfc7520_cookbook),
        cmocka_unit_test(wycheproof_jws),
        cmocka_unit_test(wycheproof_primitives),
        cmocka_unit_test(reject_header_rules),
        cmocka_unit_test(reject_alg_not_allowed),
        cmocka_unit_test(reject_key_rules),
        cmocka_unit_test(reject_structure_rules),
        cmocka_unit_test(reject_payload_rules),
        cmocka_unit_test(typ_rules),
        cmocka_unit_test(sign_verify_roundtrips),
        cmocka_unit_test(es256_malleability_documented),
        cmocka_unit_test(json_fast_path_differential),
        cmocka_unit_test(sign_header_bytes),
        cmocka_unit_test(sign_buffer_cap),
        cmocka_unit_test(shared_keys_across_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
