/* bench_verify — libidpd-verify's idpd_verify_token against raw OpenSSL verification on the
 * same key and the same signing inputs (issue 14's measure; docs/PERFORMANCE.md
 * "libidpd-verify"), in one run, for ES256, RS256 with 2048-bit and with 3072-bit keys (idpd's
 * default RSA size):
 *   raw       EVP_DigestVerifyInit + EVP_DigestVerify per token (ES256: the signature already in
 *             DER), one EVP_MD_CTX per operation: the limit, no parsing at all;
 *   distinct  idpd_verify_token over N pre-signed tokens that differ in jti, each seen once by a
 *             fresh verifier (cache on, default size: every call is a miss plus an insert);
 *   repeated  idpd_verify_token of one token again and again (a verified-token cache hit).
 * Ratios printed: distinct/raw (aim >= 0.95) and repeated/raw (aim >= 20).
 *
 * The verifier is tick-driven (no thread) over a JWKS file, fetched before timing; time is the
 * thread's CPU time; each path is measured `rounds` times, alternating the order, best counts.
 *   bench_verify [-r rounds] [-n es256_tokens] [-m rsa_tokens] [-t ms_for_repeated]   */
#include "core/b64url.h"
#include "core/buf.h"
#include "jose/alg.h"
#include "jose/jwk.h"
#include "jose/jws.h"

#include <idpd/verify.h>

#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ISS "https://idp.example.com"
#define AUD "https://rs.example.com/"

typedef struct tok {
    char *s;
    size_t len, input_len;
    unsigned char sig[JWS_MAX_SIG];
    size_t siglen;
} tok;

typedef struct bench {
    jws_alg alg;
    jwk *key;
    char jwks_path[64];
    tok *t;
    size_t n;
} bench;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sign_tokens(bench *b)
{
    long now = (long)time(NULL);
    for (size_t i = 0; i < b->n; i++) {
        char payload[600];
        int pl = snprintf(payload, sizeof payload,
                          "{\"iss\":\"" ISS "\",\"sub\":\"5ba552d67\",\"aud\":\"" AUD "\","
                          "\"exp\":%ld,\"iat\":%ld,\"nbf\":%ld,\"jti\":\"dbe39bf3a3ba4238-%08zu\","
                          "\"client_id\":\"s6BhdRkqt3\",\"scope\":\"openid profile email "
                          "reports:read\",\"auth_time\":%ld,\"roles\":[\"reader\",\"auditor\"],"
                          "\"acr\":\"urn:mace:incommon:iap:silver\"}",
                          now + 7200, now, now, i, now - 10);
        idp_buf out;
        buf_init(&out, 0);
        if (jws_sign_compact(b->key, b->alg, "at+jwt", payload, (size_t)pl, &out, NULL)) abort();
        tok *t = &b->t[i];
        t->len = out.len;
        t->s = buf_steal(&out);
        const char *dot = strrchr(t->s, '.');
        t->input_len = (size_t)(dot - t->s);
        unsigned char js[JWS_MAX_SIG];
        size_t n = 0;
        if (b64url_decode_to(dot + 1, strlen(dot + 1), js, sizeof js, &n)) abort();
        if (b->alg != JWS_ES256) {
            memcpy(t->sig, js, n);
            t->siglen = n;
            continue;
        }
        ECDSA_SIG *es = ECDSA_SIG_new();
        if (!es || !ECDSA_SIG_set0(es, BN_bin2bn(js, 32, NULL), BN_bin2bn(js + 32, 32, NULL)))
            abort();
        unsigned char *p = t->sig;
        t->siglen = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
    }
}

static void write_jwks(bench *b)
{
    jwks *set = jwks_new();
    if (jwks_add(set, b->key, NULL)) abort();
    json_t *j = jwks_to_public_json(set);
    snprintf(b->jwks_path, sizeof b->jwks_path, "/tmp/bench_verify_%d_%d.json", (int)getpid(),
             (int)b->alg);
    if (json_dump_file(j, b->jwks_path, 0)) abort();
    json_decref(j);
    jwks_unref(set);
}

static idpd_verify *verifier(const bench *b)
{
    static const char *aud[] = {AUD};
    idpd_verify_options o;
    idpd_verify_options_init(&o);
    o.issuer = ISS;
    o.audiences = aud;
    o.naudiences = 1;
    o.jwks_file = b->jwks_path;
    idpd_verify *v = NULL;
    idpd_verify_error e;
    if (idpd_verify_new(&o, &v, &e)) {
        fprintf(stderr, "idpd_verify_new: %s\n", e.reason);
        abort();
    }
    idpd_verify_tick(v); /* the JWKS, before timing */
    return v;
}

