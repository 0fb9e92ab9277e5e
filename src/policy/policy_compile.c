/* policy_compile — validates one policy document tree and compiles it (docs/POLICY.md).
 *
 * Every rule adds a diagnostic at the line of the offending node and compilation goes on, so one
 * run reports every error. Named entries are sorted by name (strcmp) and referred to by index;
 * indices therefore also give sorted output. Role inclusion is checked for cycles by a depth-first
 * search whose post-order also computes each role's closure (roles and permissions) as bitsets. */
#include "policy/internal.h"

#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OIDC Core 1.0 §5.1 standard claims, in that order; sub is always set by the token builder. */
const char *const policy_std_claims[] = {
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
};
const size_t policy_nstd_claims = sizeof policy_std_claims / sizeof *policy_std_claims;
const char *const policy_bind_kind[PB_KINDS] = {"group", "user", "client"};

/* Claim names registered for JWTs (IANA "JSON Web Token Claims": RFC 7519 §4.1, RFC 8693 §4,
 * OIDC Core §2 and §3.3.2.11, RFC 7800, RFC 8417, RFC 9449, and RFC 7643 attributes used by
 * RFC 9068 §2.2.3.1). idpd's token builder owns them: no scope may release one, and a namespaced
 * custom claim must never spell one. */
static const char *const registered_claims[] = {
    "iss",     "sub",          "aud",
    "exp",     "nbf",          "iat",
    "jti",     "client_id",    "scope",
    "azp",     "nonce",        "auth_time",
    "acr",     "amr",          "at_hash",
    "c_hash",  "s_hash",       "sid",
    "cnf",     "act",          "may_act",
    "events",  "toe",          "txn",
    "sub_jwk", "_claim_names", "_claim_sources",
    "htm",     "htu",          "ath",
    "roles",   "groups",       "entitlements",
    "vot",     "vtm",
};

static bool in_table(const char *const *t, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i], s)) return true;
    return false;
}
#define IN_TABLE(t, s) in_table((t), sizeof(t) / sizeof *(t), (s))

static bool claim_reserved(const char *s)
{
    return IN_TABLE(registered_claims, s) || in_table(policy_std_claims, policy_nstd_claims, s);
}

size_t bits_count(const pword *w, size_t words)
{
    size_t n = 0;
    for (size_t i = 0; i < words; i++)
        n += (size_t)__builtin_popcountll(w[i]);
    return n;
}

char *policy_fold(const char *s)
{
    char *d = xstrdup(s);
    for (char *q = d; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    return d;
}

/* ---- lookups -------------------------------------------------------------------------- */

/* Bisection over an array of structs whose first member is `char *name` (or key at koff). */
static long bisect(const void *base, size_t n, size_t size, size_t koff, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = *(char *const *)(const void *)((const char *)base + mid * size + koff);
        int c = strcmp(key, k);
        if (c == 0) return (long)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

long policy_find_perm(const policy *p, const char *name)
{
    return bisect(p->perms, p->nperms, sizeof *p->perms, offsetof(pol_perm, name), name);
}

long policy_find_role(const policy *p, const char *name)
{
    return bisect(p->roles, p->nroles, sizeof *p->roles, offsetof(pol_role, name), name);
}

static long find_scope_idx(const policy *p, const char *name)
{
    return bisect(p->scopes, p->nscopes, sizeof *p->scopes, offsetof(pol_scope, name), name);
}

const pol_scope *policy_find_scope(const policy *p, const char *name)
{
    long i = find_scope_idx(p, name);
    return i < 0 ? NULL : &p->scopes[i];
}

const pol_res *policy_find_res(const policy *p, const char *name)
{
    long i = bisect(p->res, p->nres, sizeof *p->res, offsetof(pol_res, name), name);
    return i < 0 ? NULL : &p->res[i];
}

#define NAME_MAX_LEN 256 /* group displayName, userName, client_id */

const pol_bind *policy_find_bind(const policy *p, int kind, const char *name)
{
    char key[NAME_MAX_LEN + 1];
    size_t n = strlen(name);
    if (n > NAME_MAX_LEN) return NULL; /* longer than any bound name */
    for (size_t i = 0; i <= n; i++) {
        char ch = name[i];
        key[i] = (kind != PB_CLIENT && ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    long i =
        bisect(p->binds[kind], p->nbinds[kind], sizeof(pol_bind), offsetof(pol_bind, key), key);
    return i < 0 ? NULL : &p->binds[kind][i];
}

/* ---- name rules ----------------------------------------------------------------------- */

/* Permission and role names: 1..128 of [A-Za-z0-9._:/-] (they appear in JSON claims and in
 * messages as they are). */
static const char *ident_invalid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return "must be 1 to 128 characters";
    if (s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-")])
        return "may only contain letters, digits and . _ : / -";
    return NULL;
}

/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); we also cap it at 128. */
static const char *scope_invalid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return "must be 1 to 128 characters";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\')
            return "is not a scope-token (RFC 6749 §3.3: printable ASCII except space, \" and \\)";
    }
    return NULL;
}

/* RFC 8707 §2: a resource is an absolute URI without a fragment. */
static const char *resource_invalid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 2048) return "must be 1 to 2048 characters";
    size_t sl = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    if (sl == 0 || s[sl] != ':' || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return "must be an absolute URI (RFC 8707 §2)";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '<' || ch == '>')
            return "contains a character a URI may not hold";
    }
    if (strchr(s, '#')) return "must not contain a fragment (RFC 8707 §2)";
    return NULL;
}

