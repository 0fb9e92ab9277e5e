/* policy_explain — why a subject holds or lacks a scope (`idpd policy explain`, the admin API).
 * Not on the token path: clarity over speed. The layout is documented in docs/POLICY.md. */
#include "policy/internal.h"

#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON string of caller input that may not be valid UTF-8. */
static json_t *jstr(const char *s)
{
    json_t *v = s ? json_string(s) : json_null();
    return v ? v : json_string("(not valid UTF-8)");
}

typedef struct match {
    int kind; /* PB_GROUP.. or MK_ISSUER_GROUP, MK_ISSUER_SUBJECT */
    const pol_bind *b;
} match;

enum { MK_ISSUER_GROUP = PB_KINDS, MK_ISSUER_SUBJECT };

static const char *kind_name(int kind)
{
    return kind == MK_ISSUER_GROUP     ? "issuer_group"
           : kind == MK_ISSUER_SUBJECT ? "issuer_subject"
                                       : policy_bind_kind[kind];
}

/* The bindings that apply to the subject, in the order user, groups, client (policy.h rules). */
static size_t subject_matches(const policy *p, const policy_subject *s, match *m, size_t cap)
{
    size_t n = 0;
    bool user = s->user_name || s->ngroups;
    const pol_bind *b = NULL;
    if (user && s->user_name && (b = policy_find_bind(p, PB_USER, s->user_name)) != NULL)
        m[n++] = (match){PB_USER, b};
    for (size_t g = 0; user && g < s->ngroups && n < cap; g++) {
        if (!s->groups[g] || !(b = policy_find_bind(p, PB_GROUP, s->groups[g]))) continue;
        bool dup = false; /* the same group listed twice, or in two spellings */
        for (size_t k = 0; k < n && !dup; k++)
            dup = m[k].b == b;
        if (!dup) m[n++] = (match){PB_GROUP, b};
    }
    if (!user && !s->issuer_name && s->client_id &&
        (b = policy_find_bind(p, PB_CLIENT, s->client_id)) != NULL)
        m[n++] = (match){PB_CLIENT, b};
    const pol_fed *f = s->issuer_name ? policy_fed_find(p, s->issuer_name) : NULL;
    for (size_t g = 0; f && g < s->nissuer_groups && n < cap; g++) {
        if (!(b = policy_fed_find_bind(f, FB_GROUP, s->issuer_groups[g]))) continue;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = m[k].b == b;
        if (!dup) m[n++] = (match){MK_ISSUER_GROUP, b};
    }
    if (f && n < cap && (b = policy_fed_find_bind(f, FB_SUBJECT, s->upstream_subject)) != NULL)
        m[n++] = (match){MK_ISSUER_SUBJECT, b};
    return n;
}

static bool role_has_direct(const pol_role *r, uint32_t perm)
{
    for (size_t i = 0; i < r->nperms; i++)
        if (r->perms[i] == perm) return true;
    return false;
}

/* The inclusion path from role r0 (whose closure holds perm) down to a role that lists perm
 * itself: follow, at each step, the first included role whose closure still holds it. Roles form
 * no cycle (checked at load), so this ends within nroles steps. */
static json_t *role_path(const policy *p, uint32_t r0, uint32_t perm)
{
    json_t *path = json_array();
    uint32_t r = r0;
    for (size_t steps = 0; steps <= p->nroles; steps++) {
        const pol_role *ro = &p->roles[r];
        json_array_append_new(path, json_string(ro->name));
        if (role_has_direct(ro, perm)) break;
        size_t k = 0;
        while (k < ro->nincl && !bit_get(p->roles[ro->incl[k]].pclos, perm))
            k++;
        if (k == ro->nincl) break; /* impossible when the closure holds perm */
        r = ro->incl[k];
    }
    return path;
}

static json_t *name_array_bits(const pword *bits, size_t n, const void *base, size_t size)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (bit_get(bits, i))
            json_array_append_new(
                a, json_string(*(char *const *)(const void *)((const char *)base + i * size)));
    return a;
}

/* Joins the string items of a JSON array with ", " into out (for reasons). */
static void join(idp_buf *out, const json_t *arr, size_t max)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i == max) {
            buf_printf(out, ", ... (%zu more)", json_array_size(arr) - max);
            break;
        }
        buf_printf(out, "%s%s", i ? ", " : "", json_string_value(v));
    }
}

static void reason(json_t *reasons, idp_buf *b)
{
    json_array_append_new(reasons, jstr(buf_cstr(b)));
    buf_reset(b);
}

static json_t *explain_bindings(const policy *p, const policy_subject *s, const match *m,
                                size_t nm)
{
    json_t *a = json_array();
    for (size_t i = 0; i < nm; i++) {
        json_t *roles = json_array();
        for (size_t j = 0; j < m[i].b->nroles; j++)
            json_array_append_new(roles, json_string(p->roles[m[i].b->roles[j]].name));
        json_t *e = json_pack("{s:s, s:s, s:i, s:o}", "kind", kind_name(m[i].kind), "name",
                              m[i].b->name, "line", m[i].b->line, "roles", roles);
        if (e && m[i].kind >= PB_KINDS) json_object_set_new(e, "issuer", jstr(s->issuer_name));
        json_array_append_new(a, e);
    }
    return a;
}

