#include "handle/oauth/backchannel.h"

#include "core/jsonx.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "fetch/fetch.h"
#include "handle/app.h"
#include "jose/jws.h"
#include "keys/keyset.h"
#include "oauth/client_cache.h"
#include "proto/redirect_uri.h"
#include "proto/token_claims.h"
#include "handle/oauth/user_tokens.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

char *backchannel_claims(const char *issuer, const char *client_id, const char *sub,
                         const char *sid, int64_t now)
{
    char jti[23];
    token_claims_new_jti(jti);
    json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:{s:{}}}", "iss", issuer, "aud",
                          client_id, "iat", (json_int_t)now, "exp",
                          (json_int_t)(now + BACKCHANNEL_TOKEN_TTL), "jti", jti, "sub", sub,
                          "events", "http://schemas.openid.net/event/backchannel-logout");
    if (!c) return NULL;
    if (sid) json_object_set_new(c, "sid", json_string(sid));
    char *s = jsonx_dump(c);
    json_decref(c);
    return s;
}

typedef struct bc_job {
    size_t n;
    char **uris;
    char **bodies; /* "logout_token=..." */
    char **clients;
} bc_job;

/* Frees the job's entries from i on, then the job. */
static void job_free(bc_job *j, size_t i)
{
    for (; i < j->n; i++) {
        mem_free_secret(j->bodies[i]);
        free(j->uris[i]);
        free(j->clients[i]);
    }
    free(j->uris);
    free(j->bodies);
    free(j->clients);
    free(j);
}

static void *bc_main(void *arg)
{
    /* §2.5: no redirects. http:// too: client_reg decides which URIs may be registered. */
    static const fetch_opts o = {.timeout_ms = BACKCHANNEL_TIMEOUT_S * 1000L, .allow_http = true};
    bc_job *j = arg;
    for (size_t i = 0; i < j->n; i++) {
        fetch_resp r;
        idp_error e = {0};
        idp_err rc = fetch_post_form(j->uris[i], j->bodies[i], &o, NULL, &r, &e);
        if (rc || r.status < 200 || r.status > 299)
            log_msg(LOG_WARN, "back-channel logout to client %s failed: %s (HTTP %ld)",
                    j->clients[i], rc ? e.msg : "status", r.status);
        else
            log_msg(LOG_INFO, "back-channel logout sent to client %s", j->clients[i]);
    }
    job_free(j, 0);
    return NULL;
}

void backchannel_notify(struct app *a, const http_request *rq, const store_session *s)
{
    if (!s->clients || !rq->keys) return;
    bc_job *j = xcalloc(1, sizeof *j);
    size_t cap = 8;
    j->uris = xcalloc(cap, sizeof *j->uris);
    j->bodies = xcalloc(cap, sizeof *j->bodies);
    j->clients = xcalloc(cap, sizeof *j->clients);
    int64_t now = time_now();
    jws_alg alg = (jws_alg)user_tokens_id_alg(a);
    for (const char *p = s->clients; *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (!n) break;
        const client_entry *ce = client_cache_find(rq->clients, p, n);
        p += n;
        if (!ce || !ce->backchannel_logout_uri) continue;
        char *claims = backchannel_claims(a->cfg->issuer, ce->client_id, s->user_id, s->sid, now);
        idp_buf tok, body;
        buf_init(&tok, JWS_MAX_LEN);
        buf_init(&body, 0);
        if (claims && keyset_sign(rq->keys, alg, "logout+jwt", claims, strlen(claims), &tok, NULL) == IDP_OK &&
            buf_puts(&body, "logout_token=") == 0 && redirect_uri_form_encode(&body, buf_cstr(&tok)) == 0) {
            if (j->n == cap) {
                cap *= 2;
                j->uris = xrealloc(j->uris, cap * sizeof *j->uris);
                j->bodies = xrealloc(j->bodies, cap * sizeof *j->bodies);
                j->clients = xrealloc(j->clients, cap * sizeof *j->clients);
            }
            j->uris[j->n] = xstrdup(ce->backchannel_logout_uri);
            j->clients[j->n] = xstrdup(ce->client_id);
            j->bodies[j->n++] = buf_steal(&body);
        }
        free(claims);
        buf_free(&tok);
        buf_free_secret(&body);
    }
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (j->n == 0 || pthread_create(&t, &at, bc_main, j) != 0) job_free(j, 0);
    pthread_attr_destroy(&at);
}