/* Free text (descriptions, group names, userNames): no control characters, at most max bytes. */
static const char *text_invalid(const char *s, size_t max, bool allow_empty)
{
    size_t n = strlen(s);
    if (!allow_empty && n == 0) return "must not be empty";
    if (n > max) return max == NAME_MAX_LEN ? "longer than 256 bytes" : "longer than 1024 bytes";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) return "contains a control character";
    }
    return NULL;
}

/* RFC 6749 Appendix A.1: client_id = *VSCHAR (%x20-7E). */
static const char *client_invalid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN) return "must be 1 to 256 characters";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return "is not a client_id (RFC 6749 Appendix A.1: printable ASCII)";
    return NULL;
}

const char *policy_text_invalid(const char *s, size_t max, bool allow_empty)
{
    return text_invalid(s, max, allow_empty);
}

const char *policy_client_invalid(const char *s)
{
    return client_invalid(s);
}

long policy_bisect(const void *base, size_t n, size_t size, size_t koff, const char *key)
{
    return bisect(base, n, size, koff, key);
}

/* The claim namespace: an http(s) URL ending in '/' (a collision-resistant public claim name,
 * RFC 7519 §4.2) or a short prefix such as "idpd_". */
static const char *ns_invalid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) return "must not be empty";
    if (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7)) {
        const char *host = s + (s[4] == 's' ? 8 : 7);
        if (n > 200) return "longer than 200 bytes";
        if (*host == '/' || !*host) return "URL has no host";
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch <= 0x20 || ch >= 0x7f || strchr("\"\\<>?#{}|^`", ch))
                return "URL contains a character a claim name should not hold";
        }
        if (s[n - 1] != '/')
            return "a URL namespace must end with '/' (claims are named <namespace>roles)";
        return NULL;
    }
    if (n > 32) return "a prefix namespace must be at most 32 characters (or use a URL)";
    if (!((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') ||
        s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")] ||
        !strchr("_.:-", s[n - 1]))
        return "must be an http(s) URL ending in '/' or a prefix such as idpd_ (a letter, then "
               "letters, digits, _ . : -, ending in _ . : or -)";
    return NULL;
}

/* ---- compile context ------------------------------------------------------------------ */

typedef struct cc {
    policy *p;
    policy_diags *d;
    int **incl_lines; /* per role: the line of each includes item (parallel to incl) */
} cc;

static const char *tname(ytype t)
{
    switch (t) {
    case Y_MAP:
        return "a mapping";
    case Y_SEQ:
        return "a list";
    case Y_STR:
        return "a string";
    case Y_NULL:
        break;
    }
    return "null";
}

/* True when n has type t; otherwise a diagnostic "WHAT must be a mapping". */
bool policy_want(policy_diags *d, const ynode *n, ytype t, const char *what)
{
    if (n->t == t) return true;
    diag_add(d, n->line, "%s must be %s, not %s", what, tname(t), tname(n->t));
    return false;
}

static bool want(cc *c, const ynode *n, ytype t, const char *what)
{
    return policy_want(c->d, n, t, what);
}

/* Reports keys of mapping m not in allowed (space-separated). */
static void check_keys(cc *c, const ynode *m, const char *what, const char *allowed)
{
    policy_check_keys(c->d, m, what, allowed);
}

void policy_check_keys(policy_diags *d, const ynode *m, const char *what, const char *allowed)
{
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->pairs[i].key;
        size_t kl = strlen(k);
        bool ok = false;
        for (const char *a = allowed; *a && !ok;) {
            size_t l = strcspn(a, " ");
            ok = l == kl && !strncmp(a, k, l);
            a += l + (a[l] == ' ');
        }
        if (!ok) {
            char nb[96];
            diag_add(d, m->pairs[i].line, "%s: unknown key %s (expected: %s)", what,
                     ytree_printable(nb, k), allowed);
        }
    }
}

static const ynode *get(const ynode *m, const char *key)
{
    const ypair *pr = ytree_get(m, key);
    return pr ? pr->val : NULL;
}