static void verify_one(idpd_verify *v, const tok *t)
{
    idpd_verify_claims *c = NULL;
    idpd_verify_error e;
    if (idpd_verify_token(v, t->s, t->len, &c, &e) != IDPD_VERIFY_OK) {
        fprintf(stderr, "verify: %s\n", e.reason);
        abort();
    }
    idpd_verify_claims_free(c);
}

/* ops/s of raw EVP verification over every token once */
static double run_raw(const bench *b)
{
    double t0 = cpu_now();
    for (size_t i = 0; i < b->n; i++) {
        const tok *t = &b->t[i];
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        if (!m || EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, jwk_pkey(b->key)) != 1 ||
            EVP_DigestVerify(m, t->sig, t->siglen, (const unsigned char *)t->s, t->input_len) != 1)
            abort();
        EVP_MD_CTX_free(m);
    }
    return (double)b->n / (cpu_now() - t0);
}

/* ops/s of the library over every token once, with a fresh verifier (all misses) */
static double run_distinct(const bench *b)
{
    idpd_verify *v = verifier(b);
    double t0 = cpu_now();
    for (size_t i = 0; i < b->n; i++)
        verify_one(v, &b->t[i]);
    double r = (double)b->n / (cpu_now() - t0);
    idpd_verify_free(v);
    return r;
}

/* ops/s of the library on one token (cache hits) for about ms */
static double run_repeated(const bench *b, int ms)
{
    idpd_verify *v = verifier(b);
    verify_one(v, &b->t[0]); /* the miss that fills the cache */
    double t0 = cpu_now(), end = t0 + ms / 1000.0, now;
    long n = 0;
    do {
        for (int i = 0; i < 64; i++)
            verify_one(v, &b->t[0]);
        n += 64;
        now = cpu_now();
    } while (now < end);
    idpd_verify_stats st;
    idpd_verify_stats_get(v, &st);
    if (st.cache_hits < (uint64_t)n) abort(); /* every one of them was a hit */
    idpd_verify_free(v);
    return (double)n / (now - t0);
}

static void bench_alg(jws_alg alg, int bits, size_t n, int rounds, int ms)
{
    bench b = {.alg = alg, .n = n};
    if (jwk_generate(alg, bits, &b.key, NULL)) abort();
    b.t = calloc(n, sizeof *b.t);
    if (!b.t) abort();
    sign_tokens(&b);
    write_jwks(&b);
    double raw = 0, dis = 0, rep = 0;
    run_raw(&b); /* warm-up */
    run_distinct(&b);
    for (int r = 0; r < rounds; r++) {
        double x, y;
        if (r % 2) {
            y = run_distinct(&b);
            x = run_raw(&b);
        } else {
            x = run_raw(&b);
            y = run_distinct(&b);
        }
        double z = run_repeated(&b, ms);
        if (x > raw) raw = x;
        if (y > dis) dis = y;
        if (z > rep) rep = z;
    }
    char name[24];
    snprintf(name, sizeof name, alg == JWS_ES256 ? "%s" : "%s-%d", jws_alg_name(alg), bits);
    printf("| %-10s | %6zu | %9.0f | %9.0f | %10.0f | %5.2f | %7.1f |\n", name, n, raw, dis, rep,
           dis / raw, rep / raw);
    fflush(stdout);
    unlink(b.jwks_path);
    for (size_t i = 0; i < n; i++)
        free(b.t[i].s);
    free(b.t);
    jwk_unref(b.key);
}

int main(int argc, char **argv)
{
    int rounds = 3, ms = 300, ch;
    long nes = 20000, nrsa = 3000;
    while ((ch = getopt(argc, argv, "r:n:m:t:")) != -1) {
        switch (ch) {
        case 'r':
            rounds = (int)strtol(optarg, NULL, 10);
            break;
        case 'n':
            nes = strtol(optarg, NULL, 10);
            break;
        case 'm':
            nrsa = strtol(optarg, NULL, 10);
            break;
        case 't':
            ms = (int)strtol(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: %s [-r rounds] [-n es256_tokens] [-m rsa_tokens] [-t ms]\n",
                    argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || nes < 1 || nrsa < 1 || ms < 1) return 2;
    printf("libidpd-verify %s: idpd_verify_token vs raw EVP_DigestVerify; ops/s of CPU time, "
           "best of %d rounds\n\n",
           IDPD_VERIFY_VERSION, rounds);
    printf("| key        | tokens |     raw/s | distinct/s | repeated/s | d/raw | rep/raw |\n");
    printf("|------------|--------|-----------|------------|------------|-------|---------|\n");
    bench_alg(JWS_ES256, 0, (size_t)nes, rounds, ms);
    bench_alg(JWS_RS256, 2048, (size_t)nrsa, rounds, ms);
    bench_alg(JWS_RS256, 3072, (size_t)nrsa, rounds, ms);
    return 0;
}
