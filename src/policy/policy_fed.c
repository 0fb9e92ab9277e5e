/* policy_fed — parses, validates and compiles `federation:` (docs/POLICY.md "Federation")
 * into sorted pol_fed entries, and the lookups of policy/policy_fed.h.
 *
 * As in policy_compile.c every rule adds a diagnostic at the line of the offending node and
 * compilation goes on. Each issuer owns its strings and arrays through pol_fed.own, so the public
 * fed_issuer can hold plain const pointers. The claim mapping itself is in policy_fed_map.c. */
#include "policy/internal.h"

#include "core/netaddr.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "jose/alg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const policy_fed_bind_kind[FB_KINDS] = {"group", "subject"};

/* ---- ownership ------------------------------------------------------------------------ */

static void *keep(pol_fed *f, void *ptr)
{
    if (f->nown == f->capown) {
        f->capown = f->capown ? 2 * f->capown : 16;
        f->own = xrealloc(f->own, f->capown * sizeof *f->own);
    }
    f->own[f->nown++] = ptr;
    return ptr;
}

static const char *kstr(pol_fed *f, const char *s)
{
    return keep(f, xstrdup(s));
}

void policy_fed_free(pol_fed *f)
{
    for (size_t i = 0; i < f->nown; i++)
        free(f->own[i]);
    free(f->own);
    json_decref(f->require);
    for (int k = 0; k < FB_KINDS; k++) {
        for (size_t i = 0; i < f->nbinds[k]; i++) {
            free(f->binds[k][i].name);
            free(f->binds[k][i].key);
            free(f->binds[k][i].roles);
        }
        free(f->binds[k]);
    }
}

/* ---- value rules ---------------------------------------------------------------------- */

typedef struct fx {
    policy_diags *d;
    pol_fed *f;
    char what[160]; /* "federation issuer NAME" */
} fx;

static const ynode *get(const ynode *m, const char *key)
{
    const ypair *pr = ytree_get(m, key);
    return pr ? pr->val : NULL;
}

/* A string member; NULL (with a diagnostic unless absent) otherwise. */
static const char *str_of(fx *x, const ynode *n, const char *key, bool required, int line)
{
    if (!n) {
        if (required) diag_add(x->d, line, "%s: %s is required", x->what, key);
        return NULL;
    }
    if (n->t != Y_STR) {
        diag_add(x->d, n->line, "%s: %s must be a string", x->what, key);
        return NULL;
    }
    const char *why = policy_text_invalid(n->s, 1024, false);
    if (why) {
        diag_add(x->d, n->line, "%s: %s %s", x->what, key, why);
        return NULL;
    }
    return n->s;
}

static bool bool_of(fx *x, const ynode *n, const char *key, bool dflt)
{
    if (!n) return dflt;
    if (n->t == Y_STR && !strcmp(n->s, "true")) return true;
    if (n->t == Y_STR && !strcmp(n->s, "false")) return false;
    diag_add(x->d, n->line, "%s: %s must be true or false", x->what, key);
    return dflt;
}

/* A duration (core/timeutil: 90, 90s, 15m, 12h, 30d, 2w) in seconds. */
static int64_t dur_of(fx *x, const ynode *n, const char *key, int64_t dflt)
{
    int64_t v = 0;
    if (!n) return dflt;
    if (n->t != Y_STR || time_parse_duration(n->s, &v) != IDP_OK) {
        diag_add(x->d, n->line,
                 "%s: %s must be a positive duration (e.g. 300s, 5m, 24h; a number is seconds)",
                 x->what, key);
        return dflt;
    }
    return v;
}

