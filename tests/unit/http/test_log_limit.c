/* Unit tests for src/http/log_limit with a fake clock: per_window lines of a kind per window,
 * the rest counted and reported once (at the next line of the kind or by a flush), kinds limited
 * apart, and kinds beyond the table sharing the last slot. */
#include "testutil.h"

#include "http/log_limit.h"

static const char KIND_A[] = "Connection was closed by remote side with incomplete request.";
static const char KIND_B[] = "IP connection limit reached.";

static void limits_and_reports_at_next_line(void **state)
{
    (void)state;
    log_limit l;
    log_limit_init(&l, 3, 60000);
    uint64_t sup = 99;
    const char *sk = NULL;
    int written = 0;
    for (int i = 0; i < 1000; i++)
        written += log_limit_take(&l, KIND_A, 1000 + i, &sup, &sk);
    assert_int_equal(written, 3);
    assert_int_equal(sup, 0);
    /* another kind is limited apart */
    assert_true(log_limit_take(&l, KIND_B, 2000, &sup, &sk));
    /* the next window: the summary comes with the first line */
    assert_true(log_limit_take(&l, KIND_A, 61000, &sup, &sk));
    assert_int_equal(sup, 997);
    assert_ptr_equal(sk, KIND_A);
    assert_true(log_limit_take(&l, KIND_A, 61001, &sup, &sk));
    assert_int_equal(sup, 0);
}

typedef struct got {
    const char *kind;
    uint64_t n;
    int calls;
} got;

static void rec(const char *kind, uint64_t n, void *cls)
{
    got *g = cls;
    g->kind = kind;
    g->n = n;
    g->calls++;
}

static void flush_reports_a_flood_that_stopped(void **state)
{
    (void)state;
    log_limit l;
    log_limit_init(&l, 2, 1000);
    uint64_t sup = 0;
    const char *sk = NULL;
    for (int i = 0; i < 10; i++)
        (void)log_limit_take(&l, KIND_A, 0, &sup, &sk);
    got g = {0};
    assert_int_equal(log_limit_flush(&l, 999, rec, &g), 0); /* window not over */
    assert_int_equal(log_limit_flush(&l, 1000, rec, &g), 1);
    assert_int_equal(g.n, 8);
    assert_ptr_equal(g.kind, KIND_A);
    assert_int_equal(log_limit_flush(&l, 5000, rec, &g), 0); /* reported once */
    assert_true(log_limit_take(&l, KIND_A, 5000, &sup, &sk));
    assert_int_equal(sup, 0);
}

static void kinds_beyond_the_table_share_a_slot(void **state)
{
    (void)state;
    static char kinds[LOG_LIMIT_SLOTS + 10];
    log_limit l;
    log_limit_init(&l, 1, 1000);
    uint64_t sup = 0;
    const char *sk = NULL;
    int written = 0;
    for (size_t i = 0; i < sizeof kinds; i++)
        written += log_limit_take(&l, &kinds[i], 0, &sup, &sk);
    /* LOG_LIMIT_SLOTS - 1 kinds apart, one line for all the others together */
    assert_int_equal(written, LOG_LIMIT_SLOTS);
    got g = {0};
    assert_int_equal(log_limit_flush(&l, 1000, rec, &g), 1);
    assert_null(g.kind);
    assert_int_equal(g.n, sizeof kinds - LOG_LIMIT_SLOTS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits_and_reports_at_next_line),
        cmocka_unit_test(flush_reports_a_flood_that_stopped),
        cmocka_unit_test(kinds_beyond_the_table_share_a_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
