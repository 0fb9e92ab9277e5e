/* Unit tests for src/core/ytree: the tree with its lines, the checked mode's soft problems
 * (duplicate keys, aliases, non-scalar keys, NUL), the verbatim mode's document as written and
 * its partial tree after a hard error, the depth and node caps, one document only, and
 * ytree_printable. (cfg and policy test the reader through their loaders too.) */
#include "testutil.h"

#include "core/ytree.h"

#include <stdio.h>
#include <string.h>

typedef struct diags {
    int n;
    int line[8];
    char msg[8][256];
} diags;

static void collect(void *ctx, int line, const char *msg)
{
    diags *d = ctx;
    if (d->n < 8) {
        d->line[d->n] = line;
        snprintf(d->msg[d->n], sizeof d->msg[d->n], "%s", msg);
    }
    d->n++;
}

static idp_err parse(const char *text, unsigned flags, diags *d, yarena **a, const ynode **root)
{
    memset(d, 0, sizeof *d);
    const ytree_opts o = {
        .max_depth = 4, .max_nodes = 20, .flags = flags, .diag = collect, .ctx = d};
    return ytree_parse(text, strlen(text), &o, a, root);
}

static void tree_and_lines(void **state)
{
    (void)state;
    diags d;
    yarena *a = NULL;
    const ynode *r = NULL;
    assert_int_equal(parse("a: x\nb:\n  - 1\n  - ~\nc: {d: \"\"}\n", 0, &d, &a, &r), IDP_OK);
    assert_int_equal(d.n, 0);
    assert_int_equal(r->t, Y_MAP);
    assert_int_equal(r->n, 3);
    const ypair *p = ytree_get(r, "a");
    assert_int_equal(p->line, 1);
    assert_string_equal(p->val->s, "x");
    p = ytree_get(r, "b");
    assert_int_equal(p->val->t, Y_SEQ);
    assert_int_equal(p->val->n, 2);
    assert_int_equal(p->val->items[0]->line, 3);
    assert_int_equal(p->val->items[1]->t, Y_NULL);
    assert_int_equal(p->val->items[1]->flags, 0);
    const ynode *c = ytree_get(r, "c")->val;
    assert_int_equal(ytree_get(c, "d")->val->t, Y_STR); /* a quoted "" is a string */
    assert_null(ytree_get(r, "zz"));
    assert_null(ytree_get(p->val, "a")); /* not a mapping */
    ytree_free(a);

    assert_int_equal(parse("", 0, &d, &a, &r), IDP_OK); /* empty stream: a null root */
    assert_int_equal(r->t, Y_NULL);
    ytree_free(a);
}

static void checked_soft_problems(void **state)
{
    (void)state;
    diags d;
    yarena *a = NULL;
    const ynode *r = NULL;
    assert_int_equal(parse("k: 1\nx: &v 2\nk: 3\n? [s]\n: 4\ny: *v\nz: \"\\0\"\n", 0, &d, &a, &r),
                     IDP_OK);
    assert_int_equal(r->n, 4); /* k, x, y, z: the second k and the [s] key are dropped */
    assert_string_equal(ytree_get(r, "k")->val->s, "1");
    const ynode *y = ytree_get(r, "y")->val;
    assert_int_equal(y->t, Y_NULL);
    assert_int_equal(y->flags, YTREE_ALIAS);
    assert_int_equal(ytree_get(r, "z")->val->flags, YTREE_NUL);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.msg[0], "mapping keys must be scalars");
    assert_int_equal(d.line[0], 4);
    assert_string_equal(d.msg[1], "aliases are not allowed");
    assert_int_equal(d.line[1], 6);
    assert_string_equal(d.msg[2], "NUL character in a scalar");
    assert_string_equal(d.msg[3], "duplicate key k (first on line 1)");
    assert_int_equal(d.line[3], 3);
    ytree_free(a);
}