/* A list of strings, each checked by why_fn (NULL: text rule); owned by f. */
static const char *const *list_of(fx *x, const ynode *n, const char *key, bool nonempty,
                                  const char *(*why_fn)(const char *), size_t *nout)
{
    *nout = 0;
    if (n->t != Y_SEQ) {
        diag_add(x->d, n->line, "%s: %s must be a list of strings", x->what, key);
        return NULL;
    }
    if (n->n > POLICY_MAX_LIST) {
        diag_add(x->d, n->line, "%s: %s: more than %d items", x->what, key, POLICY_MAX_LIST);
        return NULL;
    }
    if (nonempty && n->n == 0) {
        diag_add(x->d, n->line, "%s: %s must not be empty", x->what, key);
        return NULL;
    }
    const char **v = keep(x->f, xcalloc(n->n ? n->n : 1, sizeof *v));
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        const ynode *it = n->items[i];
        char nb[96];
        if (it->t != Y_STR) {
            diag_add(x->d, it->line, "%s: %s: items must be strings", x->what, key);
            continue;
        }
        const char *why = why_fn ? why_fn(it->s) : policy_text_invalid(it->s, 1024, false);
        if (why) {
            diag_add(x->d, it->line, "%s: %s: %s %s", x->what, key, ytree_printable(nb, it->s),
                     why);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = !strcmp(v[j], it->s);
        if (dup) {
            diag_add(x->d, it->line, "%s: %s: %s listed twice", x->what, key,
                     ytree_printable(nb, it->s));
            continue;
        }
        v[k++] = kstr(x->f, it->s);
    }
    *nout = k;
    return v;
}

static const char *name_invalid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return "must be 1 to 64 characters";
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')) ||
        s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-")])
        return "must match [a-z0-9][a-z0-9-]* (it appears in URLs, metrics and bindings)";
    return NULL;
}


/* An absolute http(s) URL: https, or http only when allow_http_loopback and the host is a
 * loopback address; no userinfo, no fragment, no query when issuer. */
static const char *url_invalid(const char *s, bool allow_http_loopback, bool issuer)
{
    size_t n = strlen(s);
    if (n == 0 || n > 2048) return "must be 1 to 2048 characters";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '<' || ch == '>')
            return "contains a character a URL may not hold";
    }
    bool https = !strncmp(s, "https://", 8), http = !strncmp(s, "http://", 7);
    if (!https && !http) return "must be an absolute https:// URL";
    const char *h = s + (https ? 8 : 7);
    size_t hl = strcspn(h, "/?#");
    if (memchr(h, '@', hl)) return "must not contain userinfo";
    size_t hostlen = hl;
    if (h[0] == '[') {
        const char *rb = memchr(h, ']', hl);
        if (!rb) return "has a malformed IPv6 host";
        hostlen = (size_t)(rb - h) + 1;
        if (hostlen < hl && h[hostlen] != ':') return "has a malformed IPv6 host";
    } else {
        const char *colon = memchr(h, ':', hl);
        if (colon) hostlen = (size_t)(colon - h);
    }
    if (hostlen == 0) return "has no host";
    if (hostlen < hl) { /* a port */
        const char *pt = h + hostlen + 1;
        size_t pl = hl - hostlen - 1;
        if (pl == 0 || pl > 5 || strspn(pt, "0123456789") < pl) return "has a malformed port";
        long port = 0;
        for (size_t i = 0; i < pl; i++)
            port = port * 10 + (pt[i] - '0');
        if (port == 0 || port > 65535) return "has a malformed port";
    }
    if (strchr(s, '#')) return "must not contain a fragment";
    if (issuer && strchr(s, '?'))
        return "must not contain a query (OpenID Connect Discovery §3, RFC 8414 §2)";
    if (http) {
        if (!allow_http_loopback)
            return "must be https:// (http:// only with allow_http_loopback: true and a loopback "
                   "host)";
        if (!netaddr_host_loopback(h, hostlen))
            return "is http:// but its host is not a loopback address (127.0.0.0/8, ::1, "
                   "localhost)";
    }
    return NULL;
}

/* ---- sections ------------------------------------------------------------------------- */

