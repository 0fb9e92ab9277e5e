/* verify_lib_api — the API of libidpd-verify without a server, built against the installed
 * library by tests/integration/verify_lib.test.mjs: option checks, a tick-driven verifier over
 * a JWKS file (nothing fetched before the first use; tick / next_deadline), the claim getters,
 * malformed calls, the cache (kid-less tokens are never cached), stats.
 *   verify_lib_api ISSUER AUDIENCE JWKS_FILE   with tokens in the environment:
 *   T_GOOD (scope "a b  c", aud [AUDIENCE, "other"], roles ["r1","r2"], n 2.5, big 42, flag true,
 *   mixed ["x", 1]), T_NOKID (a good token without kid), T_FOREIGN (an unknown kid), T_MIN
 *   (iss, aud, exp only: refused unless exp_only). Also six threads on one verifier at once.
 * Prints one line per failed check and exits 1 when any failed. */
#define _POSIX_C_SOURCE 200809L
#include <idpd/verify.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failed;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL line %d: %s\n", __LINE__, #cond);                                         \
            failed = 1;                                                                            \
        }                                                                                          \
    } while (0)

static const char *aud[2];

static idpd_verify_code try_new(void (*edit)(idpd_verify_options *), idpd_verify_error *e)
{
    idpd_verify_options o;
    idpd_verify_options_init(&o);
    o.issuer = "https://issuer.example";
    o.audiences = aud;
    o.naudiences = 1;
    o.jwks_file = "/nonexistent";
    edit(&o);
    idpd_verify *v = NULL;
    idpd_verify_code rc = idpd_verify_new(&o, &v, e);
    idpd_verify_free(v);
    return rc;
}

static void no_issuer(idpd_verify_options *o)
{
    o->issuer = NULL;
}
static void no_aud(idpd_verify_options *o)
{
    o->naudiences = 0;
}
static void both_src(idpd_verify_options *o)
{
    o->jwks_uri = "https://issuer.example/jwks";
}
static void http_far(idpd_verify_options *o)
{
    o->jwks_file = NULL;
    o->jwks_uri = "http://example.com/j";
}
static void bad_alg(idpd_verify_options *o)
{
    o->algorithms = "HS256";
}
static void big_leeway(idpd_verify_options *o)
{
    o->leeway_s = 601;
}
static void zero_timeout(idpd_verify_options *o)
{
    o->jwks_fetch_timeout_ms = 0;
}
static void feed_no_token(idpd_verify_options *o)
{
    o->feed_url = "https://issuer.example/ssf/poll";
}
static void feed_stale(idpd_verify_options *o)
{
    o->feed_url = "https://issuer.example/ssf/poll";
    o->feed_token = "k";
    o->feed_stale_ms = o->feed_interval_ms;
}
static void fine(idpd_verify_options *o)
{
    (void)o;
}

/* Many threads on one verifier: the same token (hits), a kid-less one (never cached), a foreign
 * one (refused), and stats, at once (run under ASan by make test). */
typedef struct race {
    idpd_verify *v;
    const char *good, *nokid, *foreign;
    atomic_int bad;
} race;

static void *racer(void *p)
{
    race *r = p;
    for (int i = 0; i < 400; i++) {
        const char *t = i % 3 == 0 ? r->good : i % 3 == 1 ? r->nokid : r->foreign;
        idpd_verify_claims *c = NULL;
        idpd_verify_error e;
        idpd_verify_code rc = idpd_verify_token(r->v, t, strlen(t), &c, &e);
        if ((t == r->foreign) != (rc == IDPD_VERIFY_INVALID_TOKEN) ||
            (rc == IDPD_VERIFY_OK && strcmp(idpd_verify_claims_string(c, "sub"), "user-1")))
            atomic_fetch_add(&r->bad, 1);
        idpd_verify_claims_free(c);
        if (i % 50 == 0) {
            idpd_verify_stats st;
            idpd_verify_stats_get(r->v, &st);
        }
    }
    return NULL;
}

static bool in(char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return true;
    return false;
}

