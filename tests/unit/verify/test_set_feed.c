/* Unit tests for set_feed_apply (src/verify/set_feed.c): poll responses (RFC 8936 §2.5) of SETs
 * (RFC 8417) signed with test keys — a good feed applied to the denylist, each verification
 * failure refused (signature, key, alg, typ, iss, aud, a jwk header), unknown event types
 * skipped, malformed bodies, the cursor's all-or-nothing rule, and the bounds. */
#include "testutil.h"

#include "core/b64url.h"
#include "core/buf.h"
#include "core/jsonx.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "verify/rev_event.h"
#include "verify/set_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000
#define ISS "https://idp.example"
#define ES256_ONLY JWS_ALG_BIT(JWS_ES256)

static struct {
    jwk *key, *other;
    jwks *set;
} fx;

static int setup(void **state)
{
    (void)state;
    if (jwk_generate(JWS_ES256, 0, &fx.key, NULL) || jwk_generate(JWS_ES256, 0, &fx.other, NULL))
        return -1;
    fx.set = jwks_new();
    return jwks_add(fx.set, fx.key, NULL) == IDP_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    jwks_unref(fx.set);
    jwk_unref(fx.key);
    jwk_unref(fx.other);
    return 0;
}

static char *sign_json(const jwk *k, const char *typ, const json_t *payload)
{
    char *p = jsonx_dump(payload);
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(jws_sign_compact(k, JWS_ES256, typ, p, strlen(p), &b, NULL), IDP_OK);
    free(p);
    return buf_steal(&b);
}

/* The SET of ev as idpd's transmitter makes it, signed by k with typ. Owned. */
static char *set_of(const jwk *k, const char *typ, const rev_event *ev, const char *iss,
                    const char *aud)
{
    json_t *p = rev_event_to_set(ev, iss, aud, NOW);
    assert_non_null(p);
    char *s = sign_json(k, typ, p);
    json_decref(p);
    return s;
}

static rev_event revoked(int64_t seq, const char *jti)
{
    return (rev_event){.seq = seq, .kind = REV_TOKEN_REVOKED, .subject = jti, .at = NOW - 10,
                       .until = NOW + 300};
}

static rev_event user_changed(int64_t seq, const char *sub, int64_t epoch)
{
    return (rev_event){.seq = seq, .kind = REV_USER_CHANGED, .subject = sub, .epoch = epoch,
                       .at = NOW - 10, .until = NOW + 300};
}

/* A poll response: n SETs named by their jti, then moreAvailable and cursor (NULL: none). */
typedef struct feed {
    json_t *sets;
} feed;

static feed feed_new(void)
{
    return (feed){.sets = json_object()};
}

static void feed_add(feed *f, int64_t seq, char *set /* taken */)
{
    char name[32];
    snprintf(name, sizeof name, "rev-%lld", (long long)seq);
    json_object_set_new(f->sets, name, json_string(set));
    free(set);
}

static char *feed_body(feed *f, bool more, const char *cursor)
{
    json_t *doc = json_pack("{s:o, s:b}", "sets", f->sets, "moreAvailable", more);
    if (cursor) json_object_set_new(doc, "cursor", json_string(cursor));
    f->sets = NULL;
    char *s = jsonx_dump(doc);
    json_decref(doc);
    return s;
}

static idp_err apply_str(const char *body, unsigned algs, const char *aud, denylist *d,
                         set_feed_result *r)
{
    idp_error e = {0};
    idp_err rc = set_feed_apply(body, strlen(body), fx.set, algs, ISS, aud, d, NOW, r, &e);
    if (rc) assert_int_equal(e.code, rc);
    return rc;
}

static set_feed_result result_at(const char *cursor)
{
    set_feed_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.cursor, sizeof r.cursor, "%s", cursor);
    return r;
}