static unsigned algorithms_of(fx *x, const ynode *n, int line)
{
    if (!n) {
        diag_add(x->d, line, "%s: algorithms is required (a list of ES256 RS256 PS256 EdDSA)",
                 x->what);
        return 0;
    }
    if (n->t != Y_SEQ || n->n == 0) {
        diag_add(x->d, n->line,
                 "%s: algorithms must be a non-empty list of ES256 RS256 PS256 EdDSA", x->what);
        return 0;
    }
    unsigned mask = 0;
    for (size_t i = 0; i < n->n; i++) {
        const ynode *it = n->items[i];
        char nb[96];
        if (it->t != Y_STR) {
            diag_add(x->d, it->line, "%s: algorithms: items must be algorithm names", x->what);
            continue;
        }
        const char *a = it->s;
        if (!strcasecmp(a, "none")) {
            diag_add(x->d, it->line,
                     "%s: algorithm %s is refused: unsigned tokens are never accepted (RFC 8725 "
                     "§3.2)",
                     x->what, ytree_printable(nb, a));
            continue;
        }
        if ((a[0] == 'H' || a[0] == 'h') && (a[1] == 'S' || a[1] == 's')) {
            diag_add(x->d, it->line,
                     "%s: algorithm %s is refused: symmetric (HMAC) algorithms cannot verify "
                     "tokens of another issuer (RFC 8725 §3.1); use ES256 RS256 PS256 EdDSA",
                     x->what, ytree_printable(nb, a));
            continue;
        }
        /* the one algorithm registry (jose/alg.h): exact, case-sensitive names */
        jws_alg ja = jws_alg_from_name(a, strlen(a));
        unsigned bit = ja == JWS_ALG_INVALID ? 0 : JWS_ALG_BIT(ja);
        if (!bit) {
            diag_add(x->d, it->line, "%s: unknown algorithm %s (expected: ES256 RS256 PS256 EdDSA)",
                     x->what, ytree_printable(nb, a));
            continue;
        }
        if (mask & bit) diag_add(x->d, it->line, "%s: algorithm %s listed twice", x->what, a);
        mask |= bit;
    }
    return mask;
}

const char *policy_fed_algs_str(unsigned algs, char out[64])
{
    static const jws_alg order[] = {JWS_ES256, JWS_RS256, JWS_PS256, JWS_EDDSA};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (algs & JWS_ALG_BIT(order[i]))
            snprintf(out + strlen(out), 64 - strlen(out), "%s%s", out[0] ? " " : "",
                     jws_alg_name(order[i]));
    return out;
}

/* require: claim -> scalar. "true"/"false" are booleans, an integer is a number, anything else
 * a string (the YAML reader does not keep quoting). */
static void require_of(fx *x, const ynode *n)
{
    if (n->t != Y_MAP) {
        diag_add(x->d, n->line, "%s: require must be a mapping of claim: value", x->what);
        return;
    }
    if (n->n > FED_MAX_REQUIRE) {
        diag_add(x->d, n->line, "%s: require: more than %d entries", x->what, FED_MAX_REQUIRE);
        return;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < n->n; i++) {
        const ypair *pr = &n->pairs[i];
        char nb[96];
        const char *why = policy_text_invalid(pr->key, 256, false);
        if (why) {
            diag_add(x->d, pr->line, "%s: require: claim name %s", x->what, why);
            continue;
        }
        const ynode *v = pr->val;
        if (v->t != Y_STR) {
            diag_add(x->d, v->line,
                     "%s: require %s: the value must be a scalar (string, number, true or false)",
                     x->what, ytree_printable(nb, pr->key));
            continue;
        }
        json_t *jv = NULL;
        const char *s = v->s;
        size_t digits = strspn(s + (s[0] == '-'), "0123456789");
        if (!strcmp(s, "true") || !strcmp(s, "false"))
            jv = json_boolean(s[0] == 't');
        else if (digits > 0 && digits <= 15 && !s[(s[0] == '-') + digits])
            jv = json_integer(strtoll(s, NULL, 10));
        else
            jv = json_string(s);
        if (!jv) {
            diag_add(x->d, v->line, "%s: require %s: the value is not valid UTF-8", x->what,
                     ytree_printable(nb, pr->key));
            continue;
        }
        json_object_set_new(o, pr->key, jv);
    }
    x->f->require = o;
    x->f->pub.require = o;
}

typedef struct mpair {
    const char *from, *to;
} mpair;

static int cmp_mpair(const void *a, const void *b)
{
    return strcmp(((const mpair *)a)->from, ((const mpair *)b)->from);
}

