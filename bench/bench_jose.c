/* bench_jose — sign/verify microbenchmark: idpd's full compact path (jws_sign_compact /
 * jws_verify with base64url, header + payload JSON, typ check) against raw
 * EVP_DigestSign/DigestVerify on the same key and the same signing input, for ES256,
 * RS256 (2048), PS256 (2048) and EdDSA. Tokens carry a ~330-byte RFC 9068 payload.
 *
 * Usage (optimized build):
 *   meson setup /tmp/b-rel --buildtype=release && ninja -C /tmp/b-rel bench/bench_jose
 *   /tmp/b-rel/bench/bench_jose [-t ms] [-r rounds] [-a alg] [-o verify|sign] [-n iters]
 *   /tmp/b-rel/bench/bench_jose [ms [rounds]]          (old positional form)
 *     -t  milliseconds of CPU time per measurement (default 150)
 *     -r  rounds (default 5); each round measures ours and raw back to back, alternating which
 *         goes first; the best round of each counts (best-of filters out a shared machine)
 *     -a  only this alg (ES256, RS256, PS256, EdDSA); -o only this operation
 *     -n  count mode: run exactly iters operations of ours then of raw, no timing table;
 *         for `valgrind --tool=callgrind --toggle-collect=op_ours_verify ...`
 * Default full run: 4 algs x 2 ops x 2 paths x 5 rounds x 150 ms = 12 s of CPU.
 *
 * Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other processes on a
 * shared machine steal less from the measurement than with wall time.
 *
 * The raw path is what a straightforward caller writes: one EVP_MD_CTX per operation,
 * EVP_DigestSignInit/VerifyInit with EVP_sha256() (PS256: PSS padding, salt 32), then the
 * one-shot EVP_DigestSign/Verify. It does no base64url, JSON, key lookup or DER conversion. */
#include "core/b64url.h"
#include "core/buf.h"
#include "jose/jwk.h"
#include "jose/jws.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A typical RFC 9068 access token payload. */
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

typedef void (*op_fn)(ctx *);

typedef struct opts {
    int ms, rounds;
    long iters;               /* > 0: count mode */
    jws_alg only_alg;         /* INVALID = all */
    const char *only_op;      /* NULL = both */
} opts;

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

/* Non-static and never inlined so callgrind can --toggle-collect on them. */
#define BENCH_OP __attribute__((noinline))
BENCH_OP void op_ours_verify(ctx *c);
BENCH_OP void op_raw_verify(ctx *c);
BENCH_OP void op_ours_sign(ctx *c);
BENCH_OP void op_raw_sign(ctx *c);

void op_ours_verify(ctx *c)
{
    jws_verify_opts o = {.allowed_algs = JWS_ALG_BIT(c->alg), .keys = c->set, .typ = "at+jwt",
                         .payload_json = true};
    jws_verified v;
    if (jws_verify(c->token, c->tlen, &o, &v, NULL) != IDP_OK || !v.payload) abort();
    jws_verified_clear(&v);
}

void op_raw_verify(ctx *c)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m || !raw_init(m, c, false) ||
        EVP_DigestVerify(m, c->sig, c->siglen, (const unsigned char *)c->token, c->input_len) != 1)
        abort();
    EVP_MD_CTX_free(m);
}

void op_ours_sign(ctx *c)
{
    idp_buf b;
    buf_init(&b, 0);
    if (jws_sign_compact(c->key, c->alg, "at+jwt", payload, sizeof payload - 1, &b, NULL)) abort();
    sink += (int)b.len;
    buf_free(&b);
}

void op_raw_sign(ctx *c)
{
    unsigned char sig[JWS_MAX_SIG];
    size_t n = sizeof sig;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m || !raw_init(m, c, true) ||
        EVP_DigestSign(m, sig, &n, (const unsigned char *)c->token, c->input_len) != 1)
        abort();
    EVP_MD_CTX_free(m);
    sink += (int)n;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Operations per CPU second of fn over ~ms milliseconds. */
static double measure(op_fn fn, ctx *c, int ms)
{
    double start = cpu_now(), end = start + ms / 1000.0, now;
    long n = 0;
    do {
        for (int i = 0; i < 8; i++) fn(c);
        n += 8;
        now = cpu_now();
    } while (now < end);
    return (double)n / (now - start);
}

static void best_of(op_fn ours, op_fn raw, ctx *c, const opts *o, double *ro, double *rr)
{
    *ro = *rr = 0;
    measure(ours, c, o->ms / 4 + 1); /* warm-up: caches, lazy fetches */
    measure(raw, c, o->ms / 4 + 1);
    for (int r = 0; r < o->rounds; r++) {
        double x, y;
        if (r % 2) {
            y = measure(raw, c, o->ms);
            x = measure(ours, c, o->ms);
        } else {
            x = measure(ours, c, o->ms);
            y = measure(raw, c, o->ms);
        }
        if (x > *ro) *ro = x;
        if (y > *rr) *rr = y;
    }
}

