/* policy_routes — parses, validates and compiles `routes:` (docs/POLICY.md "Routes"), matches a
 * request against the rules, explains and diffs them. The contract is in policy/policy_routes.h.
 *
 * As in policy_compile.c every rule adds a diagnostic at the line of the offending node and
 * compilation goes on. All strings of the compiled rules are owned by one pol_routes (keep()), so
 * the public policy_route holds plain const pointers. Matching is a linear scan over at most
 * POLICY_MAX_ROUTES rules, with no allocation (run on every /forward-auth request). */
#include "policy/internal.h"
#include "policy/policy_routes.h"

#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pol_routes {
    policy_route *v;
    size_t n;
    void **own;
    size_t nown, capown;
};

static void *keep(pol_routes *r, void *ptr)
{
    if (r->nown == r->capown) {
        r->capown = r->capown ? 2 * r->capown : 32;
        r->own = xrealloc(r->own, r->capown * sizeof *r->own);
    }
    r->own[r->nown++] = ptr;
    return ptr;
}

void policy_routes_free(pol_routes *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nown; i++)
        free(r->own[i]);
    free(r->own);
    free(r->v);
    free(r);
}

size_t policy_route_count(const policy *p)
{
    return p && p->routes ? p->routes->n : 0;
}

const policy_route *policy_route_at(const policy *p, size_t i)
{
    return i < policy_route_count(p) ? &p->routes->v[i] : NULL;
}

/* ---- methods, paths, hosts ------------------------------------------------------------ */

static const char *const method_names[] = {"GET",     "HEAD",    "POST",  "PUT", "PATCH",
                                           "DELETE",  "OPTIONS", "CONNECT", "TRACE"};
#define NMETHODS (sizeof method_names / sizeof *method_names)

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

unsigned policy_route_method(const char *m, size_t len)
{
    if (len == 0 || len > 32) return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)m[i])) return 0;
    for (size_t i = 0; i < NMETHODS; i++)
        if (strlen(method_names[i]) == len && !memcmp(method_names[i], m, len)) return 1u << i;
    return ROUTE_M_OTHER;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* A segment out[s..e) that is "." or ".." (after decoding: %2E was decoded to '.'). */
static bool dot_segment(const char *s, size_t n)
{
    return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

const char *policy_route_path(const char *uri, size_t len, char out[POLICY_ROUTE_MAX_PATH + 1])
{
    size_t i = 0, o = 0, seg = 0;
    out[0] = '\0';
    if (len >= 8 && !memcmp(uri, "https://", 8))
        i = 8;
    else if (len >= 7 && !memcmp(uri, "http://", 7))
        i = 7;
    if (i) { /* absolute-form (RFC 9112 §3.2.2): the path starts after the authority */
        while (i < len && uri[i] != '/' && uri[i] != '?' && uri[i] != '#')
            i++;
        if (i == len || uri[i] != '/') return "the URI has no path";
    }
    if (i >= len || uri[i] != '/') return "the path must start with /";
    for (; i < len && uri[i] != '?' && uri[i] != '#'; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c < 0x21 || c == 0x7f) return "the path holds a control character or space";
        if (c == '\\') return "the path holds a backslash";
        if (c == '%') {
            int h = i + 2 < len ? hexval((unsigned char)uri[i + 1]) : -1;
            int l = h >= 0 ? hexval((unsigned char)uri[i + 2]) : -1;
            if (l < 0) return "the path holds a malformed percent-encoding";
            unsigned char d = (unsigned char)(h * 16 + l);
            if (d == '/' || d == '\\' || d == 0) return "the path holds an encoded /, \\ or NUL";
            if (d < 0x20 || d == 0x7f) return "the path holds an encoded control character";
            i += 2;
            if (o + 3 > POLICY_ROUTE_MAX_PATH) return "the path is too long";
            if (unreserved(d)) { /* RFC 3986 §6.2.2.2 */
                out[o++] = (char)d;
            } else { /* kept encoded, hex digits uppercase (RFC 3986 §6.2.2.1) */
                static const char hx[] = "0123456789ABCDEF";
                out[o++] = '%';
                out[o++] = hx[d >> 4];
                out[o++] = hx[d & 15];
            }
            continue;
        }
        if (c == '/') {
            if (o > 0 && dot_segment(out + seg, o - seg)) return "the path holds a dot segment";
            if (o > 0 && out[o - 1] == '/') return "the path holds an empty segment (//)";
            seg = o + 1;
        }
        if (o + 1 > POLICY_ROUTE_MAX_PATH) return "the path is too long";
        out[o++] = (char)c;
    }
    if (dot_segment(out + seg, o - seg)) return "the path holds a dot segment";
    out[o] = '\0';
    return NULL;
}

