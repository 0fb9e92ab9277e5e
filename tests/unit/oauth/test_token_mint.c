/* Unit tests for src/oauth/token_mint.c: lifetime clamping, algorithm choice, the RFC 6749 §5.1
 * response members, and the signed access token (RFC 9068 §2.1 header, §2.2 claims) under the
 * current key of a real keyset (temporary store, generated keys). */
#include "testutil.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "jose/jws.h"
#include "keys/kek.h"
#include "keys/keyset.h"
#include "keys/rotation.h"
#include "oauth/token_mint.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000

static void ttl_clamping(void **state)
{
    (void)state;
    cfg c = {.token_ttl = 300, .max_token_ttl = 3600};
    assert_int_equal(token_mint_ttl(&c, 0), 300);     /* no client ttl: the server default */
    assert_int_equal(token_mint_ttl(&c, -5), 300);    /* not a ttl */
    assert_int_equal(token_mint_ttl(&c, 60), 60);     /* the client's own, shorter */
    assert_int_equal(token_mint_ttl(&c, 1800), 1800); /* or longer, within the cap */
    assert_int_equal(token_mint_ttl(&c, 3600), 3600);
    assert_int_equal(token_mint_ttl(&c, 3601), 3600); /* never above max_token_ttl */
    assert_int_equal(token_mint_ttl(&c, INT64_MAX), 3600);
    c.token_ttl = 7200; /* a default above the cap is capped too */
    assert_int_equal(token_mint_ttl(&c, 0), 3600);
}

static void alg_choice(void **state)
{
    (void)state;
    cfg c = {.default_alg = (char *)"EdDSA"};
    assert_int_equal(token_mint_alg(&c, JWS_ALG_INVALID), JWS_EDDSA);
    assert_int_equal(token_mint_alg(&c, JWS_PS256), JWS_PS256);
    c.default_alg = (char *)"ES256";
    assert_int_equal(token_mint_alg(&c, JWS_ALG_INVALID), JWS_ES256);
    assert_int_equal(token_mint_alg(&c, JWS_RS256), JWS_RS256);
}