/* The raw verifier gets the signature as EVP wants it: DER for ES256. */
static void raw_sig_from_token(ctx *c)
{
    const char *dot = strrchr(c->token, '.');
    unsigned char js[JWS_MAX_SIG + 3];
    size_t n = 0;
    c->input_len = (size_t)(dot - c->token);
    if (b64url_decode_to(dot + 1, strlen(dot + 1), js, sizeof js, &n)) abort();
    if (c->alg != JWS_ES256) {
        memcpy(c->sig, js, n);
        c->siglen = n;
        return;
    }
    ECDSA_SIG *s = ECDSA_SIG_new();
    if (!s || !ECDSA_SIG_set0(s, BN_bin2bn(js, 32, NULL), BN_bin2bn(js + 32, 32, NULL))) abort();
    unsigned char *p = c->sig;
    c->siglen = (size_t)i2d_ECDSA_SIG(s, &p);
    ECDSA_SIG_free(s);
}

static void run(ctx *c, op_fn ours, op_fn raw, const char *op, const opts *o)
{
    if (o->only_op && strcmp(o->only_op, op) != 0) return;
    if (o->iters > 0) {
        for (long i = 0; i < o->iters; i++) ours(c);
        for (long i = 0; i < o->iters; i++) raw(c);
        printf("%-6s %-6s %ld iterations each (ours, raw)\n", jws_alg_name(c->alg), op, o->iters);
        return;
    }
    double x, y;
    best_of(ours, raw, c, o, &x, &y);
    printf("| %-5s | %-6s | %9.0f | %9.0f | %5.2f |\n", jws_alg_name(c->alg), op, x, y, x / y);
    fflush(stdout);
}

static int bench_alg(jws_alg alg, const opts *o)
{
    jwk *k = NULL;
    idp_buf tok;
    buf_init(&tok, 0);
    if (jwk_generate(alg, 2048, &k, NULL)) return 1;
    ctx c = {.key = k, .alg = alg, .set = jwks_new()};
    if (jwks_add(c.set, k, NULL) ||
        jws_sign_compact(k, alg, "at+jwt", payload, sizeof payload - 1, &tok, NULL))
        return 1;
    c.token = tok.data;
    c.tlen = tok.len;
    raw_sig_from_token(&c);
    run(&c, op_ours_verify, op_raw_verify, "verify", o);
    run(&c, op_ours_sign, op_raw_sign, "sign", o);
    buf_free(&tok);
    jwks_unref(c.set);
    jwk_unref(k);
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    int ch, pos = 0;
    while ((ch = getopt(argc, argv, "t:r:a:o:n:")) != -1) {
        switch (ch) {
        case 't': o->ms = (int)strtol(optarg, NULL, 10); break;
        case 'r': o->rounds = (int)strtol(optarg, NULL, 10); break;
        case 'n': o->iters = strtol(optarg, NULL, 10); break;
        case 'o': o->only_op = optarg; break;
        case 'a':
            o->only_alg = jws_alg_from_name(optarg, strlen(optarg));
            if (o->only_alg == JWS_ALG_INVALID) return -1;
            break;
        default: return -1;
        }
    }
    for (; optind < argc; optind++, pos++) {
        long v = strtol(argv[optind], NULL, 10);
        if (pos == 0) o->ms = (int)v;
        else if (pos == 1) o->rounds = (int)v;
        else return -1;
    }
    return o->ms > 0 && o->rounds > 0 && o->iters >= 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    opts o = {.ms = 150, .rounds = 5};
    if (parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: %s [-t ms] [-r rounds] [-a alg] [-o verify|sign] [-n iters] "
                        "[ms [rounds]]\n", argv[0]);
        return 2;
    }
    const jws_alg algs[] = {JWS_ES256, JWS_RS256, JWS_PS256, JWS_EDDSA};
    if (!o.iters) {
        printf("payload %zu bytes, RSA 2048; best of %d rounds x %d ms CPU time per path; "
               "ratio = ours/raw (higher is better, 1.00 = no overhead)\n\n",
               sizeof payload - 1, o.rounds, o.ms);
        printf("| alg   | op     |    ours/s |     raw/s | ratio |\n");
        printf("|-------|--------|-----------|-----------|-------|\n");
    }
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        if (o.only_alg != JWS_ALG_INVALID && o.only_alg != algs[i]) continue;
        if (bench_alg(algs[i], &o)) {
            fprintf(stderr, "setup failed for %s\n", jws_alg_name(algs[i]));
            return 1;
        }
    }
    return 0;
}