bool policy_route_host(const char *h, size_t len, char out[POLICY_ROUTE_MAX_HOST + 1])
{
    size_t n = len;
    out[0] = '\0';
    if (len > 0 && h[0] == '[') { /* IP-literal (RFC 3986 §3.2.2) */
        const char *rb = memchr(h, ']', len);
        if (!rb) return false;
        n = (size_t)(rb - h) + 1;
        if (n < len && h[n] != ':') return false;
    } else {
        const char *colon = memchr(h, ':', len);
        if (colon) n = (size_t)(colon - h);
    }
    if (n < len) { /* a port: digits only */
        if (n + 1 == len || len - n - 1 > 5) return false;
        for (size_t i = n + 1; i < len; i++)
            if (h[i] < '0' || h[i] > '9') return false;
    }
    if (n == 0 || n > POLICY_ROUTE_MAX_HOST) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || (h[0] == '[' && (c == ':' || c == '[' ||
                                                                       c == ']'));
        if (!ok) return false;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[n] = '\0';
    return true;
}

/* ---- matching ------------------------------------------------------------------------- */

static bool path_covers(const policy_route *r, const char *path)
{
    if (r->pathlen == 1) return true; /* "/" */
    return !strncmp(path, r->path, r->pathlen) &&
           (path[r->pathlen] == '\0' || path[r->pathlen] == '/');
}

/* >0 when a is more specific than b (host, then path length, then named methods). */
static int specificity(const policy_route *a, const policy_route *b)
{
    if (!!a->host != !!b->host) return a->host ? 1 : -1;
    if (a->pathlen != b->pathlen) return a->pathlen > b->pathlen ? 1 : -1;
    if (a->any_method != b->any_method) return a->any_method ? -1 : 1;
    return 0;
}

const policy_route *policy_route_match(const policy *p, unsigned method, const char *host,
                                       const char *path)
{
    const policy_route *best = NULL;
    size_t n = policy_route_count(p);
    for (size_t i = 0; i < n; i++) {
        const policy_route *r = &p->routes->v[i];
        if (!(r->methods & method)) continue;
        if (r->host && (!host || strcmp(r->host, host))) continue;
        if (!path_covers(r, path)) continue;
        if (!best || specificity(r, best) > 0) best = r;
    }
    return best;
}

bool policy_route_has_perm(const policy *p, const json_t *perms, const json_t *roles,
                           const char *perm)
{
    size_t i;
    const json_t *v;
    if (json_is_array(perms)) {
        json_array_foreach (perms, i, v)
            if (json_is_string(v) && !strcmp(json_string_value(v), perm)) return true;
        return false;
    }
    long pi = policy_find_perm(p, perm);
    if (pi < 0 || !json_is_array(roles)) return false;
    json_array_foreach (roles, i, v) {
        if (i >= POLICY_MAX_LIST) break;
        long ri = json_is_string(v) ? policy_find_role(p, json_string_value(v)) : -1;
        if (ri >= 0 && bit_get(p->roles[ri].pclos, (size_t)pi)) return true;
    }
    return false;
}

/* word a whole space-delimited token of list (RFC 6749 §3.3 scope syntax). */
static bool has_word(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *s = list; s && *s;) {
        while (*s == ' ')
            s++;
        size_t n = strcspn(s, " ");
        if (n == wl && !memcmp(s, word, wl)) return true;
        s += n;
    }
    return false;
}

static bool aud_has(const json_t *aud, const char *want)
{
    size_t i;
    const json_t *v;
    if (json_is_string(aud)) return !strcmp(json_string_value(aud), want);
    json_array_foreach (aud, i, v)
        if (json_is_string(v) && !strcmp(json_string_value(v), want)) return true;
    return false;
}

