/* ytree — the one YAML reader (core/ytree.h): a tree of mappings, sequences and scalars built
 * from libyaml events, with the line of each node. Contract, limits and the two ways to read
 * (checked, YTREE_VERBATIM) are in the header. */
#include "core/ytree.h"

#include "core/mem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- arena ---------------------------------------------------------------------------- */

#define ARENA_CHUNK (64u * 1024u)

typedef struct achunk {
    struct achunk *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
} achunk;

struct yarena {
    achunk *head;
};

void *ytree_alloc(yarena *a, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        achunk *c = xmalloc(sizeof *c + cap);
        c->used = 0;
        c->cap = cap;
        if (n > ARENA_CHUNK && a->head) { /* a big block: keep filling the current chunk */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        c->used = n;
        memset(c->data, 0, n);
        return c->data;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

void ytree_free(yarena *a)
{
    if (!a) return;
    for (achunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

static char *arena_strndup(yarena *a, const char *s, size_t n)
{
    char *d = ytree_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

const ypair *ytree_get(const ynode *m, const char *key)
{
    if (!m || m->t != Y_MAP) return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (m->pairs[i].key && !strcmp(m->pairs[i].key, key)) return &m->pairs[i];
    return NULL;
}

const char *ytree_printable(char out[96], const char *s)
{
    size_t n = strlen(s), k = n > 64 ? 64 : n;
    if (k < n) /* do not cut a UTF-8 sequence */
        while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
            k--;
    for (size_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (k < n) {
        memcpy(out + k, "...", 4);
    } else {
        out[k] = '\0';
    }
    return out;
}

/* ---- parser --------------------------------------------------------------------------- */

typedef struct yp {
    yaml_parser_t p;
    yarena *a;
    const ytree_opts *o;
    bool verbatim;
    size_t nodes;
} yp;

static void diag(yp *y, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void diag(yp *y, int line, const char *fmt, ...)
{
    if (!y->o->diag) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    y->o->diag(y->o->ctx, line, msg);
}

static int ev_line(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

static idp_err next(yp *y, yaml_event_t *ev)
{
    if (yaml_parser_parse(&y->p, ev)) return IDP_OK;
    diag(y, (int)y->p.problem_mark.line + 1, "malformed YAML: %s",
         y->p.problem ? y->p.problem : "?");
    return IDP_ERR_CONFIG;
}

/* A plain (unquoted) "", "~" or "null" is YAML's null. */
static bool scalar_is_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *s = (const char *)ev->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static ynode *new_node(yp *y, ytype t, int line)
{
    ynode *n = ytree_alloc(y->a, sizeof *n);
    n->t = t;
    n->line = line;
    return n;
}

static idp_err parse_node(yp *y, yaml_event_t *ev, int depth, const ynode **out);

/* Growable temporary vector (heap), copied into the arena when complete. */
typedef struct vec {
    void *v;
    size_t n, cap, size;
} vec;

static void *vec_push(vec *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = xrealloc(v->v, v->cap * v->size);
    }
    return (char *)v->v + v->size * v->n++;
}

static void *vec_to_arena(yp *y, vec *v)
{
    void *d = v->n ? ytree_alloc(y->a, v->n * v->size) : NULL;
    if (v->n) memcpy(d, v->v, v->n * v->size);
    free(v->v);
    v->v = NULL;
    return d;
}

static idp_err parse_seq(yp *y, ynode *n, int depth)
{
    vec v = {.size = sizeof(const ynode *)};
    idp_err rc = IDP_OK;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next(y, &ev)) != IDP_OK) break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        const ynode *item = NULL;
        rc = parse_node(y, &ev, depth + 1, &item);
        yaml_event_delete(&ev);
        if (rc && !(y->verbatim && item)) break;
        *(const ynode **)vec_push(&v) = item;
        if (rc) break;
    }
    n->n = v.n;
    n->items = vec_to_arena(y, &v);
    return rc;
}

/* Keys with their position, sorted by key then position, to find duplicates in O(n log n). */
typedef struct keyidx {
    const char *key;
    size_t i;
} keyidx;

static int cmp_keyidx(const void *a, const void *b)
{
    const keyidx *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Removes every later occurrence of a key, with one diagnostic each. Keeps document order. */
static void drop_duplicates(yp *y, ypair *pairs, size_t *np)
{
    size_t n = *np;
    if (n < 2) return;
    keyidx *k = xmalloc(n * sizeof *k);
    bool *dup = xcalloc(n, sizeof *dup);
    for (size_t i = 0; i < n; i++)
        k[i] = (keyidx){pairs[i].key, i};
    qsort(k, n, sizeof *k, cmp_keyidx);
    size_t first = 0; /* start of the current run of equal keys */
    for (size_t i = 1; i < n; i++) {
        if (strcmp(k[i].key, k[first].key)) {
            first = i;
            continue;
        }
        char nb[96];
        diag(y, pairs[k[i].i].line, "duplicate key %s (first on line %d)",
             ytree_printable(nb, k[i].key), pairs[k[first].i].line);
        dup[k[i].i] = true;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!dup[i]) pairs[m++] = pairs[i];
    *np = m;
    free(k);
    free(dup);
}

/* ypair.key for key node k (NULL when the pair has no usable key; see ytree.h). */
static const char *key_text(const yp *y, const ynode *k)
{
    if (k->t == Y_STR) return k->s;
    return y->verbatim && k->t == Y_NULL && !k->flags ? k->s : NULL;
}

static idp_err parse_map(yp *y, ynode *n, int depth)
{
    vec v = {.size = sizeof(ypair)};
    idp_err rc = IDP_OK;
    for (;;) {
        yaml_event_t kev, vev;
        if ((rc = next(y, &kev)) != IDP_OK) break;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        const ynode *key = NULL, *val = NULL;
        int kline = ev_line(&kev);
        rc = parse_node(y, &kev, depth + 1, &key);
        yaml_event_delete(&kev);
        if (!rc) {
            if ((rc = next(y, &vev)) == IDP_OK) {
                rc = parse_node(y, &vev, depth + 1, &val);
                yaml_event_delete(&vev);
            }
        }
        if (rc && !(y->verbatim && key)) break;
        if (!rc && !y->verbatim && key->t != Y_STR) {
            diag(y, kline, "mapping keys must be scalars");
            continue;
        }
        ypair *pr = vec_push(&v);
        pr->key = key_text(y, key);
        pr->line = kline;
        pr->val = val;
        if (rc) break;
    }
    if (!rc && !y->verbatim) drop_duplicates(y, v.v, &v.n);
    n->n = v.n;
    n->pairs = vec_to_arena(y, &v);
    return rc;
}

/* Builds the node that starts with event ev (already read; the caller deletes it). A mapping or
 * sequence is in *out before its entries are read, so that it is there after a hard error. */
static idp_err parse_node(yp *y, yaml_event_t *ev, int depth, const ynode **out)
{
    int line = ev_line(ev);
    if (depth > y->o->max_depth) {
        diag(y, line, "nested deeper than %d levels", y->o->max_depth);
        return IDP_ERR_CONFIG;
    }
    if (++y->nodes > y->o->max_nodes) {
        diag(y, line, "more than %zu YAML nodes", y->o->max_nodes);
        return IDP_ERR_CONFIG;
    }
    ynode *n = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = new_node(y, Y_STR, line);
        n->n = ev->data.scalar.length;
        n->s = arena_strndup(y->a, (const char *)ev->data.scalar.value, n->n);
        if (scalar_is_null(ev)) {
            n->t = Y_NULL;
            n->n = 0;
        } else if (strlen(n->s) != n->n) {
            if (!y->verbatim) diag(y, line, "NUL character in a scalar");
            n->t = Y_NULL;
            n->flags = YTREE_NUL;
            n->s = NULL;
            n->n = 0;
        }
        break;
    case YAML_ALIAS_EVENT:
        if (!y->verbatim) diag(y, line, "aliases are not allowed");
        n = new_node(y, Y_NULL, line);
        n->flags = YTREE_ALIAS;
        break;
    case YAML_SEQUENCE_START_EVENT:
        n = new_node(y, Y_SEQ, line);
        *out = n;
        return parse_seq(y, n, depth);
    case YAML_MAPPING_START_EVENT:
        n = new_node(y, Y_MAP, line);
        *out = n;
        return parse_map(y, n, depth);
    default:
        diag(y, line, "unexpected YAML event");
        return IDP_ERR_CONFIG;
    }
    *out = n;
    return IDP_OK;
}

/* stream-start (document)? stream-end; a second document is refused. */
static idp_err parse_stream(yp *y, const ynode **root)
{
    yaml_event_t ev;
    idp_err rc = IDP_OK;
    bool had_doc = false;
    for (;;) {
        if ((rc = next(y, &ev)) != IDP_OK) return rc;
        yaml_event_type_t t = ev.type;
        int line = ev_line(&ev);
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_START_EVENT) continue;
        if (t == YAML_STREAM_END_EVENT) return IDP_OK;
        if (t != YAML_DOCUMENT_START_EVENT) {
            diag(y, line, "unexpected YAML event");
            return IDP_ERR_CONFIG;
        }
        if (had_doc) {
            diag(y, line, "only one YAML document is allowed");
            return IDP_ERR_CONFIG;
        }
        had_doc = true;
        if ((rc = next(y, &ev)) != IDP_OK) return rc;
        rc = parse_node(y, &ev, 1, root);
        yaml_event_delete(&ev);
        if (rc) return rc;
        if ((rc = next(y, &ev)) != IDP_OK) return rc;
        t = ev.type;
        yaml_event_delete(&ev);
        if (t != YAML_DOCUMENT_END_EVENT) {
            diag(y, line, "unexpected YAML event");
            return IDP_ERR_CONFIG;
        }
    }
}

idp_err ytree_parse(const char *text, size_t len, const ytree_opts *opts, yarena **arena,
                    const ynode **root)
{
    yp y = {.o = opts, .verbatim = (opts->flags & YTREE_VERBATIM) != 0};
    *root = NULL;
    y.a = xcalloc(1, sizeof *y.a);
    *arena = y.a;
    if (!yaml_parser_initialize(&y.p)) {
        diag(&y, 0, "out of memory");
        return IDP_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
    idp_err rc = parse_stream(&y, root);
    yaml_parser_delete(&y.p);
    if (!rc && !*root) *root = new_node(&y, Y_NULL, 1); /* empty stream */
    return rc;
}
