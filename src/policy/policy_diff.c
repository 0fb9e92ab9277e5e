/* policy_diff — what changes between two compiled policies (`idpd policy diff A B`), as text
 * lines: declarations first (namespace, budget, permissions, roles, bindings, scopes,
 * resources, federation issuers and their bindings), then the effective access each binding
 * (issuer bindings last) gains or loses. Every section walks two
 * name-sorted arrays side by side. Format in docs/POLICY.md "Diff". */
#include "policy/internal.h"
#include "policy/policy_routes.h"

#include "core/mem.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct dctx {
    const policy *a, *b;
    idp_buf *out;
    int fail; /* an append hit the buffer's cap */
    int kind; /* binding kind the binding walks are on */
    const pol_fed *fa, *fb; /* the issuer the issuer-binding walks are on (NULL: absent) */
} dctx;

static void put(dctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(dctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(c->out, fmt, ap) != 0) c->fail = 1;
    va_end(ap);
}

/* A name as written, or double-quoted when it holds a space, quote, bracket or is empty. */
static void put_name(dctx *c, const char *s)
{
    if (*s && !strpbrk(s, " \"[]\\")) {
        put(c, "%s", s);
        return;
    }
    put(c, "\"");
    for (; *s; s++)
        put(c, "%s%c", (*s == '"' || *s == '\\') ? "\\" : "", *s);
    put(c, "\"");
}

/* "[a b c]" of the names of indices idx[0..n) in a name-first struct array. */
static void put_list(dctx *c, const uint32_t *idx, size_t n, const void *base, size_t size)
{
    put(c, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) put(c, " ");
        put_name(c, *(char *const *)(const void *)((const char *)base + idx[i] * size));
    }
    put(c, "]");
}

static bool same_list(const uint32_t *x, size_t nx, const void *bx, const uint32_t *y, size_t ny,
                      const void *by, size_t size)
{
    if (nx != ny) return false;
    for (size_t i = 0; i < nx; i++)
        if (strcmp(*(char *const *)(const void *)((const char *)bx + x[i] * size),
                   *(char *const *)(const void *)((const char *)by + y[i] * size)))
            return false;
    return true;
}

static bool same_str(const char *x, const char *y)
{
    return (!x && !y) || (x && y && !strcmp(x, y));
}

static void put_desc(dctx *c, const char *d)
{
    if (d)
        put_name(c, d);
    else
        put(c, "(none)");
}

/* "~ KIND NAME description: OLD -> NEW" */
static void put_desc_change(dctx *c, const char *kind, const char *name, const char *old,
                            const char *now)
{
    put(c, "~ %s ", kind);
    put_name(c, name);
    put(c, " description: ");
    put_desc(c, old);
    put(c, " -> ");
    put_desc(c, now);
    put(c, "\n");
}

/* Merge-walk: calls step(c, i, j) with i or j = -1 for entries only in b or only in a. Both
 * arrays are sorted by the char* at key_off. */
typedef void (*step_fn)(dctx *c, long i, long j);
static void walk(dctx *c, const void *xa, size_t na, const void *xb, size_t nb, size_t size,
                 size_t key_off, step_fn step)
{
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int cmp;
        if (i == na)
            cmp = 1;
        else if (j == nb)
            cmp = -1;
        else
            cmp = strcmp(*(char *const *)(const void *)((const char *)xa + i * size + key_off),
                         *(char *const *)(const void *)((const char *)xb + j * size + key_off));
        if (cmp < 0)
            step(c, (long)i++, -1);
        else if (cmp > 0)
            step(c, -1, (long)j++);
        else
            step(c, (long)i++, (long)j++);
    }
}

static void step_perm(dctx *c, long i, long j)
{
    const pol_perm *x = i >= 0 ? &c->a->perms[i] : NULL, *y = j >= 0 ? &c->b->perms[j] : NULL;
    if (!y) {
        put(c, "- permission ");
        put_name(c, x->name);
        put(c, "\n");
    } else if (!x) {
        put(c, "+ permission ");
        put_name(c, y->name);
        put(c, " ");
        put_desc(c, y->desc);
        put(c, "\n");
    } else if (!same_str(x->desc, y->desc)) {
        put_desc_change(c, "permission", y->name, x->desc, y->desc);
    }
}