/* The pairs of mapping m sorted by key; owned. */
static int cmp_pairp(const void *a, const void *b)
{
    return strcmp((*(const ypair *const *)a)->key, (*(const ypair *const *)b)->key);
}

static const ypair **sorted_pairs(const ynode *m)
{
    const ypair **v = xcalloc(m->n ? m->n : 1, sizeof *v);
    for (size_t i = 0; i < m->n; i++)
        v[i] = &m->pairs[i];
    qsort(v, m->n, sizeof *v, cmp_pairp);
    return v;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef long (*find_fn)(const policy *p, const char *name);

/* A list of names of kind `kind` ("permission", "role", "scope") resolved through find into
 * indices, sorted ascending. Unknown and repeated names are diagnosed; `what` prefixes messages.
 * lines (optional, owned) receives each kept item's line, parallel to the unsorted result, so
 * it is only meaningful together with order (the caller sorts both when it needs lines). */
static uint32_t *ref_list(cc *c, const ynode *seq, const char *what, const char *kind, find_fn find,
                          size_t *nout, int **lines)
{
    *nout = 0;
    if (lines) *lines = NULL;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", what);
    if (!want(c, seq, Y_SEQ, msg)) return NULL;
    if (seq->n > POLICY_MAX_LIST) {
        diag_add(c->d, seq->line, "%s: more than %d items", what, POLICY_MAX_LIST);
        return NULL;
    }
    uint32_t *v = xcalloc(seq->n ? seq->n : 1, sizeof *v);
    int *ln = lines ? xcalloc(seq->n ? seq->n : 1, sizeof *ln) : NULL;
    size_t n = 0;
    pword seen[PERM_WORDS_MAX] = {0}; /* every index is below POLICY_MAX_PERMISSIONS */
    for (size_t i = 0; i < seq->n; i++) {
        const ynode *it = seq->items[i];
        char nb[96];
        if (it->t != Y_STR) {
            diag_add(c->d, it->line, "%s: items must be %s names", what, kind);
            continue;
        }
        long idx = find(c->p, it->s);
        if (idx < 0) {
            diag_add(c->d, it->line, "%s: unknown %s %s", what, kind, ytree_printable(nb, it->s));
            continue;
        }
        if (bit_get(seen, (size_t)idx)) {
            diag_add(c->d, it->line, "%s: %s %s listed twice", what, kind,
                     ytree_printable(nb, it->s));
            continue;
        }
        bit_set(seen, (size_t)idx);
        if (ln) ln[n] = it->line;
        v[n++] = (uint32_t)idx;
    }
    if (!ln) qsort(v, n, sizeof *v, cmp_u32);
    *nout = n;
    if (lines) *lines = ln;
    return v;
}

static pword *bits_new(size_t words)
{
    return xcalloc(words ? words : 1, sizeof(pword));
}

/* ---- top level ------------------------------------------------------------------------ */

static void compile_header(cc *c, const ynode *root)
{
    policy *p = c->p;
    const ypair *v = ytree_get(root, "version");
    if (!v)
        diag_add(c->d, root->line, "version is required (version: 1)");
    else if (v->val->t != Y_STR || strcmp(v->val->s, "1"))
        diag_add(c->d, v->val->line, "version must be 1");

    const ypair *ns = ytree_get(root, "claim_namespace");
    const char *why = NULL;
    if (!ns) {
        diag_add(c->d, root->line, "claim_namespace is required");
    } else if (ns->val->t != Y_STR) {
        diag_add(c->d, ns->val->line, "claim_namespace must be a string");
    } else if ((why = ns_invalid(ns->val->s)) != NULL) {
        diag_add(c->d, ns->val->line, "claim_namespace %s", why);
    } else {
        p->ns = xstrdup(ns->val->s);
        p->nslen = strlen(p->ns);
        static const char *const custom[] = {"roles", "permissions", "groups"};
        for (size_t i = 0; i < 3; i++) {
            char full[256];
            snprintf(full, sizeof full, "%s%s", p->ns, custom[i]);
            if (claim_reserved(full))
                diag_add(c->d, ns->val->line,
                         "claim_namespace makes the custom claim %s collide with a registered "
                         "claim",
                         full);
        }
    }

    p->budget = POLICY_DEFAULT_BUDGET;
    const ypair *b = ytree_get(root, "token_size_budget");
    if (b) {
        const char *s = b->val->t == Y_STR ? b->val->s : "";
        size_t n = strlen(s);
        long long val = 0;
        bool ok = n > 0 && n <= 7 && !s[strspn(s, "0123456789")];
        for (size_t i = 0; ok && i < n; i++)
            val = val * 10 + (s[i] - '0');
        if (!ok || val < 64 || val > 65536)
            diag_add(c->d, b->val->line, "token_size_budget must be an integer from 64 to 65536");
        else
            p->budget = val;
    }
}

static void compile_permissions(cc *c, const ynode *m)
{
    policy *p = c->p;
    if (!m || !want(c, m, Y_MAP, "permissions")) return;
    if (m->n > POLICY_MAX_PERMISSIONS) {
        diag_add(c->d, m->line, "more than %d permissions", POLICY_MAX_PERMISSIONS);
        return;
    }
    const ypair **v = sorted_pairs(m);
    p->perms = xcalloc(m->n ? m->n : 1, sizeof *p->perms);
    p->nperms = m->n;
    for (size_t i = 0; i < m->n; i++) {
        pol_perm *pe = &p->perms[i];
        const char *why = NULL;
        char nb[96];
        pe->name = xstrdup(v[i]->key);
        pe->line = v[i]->line;
        if ((why = ident_invalid(pe->name)) != NULL)
            diag_add(c->d, pe->line, "permission %s: name %s", ytree_printable(nb, pe->name), why);
        const ynode *d = v[i]->val;
        if (d->t == Y_NULL) continue;
        if (d->t != Y_STR) {
            diag_add(c->d, d->line, "permission %s: the value is its description, a string",
                     ytree_printable(nb, pe->name));
        } else if ((why = text_invalid(d->s, 1024, true)) != NULL) {
            diag_add(c->d, d->line, "permission %s: description %s", ytree_printable(nb, pe->name),
                     why);
        } else if (*d->s) {
            pe->desc = xstrdup(d->s);
        }
    }
    free(v);
}

/* Optional "description" member of an entry. */
static char *entry_description(cc *c, const ynode *m, const char *what)
{
    const ynode *d = get(m, "description");
    const char *why = NULL;
    if (!d || d->t == Y_NULL) return NULL;
    if (d->t != Y_STR) {
        diag_add(c->d, d->line, "%s: description must be a string", what);
        return NULL;
    }
    if ((why = text_invalid(d->s, 1024, true)) != NULL) {
        diag_add(c->d, d->line, "%s: description %s", what, why);
        return NULL;
    }
    return *d->s ? xstrdup(d->s) : NULL;
}

/* ---- roles ---------------------------------------------------------------------------- */

static void compile_roles(cc *c, const ynode *m)
{
    policy *p = c->p;
    if (!m || !want(c, m, Y_MAP, "roles")) return;
    if (m->n > POLICY_MAX_ROLES) {
        diag_add(c->d, m->line, "more than %d roles", POLICY_MAX_ROLES);
        return;
    }
    const ypair **v = sorted_pairs(m);
    p->roles = xcalloc(m->n ? m->n : 1, sizeof *p->roles);
    p->nroles = m->n;
    c->incl_lines = xcalloc(m->n ? m->n : 1, sizeof *c->incl_lines);
    for (size_t i = 0; i < m->n; i++) { /* names first: includes may refer to any role */
        p->roles[i].name = xstrdup(v[i]->key);
        p->roles[i].line = v[i]->line;
    }
    p->rwords = PW_WORDS(p->nroles);
    p->pwords = PW_WORDS(p->nperms);
    for (size_t i = 0; i < m->n; i++) {
        pol_role *r = &p->roles[i];
        const ynode *val = v[i]->val;
        const char *why = NULL;
        char nb[96], what[160];
        ytree_printable(nb, r->name);
        snprintf(what, sizeof what, "role %s", nb);
        r->rclos = bits_new(p->rwords);
        r->pclos = bits_new(p->pwords);
        if ((why = ident_invalid(r->name)) != NULL)
            diag_add(c->d, r->line, "%s: name %s", what, why);
        if (val->t != Y_MAP) {
            diag_add(c->d, val->line, "%s must be a mapping (write {} for an empty role)", what);
            continue;
        }
        check_keys(c, val, what, "permissions includes description");
        const ynode *pl = get(val, "permissions"), *il = get(val, "includes");
        char w2[200];
        if (pl) {
            snprintf(w2, sizeof w2, "%s permissions", what);
            r->perms = ref_list(c, pl, w2, "permission", policy_find_perm, &r->nperms, NULL);
        }
        if (il) {
            snprintf(w2, sizeof w2, "%s includes", what);
            r->incl = ref_list(c, il, w2, "role", policy_find_role, &r->nincl, &c->incl_lines[i]);
        }
        r->desc = entry_description(c, val, what);
    }
    free(v);
}

enum { WHITE, GREY, BLACK };

/* Depth-first search from role r: reports each inclusion cycle once (at the includes item that
 * closes it) and, in post-order, computes r's closure. stack holds the current path. */
static void role_dfs(cc *c, size_t r, uint8_t *color, uint32_t *stack, size_t depth)
{
    policy *p = c->p;
    pol_role *ro = &p->roles[r];
    color[r] = GREY;
    stack[depth] = (uint32_t)r;
    bit_set(ro->rclos, r);
    for (size_t k = 0; k < ro->nperms; k++)
        bit_set(ro->pclos, ro->perms[k]);
    for (size_t k = 0; k < ro->nincl; k++) {
        uint32_t j = ro->incl[k];
        if (color[j] == GREY) {
            idp_buf path;
            buf_init(&path, 200);
            size_t from = depth;
            while (stack[from] != j)
                from--;
            for (size_t s = from; s <= depth; s++)
                if (buf_printf(&path, "%s -> ", p->roles[stack[s]].name) != 0) break;
            (void)buf_puts(&path, p->roles[j].name);
            diag_add(c->d, c->incl_lines[r] ? c->incl_lines[r][k] : ro->line,
                     "role inclusion cycle: %s%s", buf_cstr(&path), path.len >= 190 ? " ..." : "");
            buf_free(&path);
            continue;
        }
        if (color[j] == WHITE) role_dfs(c, j, color, stack, depth + 1);
        bits_or(ro->rclos, p->roles[j].rclos, p->rwords);
        bits_or(ro->pclos, p->roles[j].pclos, p->pwords);
    }
    color[r] = BLACK;
}

static void compile_closures(cc *c)
{
    policy *p = c->p;
    if (!p->nroles) return;
    uint8_t *color = xcalloc(p->nroles, 1);
    uint32_t *stack = xcalloc(p->nroles, sizeof *stack);
    for (size_t r = 0; r < p->nroles; r++)
        if (color[r] == WHITE) role_dfs(c, r, color, stack, 0);
    /* includes were kept in document order for the cycle lines; sort them now */
    for (size_t r = 0; r < p->nroles; r++)
        if (p->roles[r].incl) qsort(p->roles[r].incl, p->roles[r].nincl, sizeof(uint32_t), cmp_u32);
    free(color);
    free(stack);
}

/* ---- bindings ------------------------------------------------------------------------- */

static int cmp_bind(const void *a, const void *b)
{
    const pol_bind *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    return r ? r : (x->line > y->line) - (x->line < y->line);
}

static void compile_bind_kind(cc *c, int kind, const ynode *m)
{
    policy *p = c->p;
    static const char *const section[PB_KINDS] = {"bindings.groups", "bindings.users",
                                                  "bindings.clients"};
    if (!want(c, m, Y_MAP, section[kind])) return;
    if (m->n > POLICY_MAX_BINDINGS) {
        diag_add(c->d, m->line, "%s: more than %d entries", section[kind], POLICY_MAX_BINDINGS);
        return;
    }
    pol_bind *b = xcalloc(m->n ? m->n : 1, sizeof *b);
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const ypair *pr = &m->pairs[i];
        char nb[96], what[160];
        const char *why = kind == PB_CLIENT ? client_invalid(pr->key)
                                            : text_invalid(pr->key, NAME_MAX_LEN, false);
        snprintf(what, sizeof what, "binding %s %s", policy_bind_kind[kind],
                 ytree_printable(nb, pr->key));
        if (why) {
            diag_add(c->d, pr->line, "%s: name %s", what, why);
            continue;
        }
        pol_bind *e = &b[n++];
        e->name = xstrdup(pr->key);
        e->key = kind == PB_CLIENT ? xstrdup(pr->key) : policy_fold(pr->key);
        e->line = pr->line;
        e->roles = ref_list(c, pr->val, what, "role", policy_find_role, &e->nroles, NULL);
    }
    qsort(b, n, sizeof *b, cmp_bind);
    /* userName and displayName are case-insensitive: "Alice" and "alice" are one subject */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && !strcmp(b[k - 1].key, b[i].key)) {
            char n1[96], n2[96];
            diag_add(c->d, b[i].line,
                     "binding %s %s: same %s as %s on line %d (compared case-insensitively, "
                     "RFC 7643)",
                     policy_bind_kind[kind], ytree_printable(n1, b[i].name),
                     kind == PB_USER ? "userName" : "displayName",
                     ytree_printable(n2, b[k - 1].name), b[k - 1].line);
            free(b[i].name);
            free(b[i].key);
            free(b[i].roles);
            continue;
        }
        b[k++] = b[i];
    }
    p->binds[kind] = b;
    p->nbinds[kind] = k;
}