static void response_members(void **state)
{
    (void)state;
    idp_buf b;
    buf_init(&b, 0);
    idp_error e = {0};
    /* a client token: no scope member when the scope is empty, no id/refresh token */
    token_mint_response r = {.access_token = "h.p.s", .expires_in = 300, .scope = ""};
    assert_int_equal(token_mint_respond(&r, &b, &e), IDP_OK);
    assert_string_equal(
        buf_cstr(&b), "{\"access_token\":\"h.p.s\",\"token_type\":\"Bearer\",\"expires_in\":300}");
    buf_reset(&b);
    r.scope = NULL;
    r.id_token = "";
    assert_int_equal(token_mint_respond(&r, &b, &e), IDP_OK);
    assert_string_equal(
        buf_cstr(&b), "{\"access_token\":\"h.p.s\",\"token_type\":\"Bearer\",\"expires_in\":300}");
    /* every member, in the documented order; appended after what the buffer holds */
    buf_reset(&b);
    buf_puts(&b, "x");
    r = (token_mint_response){.access_token = "a.b.c",
                              .expires_in = 60,
                              .scope = "openid api:read",
                              .id_token = "i.d.t",
                              .refresh_token = "rt"};
    assert_int_equal(token_mint_respond(&r, &b, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "x{\"access_token\":\"a.b.c\",\"token_type\":\"Bearer\","
                                      "\"expires_in\":60,\"scope\":\"openid api:read\","
                                      "\"id_token\":\"i.d.t\",\"refresh_token\":\"rt\"}");
    json_t *j = NULL;
    assert_int_equal(jsonx_parse(b.data + 1, b.len - 1, 0, 0, true, &j, NULL), IDP_OK);
    assert_int_equal(json_object_size(j), 6);
    json_decref(j);
    /* an empty refresh token is still a member: the grant decided to send one */
    buf_reset(&b);
    r = (token_mint_response){.access_token = "a", .expires_in = 1, .refresh_token = ""};
    assert_int_equal(token_mint_respond(&r, &b, &e), IDP_OK);
    assert_non_null(strstr(buf_cstr(&b), ",\"refresh_token\":\"\"}"));
    /* strings are JSON-escaped */
    buf_reset(&b);
    r = (token_mint_response){.access_token = "a\"b", .expires_in = 1, .scope = "s\\"};
    assert_int_equal(token_mint_respond(&r, &b, &e), IDP_OK);
    assert_string_equal(buf_cstr(&b), "{\"access_token\":\"a\\\"b\",\"token_type\":\"Bearer\","
                                      "\"expires_in\":1,\"scope\":\"s\\\\\"}");
    buf_free(&b);
    /* the buffer's cap */
    buf_init(&b, 20);
    assert_int_equal(token_mint_respond(&r, &b, &e), IDP_ERR_INTERNAL);
    buf_free(&b);
}

typedef struct fx {
    char *dir;
    store *st;
    kek *k;
    keyset *ks;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    unsetenv("IDPD_MASTER_KEY");
    f->dir = tu_tmpdir();
    char p[4096];
    snprintf(p, sizeof p, "%s/idpd.db", f->dir);
    assert_int_equal(store_open(p, true, &f->st, NULL), IDP_OK);
    snprintf(p, sizeof p, "%s/master.key", f->dir);
    assert_int_equal(kek_create_file(p, NULL), IDP_OK);
    assert_int_equal(kek_load(p, &f->k, NULL), IDP_OK);
    cfg c = {.algs = (char *)"ES256 EdDSA",
             .rsa_bits = 2048,
             .rotation_period = 30 * 86400,
             .publish_ahead = 86400,
             .max_token_ttl = 3600,
             .leeway = 30};
    assert_int_equal(rotation_tick(f->st, f->k, &c, T0, NULL, NULL), IDP_OK);
    assert_int_equal(keyset_load(f->st, f->k, &f->ks, NULL), IDP_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    keyset_unref(f->ks);
    store_close(f->st);
    kek_free(f->k);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* The decoded protected header of a compact JWS, as text; owned. */
static char *header_of(const char *tok)
{
    const char *dot = strchr(tok, '.');
    assert_non_null(dot);
    unsigned char *h = NULL;
    size_t n = 0;
    assert_int_equal(b64url_decode(tok, (size_t)(dot - tok), &h, &n), IDP_OK);
    return (char *)h;
}

static const char *const api_aud[] = {"https://api.example"};
static const token_claims claims = {.iss = "https://idp.example",
                                    .sub = "svc",
                                    .aud = api_aud,
                                    .naud = 1,
                                    .iat = T0,
                                    .exp = T0 + 300,
                                    .jti = "j1",
                                    .client_id = "svc",
                                    .scope = "api:read",
                                    .extra = ",\"auth_time\":1"};

static void access_token_signed(void **state)
{
    fx *f = *state;
    token_claims tc = claims;
    jws_alg algs[] = {JWS_ES256, JWS_EDDSA};
    for (size_t i = 0; i < 2; i++) {
        idp_buf tok, want;
        buf_init(&tok, JWS_MAX_LEN);
        buf_init(&want, 0);
        idp_error e = {0};
        assert_int_equal(token_mint_access(f->ks, algs[i], &tc, &tok, &e), IDP_OK);
        /* RFC 9068 §2.1: typ at+jwt, with alg and the current key's kid */
        char hdr[256];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}",
                 jws_alg_name(algs[i]), keyset_current_kid(f->ks, algs[i]));
        char *h = header_of(buf_cstr(&tok));
        assert_string_equal(h, hdr);
        free(h);
        /* the payload is exactly token_claims_build's, and the signature verifies */
        assert_int_equal(token_claims_build(&tc, &want, NULL), IDP_OK);
        jws_verify_opts o = {
            .allowed_algs = JWS_ALG_BIT(algs[i]), .keys = keyset_public(f->ks), .typ = "at+jwt"};
        jws_verified v;
        assert_int_equal(jws_verify(tok.data, tok.len, &o, &v, NULL), IDP_OK);
        assert_int_equal(v.raw_payload_len, want.len);
        assert_memory_equal(v.raw_payload, want.data, want.len);
        jws_verified_clear(&v);
        buf_free(&tok);
        buf_free(&want);
    }
}

static void signing_errors(void **state)
{
    fx *f = *state;
    token_claims tc = claims;
    idp_buf tok;
    buf_init(&tok, JWS_MAX_LEN);
    idp_error e = {0};
    /* no key set loaded: the server's fault */
    assert_int_equal(token_mint_access(NULL, JWS_ES256, &tc, &tok, &e), IDP_ERR_INTERNAL);
    /* no current key for the client's alg: a configuration error, not the client's */
    assert_int_equal(token_mint_access(f->ks, JWS_RS256, &tc, &tok, &e), IDP_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "RS256"));
    assert_int_equal(tok.len, 0);
    /* the claims are checked first */
    tc.naud = 0;
    assert_int_equal(token_mint_access(NULL, JWS_ES256, &tc, &tok, &e), IDP_ERR_INVALID);
    /* the buffer's cap */
    tc.naud = 1;
    buf_free(&tok);
    buf_init(&tok, 64);
    assert_int_equal(token_mint_access(f->ks, JWS_ES256, &tc, &tok, &e), IDP_ERR_TOO_LARGE);
    buf_free(&tok);
    /* the ID token path: any typ, same key selection */
    buf_init(&tok, JWS_MAX_LEN);
    assert_int_equal(token_mint_sign(f->ks, JWS_EDDSA, "JWT", "{}", 2, &tok, &e), IDP_OK);
    char *h = header_of(buf_cstr(&tok));
    assert_non_null(strstr(h, "\"typ\":\"JWT\""));
    free(h);
    assert_int_equal(token_mint_sign(f->ks, JWS_PS256, "JWT", "{}", 2, &tok, &e), IDP_ERR_CONFIG);
    assert_int_equal(token_mint_sign(NULL, JWS_EDDSA, "JWT", "{}", 2, &tok, &e), IDP_ERR_INTERNAL);
    buf_free(&tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ttl_clamping),
        cmocka_unit_test(alg_choice),
        cmocka_unit_test(response_members),
        cmocka_unit_test_setup_teardown(access_token_signed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(signing_errors, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
