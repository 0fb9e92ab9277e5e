/* policy_eval — the hot path: subject -> roles -> permissions -> granted scopes and claims.
 *
 * Per request: one bisection per matching binding (user, each group, or client), OR-ing
 * precomputed role closures into stack bitsets, one bisection per requested scope, and exactly
 * one heap allocation for the grant. No YAML, no locks. */
#include "policy/internal.h"

#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

/* Roles and permissions of the subject (policy_subject's rules) into R and P. */
static void add_bind(const policy *p, const pol_bind *b, pword *R, pword *P)
{
    for (size_t j = 0; b && j < b->nroles; j++) {
        const pol_role *r = &p->roles[b->roles[j]];
        bits_or(R, r->rclos, p->rwords);
        bits_or(P, r->pclos, p->pwords);
    }
}

/* bindings.issuers.<issuer_name>: each issuer group and the upstream subject. */
static void issuer_bits(const policy *p, const policy_subject *s, pword *R, pword *P)
{
    const pol_fed *f = policy_fed_find(p, s->issuer_name);
    if (!f) return;
    for (size_t g = 0; g < s->nissuer_groups; g++)
        add_bind(p, policy_fed_find_bind(f, FB_GROUP, s->issuer_groups[g]), R, P);
    add_bind(p, policy_fed_find_bind(f, FB_SUBJECT, s->upstream_subject), R, P);
}

static void subject_bits(const policy *p, const policy_subject *s, pword *R, pword *P)
{
    if (s->issuer_name) issuer_bits(p, s, R, P);
    bool user = s->user_name || s->ngroups || s->issuer_name;
    size_t ng = user ? s->ngroups : 0;
    for (size_t g = 0; g <= ng; g++) {
        const pol_bind *b = NULL;
        if (g < ng)
            b = s->groups[g] ? policy_find_bind(p, PB_GROUP, s->groups[g]) : NULL;
        else if (user)
            b = s->user_name ? policy_find_bind(p, PB_USER, s->user_name) : NULL;
        else
            b = s->client_id ? policy_find_bind(p, PB_CLIENT, s->client_id) : NULL;
        add_bind(p, b, R, P);
    }
}

/* RFC 6749 §3.3: scope = scope-token *( SP scope-token ). */
static bool scope_syntax_ok(const char *s, size_t n)
{
    bool tok = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ') {
            if (!tok) return false; /* leading or double space */
            tok = false;
        } else if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\') {
            return false;
        } else {
            tok = true;
        }
    }
    return tok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool subset(const pword *need, const pword *have, size_t words)
{
    for (size_t i = 0; i < words; i++)
        if (need[i] & ~have[i]) return false;
    return true;
}

idp_err policy_evaluate(const policy *p, const policy_subject *s, const char *requested,
                        const char *resource, policy_grant *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!p || !s) return IDP_FAIL(err, IDP_ERR_INTERNAL, "policy_evaluate: missing argument");
    size_t rlen = requested ? strlen(requested) : 0;
    if (rlen > POLICY_MAX_REQUEST)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_SCOPE, "scope too long");
    if (rlen && !scope_syntax_ok(requested, rlen))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_SCOPE, "malformed scope (RFC 6749 section 3.3)");

    pword R[ROLE_WORDS_MAX] = {0}, P[PERM_WORDS_MAX] = {0}, seen[PERM_WORDS_MAX] = {0};
    subject_bits(p, s, R, P);
    const pol_res *res = resource ? policy_find_res(p, resource) : NULL;
    size_t ntok = rlen ? 1 : 0;
    for (size_t i = 0; i < rlen; i++)
        ntok += requested[i] == ' ';
    size_t nr = bits_count(R, p->rwords), np = bits_count(P, p->pwords);
    bool user = s->user_name || s->ngroups || s->issuer_name;
    size_t ng = user ? s->ngroups : 0; /* room for <ns>groups */

    /* the one allocation: pointer arrays, then drop reasons, then a copy of the request */
    size_t nptr = 2 * ntok + nr + np + policy_nstd_claims + ng;
    size_t off_reason = nptr * sizeof(char *);
    size_t off_text = off_reason + ntok * sizeof(policy_drop);
    char *mem = xmalloc(off_text + rlen + 1);
    const char **ptr = (const char **)(void *)mem;
    policy_drop *why = (policy_drop *)(void *)(mem + off_reason);
    char *text = mem + off_text;
    memcpy(text, requested ? requested : "", rlen + 1);
    out->mem_ = mem;
    out->scopes = ptr;
    out->dropped = ptr + ntok;
    out->drop_reasons = why;
    out->roles = ptr + 2 * ntok;
    out->permissions = out->roles + nr;
    out->std_claims = out->permissions + np;
    out->groups = out->std_claims + policy_nstd_claims;

    uint32_t std = 0;
    for (char *tok = text; rlen && tok;) {
        char *sp = strchr(tok, ' ');
        if (sp) *sp = '\0';
        long i = -1;
        const pol_scope *sc = policy_find_scope(p, tok);
        if (sc) i = sc - p->scopes;
        policy_drop reason = 0;
        bool dup = false;
        if (!sc) {
            reason = POLICY_DROP_UNKNOWN;
            for (size_t k = 0; k < out->ndropped && !dup; k++)
                dup = !strcmp(out->dropped[k], tok);
        } else if ((dup = bit_get(seen, (size_t)i)) == false) {
            bit_set(seen, (size_t)i);
            if (!subset(sc->rbits, P, p->pwords))
                reason = POLICY_DROP_NOT_HELD;
            else if (resource && (!res || !bit_get(res->sbits, (size_t)i)))
                reason = POLICY_DROP_RESOURCE;
        }
        if (!dup && reason) {
            why[out->ndropped] = reason;
            out->dropped[out->ndropped++] = tok;
        } else if (!dup) {
            out->scopes[out->nscopes++] = sc->name;
            std |= sc->std;
            out->release_roles |= sc->rel_roles;
            out->release_permissions |= sc->rel_perms;
            out->release_groups |= sc->rel_groups;
        }
        tok = sp ? sp + 1 : NULL;
    }
    for (size_t i = 0; i < p->nroles; i++)
        if (bit_get(R, i)) out->roles[out->nroles++] = p->roles[i].name;
    for (size_t i = 0; i < p->nperms; i++)
        if (bit_get(P, i)) out->permissions[out->nperms++] = p->perms[i].name;
    for (size_t i = 0; i < policy_nstd_claims; i++)
        if ((std >> i) & 1u) out->std_claims[out->nstd++] = policy_std_claims[i];
    if (out->release_groups) {
        /* only groups the policy names: a token never discloses the rest of a user's groups,
         * and the budget check bounds the claim by every bound group */
        for (size_t g = 0; g < ng; g++) {
            const pol_bind *b = s->groups[g] ? policy_find_bind(p, PB_GROUP, s->groups[g]) : NULL;
            if (b) out->groups[out->ngroups++] = b->name;
        }
        qsort(out->groups, out->ngroups, sizeof *out->groups, cmp_str);
        size_t u = 0;
        for (size_t i = 0; i < out->ngroups; i++)
            if (!u || strcmp(out->groups[u - 1], out->groups[i])) out->groups[u++] = out->groups[i];
        out->ngroups = u;
    }
    return IDP_OK;
}