static void step_role(dctx *c, long i, long j)
{
    const policy *a = c->a, *b = c->b;
    const pol_role *x = i >= 0 ? &a->roles[i] : NULL, *y = j >= 0 ? &b->roles[j] : NULL;
    if (!y) {
        put(c, "- role ");
        put_name(c, x->name);
        put(c, "\n");
        return;
    }
    if (!x) {
        put(c, "+ role ");
        put_name(c, y->name);
        put(c, " permissions: ");
        put_list(c, y->perms, y->nperms, b->perms, sizeof *b->perms);
        put(c, " includes: ");
        put_list(c, y->incl, y->nincl, b->roles, sizeof *b->roles);
        put(c, "\n");
        return;
    }
    if (!same_list(x->perms, x->nperms, a->perms, y->perms, y->nperms, b->perms,
                   sizeof *a->perms)) {
        put(c, "~ role ");
        put_name(c, y->name);
        put(c, " permissions: ");
        put_list(c, x->perms, x->nperms, a->perms, sizeof *a->perms);
        put(c, " -> ");
        put_list(c, y->perms, y->nperms, b->perms, sizeof *b->perms);
        put(c, "\n");
    }
    if (!same_list(x->incl, x->nincl, a->roles, y->incl, y->nincl, b->roles, sizeof *a->roles)) {
        put(c, "~ role ");
        put_name(c, y->name);
        put(c, " includes: ");
        put_list(c, x->incl, x->nincl, a->roles, sizeof *a->roles);
        put(c, " -> ");
        put_list(c, y->incl, y->nincl, b->roles, sizeof *b->roles);
        put(c, "\n");
    }
    if (!same_str(x->desc, y->desc)) {
        put_desc_change(c, "role", y->name, x->desc, y->desc);
    }
}

static void put_bind_roles(dctx *c, char sign, const pol_bind *e, const policy *p,
                           const pol_bind *other, const policy *po)
{
    for (size_t k = 0; k < e->nroles; k++) {
        const char *rn = p->roles[e->roles[k]].name;
        bool in_other = false;
        for (size_t m = 0; other && m < other->nroles && !in_other; m++)
            in_other = !strcmp(po->roles[other->roles[m]].name, rn);
        if (in_other) continue;
        put(c, "%c binding %s ", sign, policy_bind_kind[c->kind]);
        put_name(c, e->name);
        put(c, " -> ");
        put_name(c, rn);
        put(c, "\n");
    }
    if (!e->nroles && !other) {
        put(c, "%c binding %s ", sign, policy_bind_kind[c->kind]);
        put_name(c, e->name);
        put(c, " -> []\n");
    }
}

static void step_bind(dctx *c, long i, long j)
{
    const pol_bind *x = i >= 0 ? &c->a->binds[c->kind][i] : NULL;
    const pol_bind *y = j >= 0 ? &c->b->binds[c->kind][j] : NULL;
    if (x) put_bind_roles(c, '-', x, c->a, y, c->b);
    if (y) put_bind_roles(c, '+', y, c->b, x, c->a);
}

/* The claims a scope releases, in a canonical order: standard (OIDC order), roles, permissions,
 * groups. */
static void put_claims(dctx *c, const pol_scope *s)
{
    put(c, "[");
    bool first = true;
    for (size_t k = 0; k < policy_nstd_claims; k++)
        if ((s->std >> k) & 1u) {
            put(c, "%s%s", first ? "" : " ", policy_std_claims[k]);
            first = false;
        }
    if (s->rel_roles) put(c, "%sroles", first ? "" : " "), first = false;
    if (s->rel_perms) put(c, "%spermissions", first ? "" : " "), first = false;
    if (s->rel_groups) put(c, "%sgroups", first ? "" : " ");
    put(c, "]");
}