static void good_feed_applied(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    feed f = feed_new();
    rev_event a = revoked(1, "tok-1"), b = user_changed(2, "alice", 4);
    rev_event c = {.seq = 3, .kind = REV_USER_DISABLED, .subject = "bob", .epoch = 1,
                   .at = NOW - 10, .until = NOW + 300};
    feed_add(&f, 1, set_of(fx.key, REV_SET_TYP, &a, ISS, NULL));
    feed_add(&f, 2, set_of(fx.key, REV_SET_TYP, &b, ISS, NULL));
    feed_add(&f, 3, set_of(fx.key, "application/secevent+jwt", &c, ISS, NULL));
    char *body = feed_body(&f, true, "3");
    set_feed_result r = result_at("");
    assert_int_equal(apply_str(body, ES256_ONLY, NULL, d, &r), IDP_OK);
    assert_int_equal(r.applied, 3);
    assert_int_equal(r.skipped, 0);
    assert_true(r.more);
    assert_string_equal(r.cursor, "3");
    assert_int_equal(denylist_check(d, "tok-1", "x", NOW, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "r.3", "alice", NOW, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "r.4", "alice", NOW, NOW), DENY_OK);
    assert_int_equal(denylist_check(d, "opaque", "bob", NOW - 20, NOW), DENY_REVOKED);
    /* applying the same response again is harmless */
    assert_int_equal(apply_str(body, ES256_ONLY, NULL, d, &r), IDP_OK);
    size_t nj = 0, ns = 0;
    denylist_size(d, &nj, &ns);
    assert_int_equal(nj, 1);
    assert_int_equal(ns, 2);
    free(body);
    denylist_free(d);
}

/* One-SET feed whose SET is s (taken); the result of applying it from cursor "7". */
static idp_err one(char *s, int64_t seq, unsigned algs, const char *aud, denylist *d)
{
    feed f = feed_new();
    feed_add(&f, seq, s);
    char *body = feed_body(&f, false, "9");
    set_feed_result r = result_at("7");
    idp_err rc = apply_str(body, algs, aud, d, &r);
    if (rc) assert_string_equal(r.cursor, "7"); /* all or nothing for the cursor */
    else assert_string_equal(r.cursor, "9");
    free(body);
    return rc;
}

static void bad_signature_refused(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    rev_event a = revoked(1, "tok-1");
    char *s = set_of(fx.key, REV_SET_TYP, &a, ISS, NULL);
    char *last = s + strlen(s) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(one(s, 1, ES256_ONLY, NULL, d), IDP_ERR_JOSE_SIGNATURE);
    /* a key that is not in the issuer's set: the caller may refresh its JWKS */
    assert_int_equal(one(set_of(fx.other, REV_SET_TYP, &a, ISS, NULL), 1, ES256_ONLY, NULL, d),
                     IDP_ERR_JOSE_KEY);
    /* an alg outside the allow-list */
    assert_int_equal(one(set_of(fx.key, REV_SET_TYP, &a, ISS, NULL), 1, JWS_ALG_BIT(JWS_EDDSA),
                         NULL, d),
                     IDP_ERR_JOSE_ALG);
    /* no keys at all */
    feed f = feed_new();
    feed_add(&f, 1, set_of(fx.key, REV_SET_TYP, &a, ISS, NULL));
    char *body = feed_body(&f, false, "1");
    set_feed_result r = result_at("");
    assert_int_equal(set_feed_apply(body, strlen(body), NULL, ES256_ONLY, ISS, NULL, d, NOW, &r,
                                    NULL),
                     IDP_ERR_JOSE_KEY);
    free(body);
    assert_int_equal(denylist_check(d, "tok-1", NULL, 0, NOW), DENY_OK);
    denylist_free(d);
}

/* A compact JWS over header and payload JSON texts, signed by k (ES256). Owned. */
static char *sign_raw(const jwk *k, const char *header, const char *payload)
{
    idp_buf b;
    buf_init(&b, 0);
    b64url_encode_buf(&b, header, strlen(header));
    buf_putc(&b, '.');
    b64url_encode_buf(&b, payload, strlen(payload));
    unsigned char sig[JWS_MAX_SIG];
    size_t siglen = 0;
    const char *in = buf_cstr(&b);
    assert_int_equal(jws_sign_raw(JWS_ES256, jwk_pkey(k), in, strlen(in), sig, &siglen, NULL),
                     IDP_OK);
    buf_putc(&b, '.');
    b64url_encode_buf(&b, sig, siglen);
    return buf_steal(&b);
}