int main(int argc, char **argv)
{
    if (argc != 4) return 2;
    aud[0] = argv[2];
    aud[1] = "unused";
    const char *good = getenv("T_GOOD"), *nokid = getenv("T_NOKID"), *foreign = getenv("T_FOREIGN"),
               *minimal = getenv("T_MIN");
    if (!good || !nokid || !foreign || !minimal) return 2;
    idpd_verify_error e;

    /* options */
    CHECK(try_new(fine, &e) == IDPD_VERIFY_OK);
    void (*bad[])(idpd_verify_options *) = {no_issuer,    no_aud,        both_src,
                                            http_far,     bad_alg,       big_leeway,
                                            zero_timeout, feed_no_token, feed_stale};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(try_new(bad[i], &e) == IDPD_VERIFY_INVALID_REQUEST);
        CHECK(!strcmp(e.error, "invalid_request") && e.reason[0]);
    }
    CHECK(idpd_verify_new(NULL, NULL, &e) == IDPD_VERIFY_INVALID_REQUEST);

    /* a tick-driven verifier over the file */
    idpd_verify_options o;
    idpd_verify_options_init(&o);
    CHECK(o.leeway_s == 60 && o.cache_size == 10000 && o.jwks_kid_miss_cooldown_ms == 30000 &&
          o.feed_interval_ms == 2000 && o.feed_stale_ms == 30000 && !o.typ && !o.feed_url);
    o.issuer = argv[1];
    o.audiences = aud;
    o.naudiences = 1;
    o.jwks_file = argv[3];
    idpd_verify *v = NULL;
    CHECK(idpd_verify_new(&o, &v, &e) == IDPD_VERIFY_OK);
    if (!v) return 1;
    idpd_verify_stats st;
    idpd_verify_stats_get(v, &st);
    CHECK(!strcmp(st.jwks_state, "unfetched") && st.jwks_fetches == 0);
    CHECK(!strcmp(st.feed_state, "off"));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    CHECK(idpd_verify_next_deadline(v) >= now - 1000 && idpd_verify_next_deadline(v) <= now + 1000);
    int64_t ms = idpd_verify_tick(v);
    CHECK(ms > 200000 && ms <= 300000); /* refresh 300 s without max-age */
    CHECK(idpd_verify_next_deadline(v) > now + 200000);
    idpd_verify_stats_get(v, &st);
    CHECK(!strcmp(st.jwks_state, "ok") && st.jwks_fetches == 1 && st.jwks_keys == 1);
    CHECK(idpd_verify_tick(v) > 200000); /* nothing due: no fetch */
    idpd_verify_stats_get(v, &st);
    CHECK(st.jwks_fetches == 1);

    /* malformed calls */
    idpd_verify_claims *c = NULL;
    CHECK(idpd_verify_token(v, good, 0, &c, &e) == IDPD_VERIFY_INVALID_REQUEST && !c);
    CHECK(idpd_verify_token(v, NULL, 5, &c, &e) == IDPD_VERIFY_INVALID_REQUEST);
    CHECK(idpd_verify_token(v, good, strlen(good), NULL, &e) == IDPD_VERIFY_INVALID_REQUEST);
    CHECK(idpd_verify_token(NULL, good, strlen(good), &c, &e) == IDPD_VERIFY_INVALID_REQUEST);
    static char huge[20000];
    memset(huge, 'a', sizeof huge - 1);
    CHECK(idpd_verify_token(v, huge, strlen(huge), &c, &e) == IDPD_VERIFY_INVALID_TOKEN);
    CHECK(!strcmp(e.reason, "token too large"));
    CHECK(idpd_verify_token(v, foreign, strlen(foreign), &c, &e) == IDPD_VERIFY_INVALID_TOKEN);
    CHECK(strstr(e.reason, "no usable key") != NULL);
    CHECK(idpd_verify_token(v, good, strlen(good), &c, NULL) == IDPD_VERIFY_OK); /* err NULL ok */
    idpd_verify_claims_free(c);

    /* getters */
    c = NULL;
    CHECK(idpd_verify_token(v, good, strlen(good), &c, &e) == IDPD_VERIFY_OK);
    CHECK(e.code == IDPD_VERIFY_OK && !strcmp(e.error, ""));
    CHECK(c && !strcmp(idpd_verify_claims_string(c, "sub"), "user-1"));
    CHECK(!idpd_verify_claims_string(c, "big") && !idpd_verify_claims_string(c, "nope"));
    size_t n = 99;
    char **l = idpd_verify_claims_strings(c, "scope", &n);
    CHECK(l && n == 3 && !strcmp(l[0], "a") && !strcmp(l[1], "b") && !strcmp(l[2], "c") && !l[3]);
    idpd_verify_strings_free(l);
    l = idpd_verify_claims_strings(c, "aud", &n);
    CHECK(l && n == 2 && in(l, n, argv[2]) && in(l, n, "other"));
    idpd_verify_strings_free(l);
    l = idpd_verify_claims_strings(c, "sub", &n);
    CHECK(l && n == 1 && !strcmp(l[0], "user-1"));
    idpd_verify_strings_free(l);
    l = idpd_verify_claims_strings(c, "mixed", &n);
    CHECK(!l && n == 0);
    CHECK(!idpd_verify_claims_strings(c, "big", NULL));
    double d = 0;
    int64_t i = 0;
    CHECK(idpd_verify_claims_number(c, "n", &d) && d == 2.5);
    CHECK(idpd_verify_claims_number(c, "big", &d) && d == 42);
    CHECK(!idpd_verify_claims_number(c, "sub", &d));
    CHECK(idpd_verify_claims_int(c, "big", &i) && i == 42);
    CHECK(!idpd_verify_claims_int(c, "n", &i));
    CHECK(idpd_verify_claims_int(c, "exp", &i) && i > now / 1000);
    CHECK(idpd_verify_claims_bool(c, "flag") && !idpd_verify_claims_bool(c, "big"));
    char *json = idpd_verify_claims_json(c);
    CHECK(json && json[0] == '{' && strstr(json, "\"sub\":\"user-1\""));
    free(json);
    idpd_verify_claims_free(c);
    idpd_verify_stats_get(v, &st);
    CHECK(st.cache_entries == 1 && st.cache_hits >= 1);

    /* a token without kid verifies (the only key) but is never cached */
    uint64_t hits = st.cache_hits;
    for (int k = 0; k < 2; k++) {
        c = NULL;
        CHECK(idpd_verify_token(v, nokid, strlen(nokid), &c, &e) == IDPD_VERIFY_OK);
        idpd_verify_claims_free(c);
    }
    idpd_verify_stats_get(v, &st);
    CHECK(st.cache_entries == 1 && st.cache_hits == hits);
    race rc = {.v = v, .good = good, .nokid = nokid, .foreign = foreign};
    pthread_t th[6];
    for (int k = 0; k < 6; k++)
        CHECK(pthread_create(&th[k], NULL, racer, &rc) == 0);
    for (int k = 0; k < 6; k++)
        pthread_join(th[k], NULL);
    CHECK(atomic_load(&rc.bad) == 0);
    idpd_verify_stats_get(v, &st);
    CHECK(st.cache_entries == 1 && st.cache_hits >= hits + 6 * 133);
    /* RFC 9068 §2.2's claims are required unless exp_only */
    CHECK(idpd_verify_token(v, minimal, strlen(minimal), &c, &e) == IDPD_VERIFY_INVALID_TOKEN);
    CHECK(!strncmp(e.reason, "missing or malformed claim", 26));
    idpd_verify_free(v);
    o.exp_only = true;
    CHECK(idpd_verify_new(&o, &v, &e) == IDPD_VERIFY_OK);
    c = NULL;
    CHECK(idpd_verify_token(v, minimal, strlen(minimal), &c, &e) == IDPD_VERIFY_OK);
    CHECK(c && !idpd_verify_claims_string(c, "sub"));
    idpd_verify_claims_free(c);
    idpd_verify_free(v);

    /* typ "" is not checked; a wrong audience list */
    idpd_verify_options_init(&o);
    o.issuer = argv[1];
    const char *other[] = {"https://nobody.example"};
    o.audiences = other;
    o.naudiences = 1;
    o.jwks_file = argv[3];
    CHECK(idpd_verify_new(&o, &v, &e) == IDPD_VERIFY_OK);
    CHECK(idpd_verify_token(v, good, strlen(good), &c, &e) == IDPD_VERIFY_INVALID_TOKEN);
    CHECK(!strncmp(e.reason, "audience mismatch", 17) && !strcmp(e.error, "invalid_token"));
    idpd_verify_stats_get(v, &st); /* no tick, no thread: the first use fetched inline */
    CHECK(st.jwks_fetches == 1 && !strcmp(st.jwks_state, "ok"));
    idpd_verify_free(v);
    idpd_verify_free(NULL);
    idpd_verify_stop(NULL);
    idpd_verify_claims_free(NULL);
    idpd_verify_strings_free(NULL);
    if (!failed) printf("all checks passed\n");
    return failed;
}