static void step_scope(dctx *c, long i, long j)
{
    const policy *a = c->a, *b = c->b;
    const pol_scope *x = i >= 0 ? &a->scopes[i] : NULL, *y = j >= 0 ? &b->scopes[j] : NULL;
    if (!y || !x) {
        put(c, "%c scope ", y ? '+' : '-');
        put_name(c, y ? y->name : x->name);
        if (y) {
            put(c, " requires: ");
            put_list(c, y->req, y->nreq, b->perms, sizeof *b->perms);
            put(c, " claims: ");
            put_claims(c, y);
        }
        put(c, "\n");
        return;
    }
    if (!same_list(x->req, x->nreq, a->perms, y->req, y->nreq, b->perms, sizeof *a->perms)) {
        put(c, "~ scope ");
        put_name(c, y->name);
        put(c, " requires: ");
        put_list(c, x->req, x->nreq, a->perms, sizeof *a->perms);
        put(c, " -> ");
        put_list(c, y->req, y->nreq, b->perms, sizeof *b->perms);
        put(c, "\n");
    }
    if (x->std != y->std || x->rel_roles != y->rel_roles || x->rel_perms != y->rel_perms ||
        x->rel_groups != y->rel_groups) {
        put(c, "~ scope ");
        put_name(c, y->name);
        put(c, " claims: ");
        put_claims(c, x);
        put(c, " -> ");
        put_claims(c, y);
        put(c, "\n");
    }
    if (!same_str(x->desc, y->desc)) {
        put_desc_change(c, "scope", y->name, x->desc, y->desc);
    }
}

static void step_res(dctx *c, long i, long j)
{
    const policy *a = c->a, *b = c->b;
    const pol_res *x = i >= 0 ? &a->res[i] : NULL, *y = j >= 0 ? &b->res[j] : NULL;
    if (!y || !x) {
        put(c, "%c resource ", y ? '+' : '-');
        put_name(c, y ? y->name : x->name);
        if (y) {
            put(c, " scopes: ");
            put_list(c, y->scopes, y->nscopes, b->scopes, sizeof *b->scopes);
        }
        put(c, "\n");
    } else if (!same_list(x->scopes, x->nscopes, a->scopes, y->scopes, y->nscopes, b->scopes,
                          sizeof *a->scopes)) {
        put(c, "~ resource ");
        put_name(c, y->name);
        put(c, " scopes: ");
        put_list(c, x->scopes, x->nscopes, a->scopes, sizeof *a->scopes);
        put(c, " -> ");
        put_list(c, y->scopes, y->nscopes, b->scopes, sizeof *b->scopes);
        put(c, "\n");
    }
}

/* ---- federation ---------------------------------------------------------------------- */

static void sbuf_list(idp_buf *b, const char *const *v, size_t n)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < n; i++)
        buf_printf(b, "%s%s", i ? " " : "", v[i]);
    buf_putc(b, ']');
}

enum {
    FF_ISSUER, FF_JWKS_URI, FF_LOOPBACK, FF_ALGS, FF_AUD, FF_SUBJECT, FF_TYP, FF_SKEW, FF_REQUIRE,
    FF_CLAIMS, FF_PROVISION, FF_LINK_BY, FF_JWT_BEARER, FF_TOKEN_EXCHANGE, FF_LOGIN, FF_JWKS,
    FF_COUNT
};
static const char *const ff_name[FF_COUNT] = {
    "issuer", "jwks_uri", "allow_http_loopback", "algorithms", "audiences", "subject_claim",
    "typ", "clock_skew", "require", "claims", "provision", "link_by", "jwt_bearer",
    "token_exchange", "login", "jwks"};