/* bindings.issuers.<name>.groups|subjects: upstream (mapped) group -> roles, upstream subject ->
 * roles; names matched exactly. */
static void compile_fed_bind_kind(cc *c, pol_fed *f, int kind, const ynode *m, const char *iss)
{
    char what[200];
    snprintf(what, sizeof what, "bindings.issuers.%s.%s", iss, kind == FB_GROUP ? "groups" : "subjects");
    if (!want(c, m, Y_MAP, what)) return;
    if (m->n > POLICY_MAX_BINDINGS) {
        diag_add(c->d, m->line, "%s: more than %d entries", what, POLICY_MAX_BINDINGS);
        return;
    }
    pol_bind *b = xcalloc(m->n ? m->n : 1, sizeof *b);
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const ypair *pr = &m->pairs[i];
        char nb[96], w2[300];
        snprintf(w2, sizeof w2, "binding issuer %s %s %s", iss, policy_fed_bind_kind[kind],
                 ytree_printable(nb, pr->key));
        const char *why = text_invalid(pr->key, NAME_MAX_LEN, false);
        if (why) {
            diag_add(c->d, pr->line, "%s: name %s", w2, why);
            continue;
        }
        pol_bind *e = &b[n++];
        e->name = xstrdup(pr->key);
        e->key = xstrdup(pr->key);
        e->line = pr->line;
        e->roles = ref_list(c, pr->val, w2, "role", policy_find_role, &e->nroles, NULL);
    }
    qsort(b, n, sizeof *b, cmp_bind); /* keys are unique: the YAML reader drops repeated keys */
    f->binds[kind] = b;
    f->nbinds[kind] = n;
}

