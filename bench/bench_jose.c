/* bench_jose — sign/verify microbenchmark: idpd's full compact path (jws_sign_compact /
 * jws_verify with base64url, header + payload JSON) against raw EVP_DigestSign/DigestVerify
 * on the same key and the same signing input, for ES256, RS256 (2048), PS256 (2048), EdDSA.
 *
 * Usage (optimized build):
 *   meson setup /tmp/b-rel --buildtype=release && ninja -C /tmp/b-rel bench/bench_jose
 *   /tmp/b-rel/bench/bench_jose [milliseconds-per-measurement, default 300] [rounds, default 5]
 * Each round measures ours and raw back to back (interleaved); the best round of each counts.
 * The raw path creates one EVP_MD_CTX per operation, like jws_verify, with EVP_sha256(). */
#include "core/b64url.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "jose/jwk.h"
#include "jose/jws.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A typical RFC 9068 access token payload (~300 bytes). */
static const char payload[] =
    "{\"iss\":\"https://idp.example.com\",\"sub\":\"5ba552d67\",\"aud\":\"https://rs.example.com/\","
    "\"exp\":1700000300,\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"dbe39bf3a3ba4238a513f51d6e1691c4\","
    "\"client_id\":\"s6BhdRkqt3\",\"scope\":\"openid profile email reports:read\","
    "\"auth_time\":1699999990,\"roles\":[\"reader\",\"auditor\"],\"acr\":\"urn:mace:incommon:iap:silver\"}";

typedef struct ctx {
    const jwk *key;
    jws_alg alg;
    jwks *set;
    const char *token;
    size_t tlen, input_len;
    unsigned char sig[JWS_MAX_SIG];
    size_t siglen;
} ctx;

static volatile int sink;

static int raw_init(EVP_MD_CTX *m, ctx *c, bool sign)
{
    EVP_PKEY_CTX *p = NULL;
    const EVP_MD *md = c->alg == JWS_EDDSA ? NULL : EVP_sha256();
    int ok = (sign ? EVP_DigestSignInit(m, &p, md, NULL, jwk_pkey(c->key))
                   : EVP_DigestVerifyInit(m, &p, md, NULL, jwk_pkey(c->key))) == 1;
    if (ok && c->alg == JWS_PS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(p, 32) > 0;
    return ok;
}

static void op_ours_verify(ctx *c)
{
    jws_verify_opts o = {.allowed_algs = JWS_ALG_BIT(c->alg), .keys = c->set, .typ = "at+jwt",
                         .payload_json = true};
    jws_verified v;
    if (jws_verify(c->token, c->tlen, &o, &v, NULL) != IDP_OK) abort();
    jws_verified_clear(&v);
}

static void op_raw_verify(ctx *c)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!raw_init(m, c, false) ||
        EVP_DigestVerify(m, c->sig, c->siglen, (const unsigned char *)c->token, c->input_len) != 1)
        abort();
    EVP_MD_CTX_free(m);
}

static void op_ours_sign(ctx *c)
{
    idp_buf b;
    buf_init(&b, 0);
    if (jws_sign_compact(c->key, c->alg, "at+jwt", payload, sizeof payload - 1, &b, NULL)) abort();
    sink += (int)b.len;
    buf_free(&b);
}

static void op_raw_sign(ctx *c)
{
    unsigned char sig[JWS_MAX_SIG];
    size_t n = sizeof sig;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!raw_init(m, c, true) ||
        EVP_DigestSign(m, sig, &n, (const unsigned char *)c->token, c->input_len) != 1)
        abort();
    EVP_MD_CTX_free(m);
    sink += (int)n;
}

/* ops per second of fn over ~ms milliseconds */
static double measure(void (*fn)(ctx *), ctx *c, int ms)
{
    int64_t start = time_mono_us(), end = start + (int64_t)ms * 1000, now;
    long n = 0;
    do {
        for (int i = 0; i < 16; i++) fn(c);
        n += 16;
        now = time_mono_us();
    } while (now < end);
    return (double)n * 1e6 / (double)(now - start);
}

static void best_of(void (*a)(ctx *), void (*b)(ctx *), ctx *c, int ms, int rounds, double *ra,
                    double *rb)
{
    *ra = *rb = 0;
    for (int r = 0; r < rounds; r++) {
        double x = measure(a, c, ms), y = measure(b, c, ms);
        if (x > *ra) *ra = x;
        if (y > *rb) *rb = y;
    }
}

/* The raw verifier needs the DER form for ES256. */
static void raw_sig_from_token(ctx *c)
{
    const char *dot = strrchr(c->token, '.');
    unsigned char js[JWS_MAX_SIG];
    size_t n = 0;
    c->input_len = (size_t)(dot - c->token);
    if (b64url_decode_to(dot + 1, strlen(dot + 1), js, sizeof js, &n)) abort();
    if (c->alg != JWS_ES256) {
        memcpy(c->sig, js, n);
        c->siglen = n;
        return;
    }
    ECDSA_SIG *s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(js, 32, NULL), BN_bin2bn(js + 32, 32, NULL));
    unsigned char *p = c->sig;
    c->siglen = (size_t)i2d_ECDSA_SIG(s, &p);
    ECDSA_SIG_free(s);
}

int main(int argc, char **argv)
{
    int ms = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 300;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    if (ms <= 0 || rounds <= 0) return 2;
    const jws_alg algs[] = {JWS_ES256, JWS_RS256, JWS_PS256, JWS_EDDSA};
    printf("payload %zu bytes; best of %d rounds x %d ms\n", sizeof payload - 1, rounds, ms);
    printf("%-6s %6s %12s %12s %7s\n", "alg", "op", "ours op/s", "raw op/s", "ratio");
    for (size_t i = 0; i < 4; i++) {
        jwk *k = NULL;
        if (jwk_generate(algs[i], 2048, &k, NULL)) return 1;
        ctx c = {.key = k, .alg = algs[i], .set = jwks_new()};
        jwks_add(c.set, k, NULL);
        idp_buf tok;
        buf_init(&tok, 0);
        if (jws_sign_compact(k, algs[i], "at+jwt", payload, sizeof payload - 1, &tok, NULL)) return 1;
        c.token = tok.data;
        c.tlen = tok.len;
        raw_sig_from_token(&c);
        double o, r;
        best_of(op_ours_verify, op_raw_verify, &c, ms, rounds, &o, &r);
        printf("%-6s %6s %12.0f %12.0f %7.3f\n", jws_alg_name(algs[i]), "verify", o, r, o / r);
        best_of(op_ours_sign, op_raw_sign, &c, ms, rounds, &o, &r);
        printf("%-6s %6s %12.0f %12.0f %7.3f\n", jws_alg_name(algs[i]), "sign", o, r, o / r);
        buf_free(&tok);
        jwks_unref(c.set);
        jwk_unref(k);
    }
    return 0;
}