static void claim_rule_of(fx *x, fed_claim_rule *r, const ypair *pr)
{
    char nb[96], what[300];
    snprintf(what, sizeof what, "%s: claim %s", x->what, ytree_printable(nb, pr->key));
    r->name = kstr(x->f, pr->key);
    const ynode *v = pr->val;
    if (v->t != Y_MAP) {
        diag_add(x->d, v->line, "%s must be a mapping ({from: CLAIM, ...})", what);
        return;
    }
    policy_check_keys(x->d, v, what, "from only_if map drop_unmapped");
    const ynode *from = get(v, "from"), *oi = get(v, "only_if"), *map = get(v, "map"),
                *du = get(v, "drop_unmapped");
    if (!from)
        diag_add(x->d, v->line, "%s: from is required", what);
    else if (from->t != Y_STR || policy_text_invalid(from->s, 256, false))
        diag_add(x->d, from->line, "%s: from must be a claim name", what);
    else
        r->from = kstr(x->f, from->s);
    if (oi) {
        if (oi->t != Y_STR || policy_text_invalid(oi->s, 256, false))
            diag_add(x->d, oi->line, "%s: only_if must be a claim name", what);
        else
            r->only_if = kstr(x->f, oi->s);
    }
    if (du) {
        if (du->t == Y_STR && (!strcmp(du->s, "true") || !strcmp(du->s, "false")))
            r->drop_unmapped = du->s[0] == 't';
        else
            diag_add(x->d, du->line, "%s: drop_unmapped must be true or false", what);
    }
    if (map) {
        if (map->t != Y_MAP) {
            diag_add(x->d, map->line, "%s: map must be a mapping of upstream value: value", what);
        } else if (map->n > POLICY_MAX_LIST) {
            diag_add(x->d, map->line, "%s: map: more than %d entries", what, POLICY_MAX_LIST);
        } else {
            mpair *mp = xcalloc(map->n ? map->n : 1, sizeof *mp);
            size_t k = 0;
            for (size_t i = 0; i < map->n; i++) {
                const ypair *e = &map->pairs[i];
                if (e->val->t != Y_STR) {
                    diag_add(x->d, e->val->line, "%s: map %s: the value must be a string", what,
                             ytree_printable(nb, e->key));
                    continue;
                }
                const char *why = policy_text_invalid(e->key, FED_MAP_MAX_STRING, true);
                if (!why) why = policy_text_invalid(e->val->s, FED_MAP_MAX_STRING, true);
                if (why) {
                    diag_add(x->d, e->line, "%s: map %s: %s", what, ytree_printable(nb, e->key),
                             why);
                    continue;
                }
                mp[k++] = (mpair){e->key, e->val->s};
            }
            qsort(mp, k, sizeof *mp, cmp_mpair);
            const char **mf = keep(x->f, xcalloc(k ? k : 1, sizeof *mf));
            const char **mt = keep(x->f, xcalloc(k ? k : 1, sizeof *mt));
            for (size_t i = 0; i < k; i++) {
                mf[i] = kstr(x->f, mp[i].from);
                mt[i] = kstr(x->f, mp[i].to);
            }
            free(mp);
            r->map_from = mf;
            r->map_to = mt;
            r->nmap = k;
        }
    }
    if (r->drop_unmapped && !map) diag_add(x->d, du->line, "%s: drop_unmapped needs a map", what);
}

static void claims_of(fx *x, const ynode *n)
{
    if (n->t != Y_MAP) {
        diag_add(x->d, n->line, "%s: claims must be a mapping of output claim: rule", x->what);
        return;
    }
    if (n->n > FED_MAX_CLAIM_RULES) {
        diag_add(x->d, n->line, "%s: claims: more than %d rules", x->what, FED_MAX_CLAIM_RULES);
        return;
    }
    fed_claim_rule *r = keep(x->f, xcalloc(n->n ? n->n : 1, sizeof *r));
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        const ypair *pr = &n->pairs[i];
        char nb[96];
        const char *why = policy_text_invalid(pr->key, 256, false);
        if (why) {
            diag_add(x->d, pr->line, "%s: claim name %s %s", x->what, ytree_printable(nb, pr->key),
                     why);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = !strcmp(r[j].name, pr->key);
        if (dup) { /* only reachable through an overlay-free verbatim tree; kept for safety */
            diag_add(x->d, pr->line, "%s: claim %s defined twice", x->what,
                     ytree_printable(nb, pr->key));
            continue;
        }
        claim_rule_of(x, &r[k++], pr);
    }
    x->f->pub.claims = r;
    x->f->pub.nclaims = k;
}