static void verbatim_as_written(void **state)
{
    (void)state;
    diags d;
    yarena *a = NULL;
    const ynode *r = NULL;
    assert_int_equal(parse("k: 1\nk: *v\n? [s]\n: 2\nnull: 3\n", YTREE_VERBATIM, &d, &a, &r),
                     IDP_OK);
    assert_int_equal(d.n, 0); /* nothing reported */
    assert_int_equal(r->n, 4);
    assert_string_equal(r->pairs[1].key, "k");
    assert_int_equal(r->pairs[1].val->flags, YTREE_ALIAS);
    assert_null(r->pairs[2].key);                 /* not a scalar */
    assert_string_equal(r->pairs[3].key, "null"); /* a plain null keeps its text */
    assert_null(ytree_get(r, "nothing"));         /* skips the key-less pair */
    ytree_free(a);
}

static void verbatim_partial_after_error(void **state)
{
    (void)state;
    diags d;
    yarena *a = NULL;
    const ynode *r = NULL;
    assert_int_equal(parse("a: 1\nb: [1, 2\n", YTREE_VERBATIM, &d, &a, &r), IDP_ERR_CONFIG);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.msg[0], "malformed YAML: "));
    assert_int_equal(r->t, Y_MAP);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->pairs[1].key, "b");
    assert_int_equal(r->pairs[1].val->t, Y_SEQ); /* unfinished, with what was read */
    assert_int_equal(r->pairs[1].val->n, 2);
    ytree_free(a);

    /* the error comes before the value: the pair is there, without a value */
    assert_int_equal(parse("a: 1\nb: ]\n", YTREE_VERBATIM, &d, &a, &r), IDP_ERR_CONFIG);
    assert_int_equal(r->n, 2);
    assert_null(r->pairs[1].val);
    ytree_free(a);

    /* nothing read: no root */
    assert_int_equal(parse("\"", YTREE_VERBATIM, &d, &a, &r), IDP_ERR_CONFIG);
    assert_null(r);
    ytree_free(a);
}

static void hard_errors(void **state)
{
    (void)state;
    diags d;
    yarena *a = NULL;
    const ynode *r = NULL;
    assert_int_equal(parse("a: [[[[1]]]]\n", 0, &d, &a, &r), IDP_ERR_CONFIG);
    assert_string_equal(d.msg[d.n - 1], "nested deeper than 4 levels");
    ytree_free(a);
    assert_int_equal(parse("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]", 0, &d, &a, &r),
                     IDP_ERR_CONFIG);
    assert_string_equal(d.msg[d.n - 1], "more than 20 YAML nodes");
    ytree_free(a);
    assert_int_equal(parse("a: 1\n---\nb: 2\n", 0, &d, &a, &r), IDP_ERR_CONFIG);
    assert_string_equal(d.msg[0], "only one YAML document is allowed");
    assert_int_equal(d.line[0], 2);
    ytree_free(a);
    const ytree_opts quiet = {.max_depth = 4, .max_nodes = 20}; /* no diag callback */
    assert_int_equal(ytree_parse("[", 1, &quiet, &a, &r), IDP_ERR_CONFIG);
    ytree_free(a);
    ytree_free(NULL);
}

static void printable(void **state)
{
    (void)state;
    char out[96];
    assert_string_equal(ytree_printable(out, "a\tb\x7f"), "a?b?");
    char longs[80];
    memset(longs, 'x', sizeof longs);
    longs[63] = '\xc3'; /* a two-byte character across the 64-byte cut */
    longs[64] = '\xa9';
    longs[79] = '\0';
    ytree_printable(out, longs);
    assert_int_equal(strlen(out), 63 + 3);
    assert_string_equal(out + 63, "...");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tree_and_lines),      cmocka_unit_test(checked_soft_problems),
        cmocka_unit_test(verbatim_as_written), cmocka_unit_test(verbatim_partial_after_error),
        cmocka_unit_test(hard_errors),         cmocka_unit_test(printable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
