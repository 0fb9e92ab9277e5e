/* Unit tests for src/http/deadline with a fake clock: a connection in its request head expires
 * once, after exactly the timeout, however often it is swept; a completed head never expires; a
 * restarted connection gets a fresh timeout; removed connections are never expired. */
#include "testutil.h"

#include "http/deadline.h"

#include <string.h>

typedef struct seen {
    int fds[16];
    size_t n;
} seen;

static void record(int fd, void *cls)
{
    seen *s = cls;
    if (s->n < 16) s->fds[s->n++] = fd;
}

static void expires_once_after_timeout(void **state)
{
    (void)state;
    deadline_list d;
    deadline_init(&d, 2000);
    seen s = {0};
    deadline_conn *a = deadline_add(&d, 7, 1000);
    (void)a;
    assert_int_equal(deadline_sweep(&d, 2999, record, &s), 0);
    assert_int_equal(deadline_sweep(&d, 3000, record, &s), 1);
    assert_int_equal(s.fds[0], 7);
    assert_int_equal(deadline_sweep(&d, 9000, record, &s), 0); /* once */
    assert_int_equal(s.n, 1);
    deadline_destroy(&d);
}

static void head_done_and_restart(void **state)
{
    (void)state;
    deadline_list d;
    deadline_init(&d, 2000);
    seen s = {0};
    deadline_conn *a = deadline_add(&d, 3, 0);
    deadline_conn *b = deadline_add(&d, 4, 0);
    deadline_head_done(&d, a);
    assert_int_equal(deadline_sweep(&d, 5000, record, &s), 1); /* only b */
    assert_int_equal(s.fds[0], 4);
    deadline_restart(&d, a, 10000); /* a's request ended: its next head is due by 12000 */
    assert_int_equal(deadline_sweep(&d, 11999, record, &s), 0);
    assert_int_equal(deadline_sweep(&d, 12000, record, &s), 1);
    assert_int_equal(s.fds[1], 3);
    deadline_remove(&d, b);
    deadline_remove(&d, NULL);
    assert_int_equal(d.n, 1);
    deadline_destroy(&d);
}

static void removed_never_expire(void **state)
{
    (void)state;
    deadline_list d;
    deadline_init(&d, 1000);
    seen s = {0};
    deadline_conn *c[5];
    for (int i = 0; i < 5; i++)
        c[i] = deadline_add(&d, 10 + i, 0);
    deadline_remove(&d, c[0]); /* tail */
    deadline_remove(&d, c[4]); /* head */
    deadline_remove(&d, c[2]); /* middle */
    assert_int_equal(deadline_sweep(&d, 1000, record, &s), 2);
    int sum = s.fds[0] + s.fds[1];
    assert_int_equal(sum, 11 + 13);
    deadline_remove(&d, c[1]);
    deadline_remove(&d, c[3]);
    assert_null(d.head);
    assert_int_equal(d.n, 0);
    deadline_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expires_once_after_timeout),
        cmocka_unit_test(head_done_and_restart),
        cmocka_unit_test(removed_never_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