static const char *client_list_item(const char *s)
{
    return policy_client_invalid(s);
}

/* jwt_bearer / token_exchange: {clients: [...], max_lifetime (jwt_bearer only)}. */
static const char *const *use_of(fx *x, const ynode *n, const char *key, size_t *nclients,
                                 int64_t *max_lifetime)
{
    char w[200];
    *nclients = 0;
    if (n->t != Y_MAP) {
        diag_add(x->d, n->line, "%s: %s must be a mapping ({clients: [...]})", x->what, key);
        return NULL;
    }
    snprintf(w, sizeof w, "%s: %s", x->what, key);
    policy_check_keys(x->d, n, w, max_lifetime ? "clients max_lifetime" : "clients");
    const ynode *cl = get(n, "clients");
    const char *const *v = NULL;
    char k2[64];
    snprintf(k2, sizeof k2, "%s.clients", key);
    if (!cl)
        diag_add(x->d, n->line, "%s: %s.clients is required (the client ids allowed to use it)",
                 x->what, key);
    else
        v = list_of(x, cl, k2, true, client_list_item, nclients);
    if (max_lifetime) {
        snprintf(k2, sizeof k2, "%s.max_lifetime", key);
        *max_lifetime =
            dur_of(x, get(n, "max_lifetime"), k2, FED_DEFAULT_JWT_BEARER_MAX_LIFETIME_S);
    }
    return v;
}

static const char *scope_item(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return "must be 1 to 128 characters";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\')
            return "is not a scope-token (RFC 6749 §3.3)";
    }
    return NULL;
}

static void login_of(fx *x, const ynode *n)
{
    if (n->t != Y_MAP) {
        diag_add(x->d, n->line, "%s: login must be a mapping", x->what);
        return;
    }
    char w[200];
    snprintf(w, sizeof w, "%s: login", x->what);
    policy_check_keys(x->d, n, w, "display_name client_id client_secret_file scopes");
    fed_login *l = keep(x->f, xcalloc(1, sizeof *l));
    const char *dn = str_of(x, get(n, "display_name"), "login.display_name", false, n->line);
    l->display_name = dn ? kstr(x->f, dn) : x->f->pub.name;
    const ynode *ci = get(n, "client_id");
    if (!ci)
        diag_add(x->d, n->line, "%s: login.client_id is required", x->what);
    else if (ci->t != Y_STR || policy_client_invalid(ci->s))
        diag_add(x->d, ci->line, "%s: login.client_id must be a client_id (RFC 6749 Appendix A.1)",
                 x->what);
    else
        l->client_id = kstr(x->f, ci->s);
    const char *sf =
        str_of(x, get(n, "client_secret_file"), "login.client_secret_file", true, n->line);
    if (sf) l->client_secret_file = kstr(x->f, sf);
    const ynode *sc = get(n, "scopes");
    if (!sc) {
        diag_add(x->d, n->line, "%s: login.scopes is required (and must include openid)", x->what);
    } else {
        size_t before = x->d->n;
        l->scopes = list_of(x, sc, "login.scopes", true, scope_item, &l->nscopes);
        bool openid = false;
        for (size_t i = 0; i < l->nscopes; i++)
            openid |= !strcmp(l->scopes[i], "openid");
        if (!openid && x->d->n == before)
            diag_add(x->d, sc->line, "%s: login.scopes must include openid", x->what);
    }
    x->f->pub.login = l;
}