const char *policy_route_check(const policy *p, const policy_route *r, const json_t *claims,
                               char *what)
{
    char k = 0;
    const char *why = NULL;
    if (r->is_public) return NULL;
    const json_t *sc = json_object_get(claims, "scope");
    const char *scope = json_is_string(sc) ? json_string_value(sc) : "";
    for (size_t i = 0; i < r->nscopes && !why; i++)
        if (!has_word(scope, r->scopes[i])) {
            why = "the token lacks a scope the rule requires";
            k = 's';
        }
    if (!why && r->nperms) {
        char pn[256], rn[256]; /* claim_namespace is at most 200 bytes */
        const char *ns = policy_claim_namespace(p);
        snprintf(pn, sizeof pn, "%spermissions", ns ? ns : "");
        snprintf(rn, sizeof rn, "%sroles", ns ? ns : "");
        const json_t *perms = json_object_get(claims, pn), *roles = json_object_get(claims, rn);
        for (size_t i = 0; i < r->nperms && !why; i++)
            if (!policy_route_has_perm(p, perms, roles, r->permissions[i])) {
                why = "the token lacks a permission the rule requires";
                k = 'p';
            }
    }
    if (!why && r->audience && !aud_has(json_object_get(claims, "aud"), r->audience)) {
        why = "the token is not for the audience the rule requires";
        k = 'a';
    }
    if (what) *what = k;
    return why;
}

void policy_route_scopes(const policy_route *r, idp_buf *out)
{
    for (size_t i = 0; i < r->nscopes; i++)
        buf_printf(out, "%s%s", i ? " " : "", r->scopes[i]);
}

/* ---- compile -------------------------------------------------------------------------- */

typedef struct rx {
    policy *p;
    policy_diags *d;
    pol_routes *r;
    char what[64]; /* "route 3" */
} rx;

static const ynode *get(const ynode *m, const char *key)
{
    const ypair *pr = ytree_get(m, key);
    return pr ? pr->val : NULL;
}

static const char *aud_invalid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > POLICY_ROUTE_MAX_AUD) return "must be 1 to 2048 characters";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
            s[i] == '\\')
            return "must be printable ASCII without spaces, \" or \\";
    return NULL;
}

/* A list of names; each checked by check (returns false after its own diagnostic). */
static const char *const *names_of(rx *x, const ynode *n, const char *key, size_t *nout,
                                   bool (*check)(rx *, const ynode *, const char *))
{
    *nout = 0;
    if (!policy_want(x->d, n, Y_SEQ, key)) return NULL;
    if (n->n > POLICY_ROUTE_MAX_ITEMS) {
        diag_add(x->d, n->line, "%s: %s: more than %d items", x->what, key,
                 POLICY_ROUTE_MAX_ITEMS);
        return NULL;
    }
    if (n->n == 0) {
        diag_add(x->d, n->line, "%s: %s must not be empty (leave it out)", x->what, key);
        return NULL;
    }
    const char **v = keep(x->r, xcalloc(n->n, sizeof *v));
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        const ynode *it = n->items[i];
        char nb[96];
        if (it->t != Y_STR) {
            diag_add(x->d, it->line, "%s: %s: items must be strings", x->what, key);
            continue;
        }
        if (!check(x, it, key)) continue;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = !strcmp(v[j], it->s);
        if (dup) {
            diag_add(x->d, it->line, "%s: %s: %s listed twice", x->what, key,
                     ytree_printable(nb, it->s));
            continue;
        }
        v[k++] = keep(x->r, xstrdup(it->s));
    }
    *nout = k;
    return v;
}

static bool check_scope(rx *x, const ynode *it, const char *key)
{
    char nb[96];
    if (policy_find_scope(x->p, it->s)) return true;
    diag_add(x->d, it->line, "%s: %s: %s is not a scope defined under scopes", x->what, key,
             ytree_printable(nb, it->s));
    return false;
}

static bool check_perm(rx *x, const ynode *it, const char *key)
{
    char nb[96];
    if (policy_find_perm(x->p, it->s) >= 0) return true;
    diag_add(x->d, it->line, "%s: %s: %s is not a permission defined under permissions", x->what,
             key, ytree_printable(nb, it->s));
    return false;
}

