/* policy — loading: size cap, YAML tree, compile of the base document and of every environment
 * overlay, diagnostics in document order; and the policy's lifecycle and accessors.
 *
 * Overlays (docs/POLICY.md "Environments") are merged at the level of entries: an overlay entry
 * under roles, scopes, resources or bindings.groups/users/clients replaces the base entry of the
 * same name (userNames and group names compared case-insensitively) or adds it; a null value
 * removes it. The merged tree shares the base's nodes, so a merge allocates only the new maps.
 * federation and bindings.issuers are not overlay sections (docs/POLICY.md "Federation"): every
 * environment trusts the same upstream issuers with the same bindings. */
#include "policy/internal.h"

#include "core/mem.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- diagnostics ---------------------------------------------------------------------- */

/* A message cut by vsnprintf may end inside a UTF-8 sequence: drop the partial character. */
static void utf8_trim(char *s)
{
    size_t n = strlen(s), k = n;
    while (k > 0 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
        k--;
    if (k > 0 && (unsigned char)s[k - 1] >= 0xc0) {
        unsigned char lead = (unsigned char)s[k - 1];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (n - (k - 1) < need) s[k - 1] = '\0';
    }
}

void diag_add(policy_diags *d, int line, const char *fmt, ...)
{
    if (d->n > POLICY_MAX_DIAGS) return;
    if (!d->items) d->items = xcalloc(POLICY_MAX_DIAGS + 1, sizeof *d->items);
    policy_diag *g = &d->items[d->n++];
    if (d->n == POLICY_MAX_DIAGS + 1) { /* the one extra slot says that we stopped */
        g->line = 0;
        snprintf(g->msg, sizeof g->msg, "too many errors; only the first %d are reported",
                 POLICY_MAX_DIAGS);
        return;
    }
    g->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->msg, sizeof g->msg, fmt, ap);
    va_end(ap);
    utf8_trim(g->msg);
}

/* ytree_diag_fn: the reader's problems are the policy's diagnostics. */
static void ytree_diag(void *ctx, int line, const char *msg)
{
    diag_add(ctx, line, "%s", msg);
}

void policy_diags_free(policy_diags *d)
{
    if (!d) return;
    free(d->items);
    d->items = NULL;
    d->n = 0;
}

void policy_diags_format(const policy_diags *d, const char *file, idp_buf *out)
{
    for (size_t i = 0; d && i < d->n; i++) {
        if (d->items[i].line > 0)
            buf_printf(out, "%s:%d: %s\n", file, d->items[i].line, d->items[i].msg);
        else
            buf_printf(out, "%s: %s\n", file, d->items[i].msg);
    }
}

typedef struct dsort {
    policy_diag g;
    size_t i;
} dsort;

static int cmp_dsort(const void *a, const void *b)
{
    const dsort *x = a, *y = b;
    if (x->g.line != y->g.line) return x->g.line < y->g.line ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Stable sort by line; the "too many errors" marker stays last. */
static void diags_sort(policy_diags *d)
{
    size_t n = d->n > POLICY_MAX_DIAGS ? POLICY_MAX_DIAGS : d->n;
    if (n < 2) return;
    dsort *v = xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (dsort){d->items[i], i};
    qsort(v, n, sizeof *v, cmp_dsort);
    for (size_t i = 0; i < n; i++)
        d->items[i] = v[i].g;
    free(v);
}

static bool diags_has(const policy_diags *d, int line, const char *msg)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].line == line && !strcmp(d->items[i].msg, msg)) return true;
    return false;
}

/* Adds the diagnostics t of environment env's pass that the base pass did not already report. */
static void diags_merge_env(policy_diags *d, const policy_diags *t, const char *env)
{
    char nb[96];
    ytree_printable(nb, env);
    for (size_t i = 0; i < t->n && i < POLICY_MAX_DIAGS; i++) {
        if (diags_has(d, t->items[i].line, t->items[i].msg)) continue;
        char msg[512];
        snprintf(msg, sizeof msg, "environment %s: %s", nb, t->items[i].msg);
        msg[sizeof d->items[0].msg - 1] = '\0'; /* as diag_add will store it */
        utf8_trim(msg);
        if (diags_has(d, t->items[i].line, msg)) continue;
        diag_add(d, t->items[i].line, "%s", msg);
    }
}

/* ---- environments --------------------------------------------------------------------- */

static const char *env_name_invalid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return "must be 1 to 64 characters";
    if (s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")])
        return "may only contain letters, digits and _ . -";
    return NULL;
}

static void overlay_map(policy_diags *d, const ynode *v, const char *env, const char *key)
{
    if (v->t != Y_MAP)
        diag_add(d, v->line, "environment %s: %s must be a mapping of entries", env, key);
}