static void jwks_of(fx *x, const ynode *n)
{
    fed_jwks_opts *j = &x->f->pub.jwks;
    if (!n) return;
    if (n->t != Y_MAP) {
        diag_add(x->d, n->line, "%s: jwks must be a mapping of durations", x->what);
        return;
    }
    char w[200];
    snprintf(w, sizeof w, "%s: jwks", x->what);
    policy_check_keys(x->d, n, w,
                      "refresh min_refresh max_refresh kid_miss_cooldown stale_if_error "
                      "fetch_timeout");
    j->refresh_s = dur_of(x, get(n, "refresh"), "jwks.refresh", j->refresh_s);
    j->min_refresh_s = dur_of(x, get(n, "min_refresh"), "jwks.min_refresh", j->min_refresh_s);
    j->max_refresh_s = dur_of(x, get(n, "max_refresh"), "jwks.max_refresh", j->max_refresh_s);
    j->kid_miss_cooldown_s =
        dur_of(x, get(n, "kid_miss_cooldown"), "jwks.kid_miss_cooldown", j->kid_miss_cooldown_s);
    j->stale_if_error_s =
        dur_of(x, get(n, "stale_if_error"), "jwks.stale_if_error", j->stale_if_error_s);
    const ynode *ft = get(n, "fetch_timeout");
    int64_t fts = dur_of(x, ft, "jwks.fetch_timeout", j->fetch_timeout_ms / 1000);
    if (ft && fts > 300)
        diag_add(x->d, ft->line, "%s: jwks.fetch_timeout must be at most 300s", x->what);
    else
        j->fetch_timeout_ms = fts * 1000;
    if (j->min_refresh_s > j->refresh_s || j->refresh_s > j->max_refresh_s)
        diag_add(x->d, n->line,
                 "%s: jwks: min_refresh <= refresh <= max_refresh must hold (%llds, %llds, "
                 "%llds)",
                 x->what, (long long)j->min_refresh_s, (long long)j->refresh_s,
                 (long long)j->max_refresh_s);
}

