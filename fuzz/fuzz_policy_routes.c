/* Fuzz target for the routes: section of the policy (src/policy/policy_routes.c). The input is
 * a policy document, optionally followed by a line "#req" and request lines "METHOD HOST URI".
 * The document must load or fail cleanly; when it loads, every request line (and the whole
 * input as a raw URI and Host) goes through normalisation, matching, explain and diff. Checks
 * the invariants: a normalised path starts with '/', holds no "//" and fits its bound; a match
 * covers the path and method; a policy diffs empty against itself. No leaks, no UB, no abort. */
#include "policy/policy_routes.h"
#include "policy/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SEP[] = "\n#req\n";

static void one(const policy *p, const char *m, size_t ml, const char *h, size_t hl,
                const char *u, size_t ul)
{
    char path[POLICY_ROUTE_MAX_PATH + 1], host[POLICY_ROUTE_MAX_HOST + 1];
    unsigned mb = policy_route_method(m, ml);
    bool hok = policy_route_host(h, hl, host);
    if (hok && (strlen(host) == 0 || strlen(host) > POLICY_ROUTE_MAX_HOST)) abort();
    if (policy_route_path(u, ul, path)) return;
    size_t pl = strlen(path);
    if (path[0] != '/' || pl > POLICY_ROUTE_MAX_PATH || strstr(path, "//")) abort();
    if (!p || !mb) return;
    const policy_route *r = policy_route_match(p, mb, hok ? host : NULL, path);
    if (r) {
        if (!(r->methods & mb)) abort();
        if (r->pathlen > 1 && (strncmp(path, r->path, r->pathlen) ||
                               (path[r->pathlen] && path[r->pathlen] != '/')))
            abort();
        if (r->host && (!hok || strcmp(r->host, host))) abort();
        /* the request's host and path as hostile claims: no crash, a public rule always met */
        json_t *c = json_pack("{s:s%, s:[s%], s:[s]}", "scope", h, hl, "aud", u, ul,
                              "idpd_roles", path);
        char what = 0;
        const char *why = policy_route_check(p, r, c, &what);
        if (r->is_public && why) abort();
        if (why && !what) abort();
        json_decref(c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t ylen = size;
    const char *rq = NULL;
    size_t rlen = 0;
    for (size_t i = 0; i + sizeof SEP - 1 <= size; i++)
        if (!memcmp(text + i, SEP, sizeof SEP - 1)) {
            ylen = i + 1;
            rq = text + i + sizeof SEP - 1;
            rlen = size - i - (sizeof SEP - 1);
            break;
        }
    one(NULL, "GET", 3, text, size, text, size); /* the raw input as URI and Host */
    policy *p = NULL;
    policy_diags d = {0};
    idp_error e = {0};
    idp_err rc = policy_load(text, ylen, NULL, &p, &d, &e);
    if (rc != IDP_OK) {
        if (p || d.n == 0) abort();
        policy_diags_free(&d);
        return 0;
    }
    for (size_t i = 0; i < policy_route_count(p); i++) {
        const policy_route *r = policy_route_at(p, i);
        if (!r || r->index != i || !r->path || r->path[0] != '/') abort();
    }
    while (rq && rlen) {
        const char *nl = memchr(rq, '\n', rlen);
        size_t ll = nl ? (size_t)(nl - rq) : rlen;
        const char *sp1 = memchr(rq, ' ', ll);
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - rq)) : NULL;
        if (sp2) {
            one(p, rq, (size_t)(sp1 - rq), sp1 + 1, (size_t)(sp2 - sp1 - 1), sp2 + 1,
                ll - (size_t)(sp2 + 1 - rq));
            char m[40], u[512];
            size_t ml = (size_t)(sp1 - rq), ul = ll - (size_t)(sp2 + 1 - rq);
            if (ml < sizeof m && ul < sizeof u) {
                memcpy(m, rq, ml);
                m[ml] = '\0';
                memcpy(u, sp2 + 1, ul);
                u[ul] = '\0';
                json_t *x = NULL;
                if (policy_route_explain(p, m, u, NULL, &x, NULL) == IDP_OK && !x) abort();
                json_decref(x);
            }
        }
        if (!nl) break;
        rlen -= ll + 1;
        rq = nl + 1;
    }
    idp_buf df;
    buf_init(&df, 0);
    (void)policy_diff(p, p, &df, NULL);
    if (df.len) abort();
    buf_free(&df);
    policy_free(p);
    policy_diags_free(&d);
    return 0;
}