static void compile_bind_issuers(cc *c, const ynode *m)
{
    if (!want(c, m, Y_MAP, "bindings.issuers")) return;
    for (size_t i = 0; i < m->n; i++) {
        const ypair *pr = &m->pairs[i];
        char nb[96];
        ytree_printable(nb, pr->key);
        pol_fed *f = (pol_fed *)policy_fed_find(c->p, pr->key);
        if (!f) {
            diag_add(c->d, pr->line,
                     "bindings.issuers: %s is not an issuer declared under federation.issuers", nb);
            continue;
        }
        char what[160];
        snprintf(what, sizeof what, "bindings.issuers.%s", nb);
        if (!want(c, pr->val, Y_MAP, what)) continue;
        check_keys(c, pr->val, what, "groups subjects");
        const ynode *g = get(pr->val, "groups"), *s = get(pr->val, "subjects");
        if (g) compile_fed_bind_kind(c, f, FB_GROUP, g, nb);
        if (s) compile_fed_bind_kind(c, f, FB_SUBJECT, s, nb);
    }
}

static void compile_bindings(cc *c, const ynode *m)
{
    if (!m || !want(c, m, Y_MAP, "bindings")) return;
    check_keys(c, m, "bindings", "groups users clients issuers");
    static const char *const keys[PB_KINDS] = {"groups", "users", "clients"};
    for (int k = 0; k < PB_KINDS; k++) {
        const ynode *v = get(m, keys[k]);
        if (v) compile_bind_kind(c, k, v);
    }
    const ynode *is = get(m, "issuers");
    if (is) compile_bind_issuers(c, is);
}