/* Checks the shape of one overlay: which sections it may change and that they are mappings.
 * The entries themselves are checked when the merged document is compiled. */
static void check_overlay(policy_diags *d, const char *env, const ynode *ov)
{
    if (ov->t == Y_NULL) return; /* no changes */
    if (ov->t != Y_MAP) {
        diag_add(d, ov->line, "environment %s must be a mapping", env);
        return;
    }
    for (size_t i = 0; i < ov->n; i++) {
        const ypair *pr = &ov->pairs[i];
        char nb[96];
        if (!strcmp(pr->key, "roles") || !strcmp(pr->key, "scopes") ||
            !strcmp(pr->key, "resources")) {
            overlay_map(d, pr->val, env, pr->key);
        } else if (!strcmp(pr->key, "bindings")) {
            overlay_map(d, pr->val, env, pr->key);
            const ynode *b = pr->val;
            for (size_t k = 0; b->t == Y_MAP && k < b->n; k++) {
                const ypair *bk = &b->pairs[k];
                if (strcmp(bk->key, "groups") && strcmp(bk->key, "users") &&
                    strcmp(bk->key, "clients"))
                    diag_add(d, bk->line,
                             "environment %s: bindings: unknown key %s (expected: groups users "
                             "clients)",
                             env, ytree_printable(nb, bk->key));
                else
                    overlay_map(d, bk->val, env, bk->key);
            }
        } else {
            diag_add(d, pr->line,
                     "environment %s: unknown key %s (an overlay may change: bindings roles "
                     "scopes resources)",
                     env, ytree_printable(nb, pr->key));
        }
    }
}

/* The environments mapping when it is well formed enough to apply, else NULL. */
static const ynode *check_environments(const ynode *root, policy_diags *d)
{
    const ypair *e = ytree_get(root, "environments");
    if (!e) return NULL;
    const ynode *m = e->val;
    if (m->t != Y_MAP) {
        diag_add(d, m->line, "environments must be a mapping of name: overlay");
        return NULL;
    }
    if (m->n > POLICY_MAX_ENVIRONMENTS) {
        diag_add(d, m->line, "more than %d environments", POLICY_MAX_ENVIRONMENTS);
        return NULL;
    }
    for (size_t i = 0; i < m->n; i++) {
        char nb[96];
        const char *why = env_name_invalid(m->pairs[i].key);
        if (why)
            diag_add(d, m->pairs[i].line, "environment %s: name %s",
                     ytree_printable(nb, m->pairs[i].key), why);
        else
            check_overlay(d, m->pairs[i].key, m->pairs[i].val);
    }
    return m;
}

static int ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        if (x != y || !x) return x - y;
    }
}

typedef struct mkey {
    const char *key;
    size_t i;
    bool fold;
} mkey;

static int cmp_mkey(const void *a, const void *b)
{
    const mkey *x = a, *y = b;
    return x->fold ? ascii_casecmp(x->key, y->key) : strcmp(x->key, y->key);
}

/* Merges overlay mapping ov into base mapping bm entry by entry (see the file comment). */
static const ynode *merge_map(yarena *a, const ynode *bm, const ynode *ov, bool fold,
                              const char *env, const char *what, policy_diags *d)
{
    if (!ov || ov->t != Y_MAP) return bm;
    size_t bn = bm && bm->t == Y_MAP ? bm->n : 0, n = 0;
    ypair *pairs = ytree_alloc(a, (bn + ov->n + 1) * sizeof *pairs);
    bool *gone = xcalloc(bn + ov->n + 1, sizeof *gone);
    int *by = xcalloc(bn + 1, sizeof *by); /* line of the overlay entry that changed base entry i */
    mkey *idx = xcalloc(bn + 1, sizeof *idx);
    for (size_t i = 0; i < bn; i++) {
        pairs[n++] = bm->pairs[i];
        idx[i] = (mkey){bm->pairs[i].key, i, fold};
    }
    qsort(idx, bn, sizeof *idx, cmp_mkey);
    for (size_t i = 0; i < ov->n; i++) {
        const ypair *op = &ov->pairs[i];
        mkey probe = {op->key, 0, fold};
        const mkey *hit = bn ? bsearch(&probe, idx, bn, sizeof *idx, cmp_mkey) : NULL;
        char nb[96];
        if (hit && by[hit->i]) { /* "Sales" and "SALES" in one overlay */
            diag_add(d, op->line,
                     "environment %s: %s %s: same name as on line %d (compared "
                     "case-insensitively)",
                     env, what, ytree_printable(nb, op->key), by[hit->i]);
            continue;
        }
        if (hit) by[hit->i] = op->line;
        if (op->val->t == Y_NULL) { /* removal */
            if (hit)
                gone[hit->i] = true;
            else
                diag_add(d, op->line, "environment %s: %s %s: nothing to remove", env, what,
                         ytree_printable(nb, op->key));
        } else if (hit) {
            pairs[hit->i] = *op;
            gone[hit->i] = false;
        } else {
            pairs[n++] = *op;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!gone[i]) pairs[k++] = pairs[i];
    free(gone);
    free(by);
    free(idx);
    ynode *m = ytree_alloc(a, sizeof *m);
    m->t = Y_MAP;
    m->line = bm ? bm->line : ov->line;
    m->n = k;
    m->pairs = pairs;
    return m;
}

/* Replaces (or adds) the value of key in the map pairs[0..*n). */
static void set_pair(ypair *pairs, size_t *n, const char *key, int line, const ynode *val)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(pairs[i].key, key)) {
            pairs[i].val = val;
            return;
        }
    pairs[(*n)++] = (ypair){key, line, val};
}