static void embedded_key_never_used(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    rev_event a = revoked(1, "tok-1");
    json_t *p = rev_event_to_set(&a, ISS, NULL, NOW);
    char *payload = jsonx_dump(p);
    json_decref(p);
    json_t *pub = jwk_to_public_json(fx.other);
    char *jwkstr = jsonx_dump(pub);
    json_decref(pub);
    char header[2048];
    /* an attacker's SET carrying its own key (RFC 8725 §3.10): no kid, so the only candidate is
     * our key, and the signature is not ours */
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"typ\":\"secevent+jwt\",\"jwk\":%s}",
             jwkstr);
    assert_int_equal(one(sign_raw(fx.other, header, payload), 1, ES256_ONLY, NULL, d),
                     IDP_ERR_JOSE_SIGNATURE);
    snprintf(header, sizeof header,
             "{\"alg\":\"ES256\",\"typ\":\"secevent+jwt\",\"jku\":\"https://evil.example/jwks\"}");
    assert_int_equal(one(sign_raw(fx.other, header, payload), 1, ES256_ONLY, NULL, d),
                     IDP_ERR_JOSE_SIGNATURE);
    /* the same header shapes signed by our key pass: the headers are not a way in or out */
    assert_int_equal(one(sign_raw(fx.key, header, payload), 1, ES256_ONLY, NULL, d), IDP_OK);
    free(payload);
    free(jwkstr);
    denylist_free(d);
}

static void wrong_typ_refused(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    rev_event a = revoked(1, "tok-1");
    assert_int_equal(one(set_of(fx.key, NULL, &a, ISS, NULL), 1, ES256_ONLY, NULL, d),
                     IDP_ERR_JWT_TYP);
    assert_int_equal(one(set_of(fx.key, "JWT", &a, ISS, NULL), 1, ES256_ONLY, NULL, d),
                     IDP_ERR_JWT_TYP);
    assert_int_equal(one(set_of(fx.key, "at+jwt", &a, ISS, NULL), 1, ES256_ONLY, NULL, d),
                     IDP_ERR_JWT_TYP);
    assert_int_equal(denylist_check(d, "tok-1", NULL, 0, NOW), DENY_OK);
    denylist_free(d);
}

static void wrong_iss_and_aud_refused(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    rev_event a = revoked(1, "tok-1");
    assert_int_equal(
        one(set_of(fx.key, REV_SET_TYP, &a, "https://evil.example", NULL), 1, ES256_ONLY, NULL, d),
        IDP_ERR_JWT_ISSUER);
    /* iss right but sub_id names another issuer */
    json_t *p = rev_event_to_set(&a, ISS, NULL, NOW);
    json_object_set_new(json_object_get(p, "sub_id"), "iss", json_string("https://evil.example"));
    assert_int_equal(one(sign_json(fx.key, REV_SET_TYP, p), 1, ES256_ONLY, NULL, d),
                     IDP_ERR_INVALID);
    json_decref(p);
    /* aud asked for: it must be there (a missing claim, as token_verify reports it) and match */
    assert_int_equal(one(set_of(fx.key, REV_SET_TYP, &a, ISS, NULL), 1, ES256_ONLY, "rs1", d),
                     IDP_ERR_JWT_CLAIM);
    assert_int_equal(one(set_of(fx.key, REV_SET_TYP, &a, ISS, "rs2"), 1, ES256_ONLY, "rs1", d),
                     IDP_ERR_JWT_AUDIENCE);
    assert_int_equal(denylist_check(d, "tok-1", NULL, 0, NOW), DENY_OK);
    assert_int_equal(one(set_of(fx.key, REV_SET_TYP, &a, ISS, "rs1"), 1, ES256_ONLY, "rs1", d),
                     IDP_OK);
    assert_int_equal(denylist_check(d, "tok-1", NULL, 0, NOW), DENY_REVOKED);
    denylist_free(d);
}

