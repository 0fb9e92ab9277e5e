/* Fuzz target for the policy loader (src/policy): any byte string, loaded as the base document
 * and as each of two environment names, must load or fail cleanly with diagnostics, without
 * leaks or undefined behaviour. A loaded policy is exercised: evaluate, claims, explain, diff. */
#include "policy/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every diagnostic is a terminated string; a failed load has at least one and no policy. */
static void check_failure(const policy *p, const policy_diags *d, const idp_error *e)
{
    if (p || d->n == 0 || d->n > POLICY_MAX_DIAGS + 1) abort();
    for (size_t i = 0; i < d->n; i++) {
        if (!memchr(d->items[i].msg, '\0', sizeof d->items[i].msg)) abort();
        if (d->items[i].line < 0) abort();
    }
    if (!memchr(e->msg, '\0', sizeof e->msg)) abort();
}

static void exercise(const policy *p, const policy *base)
{
    static const char *const groups[] = {"Sales", "ops", "Developers"};
    policy_subject users = {.user_name = "alice@example.com", .groups = groups, .ngroups = 3};
    policy_subject client = {.client_id = "svc-billing"};
    const policy_subject *subjects[] = {&users, &client};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < policy_scope_count(p) && i < 8; i++) {
            const char *sc = policy_scope_name(p, i);
            policy_grant g = {0};
            idp_buf b;
            buf_init(&b, 0);
            if (policy_evaluate(p, subjects[k], sc, NULL, &g, NULL) == IDP_OK) {
                (void)policy_claims_json(p, &g, &b, NULL);
                (void)policy_grant_scope(&g, &b, NULL);
            }
            policy_grant_clear(&g);
            buf_free(&b);
            json_t *x = NULL;
            if (policy_explain(p, subjects[k], sc, "https://api.example.com/orders", &x, NULL) ==
                IDP_OK)
                json_decref(x);
            (void)policy_scope_description(p, sc);
        }
    }
    idp_buf d;
    buf_init(&d, 0);
    (void)policy_diff(base, p, &d, NULL);
    (void)policy_diff(p, base, &d, NULL);
    buf_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const envs[] = {NULL, "staging", "prod"};
    policy *base = NULL;
    for (size_t k = 0; k < 3; k++) {
        policy *p = NULL;
        policy_diags d = {0};
        idp_error e = {0};
        idp_err rc = policy_load((const char *)data, size, envs[k], &p, &d, &e);
        if (rc != IDP_OK) {
            check_failure(p, &d, &e);
        } else {
            if (d.n) abort();
            if (!base) {
                base = p;
                p = NULL;
            }
            exercise(p ? p : base, base);
        }
        policy_free(p);
        policy_diags_free(&d);
    }
    policy_free(base);
    return 0;
}