static void issuer_of(policy_diags *d, pol_fed *f, const ynode *e)
{
    fx x = {.d = d, .f = f};
    fed_issuer *is = &f->pub;
    is->line = e->line;
    is->subject_claim = "sub";
    is->clock_skew_s = FED_DEFAULT_CLOCK_SKEW_S;
    is->jwt_bearer_max_lifetime_s = FED_DEFAULT_JWT_BEARER_MAX_LIFETIME_S;
    is->jwks = (fed_jwks_opts){.refresh_s = 300,
                               .min_refresh_s = 30,
                               .max_refresh_s = 86400,
                               .kid_miss_cooldown_s = 30,
                               .stale_if_error_s = 86400,
                               .fetch_timeout_ms = 3000};
    const ynode *nm = get(e, "name");
    char nb[96];
    if (nm && nm->t == Y_STR)
        snprintf(x.what, sizeof x.what, "federation issuer %s", ytree_printable(nb, nm->s));
    else
        snprintf(x.what, sizeof x.what, "federation issuer on line %d", e->line);
    policy_check_keys(d, e, x.what,
                      "name issuer jwks_uri allow_http_loopback algorithms audiences "
                      "subject_claim typ clock_skew require claims provision link_by jwt_bearer "
                      "token_exchange login jwks");
    if (!nm) {
        diag_add(d, e->line, "%s: name is required", x.what);
    } else if (nm->t != Y_STR) {
        diag_add(d, nm->line, "%s: name must be a string", x.what);
    } else {
        const char *why = name_invalid(nm->s);
        if (why) diag_add(d, nm->line, "%s: name %s", x.what, why);
        is->name = kstr(f, nm->s);
    }
    is->allow_http_loopback =
        bool_of(&x, get(e, "allow_http_loopback"), "allow_http_loopback", false);
    const char *iss = str_of(&x, get(e, "issuer"), "issuer", true, e->line);
    if (iss) {
        const char *why = url_invalid(iss, is->allow_http_loopback, true);
        if (why) diag_add(d, get(e, "issuer")->line, "%s: issuer %s", x.what, why);
        is->issuer = kstr(f, iss);
    }
    const char *ju = str_of(&x, get(e, "jwks_uri"), "jwks_uri", false, e->line);
    if (ju) {
        const char *why = url_invalid(ju, is->allow_http_loopback, false);
        if (why) diag_add(d, get(e, "jwks_uri")->line, "%s: jwks_uri %s", x.what, why);
        is->jwks_uri = kstr(f, ju);
    }
    is->algorithms = algorithms_of(&x, get(e, "algorithms"), e->line);
    const ynode *au = get(e, "audiences");
    if (au) is->audiences = list_of(&x, au, "audiences", false, NULL, &is->naudiences);
    const char *sc = str_of(&x, get(e, "subject_claim"), "subject_claim", false, e->line);
    if (sc) is->subject_claim = kstr(f, sc);
    const ynode *ty = get(e, "typ");
    const char *t = str_of(&x, ty, "typ", false, e->line);
    if (t) {
        if (strlen(t) > 64) diag_add(d, ty->line, "%s: typ longer than 64 bytes", x.what);
        is->typ = kstr(f, t);
    }
    const ynode *cs = get(e, "clock_skew");
    is->clock_skew_s = dur_of(&x, cs, "clock_skew", FED_DEFAULT_CLOCK_SKEW_S);
    if (is->clock_skew_s > FED_MAX_CLOCK_SKEW_S) {
        diag_add(d, cs->line, "%s: clock_skew must be at most %ds", x.what, FED_MAX_CLOCK_SKEW_S);
        is->clock_skew_s = FED_DEFAULT_CLOCK_SKEW_S;
    }
    const ynode *rq = get(e, "require");
    if (rq) require_of(&x, rq);
    const ynode *cl = get(e, "claims");
    if (cl) claims_of(&x, cl);
    const ynode *pv = get(e, "provision");
    if (pv) {
        if (pv->t == Y_STR && !strcmp(pv->s, "jit"))
            is->provision = FED_PROVISION_JIT;
        else if (pv->t == Y_STR && !strcmp(pv->s, "link_only"))
            is->provision = FED_PROVISION_LINK_ONLY;
        else if (pv->t == Y_STR && !strcmp(pv->s, "none"))
            is->provision = FED_PROVISION_NONE;
        else
            diag_add(d, pv->line, "%s: provision must be jit, link_only or none", x.what);
    }
    const ynode *lb = get(e, "link_by");
    if (lb) {
        if (lb->t == Y_STR && !strcmp(lb->s, "externalId"))
            is->link_by_external_id = true;
        else
            diag_add(d, lb->line,
                     "%s: link_by must be externalId (the SCIM attribute matched against "
                     "subject_claim)",
                     x.what);
    }
    const ynode *jb = get(e, "jwt_bearer");
    if (jb) {
        is->jwt_bearer = true;
        is->jwt_bearer_clients =
            use_of(&x, jb, "jwt_bearer", &is->njwt_bearer_clients, &is->jwt_bearer_max_lifetime_s);
    }
    const ynode *te = get(e, "token_exchange");
    if (te) {
        is->token_exchange = true;
        is->token_exchange_clients =
            use_of(&x, te, "token_exchange", &is->ntoken_exchange_clients, NULL);
        if (!au || (au->t == Y_SEQ && au->n == 0))
            diag_add(d, te->line,
                     "%s: token_exchange needs audiences (the aud values accepted on subject "
                     "tokens)",
                     x.what);
    }
    const ynode *lg = get(e, "login");
    if (lg) login_of(&x, lg);
    /* upstream sign-in starts a browser session, and a session is a local user's */
    if (lg && is->provision == FED_PROVISION_NONE)
        diag_add(d, lg->line,
                 "%s: login needs provision: jit or link_only (a browser session needs a local "
                 "user; provision none keeps none)",
                 x.what);
    jwks_of(&x, get(e, "jwks"));
}

static int cmp_fed(const void *a, const void *b)
{
    const pol_fed *x = a, *y = b;
    return strcmp(x->pub.name, y->pub.name);
}