static bool check_method(rx *x, const ynode *it, const char *key)
{
    char nb[96];
    unsigned m = policy_route_method(it->s, strlen(it->s));
    if (m && m != ROUTE_M_OTHER) return true;
    diag_add(x->d, it->line, "%s: %s: %s is not one of GET HEAD POST PUT PATCH DELETE OPTIONS "
             "CONNECT TRACE (methods are case-sensitive, RFC 9110 §9.1)", x->what, key,
             ytree_printable(nb, it->s));
    return false;
}

static const char *str_member(rx *x, const ynode *n, const char *key)
{
    if (!n) return NULL;
    if (n->t != Y_STR) {
        diag_add(x->d, n->line, "%s: %s must be a string", x->what, key);
        return NULL;
    }
    return n->s;
}

static void compile_path(rx *x, policy_route *rt, const ynode *n, int line)
{
    char norm[POLICY_ROUTE_MAX_PATH + 1], nb[96];
    const char *s = str_member(x, n, "path");
    if (!n) {
        diag_add(x->d, line, "%s: path is required", x->what);
        return;
    }
    if (!s) return;
    const char *why = strchr(s, '?') || strchr(s, '#') ? "must not hold a query or fragment"
                                                       : policy_route_path(s, strlen(s), norm);
    if (!why && strcmp(norm, s)) why = "is not in normal form (decode %XX of unreserved "
                                       "characters, uppercase the other hex digits)";
    if (!why && norm[1] && norm[strlen(norm) - 1] == '/')
        why = "must not end with / (a prefix matches whole segments: /api matches /api/x)";
    if (why) {
        diag_add(x->d, n->line, "%s: path %s %s", x->what, ytree_printable(nb, s), why);
        return;
    }
    rt->path = keep(x->r, xstrdup(norm));
    rt->pathlen = strlen(norm);
}

static void compile_host(rx *x, policy_route *rt, const ynode *n)
{
    char h[POLICY_ROUTE_MAX_HOST + 1], nb[96];
    const char *s = str_member(x, n, "host");
    if (!s) return;
    if (!policy_route_host(s, strlen(s), h) || strchr(s, ':') != NULL) {
        diag_add(x->d, n->line, "%s: host %s must be a host name or address without a port",
                 x->what, ytree_printable(nb, s));
        return;
    }
    rt->host = keep(x->r, xstrdup(h));
}

static bool releases_access(const policy *p)
{
    for (size_t i = 0; i < p->nscopes; i++)
        if (p->scopes[i].rel_perms || p->scopes[i].rel_roles) return true;
    return false;
}

static void compile_rule(rx *x, policy_route *rt, const ynode *m)
{
    rt->line = m->line;
    rt->methods = ROUTE_M_ALL;
    rt->any_method = true;
    if (!policy_want(x->d, m, Y_MAP, x->what)) return;
    policy_check_keys(x->d, m, x->what, "host path methods scopes permissions audience public");
    compile_host(x, rt, get(m, "host"));
    compile_path(x, rt, get(m, "path"), m->line);
    const ynode *n;
    if ((n = get(m, "methods")) != NULL) {
        size_t k = 0;
        const char *const *v = names_of(x, n, "methods", &k, check_method);
        if (k) {
            rt->methods = 0;
            rt->any_method = false;
        }
        for (size_t i = 0; i < k; i++)
            rt->methods |= policy_route_method(v[i], strlen(v[i]));
        if (rt->methods & ROUTE_M_GET) rt->methods |= ROUTE_M_HEAD; /* RFC 9110 §9.3.2 */
    }
    if ((n = get(m, "scopes")) != NULL) rt->scopes = names_of(x, n, "scopes", &rt->nscopes,
                                                              check_scope);
    if ((n = get(m, "permissions")) != NULL) {
        rt->permissions = names_of(x, n, "permissions", &rt->nperms, check_perm);
        if (rt->nperms && !releases_access(x->p))
            diag_add(x->d, n->line, "%s: permissions: no scope releases the roles or "
                     "permissions claim, so no token can show them", x->what);
    }
    if ((n = get(m, "audience")) != NULL) {
        const char *s = str_member(x, n, "audience"), *why = s ? aud_invalid(s) : NULL;
        if (why) diag_add(x->d, n->line, "%s: audience %s", x->what, why);
        else if (s) rt->audience = keep(x->r, xstrdup(s));
    }
    if ((n = get(m, "public")) != NULL) {
        if (n->t == Y_STR && !strcmp(n->s, "true"))
            rt->is_public = true;
        else if (!(n->t == Y_STR && !strcmp(n->s, "false")))
            diag_add(x->d, n->line, "%s: public must be true or false", x->what);
    }
    bool needs = get(m, "scopes") || get(m, "permissions") || get(m, "audience");
    if (rt->is_public && needs)
        diag_add(x->d, m->line, "%s: a public rule requires nothing (drop scopes, permissions "
                 "and audience, or public)", x->what);
    if (!rt->is_public && !needs && !get(m, "public"))
        diag_add(x->d, m->line, "%s: says nothing about access: give scopes, permissions, "
                 "audience, or public: true", x->what);
    if (!rt->is_public && !needs && get(m, "public"))
        diag_add(x->d, m->line, "%s: public: false needs scopes, permissions or audience",
                 x->what);
}

