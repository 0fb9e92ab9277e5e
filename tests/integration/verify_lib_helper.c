/* verify_lib_helper — a long-lived resource server for tests/integration/verify_lib.test.mjs,
 * built against the *installed* libidpd-verify (pkg-config). One verifier with its background
 * thread; the JWKS from jwks_uri, the revocation feed when FEED_URL is given (the provisioning
 * key in the IDPD_FEED_TOKEN environment variable, never on the command line; IDPD_FEED_INTERVAL_MS
 * and IDPD_FEED_STALE_MS override the feed's timings).
 *   verify_lib_helper ISSUER AUDIENCE JWKS_URI [FEED_URL]
 * Reads commands from stdin, one per line, answers one JSON line each:
 *   v TOKEN      verify once: {"code":N,"error":"..","reason":"..","sub":"..","hits":H,"fetches":F}
 *   u TOKEN MS   verify every 20 ms until refused or MS passed: the same plus "ms" (elapsed)
 *   s            stats:        {"feed":"..","applied":N,"cursor":"..","jwks":"..","fetches":F} */
#define _POSIX_C_SOURCE 200809L
#include <idpd/verify.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void answer(idpd_verify *v, idpd_verify_code rc, const idpd_verify_error *e,
                   idpd_verify_claims *c, long long ms)
{
    idpd_verify_stats st;
    idpd_verify_stats_get(v, &st);
    const char *sub = c ? idpd_verify_claims_string(c, "sub") : NULL;
    /* reasons and subs in these tests hold no quote or backslash */
    printf("{\"code\":%d,\"error\":\"%s\",\"reason\":\"%s\",\"sub\":\"%s\",\"hits\":%llu,"
           "\"fetches\":%llu,\"ms\":%lld}\n",
           (int)rc, e->error, e->reason, sub ? sub : "", (unsigned long long)st.cache_hits,
           (unsigned long long)st.jwks_fetches, ms);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) return 2;
    const char *aud[] = {argv[2]};
    idpd_verify_options o;
    idpd_verify_options_init(&o);
    o.issuer = argv[1];
    o.audiences = aud;
    o.naudiences = 1;
    o.jwks_uri = argv[3];
    o.allow_http_loopback = true;
    o.jwks_kid_miss_cooldown_ms = 500;
    o.feed_url = argc == 5 ? argv[4] : NULL;
    o.feed_token = getenv("IDPD_FEED_TOKEN");
    if (getenv("IDPD_FEED_INTERVAL_MS"))
        o.feed_interval_ms = atoll(getenv("IDPD_FEED_INTERVAL_MS"));
    if (getenv("IDPD_FEED_STALE_MS")) o.feed_stale_ms = atoll(getenv("IDPD_FEED_STALE_MS"));
    idpd_verify *v = NULL;
    idpd_verify_error e;
    if (idpd_verify_new(&o, &v, &e) != IDPD_VERIFY_OK || idpd_verify_start(v, &e)) {
        printf("{\"code\":%d,\"error\":\"%s\",\"reason\":\"%s\"}\n", (int)e.code, e.error,
               e.reason);
        idpd_verify_free(v);
        return 1;
    }
    static char line[20000];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tok = line + 2, *sp;
        if (line[0] == 's') {
            idpd_verify_stats st;
            idpd_verify_stats_get(v, &st);
            printf("{\"feed\":\"%s\",\"applied\":%llu,\"cursor\":\"%s\",\"jwks\":\"%s\","
                   "\"fetches\":%llu}\n",
                   st.feed_state, (unsigned long long)st.feed_events_applied, st.feed_cursor,
                   st.jwks_state, (unsigned long long)st.jwks_fetches);
            fflush(stdout);
        } else if (line[0] == 'v' || line[0] == 'u') {
            long long limit = 0, t0 = now_ms();
            if (line[0] == 'u' && (sp = strchr(tok, ' '))) {
                *sp = '\0';
                limit = atoll(sp + 1);
            }
            idpd_verify_claims *c = NULL;
            idpd_verify_code rc;
            for (;;) {
                rc = idpd_verify_token(v, tok, strlen(tok), &c, &e);
                if (rc != IDPD_VERIFY_OK || now_ms() - t0 >= limit) break;
                idpd_verify_claims_free(c);
                c = NULL;
                nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
            }
            answer(v, rc, &e, c, now_ms() - t0);
            idpd_verify_claims_free(c);
        }
    }
    idpd_verify_free(v);
    return 0;
}