/* One entry of "requires": is perm held, through which binding -> role paths, and which roles
 * would grant it. Adds a reason line. */
static json_t *explain_perm(const policy *p, uint32_t perm, const pword *P, const match *m,
                            size_t nm, json_t *reasons, idp_buf *b)
{
    const pol_perm *pe = &p->perms[perm];
    bool held = bit_get(P, perm);
    json_t *by = json_array(), *with = json_array();
    for (size_t i = 0; i < nm; i++)
        for (size_t j = 0; j < m[i].b->nroles; j++) {
            uint32_t r = m[i].b->roles[j];
            if (!bit_get(p->roles[r].pclos, perm)) continue;
            json_array_append_new(
                by, json_pack("{s:s, s:s, s:i, s:o}", "kind", kind_name(m[i].kind), "name",
                              m[i].b->name, "line", m[i].b->line, "path", role_path(p, r, perm)));
        }
    for (size_t r = 0; r < p->nroles; r++)
        if (bit_get(p->roles[r].pclos, perm))
            json_array_append_new(with, json_string(p->roles[r].name));
    if (held) {
        json_t *first = json_array_get(by, 0);
        buf_printf(b, "permission %s is held: %s %s -> ", pe->name,
                   json_string_value(json_object_get(first, "kind")),
                   json_string_value(json_object_get(first, "name")));
        const json_t *path = json_object_get(first, "path");
        size_t k;
        json_t *v;
        json_array_foreach(path, k, v)
        {
            buf_printf(b, "%s%s", k ? " includes " : "", json_string_value(v));
        }
        if (json_array_size(by) > 1) buf_printf(b, " (and %zu more)", json_array_size(by) - 1);
    } else if (json_array_size(with)) {
        buf_printf(b, "permission %s is missing: no role of the subject grants it; roles that do: ",
                   pe->name);
        join(b, with, 10);
    } else {
        buf_printf(b, "permission %s is missing: no role grants it", pe->name);
    }
    reason(reasons, b);
    json_t *o = json_pack("{s:s, s:b, s:o, s:o}", "permission", pe->name, "held", held,
                          "granted_by", by, "roles_with_permission", with);
    if (o && pe->desc) json_object_set_new(o, "description", json_string(pe->desc));
    return o;
}

static json_t *explain_claims(const policy *p, const pol_scope *sc)
{
    json_t *std = json_array(), *custom = json_array();
    for (size_t i = 0; i < policy_nstd_claims; i++)
        if ((sc->std >> i) & 1u) json_array_append_new(std, json_string(policy_std_claims[i]));
    char full[300];
    if (sc->rel_roles) {
        snprintf(full, sizeof full, "%sroles", p->ns);
        json_array_append_new(custom, json_string(full));
    }
    if (sc->rel_perms) {
        snprintf(full, sizeof full, "%spermissions", p->ns);
        json_array_append_new(custom, json_string(full));
    }
    if (sc->rel_groups) {
        snprintf(full, sizeof full, "%sgroups", p->ns);
        json_array_append_new(custom, json_string(full));
    }
    return json_pack("{s:o, s:o}", "standard", std, "custom", custom);
}

/* Resource acceptance: adds "resource_known", "resource_accepts", "resource_scopes". */
static bool explain_resource(const policy *p, long si, const char *resource, json_t *o,
                             json_t *reasons, idp_buf *b, const char *scope)
{
    if (!resource) {
        json_object_set_new(o, "resource_accepts", json_null());
        return true;
    }
    const pol_res *r = policy_find_res(p, resource);
    json_object_set_new(o, "resource_known", json_boolean(r != NULL));
    if (!r) {
        buf_printf(b, "resource %s is not declared in the policy, so it accepts no scope",
                   resource);
        reason(reasons, b);
        json_object_set_new(o, "resource_accepts", json_false());
        return false;
    }
    json_t *acc = json_array();
    for (size_t i = 0; i < r->nscopes; i++)
        json_array_append_new(acc, json_string(p->scopes[r->scopes[i]].name));
    bool ok = si >= 0 && bit_get(r->sbits, (size_t)si);
    if (ok) {
        buf_printf(b, "resource %s accepts scope %s", r->name, scope);
    } else {
        buf_printf(b, "resource %s does not accept scope %s (it accepts: ", r->name, scope);
        join(b, acc, 20);
        buf_puts(b, ")");
    }
    reason(reasons, b);
    json_object_set_new(o, "resource_scopes", acc);
    json_object_set_new(o, "resource_accepts", json_boolean(ok));
    return ok;
}