/* Two rules that tie for some request (same host, same path, overlapping methods of the same
 * kind) make the winner depend on document order: an error. */
static void check_duplicates(rx *x)
{
    pol_routes *r = x->r;
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < i; j++) {
            const policy_route *a = &r->v[i], *b = &r->v[j];
            if (!a->path || !b->path) continue;
            if (!!a->host != !!b->host || (a->host && strcmp(a->host, b->host))) continue;
            if (strcmp(a->path, b->path) || a->any_method != b->any_method) continue;
            if (!(a->methods & b->methods)) continue;
            diag_add(x->d, a->line, "route %zu: duplicates route %zu (line %d): same host, path "
                     "and methods", i + 1, j + 1, b->line);
            break;
        }
}

void policy_routes_compile(policy *p, const ynode *m, policy_diags *d)
{
    if (!m || m->t == Y_NULL) return;
    if (!policy_want(d, m, Y_SEQ, "routes")) return;
    if (m->n > POLICY_MAX_ROUTES) {
        diag_add(d, m->line, "routes: more than %d rules", POLICY_MAX_ROUTES);
        return;
    }
    rx x = {.p = p, .d = d, .r = xcalloc(1, sizeof(pol_routes))};
    x.r->v = xcalloc(m->n ? m->n : 1, sizeof *x.r->v);
    x.r->n = m->n;
    for (size_t i = 0; i < m->n; i++) {
        snprintf(x.what, sizeof x.what, "route %zu", i + 1);
        x.r->v[i].index = i;
        compile_rule(&x, &x.r->v[i], m->items[i]);
    }
    check_duplicates(&x);
    p->routes = x.r;
}

/* ---- explain and diff ----------------------------------------------------------------- */