void policy_grant_clear(policy_grant *g)
{
    if (!g) return;
    free(g->mem_);
    memset(g, 0, sizeof *g);
}

idp_err policy_grant_scope(const policy_grant *g, idp_buf *out, idp_error *err)
{
    for (size_t i = 0; i < g->nscopes; i++)
        if ((i && buf_putc(out, ' ') != 0) || buf_puts(out, g->scopes[i]) != 0)
            return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "scope too long");
    return IDP_OK;
}

/* A JSON string; names and the namespace are checked at load to need no escaping, but escape
 * anyway so this function is safe on its own. */
static int json_str(idp_buf *b, const char *s)
{
    if (buf_putc(b, '"') != 0) return -1;
    while (*s) {
        size_t run = 0; /* bytes that need no escape, appended at once */
        while (s[run] && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
            run++;
        if (run && buf_append(b, s, run) != 0) return -1;
        s += run;
        if (!*s) break;
        unsigned char ch = (unsigned char)*s++;
        if (ch == '"' || ch == '\\' ? buf_putc(b, '\\') || buf_putc(b, (char)ch)
                                    : buf_printf(b, "\\u%04x", ch))
            return -1;
    }
    return buf_putc(b, '"');
}

static int json_member(idp_buf *b, const char *ns, const char *name, const char *const *v, size_t n)
{
    if (buf_putc(b, ',') || buf_putc(b, '"') || buf_puts(b, ns) || buf_puts(b, name) ||
        buf_puts(b, "\":["))
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((i && buf_putc(b, ',')) || json_str(b, v[i])) return -1;
    return buf_putc(b, ']');
}

int policy_claims_write(const policy *p, const char *const *roles, size_t nroles,
                        const char *const *perms, size_t nperms, const char *const *groups,
                        size_t ngroups, bool rel_roles, bool rel_perms, bool rel_groups,
                        idp_buf *out)
{
    if (rel_roles && json_member(out, p->ns, "roles", roles, nroles)) return -1;
    if (rel_perms && json_member(out, p->ns, "permissions", perms, nperms)) return -1;
    if (rel_groups && json_member(out, p->ns, "groups", groups, ngroups)) return -1;
    return 0;
}

idp_err policy_claims_json(const policy *p, const policy_grant *g, idp_buf *out, idp_error *err)
{
    size_t before = out->len;
    if (policy_claims_write(p, g->roles, g->nroles, g->permissions, g->nperms, g->groups,
                            g->ngroups, g->release_roles, g->release_permissions,
                            g->release_groups, out) != 0) {
        if (out->data) out->data[before] = '\0';
        out->len = before;
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "token claims too large");
    }
    return IDP_OK;
}