/* A canonical text of one setting of an issuer (two issuers differ in it iff the texts do). */
static void fed_field(const fed_issuer *is, int f, idp_buf *b)
{
    char algs[64];
    switch (f) {
    case FF_ISSUER: buf_puts(b, is->issuer); break;
    case FF_JWKS_URI: buf_puts(b, is->jwks_uri ? is->jwks_uri : "(discovery)"); break;
    case FF_LOOPBACK: buf_puts(b, is->allow_http_loopback ? "true" : "false"); break;
    case FF_ALGS: buf_printf(b, "[%s]", policy_fed_algs_str(is->algorithms, algs)); break;
    case FF_AUD: sbuf_list(b, is->audiences, is->naudiences); break;
    case FF_SUBJECT: buf_puts(b, is->subject_claim); break;
    case FF_TYP: buf_puts(b, is->typ ? is->typ : "(any)"); break;
    case FF_SKEW: buf_printf(b, "%llds", (long long)is->clock_skew_s); break;
    case FF_REQUIRE: {
        char *t = is->require && json_object_size(is->require)
                      ? json_dumps(is->require, JSON_SORT_KEYS | JSON_COMPACT)
                      : NULL;
        buf_puts(b, t ? t : "{}");
        free(t);
        break;
    }
    case FF_CLAIMS:
        buf_putc(b, '{');
        for (size_t i = 0; i < is->nclaims; i++) {
            const fed_claim_rule *r = &is->claims[i];
            buf_printf(b, "%s%s: from %s", i ? ", " : "", r->name, r->from ? r->from : "?");
            if (r->only_if) buf_printf(b, " only_if %s", r->only_if);
            if (r->nmap) {
                buf_puts(b, " map {");
                for (size_t k = 0; k < r->nmap; k++)
                    buf_printf(b, "%s%s: %s", k ? ", " : "", r->map_from[k], r->map_to[k]);
                buf_putc(b, '}');
            }
            if (r->drop_unmapped) buf_puts(b, " drop_unmapped");
        }
        buf_putc(b, '}');
        break;
    case FF_PROVISION:
        buf_puts(b, is->provision == FED_PROVISION_JIT         ? "jit"
                    : is->provision == FED_PROVISION_LINK_ONLY ? "link_only"
                                                               : "none");
        break;
    case FF_LINK_BY: buf_puts(b, is->link_by_external_id ? "externalId" : "(none)"); break;
    case FF_JWT_BEARER:
        if (!is->jwt_bearer) {
            buf_puts(b, "off");
            break;
        }
        buf_puts(b, "clients: ");
        sbuf_list(b, is->jwt_bearer_clients, is->njwt_bearer_clients);
        buf_printf(b, " max_lifetime: %llds", (long long)is->jwt_bearer_max_lifetime_s);
        break;
    case FF_TOKEN_EXCHANGE:
        if (!is->token_exchange) {
            buf_puts(b, "off");
            break;
        }
        buf_puts(b, "clients: ");
        sbuf_list(b, is->token_exchange_clients, is->ntoken_exchange_clients);
        break;
    case FF_LOGIN:
        if (!is->login) {
            buf_puts(b, "off");
            break;
        }
        buf_printf(b, "client_id: %s client_secret_file: %s display_name: \"%s\" scopes: ",
                   is->login->client_id, is->login->client_secret_file, is->login->display_name);
        sbuf_list(b, is->login->scopes, is->login->nscopes);
        break;
    case FF_JWKS:
        buf_printf(b,
                   "refresh %llds min_refresh %llds max_refresh %llds kid_miss_cooldown %llds "
                   "stale_if_error %llds fetch_timeout %lldms",
                   (long long)is->jwks.refresh_s, (long long)is->jwks.min_refresh_s,
                   (long long)is->jwks.max_refresh_s, (long long)is->jwks.kid_miss_cooldown_s,
                   (long long)is->jwks.stale_if_error_s, (long long)is->jwks.fetch_timeout_ms);
        break;
    }
}

static void step_fed(dctx *c, long i, long j)
{
    const pol_fed *x = i >= 0 ? &c->a->feds[i] : NULL, *y = j >= 0 ? &c->b->feds[j] : NULL;
    if (!y) {
        put(c, "- issuer %s\n", x->pub.name);
        return;
    }
    if (!x) {
        put(c, "+ issuer %s %s\n", y->pub.name, y->pub.issuer);
        return;
    }
    idp_buf fa, fb;
    buf_init(&fa, 0);
    buf_init(&fb, 0);
    for (int f = 0; f < FF_COUNT; f++) {
        buf_reset(&fa);
        buf_reset(&fb);
        fed_field(&x->pub, f, &fa);
        fed_field(&y->pub, f, &fb);
        if (strcmp(buf_cstr(&fa), buf_cstr(&fb)))
            put(c, "~ issuer %s %s: %s -> %s\n", y->pub.name, ff_name[f], buf_cstr(&fa),
                buf_cstr(&fb));
    }
    buf_free(&fa);
    buf_free(&fb);
}