static const ynode *merge_bindings(yarena *a, const ynode *bb, const ynode *ob, const char *env,
                                   policy_diags *d)
{
    if (!ob || ob->t != Y_MAP) return bb;
    size_t bn = bb && bb->t == Y_MAP ? bb->n : 0, n = bn;
    ypair *pairs = ytree_alloc(a, (bn + 3) * sizeof *pairs);
    if (bn) memcpy(pairs, bb->pairs, bn * sizeof *pairs);
    static const char *const kinds[] = {"groups", "users", "clients"};
    static const char *const what[] = {"binding group", "binding user", "binding client"};
    for (int k = 0; k < 3; k++) {
        const ypair *o = ytree_get(ob, kinds[k]);
        if (!o) continue;
        const ypair *b = ytree_get(bb, kinds[k]);
        set_pair(pairs, &n, kinds[k], o->line,
                 merge_map(a, b ? b->val : NULL, o->val, k != 2, env, what[k], d));
    }
    ynode *m = ytree_alloc(a, sizeof *m);
    m->t = Y_MAP;
    m->line = bb ? bb->line : ob->line;
    m->n = n;
    m->pairs = pairs;
    return m;
}

/* The base document with overlay ov applied. */
static const ynode *merge_root(yarena *a, const ynode *root, const ynode *ov, const char *env,
                               policy_diags *d)
{
    if (ov->t != Y_MAP || root->t != Y_MAP) return root;
    ypair *pairs = ytree_alloc(a, (root->n + 4) * sizeof *pairs);
    size_t n = root->n;
    memcpy(pairs, root->pairs, n * sizeof *pairs);
    static const char *const keys[] = {"roles", "scopes", "resources"};
    static const char *const what[] = {"role", "scope", "resource"};
    for (int k = 0; k < 3; k++) {
        const ypair *o = ytree_get(ov, keys[k]);
        if (!o) continue;
        const ypair *b = ytree_get(root, keys[k]);
        set_pair(pairs, &n, keys[k], o->line,
                 merge_map(a, b ? b->val : NULL, o->val, false, env, what[k], d));
    }
    const ypair *ob = ytree_get(ov, "bindings");
    if (ob) {
        const ypair *bb = ytree_get(root, "bindings");
        set_pair(pairs, &n, "bindings", ob->line,
                 merge_bindings(a, bb ? bb->val : NULL, ob->val, env, d));
    }
    ynode *m = ytree_alloc(a, sizeof *m);
    *m = *root;
    m->n = n;
    m->pairs = pairs;
    return m;
}

/* ---- load ----------------------------------------------------------------------------- */

static void set_sha256(policy *p, const char *text, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) abort();
    for (size_t i = 0; i < 32; i++)
        snprintf(p->sha256 + 2 * i, 3, "%02x", md[i]);
}

/* Compiles every environment; returns the compiled `env` (NULL when env is NULL or absent). */
static policy *compile_environments(yarena *a, const ynode *root, const ynode *envs,
                                    const char *env, bool *found, policy_diags *d)
{
    policy *chosen = NULL;
    for (size_t i = 0; envs && i < envs->n; i++) {
        const ypair *e = &envs->pairs[i];
        if (env_name_invalid(e->key)) continue;
        char nb[96];
        ytree_printable(nb, e->key);
        const ynode *merged = merge_root(a, root, e->val, nb, d);
        policy_diags t = {0};
        policy *pe = policy_compile(merged, &t);
        diags_merge_env(d, &t, e->key);
        policy_diags_free(&t);
        if (env && !strcmp(env, e->key)) {
            *found = true;
            chosen = pe;
        } else {
            policy_free(pe);
        }
    }
    return chosen;
}