/* ---- scopes and resources ------------------------------------------------------------- */

static void scope_claims(cc *c, pol_scope *s, const ynode *l, const char *what)
{
    if (!want(c, l, Y_SEQ, "claims")) return;
    for (size_t i = 0; i < l->n; i++) {
        const ynode *it = l->items[i];
        char nb[96];
        if (it->t != Y_STR) {
            diag_add(c->d, it->line, "%s claims: items must be claim names", what);
            continue;
        }
        const char *cl = it->s;
        bool dup = false;
        if (!strcmp(cl, "roles")) {
            dup = s->rel_roles;
            s->rel_roles = true;
        } else if (!strcmp(cl, "permissions")) {
            dup = s->rel_perms;
            s->rel_perms = true;
        } else if (!strcmp(cl, "groups")) { /* the user's groups bindings.groups names */
            dup = s->rel_groups;
            s->rel_groups = true;
        } else if (IN_TABLE(registered_claims, cl)) {
            diag_add(c->d, it->line,
                     "%s: claim %s is a registered JWT/OIDC claim the token builder sets; a scope "
                     "may release only the custom claims roles, permissions and groups and OIDC "
                     "standard claims",
                     what, ytree_printable(nb, cl));
            continue;
        } else {
            size_t k = 0;
            while (k < policy_nstd_claims && strcmp(policy_std_claims[k], cl))
                k++;
            if (k == policy_nstd_claims) {
                bool spelled_ns = c->p->ns && !strncmp(cl, c->p->ns, c->p->nslen);
                diag_add(c->d, it->line,
                         spelled_ns ? "%s: claim %s: write roles, permissions or groups "
                                      "without the namespace (it is added in the token)"
                                    : "%s: unknown claim %s (custom claims: roles, permissions, "
                                      "groups; or an OIDC Core §5.1 standard claim)",
                         what, ytree_printable(nb, cl));
                continue;
            }
            dup = (s->std >> k) & 1u;
            s->std |= 1u << k;
        }
        if (dup)
            diag_add(c->d, it->line, "%s: claim %s listed twice", what, ytree_printable(nb, cl));
    }
}

