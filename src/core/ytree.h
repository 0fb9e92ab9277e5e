/* ytree — one YAML document as a tree of mappings, sequences and scalars, each node with the line
 * libyaml marked it at (for "FILE:LINE: ..." messages). The one YAML reader of idpd: the
 * configuration file (core/cfg) and the policy document (policy/) are both read through it.
 *
 * Hostile input: the caller caps the size; here nesting is capped at opts.max_depth (recursion is
 * bounded by it) and the node count at opts.max_nodes. Aliases are refused (no billion laughs);
 * anchors and tags are ignored. Only one document per stream. All memory comes from one arena.
 *
 * Two ways to read (ytree_opts.flags):
 *  - checked (0): soft problems are reported through opts.diag and parsing goes on: an alias
 *    (becomes a Y_NULL node), a NUL character in a scalar (Y_NULL), a mapping key that is not a
 *    string (the pair is dropped), a duplicate mapping key (YAML 1.2 §3.2.1.1 requires unique
 *    keys; libyaml does not check: the first occurrence is kept, every later one dropped).
 *  - YTREE_VERBATIM: nothing but hard errors is reported and the tree keeps the document as
 *    written (every pair in order, duplicates too; see ypair.key and ynode.flags), so that a
 *    caller can report the first problem in document order itself. After a hard error the tree
 *    still holds everything read before it, the unfinished node included (see ytree_parse). */
#ifndef IDPD_CORE_YTREE_H
#define IDPD_CORE_YTREE_H

#include "core/err.h"

#include <stddef.h>

typedef enum ytype { Y_NULL, Y_STR, Y_MAP, Y_SEQ } ytype;

/* ynode.flags: why a Y_NULL node is null when it was not written as a plain null. */
#define YTREE_ALIAS 1u /* an alias (*name) */
#define YTREE_NUL 2u   /* a scalar with a NUL character */

typedef struct ynode ynode;
typedef struct ypair {
    /* The key's text. Checked: always a string. YTREE_VERBATIM: also the text of a plain null
     * key ("", "~", "null"); NULL when the key is not a scalar, is an alias or holds a NUL. */
    const char *key;
    int line; /* of the key */
    /* NULL only in YTREE_VERBATIM, after a hard error before the value's first event */
    const ynode *val;
} ypair;

struct ynode {
    ytype t;
    unsigned flags;      /* YTREE_ALIAS, YTREE_NUL (only on Y_NULL nodes) */
    int line;            /* 1-based line where the node starts */
    const char *s;       /* Y_STR: NUL-terminated, no embedded NUL; a plain null: its text */
    size_t n;            /* Y_STR: length; Y_MAP: pairs; Y_SEQ: items */
    const ynode **items; /* Y_SEQ */
    const ypair *pairs;  /* Y_MAP, in document order */
};

typedef struct yarena yarena; /* owns every node of one tree (and of trees built on it) */

#define YTREE_VERBATIM 1u

/* A problem at a 1-based line (0 when none applies); msg is at most 255 bytes, borrowed. */
typedef void (*ytree_diag_fn)(void *ctx, int line, const char *msg);

typedef struct ytree_opts {
    int max_depth;    /* the root is at depth 1 */
    size_t max_nodes; /* scalars + mappings + sequences + aliases */
    unsigned flags;   /* 0 or YTREE_VERBATIM */
    ytree_diag_fn diag;
    void *ctx; /* for diag */
} ytree_opts;

/* Parses text[0..len) into *root, owned by *arena (ytree_free, also on failure). An empty stream
 * gives a Y_NULL root. A hard error — malformed YAML ("malformed YAML: <libyaml's problem>"),
 * too deep, too many nodes, a second document — goes to opts.diag and returns IDP_ERR_CONFIG
 * (IDP_ERR_NOMEM when libyaml cannot start: "out of memory"). After a hard error the tree is
 * only for YTREE_VERBATIM: *root is what was read before the error (NULL when nothing was), and
 * a mapping or sequence being read holds its finished entries and, last, the entry being read
 * (a pair with its key, and val NULL or unfinished; no pair when the key's first event failed).
 * In checked mode the tree after a hard error is incomplete and must not be used. */
idp_err ytree_parse(const char *text, size_t len, const ytree_opts *opts, yarena **arena,
                    const ynode **root);
void ytree_free(yarena *a);             /* accepts NULL */
void *ytree_alloc(yarena *a, size_t n); /* zeroed, aligned, freed with the arena */
/* The pair of key in mapping m (the first one; NULL when absent or m is not a mapping). */
const ypair *ytree_get(const ynode *m, const char *key);
/* Copies s into out[96] for a message: at most 64 bytes cut at a UTF-8 boundary, control
 * characters as '?', "..." when cut. Returns out. */
const char *ytree_printable(char out[96], const char *s);

#endif