static void unknown_env(policy_diags *d, const ynode *envs, const char *env)
{
    char nb[96];
    idp_buf names;
    buf_init(&names, 200);
    for (size_t i = 0; envs && i < envs->n; i++)
        if (buf_printf(&names, "%s%s", i ? ", " : "", envs->pairs[i].key) != 0) break;
    diag_add(d, envs ? envs->line : 0, "unknown environment %s (defined: %s)",
             ytree_printable(nb, env), names.len ? buf_cstr(&names) : "none");
    buf_free(&names);
}

idp_err policy_load(const char *text, size_t len, const char *env, policy **out,
                    policy_diags *diags, idp_error *err)
{
    policy_diags local = {0};
    policy_diags *d = diags ? diags : &local;
    yarena *a = NULL;
    const ynode *root = NULL;
    policy *base = NULL, *chosen = NULL;
    idp_err rc = IDP_OK;
    policy_diags_free(d);
    *out = NULL;
    if (!text) text = "";
    if (len > POLICY_MAX_BYTES) {
        diag_add(d, 0, "larger than %u bytes", POLICY_MAX_BYTES);
        rc = IDP_ERR_TOO_LARGE;
        goto out;
    }
    const ytree_opts yo = {
        .max_depth = POLICY_MAX_DEPTH, .max_nodes = POLICY_MAX_NODES, .diag = ytree_diag, .ctx = d};
    if ((rc = ytree_parse(text, len, &yo, &a, &root)) != IDP_OK) goto out;
    base = policy_compile(root, d);
    const ynode *envs = root->t == Y_MAP ? check_environments(root, d) : NULL;
    bool found = env == NULL;
    chosen = compile_environments(a, root, envs, env, &found, d);
    if (!found) unknown_env(d, envs, env);
    if (d->n) goto out;
    *out = env ? chosen : base;
    if (env) {
        chosen = NULL;
        (*out)->env = xstrdup(env);
    } else {
        base = NULL;
    }
    set_sha256(*out, text, len);
out:
    policy_free(base);
    policy_free(chosen);
    ytree_free(a);
    if (d->n) {
        diags_sort(d);
        if (!rc) rc = IDP_ERR_CONFIG;
        IDP_FAIL(err, rc, "policy invalid: %zu error%s; first: line %d: %s",
                 d->n > POLICY_MAX_DIAGS ? (size_t)POLICY_MAX_DIAGS : d->n, d->n == 1 ? "" : "s",
                 d->items[0].line, d->items[0].msg);
    } else if (rc) {
        IDP_FAIL(err, rc, "policy invalid");
    }
    policy_diags_free(&local);
    return rc;
}

/* ---- lifecycle and accessors ---------------------------------------------------------- */

void policy_free(policy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nperms; i++) {
        free(p->perms[i].name);
        free(p->perms[i].desc);
    }
    for (size_t i = 0; i < p->nroles; i++) {
        pol_role *r = &p->roles[i];
        free(r->name);
        free(r->desc);
        free(r->perms);
        free(r->incl);
        free(r->rclos);
        free(r->pclos);
    }
    for (int k = 0; k < PB_KINDS; k++) {
        for (size_t i = 0; i < p->nbinds[k]; i++) {
            free(p->binds[k][i].name);
            free(p->binds[k][i].key);
            free(p->binds[k][i].roles);
        }
        free(p->binds[k]);
    }
    for (size_t i = 0; i < p->nscopes; i++) {
        pol_scope *s = &p->scopes[i];
        free(s->name);
        free(s->desc);
        free(s->consent);
        free(s->req);
        free(s->rbits);
    }
    for (size_t i = 0; i < p->nres; i++) {
        free(p->res[i].name);
        free(p->res[i].scopes);
        free(p->res[i].sbits);
    }
    for (size_t i = 0; i < p->nfeds; i++)
        policy_fed_free(&p->feds[i]);
    free(p->feds);
    policy_routes_free(p->routes);
    free(p->perms);
    free(p->roles);
    free(p->scopes);
    free(p->res);
    free(p->ns);
    free(p->env);
    free(p);
}

const char *policy_sha256(const policy *p)
{
    return p->sha256;
}

const char *policy_environment(const policy *p)
{
    return p->env;
}

void policy_set_version(policy *p, int64_t version)
{
    p->version = version;
}

int64_t policy_version(const policy *p)
{
    return p->version;
}

const char *policy_claim_namespace(const policy *p)
{
    return p->ns;
}

const char *policy_scope_description(const policy *p, const char *scope)
{
    const pol_scope *s = scope ? policy_find_scope(p, scope) : NULL;
    return s ? s->consent : NULL;
}

bool policy_has_scope(const policy *p, const char *scope)
{
    return scope && policy_find_scope(p, scope) != NULL;
}

size_t policy_scope_count(const policy *p)
{
    return p->nscopes;
}

const char *policy_scope_name(const policy *p, size_t i)
{
    return i < p->nscopes ? p->scopes[i].name : NULL;
}