static void methods_str(const policy_route *r, char out[96])
{
    size_t o = 0;
    out[0] = '\0';
    if (r->any_method) {
        snprintf(out, 96, "*");
        return;
    }
    for (size_t i = 0; i < NMETHODS; i++)
        if (r->methods & (1u << i))
            o += (size_t)snprintf(out + o, 96 - o, "%s%s", o ? "," : "", method_names[i]);
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *rule_json(const policy_route *r)
{
    char ms[96];
    methods_str(r, ms);
    json_t *o = json_pack("{s:I, s:I, s:s, s:s}", "rule", (json_int_t)(r->index + 1), "line",
                          (json_int_t)r->line, "path", r->path ? r->path : "", "methods", ms);
    json_object_set_new(o, "host", r->host ? json_string(r->host) : json_null());
    json_object_set_new(o, "public", json_boolean(r->is_public));
    json_object_set_new(o, "scopes", str_array(r->scopes, r->nscopes));
    json_object_set_new(o, "permissions", str_array(r->permissions, r->nperms));
    json_object_set_new(o, "audience", r->audience ? json_string(r->audience) : json_null());
    return o;
}

idp_err policy_route_explain(const policy *p, const char *method, const char *url,
                             const json_t *claims, json_t **out, idp_error *err)
{
    char path[POLICY_ROUTE_MAX_PATH + 1], host[POLICY_ROUTE_MAX_HOST + 1];
    const char *hp = NULL;
    *out = NULL;
    unsigned mb = policy_route_method(method, strlen(method));
    if (!mb) return IDP_FAIL(err, IDP_ERR_INVALID, "not an HTTP method token");
    size_t ul = strlen(url);
    const char *why = policy_route_path(url, ul, path);
    if (why) return IDP_FAIL(err, IDP_ERR_INVALID, "%s", why);
    size_t skip = !strncmp(url, "https://", 8) ? 8 : !strncmp(url, "http://", 7) ? 7 : 0;
    if (skip) {
        size_t hl = strcspn(url + skip, "/?#");
        if (!policy_route_host(url + skip, hl, host))
            return IDP_FAIL(err, IDP_ERR_INVALID, "the URL's host is not valid");
        hp = host;
    }
    const policy_route *r = policy_route_match(p, mb, hp, path);
    json_t *o = json_pack("{s:s, s:s}", "method", method, "path", path);
    json_object_set_new(o, "host", hp ? json_string(hp) : json_null());
    json_object_set_new(o, "policy_version", json_integer(policy_version(p)));
    json_object_set_new(o, "policy_sha256", json_string(policy_sha256(p)));
    json_object_set_new(o, "match", r ? rule_json(r) : json_null());
    const char *lacks = r && claims ? policy_route_check(p, r, claims, NULL) : NULL;
    const char *verdict = !r             ? "deny: no rule matches (403)"
                          : r->is_public ? "allow: public, no token needed"
                          : !claims      ? "allow with a token that has what the rule requires"
                          : lacks        ? "deny: insufficient_scope (403)"
                                         : "allow: the token has what the rule requires";
    json_object_set_new(o, "decision", json_string(verdict));
    if (claims) json_object_set_new(o, "lacks", lacks ? json_string(lacks) : json_null());
    *out = o;
    return IDP_OK;
}

static void rule_key(const policy_route *r, char *out, size_t cap)
{
    char ms[96];
    methods_str(r, ms);
    snprintf(out, cap, "%s%s %s", r->host ? r->host : "", r->path ? r->path : "", ms);
}

static void requires_str(const policy_route *r, idp_buf *b)
{
    if (r->is_public) {
        buf_puts(b, "public");
        return;
    }
    buf_puts(b, "scopes [");
    for (size_t i = 0; i < r->nscopes; i++)
        buf_printf(b, "%s%s", i ? " " : "", r->scopes[i]);
    buf_puts(b, "] permissions [");
    for (size_t i = 0; i < r->nperms; i++)
        buf_printf(b, "%s%s", i ? " " : "", r->permissions[i]);
    buf_printf(b, "] audience %s", r->audience ? r->audience : "-");
}

static const policy_route *find_same(const policy *p, const policy_route *r)
{
    char k1[2400], k2[2400];
    rule_key(r, k1, sizeof k1);
    for (size_t i = 0; i < policy_route_count(p); i++) {
        rule_key(&p->routes->v[i], k2, sizeof k2);
        if (!strcmp(k1, k2)) return &p->routes->v[i];
    }
    return NULL;
}

void policy_routes_diff(const policy *a, const policy *b, idp_buf *out)
{
    char key[2400];
    idp_buf ra, rb;
    buf_init(&ra, 0);
    buf_init(&rb, 0);
    for (size_t i = 0; i < policy_route_count(a); i++) {
        const policy_route *x = &a->routes->v[i], *y = find_same(b, x);
        rule_key(x, key, sizeof key);
        buf_reset(&ra);
        requires_str(x, &ra);
        if (!y) {
            buf_printf(out, "- route %s: %s\n", key, buf_cstr(&ra));
            continue;
        }
        buf_reset(&rb);
        requires_str(y, &rb);
        if (strcmp(buf_cstr(&ra), buf_cstr(&rb)))
            buf_printf(out, "~ route %s requires: %s -> %s\n", key, buf_cstr(&ra), buf_cstr(&rb));
    }
    for (size_t i = 0; i < policy_route_count(b); i++) {
        const policy_route *y = &b->routes->v[i];
        if (find_same(a, y)) continue;
        rule_key(y, key, sizeof key);
        buf_reset(&rb);
        requires_str(y, &rb);
        buf_printf(out, "+ route %s: %s\n", key, buf_cstr(&rb));
    }
    buf_free(&ra);
    buf_free(&rb);
}
