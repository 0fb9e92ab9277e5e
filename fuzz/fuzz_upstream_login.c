/* Fuzz target: the parsers of upstream sign-in (proto/upstream_login.c). The input is (1) a token
 * endpoint response body for upstream_login_token_response, (2) split at NUL bytes into the callback's
 * state, code, error and iss for upstream_login_callback_parse, (3) a pending-sign-in cookie for
 * upstream_login_pending_open, and (4) sealed under the test master key as if it were a decrypted
 * pending sign-in, so the JSON reading behind the GCM tag is exercised too. */
#include "core/b64url.h"
#include "keys/kek.h"
#include "proto/upstream_login.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kek *k;

static void check_pending(const upstream_pending *p)
{
    if (!p->name || strcmp(p->name, "partner") || !p->state || !p->nonce || !p->verifier ||
        !p->request || p->expires_at <= 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) return 0;
    if (!k) {
        setenv("IDPD_MASTER_KEY", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", 1);
        if (kek_load("/nonexistent", &k, NULL) != IDP_OK) abort();
    }
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    /* (1) */
    char *tok = NULL;
    idp_error e = {0};
    idp_err rc = upstream_login_token_response(s, size, &tok, &e);
    if (rc == IDP_OK && (!tok || !*tok || strlen(tok) > UPSTREAM_ID_TOKEN_MAX)) abort();
    if (rc != IDP_OK && (tok || !e.msg[0])) abort();
    free(tok);
    /* (2) */
    const char *part[4] = {0};
    for (size_t i = 0, n = 0; i <= size && n < 4; n++) {
        part[n] = s + i;
        i += strlen(s + i) + 1;
    }
    upstream_callback cb;
    if (upstream_login_callback_parse(part[0], part[1], part[2], part[3], &cb, NULL) == IDP_OK) {
        if (!cb.state || (!cb.code && !cb.error) || (cb.code && cb.error)) abort();
        if (strlen(cb.state) > UPSTREAM_STATE_MAX) abort();
    }
    /* (3) */
    upstream_pending p;
    if (upstream_login_pending_open(k, "partner", s, 1, &p, NULL) == IDP_OK) check_pending(&p);
    upstream_login_pending_clear(&p);
    /* (4) */
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    if (kek_seal(k, UPSTREAM_PENDING_AAD " partner", data, size, &ct, &ctlen, NULL) == IDP_OK) {
        char *enc = b64url_encode(ct, ctlen);
        if (upstream_login_pending_open(k, "partner", enc, 1, &p, NULL) == IDP_OK) {
            check_pending(&p);
            char *again = NULL;
            if (upstream_login_pending_seal(k, &p, &again, NULL) == IDP_OK) {
                upstream_pending q;
                if (upstream_login_pending_open(k, "partner", again, 1, &q, NULL) != IDP_OK) abort();
                if (strcmp(q.state, p.state) || strcmp(q.request, p.request)) abort();
                upstream_login_pending_clear(&q);
                free(again);
            }
        }
        upstream_login_pending_clear(&p);
        free(enc);
        free(ct);
    }
    free(s);
    return 0;
}