/* Consent text: the scope's description, else its permissions' descriptions joined. */
static char *scope_consent(const policy *p, const pol_scope *s)
{
    if (s->desc) return xstrdup(s->desc);
    idp_buf b;
    buf_init(&b, 64 * 1024);
    for (size_t i = 0; i < s->nreq; i++) {
        const char *d = p->perms[s->req[i]].desc;
        if (!d) continue;
        if ((b.len && buf_puts(&b, "; ") != 0) || buf_puts(&b, d) != 0) break;
    }
    return b.len ? buf_steal(&b) : (buf_free(&b), NULL);
}

static void compile_scopes(cc *c, const ynode *m)
{
    policy *p = c->p;
    if (!m || !want(c, m, Y_MAP, "scopes")) return;
    if (m->n > POLICY_MAX_SCOPES) {
        diag_add(c->d, m->line, "more than %d scopes", POLICY_MAX_SCOPES);
        return;
    }
    const ypair **v = sorted_pairs(m);
    p->scopes = xcalloc(m->n ? m->n : 1, sizeof *p->scopes);
    p->nscopes = m->n;
    p->swords = PW_WORDS(p->nscopes);
    for (size_t i = 0; i < m->n; i++) {
        pol_scope *s = &p->scopes[i];
        const ynode *val = v[i]->val;
        const char *why = NULL;
        char nb[96], what[160];
        s->name = xstrdup(v[i]->key);
        s->line = v[i]->line;
        s->rbits = bits_new(p->pwords);
        snprintf(what, sizeof what, "scope %s", ytree_printable(nb, s->name));
        if ((why = scope_invalid(s->name)) != NULL)
            diag_add(c->d, s->line, "%s: name %s", what, why);
        if (val->t != Y_MAP) {
            diag_add(c->d, val->line, "%s must be a mapping (write {} for an open scope)", what);
            continue;
        }
        check_keys(c, val, what, "requires claims description");
        const ynode *rq = get(val, "requires"), *cl = get(val, "claims");
        if (rq) {
            char w2[200];
            snprintf(w2, sizeof w2, "%s requires", what);
            s->req = ref_list(c, rq, w2, "permission", policy_find_perm, &s->nreq, NULL);
            for (size_t k = 0; k < s->nreq; k++)
                bit_set(s->rbits, s->req[k]);
        }
        if (cl) scope_claims(c, s, cl, what);
        s->desc = entry_description(c, val, what);
        s->consent = scope_consent(p, s);
    }
    free(v);
}

static long find_scope_l(const policy *p, const char *name)
{
    return find_scope_idx(p, name);
}

static void compile_resources(cc *c, const ynode *m)
{
    policy *p = c->p;
    if (!m || !want(c, m, Y_MAP, "resources")) return;
    if (m->n > POLICY_MAX_RESOURCES) {
        diag_add(c->d, m->line, "more than %d resources", POLICY_MAX_RESOURCES);
        return;
    }
    const ypair **v = sorted_pairs(m);
    p->res = xcalloc(m->n ? m->n : 1, sizeof *p->res);
    p->nres = m->n;
    for (size_t i = 0; i < m->n; i++) {
        pol_res *r = &p->res[i];
        const ynode *val = v[i]->val;
        const char *why = NULL;
        char nb[96], what[160];
        r->name = xstrdup(v[i]->key);
        r->line = v[i]->line;
        r->sbits = bits_new(p->swords);
        snprintf(what, sizeof what, "resource %s", ytree_printable(nb, r->name));
        if ((why = resource_invalid(r->name)) != NULL)
            diag_add(c->d, r->line, "%s: name %s", what, why);
        if (val->t != Y_MAP) {
            diag_add(c->d, val->line, "%s must be a mapping with scopes", what);
            continue;
        }
        check_keys(c, val, what, "scopes");
        const ynode *sl = get(val, "scopes");
        if (!sl) {
            diag_add(c->d, val->line, "%s: scopes is required", what);
            continue;
        }
        char w2[200];
        snprintf(w2, sizeof w2, "%s scopes", what);
        r->scopes = ref_list(c, sl, w2, "scope", find_scope_l, &r->nscopes, NULL);
        for (size_t k = 0; k < r->nscopes; k++)
            bit_set(r->sbits, r->scopes[k]);
    }
    free(v);
}

/* A scope that requires permissions guards an API, so some resource must accept it; open
 * scopes (no requires: openid, profile, email, offline_access) are about idpd itself and need
 * no resource (docs/POLICY.md "Validation"). */