void policy_fed_compile(policy *p, const ynode *fed, policy_diags *d)
{
    if (!fed) return;
    if (!policy_want(d, fed, Y_MAP, "federation")) return;
    policy_check_keys(d, fed, "federation", "issuers");
    const ynode *l = get(fed, "issuers");
    if (!l) {
        diag_add(d, fed->line, "federation: issuers is required (a list of issuers)");
        return;
    }
    if (!policy_want(d, l, Y_SEQ, "federation.issuers")) return;
    if (l->n > POLICY_MAX_ISSUERS) {
        diag_add(d, l->line, "federation.issuers: more than %d issuers", POLICY_MAX_ISSUERS);
        return;
    }
    pol_fed *f = xcalloc(l->n ? l->n : 1, sizeof *f);
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const ynode *e = l->items[i];
        if (e->t != Y_MAP) {
            diag_add(d, e->line, "federation.issuers: each issuer must be a mapping (name: ...)");
            continue;
        }
        pol_fed *g = &f[n];
        issuer_of(d, g, e);
        bool dup = false;
        char nb[96];
        for (size_t j = 0; j < n && !dup && g->pub.name; j++)
            if (f[j].pub.name && !strcmp(f[j].pub.name, g->pub.name)) {
                diag_add(d, get(e, "name")->line,
                         "federation issuer %s: name already used on line %d",
                         ytree_printable(nb, g->pub.name), f[j].pub.line);
                dup = true;
            }
        for (size_t j = 0; j < n && !dup && g->pub.issuer; j++)
            if (f[j].pub.issuer && !strcmp(f[j].pub.issuer, g->pub.issuer)) {
                diag_add(d, get(e, "issuer")->line,
                         "federation issuer %s: issuer %s already declared on line %d",
                         g->pub.name ? ytree_printable(nb, g->pub.name) : "?", g->pub.issuer,
                         f[j].pub.line);
                dup = true;
            }
        if (dup || !g->pub.name) {
            policy_fed_free(g);
            memset(g, 0, sizeof *g);
            continue;
        }
        n++;
    }
    qsort(f, n, sizeof *f, cmp_fed);
    p->feds = f;
    p->nfeds = n;
}

/* ---- lookups -------------------------------------------------------------------------- */

const pol_fed *policy_fed_find(const policy *p, const char *name)
{
    if (!p || !name) return NULL;
    long i = policy_bisect(p->feds, p->nfeds, sizeof *p->feds, offsetof(pol_fed, pub.name), name);
    return i < 0 ? NULL : &p->feds[i];
}

const pol_bind *policy_fed_find_bind(const pol_fed *f, int kind, const char *name)
{
    if (!f || !name) return NULL;
    long i = policy_bisect(f->binds[kind], f->nbinds[kind], sizeof(pol_bind),
                           offsetof(pol_bind, key), name);
    return i < 0 ? NULL : &f->binds[kind][i];
}

size_t policy_fed_count(const policy *p)
{
    return p ? p->nfeds : 0;
}

const fed_issuer *policy_fed_at(const policy *p, size_t i)
{
    return p && i < p->nfeds ? &p->feds[i].pub : NULL;
}

const fed_issuer *policy_fed_by_name(const policy *p, const char *name)
{
    const pol_fed *f = policy_fed_find(p, name);
    return f ? &f->pub : NULL;
}

const fed_issuer *policy_fed_by_issuer(const policy *p, const char *iss, size_t len)
{
    if (!p || !iss) return NULL;
    for (size_t i = 0; i < p->nfeds; i++) {
        const char *s = p->feds[i].pub.issuer;
        if (strlen(s) == len && !memcmp(s, iss, len)) return &p->feds[i].pub;
    }
    return NULL;
}

bool policy_fed_client_allowed(const fed_issuer *is, bool jwt_bearer, const char *client_id)
{
    if (!is || !client_id) return false;
    if (jwt_bearer ? !is->jwt_bearer : !is->token_exchange) return false;
    const char *const *v = jwt_bearer ? is->jwt_bearer_clients : is->token_exchange_clients;
    size_t n = jwt_bearer ? is->njwt_bearer_clients : is->ntoken_exchange_clients;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], client_id)) return true;
    return false;
}

bool policy_fed_any(const policy *p, bool jwt_bearer)
{
    for (size_t i = 0; p && i < p->nfeds; i++)
        if (jwt_bearer ? p->feds[i].pub.jwt_bearer : p->feds[i].pub.token_exchange) return true;
    return false;
}

bool policy_fed_any_login(const policy *p)
{
    for (size_t i = 0; p && i < p->nfeds; i++)
        if (p->feds[i].pub.login) return true;
    return false;
}