/* Issuer bindings of one issuer present in both or either policy. */
static void put_fbind_roles(dctx *c, char sign, const char *iss, const pol_bind *e,
                            const policy *p, const pol_bind *other, const policy *po)
{
    for (size_t k = 0; k < e->nroles; k++) {
        const char *rn = p->roles[e->roles[k]].name;
        bool in_other = false;
        for (size_t m = 0; other && m < other->nroles && !in_other; m++)
            in_other = !strcmp(po->roles[other->roles[m]].name, rn);
        if (in_other) continue;
        put(c, "%c binding issuer %s %s ", sign, iss, policy_fed_bind_kind[c->kind]);
        put_name(c, e->name);
        put(c, " -> ");
        put_name(c, rn);
        put(c, "\n");
    }
    if (!e->nroles && !other) {
        put(c, "%c binding issuer %s %s ", sign, iss, policy_fed_bind_kind[c->kind]);
        put_name(c, e->name);
        put(c, " -> []\n");
    }
}

/* Effective permissions of a binding as a bitset over p's permissions. */
static void bind_perms(const policy *p, const pol_bind *e, pword *P)
{
    memset(P, 0, PERM_WORDS_MAX * sizeof *P);
    for (size_t k = 0; e && k < e->nroles; k++)
        bits_or(P, p->roles[e->roles[k]].pclos, p->pwords);
}

static void access_diff(dctx *c, const pol_bind *x, const pol_bind *y, const char *iss);

static void step_access(dctx *c, long i, long j)
{
    const pol_bind *x = i >= 0 ? &c->a->binds[c->kind][i] : NULL;
    const pol_bind *y = j >= 0 ? &c->b->binds[c->kind][j] : NULL;
    access_diff(c, x, y, NULL);
}

static void step_fbind(dctx *c, long i, long j)
{
    const pol_bind *x = i >= 0 ? &c->fa->binds[c->kind][i] : NULL;
    const pol_bind *y = j >= 0 ? &c->fb->binds[c->kind][j] : NULL;
    const char *iss = c->fb ? c->fb->pub.name : c->fa->pub.name;
    if (x) put_fbind_roles(c, '-', iss, x, c->a, y, c->b);
    if (y) put_fbind_roles(c, '+', iss, y, c->b, x, c->a);
}

static void step_faccess(dctx *c, long i, long j)
{
    const pol_bind *x = i >= 0 ? &c->fa->binds[c->kind][i] : NULL;
    const pol_bind *y = j >= 0 ? &c->fb->binds[c->kind][j] : NULL;
    access_diff(c, x, y, c->fb ? c->fb->pub.name : c->fa->pub.name);
}

/* The binding walks (step_fbind or step_faccess) of every issuer in a or b. */
static void fed_bind_walks(dctx *c, step_fn step)
{
    size_t i = 0, j = 0;
    const policy *a = c->a, *b = c->b;
    while (i < a->nfeds || j < b->nfeds) {
        int cmp = i == a->nfeds   ? 1
                  : j == b->nfeds ? -1
                                  : strcmp(a->feds[i].pub.name, b->feds[j].pub.name);
        c->fa = cmp <= 0 ? &a->feds[i++] : NULL;
        c->fb = cmp >= 0 ? &b->feds[j++] : NULL;
        for (c->kind = 0; c->kind < FB_KINDS; c->kind++)
            walk(c, c->fa ? c->fa->binds[c->kind] : NULL, c->fa ? c->fa->nbinds[c->kind] : 0,
                 c->fb ? c->fb->binds[c->kind] : NULL, c->fb ? c->fb->nbinds[c->kind] : 0,
                 sizeof(pol_bind), offsetof(pol_bind, key), step);
    }
    c->fa = c->fb = NULL;
}