static void unknown_event_skipped(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    rev_event a = revoked(2, "tok-2");
    json_t *p = rev_event_to_set(&a, ISS, NULL, NOW);
    json_object_set_new(p, "jti", json_string("rev-1"));
    json_object_set_new(p, "events",
                        json_pack("{s:{s:I}}",
                                  "https://schemas.openid.net/secevent/caep/event-type/"
                                  "credential-change",
                                  "event_timestamp", (json_int_t)NOW));
    feed f = feed_new();
    feed_add(&f, 1, sign_json(fx.key, REV_SET_TYP, p));
    json_decref(p);
    feed_add(&f, 2, set_of(fx.key, REV_SET_TYP, &a, ISS, NULL));
    char *body = feed_body(&f, false, "2");
    set_feed_result r = result_at("0");
    assert_int_equal(apply_str(body, ES256_ONLY, NULL, d, &r), IDP_OK);
    assert_int_equal(r.applied, 1);
    assert_int_equal(r.skipped, 1);
    assert_false(r.more);
    assert_string_equal(r.cursor, "2");
    assert_int_equal(denylist_check(d, "tok-2", NULL, 0, NOW), DENY_REVOKED);
    free(body);
    denylist_free(d);
}

static void malformed_bodies(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    rev_event a = revoked(1, "tok-1");
    char *good = set_of(fx.key, REV_SET_TYP, &a, ISS, NULL);
    char big[4096];
    static const struct {
        const char *body;
        idp_err want;
    } cases[] = {
        {"", IDP_ERR_JSON},
        {"not json", IDP_ERR_JSON},
        {"[]", IDP_ERR_JSON},
        {"{}", IDP_ERR_INVALID},
        {"{\"sets\":[]}", IDP_ERR_INVALID},
        {"{\"sets\":{},\"sets\":{}}", IDP_ERR_JSON}, /* duplicate member */
        {"{\"sets\":{\"rev-1\":7},\"cursor\":\"1\"}", IDP_ERR_INVALID},
        {"{\"sets\":{\"rev-1\":\"a.b.c\"},\"cursor\":\"1\"}", IDP_ERR_JOSE_FORMAT},
        {"{\"sets\":{},\"moreAvailable\":\"yes\",\"cursor\":\"1\"}", IDP_ERR_INVALID},
        {"{\"sets\":{},\"cursor\":1}", IDP_ERR_INVALID},
        {"{\"sets\":{},\"cursor\":\"\"}", IDP_ERR_INVALID},
        {"{\"sets\":{},\"cursor\":\"a b\"}", IDP_ERR_INVALID},
        {"{\"sets\":{},\"cursor\":\"123456789012345678901234\"}", IDP_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_feed_result r = result_at("5");
        idp_err rc = apply_str(cases[i].body, ES256_ONLY, NULL, d, &r);
        if (rc != cases[i].want) fail_msg("case %zu (%s): %d", i, cases[i].body, rc);
        assert_string_equal(r.cursor, "5");
    }
    /* SETs but no cursor: cannot advance */
    snprintf(big, sizeof big, "{\"sets\":{\"rev-1\":\"%s\"}}", good);
    set_feed_result r = result_at("5");
    assert_int_equal(apply_str(big, ES256_ONLY, NULL, d, &r), IDP_ERR_INVALID);
    assert_int_equal(denylist_check(d, "tok-1", NULL, 0, NOW), DENY_OK);
    /* a SET listed under another name than its jti */
    snprintf(big, sizeof big, "{\"sets\":{\"rev-2\":\"%s\"},\"cursor\":\"2\"}", good);
    assert_int_equal(apply_str(big, ES256_ONLY, NULL, d, &r), IDP_ERR_INVALID);
    assert_string_equal(r.cursor, "5");
    /* a SET jti that is not rev-<seq> */
    json_t *p = rev_event_to_set(&a, ISS, NULL, NOW);
    json_object_set_new(p, "jti", json_string("x"));
    feed f = feed_new();
    char *s = sign_json(fx.key, REV_SET_TYP, p);
    json_object_set_new(f.sets, "x", json_string(s));
    free(s);
    json_decref(p);
    char *body = feed_body(&f, false, "3");
    assert_int_equal(apply_str(body, ES256_ONLY, NULL, d, &r), IDP_ERR_INVALID);
    free(body);
    free(good);
    denylist_free(d);
}

static void cursor_handling(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    /* nothing new: the cursor given back (or the same one) */
    set_feed_result r = result_at("41");
    assert_int_equal(apply_str("{\"sets\":{},\"moreAvailable\":false,\"cursor\":\"41\"}",
                               ES256_ONLY, NULL, d, &r),
                     IDP_OK);
    assert_string_equal(r.cursor, "41");
    assert_int_equal(r.applied + r.skipped, 0);
    /* no cursor and no SETs (a first poll of an empty feed): left as it was */
    r = result_at("");
    assert_int_equal(apply_str("{\"sets\":{}}", ES256_ONLY, NULL, d, &r), IDP_OK);
    assert_string_equal(r.cursor, "");
    /* an error after some SETs: those stay applied, the cursor does not move */
    feed f = feed_new();
    rev_event a = revoked(1, "tok-1"), b = revoked(2, "tok-2");
    feed_add(&f, 1, set_of(fx.key, REV_SET_TYP, &a, ISS, NULL));
    feed_add(&f, 2, set_of(fx.key, "JWT", &b, ISS, NULL));
    char *body = feed_body(&f, true, "2");
    r = result_at("0");
    assert_int_equal(apply_str(body, ES256_ONLY, NULL, d, &r), IDP_ERR_JWT_TYP);
    assert_string_equal(r.cursor, "0");
    assert_int_equal(r.applied, 1);
    assert_false(r.more);
    assert_int_equal(denylist_check(d, "tok-1", NULL, 0, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "tok-2", NULL, 0, NOW), DENY_OK);
    free(body);
    /* an event whose until has passed is accepted (and forgotten at once): the cursor moves */
    f = feed_new();
    rev_event old = revoked(3, "tok-3");
    old.until = NOW - 1;
    old.at = NOW - 100;
    feed_add(&f, 3, set_of(fx.key, REV_SET_TYP, &old, ISS, NULL));
    body = feed_body(&f, false, "3");
    assert_int_equal(apply_str(body, ES256_ONLY, NULL, d, &r), IDP_OK);
    assert_string_equal(r.cursor, "3");
    assert_int_equal(denylist_check(d, "tok-3", NULL, 0, NOW), DENY_OK);
    free(body);
    denylist_free(d);
}

static void overflow_and_bounds(void **state)
{
    (void)state;
    denylist *d = denylist_new(2, 2);
    feed f = feed_new();
    for (int i = 1; i <= 3; i++) {
        char jti[16];
        snprintf(jti, sizeof jti, "tok-%d", i);
        rev_event a = revoked(i, jti);
        feed_add(&f, i, set_of(fx.key, REV_SET_TYP, &a, ISS, NULL));
    }
    char *body = feed_body(&f, false, "3");
    set_feed_result r = result_at("0");
    assert_int_equal(apply_str(body, ES256_ONLY, NULL, d, &r), IDP_ERR_TOO_LARGE);
    assert_string_equal(r.cursor, "0");
    assert_true(denylist_overflowed(d)); /* fail closed */
    assert_int_equal(denylist_check(d, "anything", NULL, 0, NOW), DENY_UNKNOWN);
    free(body);
    denylist_free(d);

    d = denylist_new(0, 0);
    /* more SETs than one response may carry */
    idp_buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"sets\":{");
    for (int i = 0; i <= SET_FEED_MAX_EVENTS; i++)
        buf_printf(&b, "%s\"rev-%d\":\"x\"", i ? "," : "", i);
    buf_puts(&b, "},\"cursor\":\"1\"}");
    r = result_at("0");
    assert_int_equal(apply_str(buf_cstr(&b), ES256_ONLY, NULL, d, &r), IDP_ERR_TOO_LARGE);
    buf_free(&b);
    /* a body over the cap is refused before parsing */
    size_t n = SET_FEED_MAX_BODY + 1;
    char *huge = malloc(n + 1);
    memset(huge, ' ', n);
    huge[n] = '\0';
    assert_int_equal(set_feed_apply(huge, n, fx.set, ES256_ONLY, ISS, NULL, d, NOW, &r, NULL),
                     IDP_ERR_TOO_LARGE);
    free(huge);
    assert_string_equal(r.cursor, "0");
    denylist_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_feed_applied),
        cmocka_unit_test(bad_signature_refused),
        cmocka_unit_test(embedded_key_never_used),
        cmocka_unit_test(wrong_typ_refused),
        cmocka_unit_test(wrong_iss_and_aud_refused),
        cmocka_unit_test(unknown_event_skipped),
        cmocka_unit_test(malformed_bodies),
        cmocka_unit_test(cursor_handling),
        cmocka_unit_test(overflow_and_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