static void check_scopes_accepted(cc *c)
{
    policy *p = c->p;
    for (size_t i = 0; i < p->nscopes; i++) {
        if (!p->scopes[i].nreq) continue;
        bool acc = false;
        for (size_t r = 0; r < p->nres && !acc; r++)
            acc = bit_get(p->res[r].sbits, i);
        if (!acc) {
            char nb[96];
            diag_add(c->d, p->scopes[i].line,
                     "scope %s requires permissions but no resource accepts it",
                     ytree_printable(nb, p->scopes[i].name));
        }
    }
}

/* The largest role set: every role reachable from any binding and all their permissions. Any
 * subject's roles are a subset of it, and the claims JSON only grows with more names, so its
 * size bounds every token's custom claims. */
static void check_budget(cc *c, int line)
{
    policy *p = c->p;
    pword R[ROLE_WORDS_MAX] = {0}, P[PERM_WORDS_MAX] = {0};
    bool rel_roles = false, rel_perms = false, rel_groups = false;
    for (int k = 0; k < PB_KINDS; k++)
        for (size_t i = 0; i < p->nbinds[k]; i++)
            for (size_t j = 0; j < p->binds[k][i].nroles; j++) {
                const pol_role *r = &p->roles[p->binds[k][i].roles[j]];
                bits_or(R, r->rclos, p->rwords);
                bits_or(P, r->pclos, p->pwords);
            }
    for (size_t f = 0; f < p->nfeds; f++)
        for (int k = 0; k < FB_KINDS; k++)
            for (size_t i = 0; i < p->feds[f].nbinds[k]; i++)
                for (size_t j = 0; j < p->feds[f].binds[k][i].nroles; j++) {
                    const pol_role *r = &p->roles[p->feds[f].binds[k][i].roles[j]];
                    bits_or(R, r->rclos, p->rwords);
                    bits_or(P, r->pclos, p->pwords);
                }
    for (size_t i = 0; i < p->nscopes; i++) {
        rel_roles |= p->scopes[i].rel_roles;
        rel_perms |= p->scopes[i].rel_perms;
        rel_groups |= p->scopes[i].rel_groups;
    }
    size_t ngn = p->nbinds[PB_GROUP]; /* <ns>groups holds at most every bound group */
    const char **gn = xcalloc(ngn + 1, sizeof *gn);
    for (size_t i = 0; i < ngn; i++) gn[i] = p->binds[PB_GROUP][i].name;
    size_t nr = 0, np = 0;
    const char **rn = xcalloc(p->nroles + 1, sizeof *rn), **pn = xcalloc(p->nperms + 1, sizeof *pn);
    for (size_t i = 0; i < p->nroles; i++)
        if (bit_get(R, i)) rn[nr++] = p->roles[i].name;
    for (size_t i = 0; i < p->nperms; i++)
        if (bit_get(P, i)) pn[np++] = p->perms[i].name;
    idp_buf b;
    buf_init(&b, 0);
    if (!policy_claims_write(p, rn, nr, pn, np, gn, ngn, rel_roles, rel_perms, rel_groups, &b)) {
        p->largest = b.len;
        if ((int64_t)b.len > p->budget)
            diag_add(c->d, line,
                     "token size budget exceeded: the largest role set (%zu roles, %zu permissions "
                     "reachable from the bindings%s) needs %zu bytes of custom claims, "
                     "token_size_budget is %lld",
                     nr, np, rel_groups ? ", every bound group" : "", b.len, (long long)p->budget);
    }
    buf_free(&b);
    free(rn);
    free(pn);
    free(gn);
}

policy *policy_compile(const ynode *root, policy_diags *d)
{
    size_t before = d->n;
    cc c = {.p = xcalloc(1, sizeof(policy)), .d = d};
    if (root->t != Y_MAP) {
        diag_add(d, root->line, "the policy must be a mapping (version, claim_namespace, ...)");
        policy_free(c.p);
        return NULL;
    }
    check_keys(&c, root, "policy",
               "version claim_namespace token_size_budget permissions roles bindings scopes "
               "resources federation routes environments");
    compile_header(&c, root);
    compile_permissions(&c, get(root, "permissions"));
    c.p->pwords = PW_WORDS(c.p->nperms);
    compile_roles(&c, get(root, "roles"));
    compile_closures(&c);
    policy_fed_compile(c.p, get(root, "federation"), d);
    compile_bindings(&c, get(root, "bindings"));
    compile_scopes(&c, get(root, "scopes"));
    compile_resources(&c, get(root, "resources"));
    check_scopes_accepted(&c);
    policy_routes_compile(c.p, get(root, "routes"), d);
    if (d->n == before) {
        const ypair *b = ytree_get(root, "token_size_budget");
        check_budget(&c, b ? b->line : root->line);
    }
    for (size_t i = 0; c.incl_lines && i < c.p->nroles; i++)
        free(c.incl_lines[i]);
    free(c.incl_lines);
    if (d->n != before) {
        policy_free(c.p);
        return NULL;
    }
    return c.p;
}