/* "~ access KIND NAME: +p -q" for the effective permissions binding x (in a) -> y (in b)
 * changes; iss: an issuer binding of that issuer (c->kind is then an FB_ kind). */
static void access_diff(dctx *c, const pol_bind *x, const pol_bind *y, const char *iss)
{
    const policy *a = c->a, *b = c->b;
    pword PA[PERM_WORDS_MAX], PB[PERM_WORDS_MAX];
    bind_perms(a, x, PA);
    bind_perms(b, y, PB);
    /* walk both sorted permission lists, printing +name for b-only and -name for a-only */
    size_t pi = 0, pj = 0;
    bool any = false;
    while (pi < a->nperms || pj < b->nperms) {
        if (pi < a->nperms && !bit_get(PA, pi)) {
            pi++;
            continue;
        }
        if (pj < b->nperms && !bit_get(PB, pj)) {
            pj++;
            continue;
        }
        int cmp = pi == a->nperms   ? 1
                  : pj == b->nperms ? -1
                                    : strcmp(a->perms[pi].name, b->perms[pj].name);
        const char *name = cmp <= 0 ? a->perms[pi].name : b->perms[pj].name;
        if (cmp != 0) {
            if (!any) {
                if (iss)
                    put(c, "~ access issuer %s %s ", iss, policy_fed_bind_kind[c->kind]);
                else
                    put(c, "~ access %s ", policy_bind_kind[c->kind]);
                put_name(c, y ? y->name : x->name);
                put(c, ":");
                any = true;
            }
            put(c, " %c%s", cmp < 0 ? '-' : '+', name);
        }
        if (cmp <= 0) pi++;
        if (cmp >= 0) pj++;
    }
    if (any) put(c, "\n");
}

idp_err policy_diff(const policy *a, const policy *b, idp_buf *out, idp_error *err)
{
    if (!a || !b || !out) return IDP_FAIL(err, IDP_ERR_INTERNAL, "policy_diff: missing argument");
    dctx c = {a, b, out, 0, 0, NULL, NULL};
    if (strcmp(a->ns, b->ns)) put(&c, "~ claim_namespace: %s -> %s\n", a->ns, b->ns);
    if (a->budget != b->budget)
        put(&c, "~ token_size_budget: %lld -> %lld\n", (long long)a->budget, (long long)b->budget);
    walk(&c, a->perms, a->nperms, b->perms, b->nperms, sizeof *a->perms, offsetof(pol_perm, name),
         step_perm);
    walk(&c, a->roles, a->nroles, b->roles, b->nroles, sizeof *a->roles, offsetof(pol_role, name),
         step_role);
    for (c.kind = 0; c.kind < PB_KINDS; c.kind++)
        walk(&c, a->binds[c.kind], a->nbinds[c.kind], b->binds[c.kind], b->nbinds[c.kind],
             sizeof(pol_bind), offsetof(pol_bind, key), step_bind);
    walk(&c, a->scopes, a->nscopes, b->scopes, b->nscopes, sizeof *a->scopes,
         offsetof(pol_scope, name), step_scope);
    walk(&c, a->res, a->nres, b->res, b->nres, sizeof *a->res, offsetof(pol_res, name), step_res);
    walk(&c, a->feds, a->nfeds, b->feds, b->nfeds, sizeof *a->feds, offsetof(pol_fed, pub.name),
         step_fed);
    fed_bind_walks(&c, step_fbind);
    for (c.kind = 0; c.kind < PB_KINDS; c.kind++)
        walk(&c, a->binds[c.kind], a->nbinds[c.kind], b->binds[c.kind], b->nbinds[c.kind],
             sizeof(pol_bind), offsetof(pol_bind, key), step_access);
    fed_bind_walks(&c, step_faccess);
    policy_routes_diff(a, b, out);
    if (c.fail) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "policy diff larger than the buffer");
    return IDP_OK;
}