static json_t *explain_subject(const policy_subject *s)
{
    json_t *o = json_object(), *g = json_array();
    if (s->user_name) json_object_set_new(o, "user_name", jstr(s->user_name));
    for (size_t i = 0; i < s->ngroups; i++)
        if (s->groups[i]) json_array_append_new(g, jstr(s->groups[i]));
    if (s->user_name || s->ngroups)
        json_object_set_new(o, "groups", g);
    else
        json_decref(g);
    if (s->client_id) json_object_set_new(o, "client_id", jstr(s->client_id));
    if (s->issuer_name) {
        json_t *ig = json_array();
        for (size_t i = 0; i < s->nissuer_groups; i++)
            if (s->issuer_groups[i]) json_array_append_new(ig, jstr(s->issuer_groups[i]));
        json_object_set_new(o, "issuer", jstr(s->issuer_name));
        json_object_set_new(o, "upstream_subject", jstr(s->upstream_subject));
        json_object_set_new(o, "issuer_groups", ig);
    }
    return o;
}

idp_err policy_explain(const policy *p, const policy_subject *s, const char *scope,
                       const char *resource, json_t **out, idp_error *err)
{
    *out = NULL;
    if (!p || !s || !scope)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "policy_explain: missing argument");
    size_t cap = 1 + s->ngroups + 1 + s->nissuer_groups + 1;
    match *m = xcalloc(cap, sizeof *m);
    size_t nm = subject_matches(p, s, m, cap);
    pword R[ROLE_WORDS_MAX] = {0}, P[PERM_WORDS_MAX] = {0};
    for (size_t i = 0; i < nm; i++)
        for (size_t j = 0; j < m[i].b->nroles; j++) {
            bits_or(R, p->roles[m[i].b->roles[j]].rclos, p->rwords);
            bits_or(P, p->roles[m[i].b->roles[j]].pclos, p->pwords);
        }
    json_t *o = json_object(), *reasons = json_array();
    idp_buf b;
    buf_init(&b, 4096);
    json_object_set_new(
        o, "policy",
        json_pack("{s:o, s:s, s:o}", "version", p->version ? json_integer(p->version) : json_null(),
                  "sha256", p->sha256, "environment", p->env ? json_string(p->env) : json_null()));
    json_object_set_new(o, "subject", explain_subject(s));
    json_object_set_new(o, "scope", jstr(scope));
    json_object_set_new(o, "resource", jstr(resource));
    json_object_set_new(o, "bindings", explain_bindings(p, s, m, nm));
    json_object_set_new(o, "roles", name_array_bits(R, p->nroles, p->roles, sizeof *p->roles));
    json_object_set_new(o, "permissions",
                        name_array_bits(P, p->nperms, p->perms, sizeof *p->perms));
    if (s->issuer_name && !policy_fed_find(p, s->issuer_name)) {
        buf_printf(&b, "issuer %s is not declared under federation.issuers", s->issuer_name);
        reason(reasons, &b);
    }
    for (size_t i = 0; i < nm; i++)
        if (m[i].kind >= PB_KINDS) {
            buf_printf(&b, "issuer %s %s %s binds: ", s->issuer_name,
                       m[i].kind == MK_ISSUER_GROUP ? "group" : "subject", m[i].b->name);
            for (size_t j = 0; j < m[i].b->nroles; j++)
                buf_printf(&b, "%s%s", j ? ", " : "", p->roles[m[i].b->roles[j]].name);
            if (!m[i].b->nroles) buf_puts(&b, "no role");
            reason(reasons, &b);
        }
    if (!nm) {
        buf_puts(&b, "no binding matches the subject, so it holds no role");
        reason(reasons, &b);
    }
    long si = -1;
    const pol_scope *sc = policy_find_scope(p, scope);
    bool granted = sc != NULL;
    json_object_set_new(o, "known_scope", json_boolean(sc != NULL));
    if (!sc) {
        buf_printf(&b, "scope %s is not defined in the policy", scope);
        reason(reasons, &b);
    } else {
        si = sc - p->scopes;
        json_t *req = json_array();
        if (!sc->nreq) {
            buf_printf(&b, "scope %s requires no permission", sc->name);
            reason(reasons, &b);
        }
        for (size_t i = 0; i < sc->nreq; i++) {
            json_array_append_new(req, explain_perm(p, sc->req[i], P, m, nm, reasons, &b));
            granted &= bit_get(P, sc->req[i]);
        }
        json_object_set_new(o, "requires", req);
        json_object_set_new(o, "claims", explain_claims(p, sc));
    }
    granted &= explain_resource(p, si, resource, o, reasons, &b, scope);
    buf_printf(&b, "%s under policy ", granted ? "granted" : "not granted");
    if (p->version) buf_printf(&b, "version %lld, ", (long long)p->version);
    buf_printf(&b, "sha256 %.12s", p->sha256);
    if (p->env) buf_printf(&b, ", environment %s", p->env);
    reason(reasons, &b);
    json_object_set_new(o, "granted", json_boolean(granted));
    json_object_set_new(o, "reasons", reasons);
    buf_free(&b);
    free(m);
    if (!o || json_object_size(o) < 10) {
        json_decref(o);
        return IDP_FAIL(err, IDP_ERR_NOMEM, "policy_explain: out of memory");
    }
    *out = o;
    return IDP_OK;
}
