/* Unit tests for src/core/ratelimit: token-bucket refill, burst, Retry-After, bad keys,
 * eviction bound, and concurrent use (run under TSan-free ASan: checks counts only). */
#include "testutil.h"

#include "core/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void burst_then_refused(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(10, 5, 1024); /* 10/s, burst 5 */
    int64_t t = 1000000, ra = -1;
    for (int i = 0; i < 5; i++)
        assert_true(ratelimit_take(rl, "k1", t, &ra));
    assert_false(ratelimit_take(rl, "k1", t, &ra));
    assert_int_equal(ra, 1); /* one token takes 100 ms -> rounds up to 1 s */
    /* another key has its own bucket */
    assert_true(ratelimit_take(rl, "k2", t, NULL));
    assert_int_equal(ratelimit_size(rl), 2);
    ratelimit_free(rl);
}

static void refill_over_time(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(10, 5, 1024);
    int64_t t = 5000, ra = 0;
    for (int i = 0; i < 5; i++)
        assert_true(ratelimit_take(rl, "k", t, NULL));
    assert_false(ratelimit_take(rl, "k", t + 99, &ra)); /* 0.99 token */
    assert_true(ratelimit_take(rl, "k", t + 100, &ra)); /* exactly one token after 100 ms */
    assert_false(ratelimit_take(rl, "k", t + 100, &ra));
    /* 250 ms -> 2.5 tokens (the 0.99 earlier did not consume anything) */
    assert_true(ratelimit_take(rl, "k", t + 350, NULL));
    assert_true(ratelimit_take(rl, "k", t + 350, NULL));
    assert_false(ratelimit_take(rl, "k", t + 350, NULL));
    /* a long idle period refills only up to the burst */
    int64_t later = t + 3600 * 1000;
    for (int i = 0; i < 5; i++)
        assert_true(ratelimit_take(rl, "k", later, NULL));
    assert_false(ratelimit_take(rl, "k", later, NULL));
    ratelimit_free(rl);
}

static void retry_after_seconds(void **state)
{
    (void)state;
    /* 1 request per second, burst 1: after the first, the next is 1 s away */
    ratelimit *rl = ratelimit_new(1, 1, 64);
    int64_t ra = 0;
    assert_true(ratelimit_take(rl, "a", 0, &ra));
    assert_false(ratelimit_take(rl, "a", 0, &ra));
    assert_int_equal(ra, 1);
    assert_false(ratelimit_take(rl, "a", 999, &ra));
    assert_int_equal(ra, 1); /* 1 ms left still rounds up to a whole second */
    assert_true(ratelimit_take(rl, "a", 1000, &ra));
    ratelimit_free(rl);

    /* a refused request does not consume: the wait does not grow with retries */
    rl = ratelimit_new(1, 3, 64);
    for (int i = 0; i < 3; i++)
        assert_true(ratelimit_take(rl, "b", 0, NULL));
    for (int i = 0; i < 10; i++) {
        assert_false(ratelimit_take(rl, "b", 0, &ra));
        assert_int_equal(ra, 1);
    }
    ratelimit_free(rl);
}

static void clock_backwards_adds_nothing(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(10, 1, 64);
    int64_t ra = 0;
    assert_true(ratelimit_take(rl, "k", 10000, NULL));
    assert_false(ratelimit_take(rl, "k", 5000, &ra)); /* earlier time: no refill */
    assert_int_equal(ra, 1);
    assert_false(ratelimit_take(rl, "k", 10099, NULL)); /* measured from 10000, not 5000 */
    assert_true(ratelimit_take(rl, "k", 10100, NULL));
    ratelimit_free(rl);
}

static void bad_keys_refused(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(10, 10, 64);
    char longkey[RATELIMIT_MAX_KEY_LEN + 2];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    int64_t ra = 0;
    assert_false(ratelimit_take(rl, NULL, 0, &ra));
    assert_int_equal(ra, 1);
    assert_false(ratelimit_take(rl, "", 0, &ra));
    assert_false(ratelimit_take(rl, longkey, 0, &ra));
    longkey[RATELIMIT_MAX_KEY_LEN] = '\0'; /* exactly at the cap: fine */
    assert_true(ratelimit_take(rl, longkey, 0, &ra));
    assert_int_equal(ratelimit_size(rl), 1);
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static void memory_is_bounded(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(1, 2, 64); /* 16 stripes x 4 */
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_true(ratelimit_take(rl, key, i, NULL)); /* new keys always start full */
        assert_true(ratelimit_size(rl) <= 64);
    }
    assert_true(ratelimit_size(rl) > 0);
    ratelimit_free(rl);
}

/* White-box: the stripe of a key as ratelimit.c computes it (FNV-1a 64, 16 stripes), to put
 * several keys into one stripe. */
static unsigned stripe_of(const char *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 1099511628211ULL;
    }
    return (unsigned)(h % 16);
}

/* Three keys of the same stripe into out[3][16]. */
static void same_stripe_keys(char out[3][16])
{
    int found = 0;
    unsigned want = stripe_of("s0");
    snprintf(out[found++], 16, "s0");
    for (int i = 1; found < 3; i++) {
        char k[16];
        snprintf(k, sizeof k, "s%d", i);
        if (stripe_of(k) == want) snprintf(out[found++], 16, "%s", k);
    }
}

static void idle_buckets_evicted_first(void **state)
{
    (void)state;
    char k[3][16];
    same_stripe_keys(k);
    /* 1/s, burst 2: a bucket idle for 2 s is full again; 32 keys -> 2 per stripe */
    ratelimit *rl = ratelimit_new(1, 2, 32);
    assert_true(ratelimit_take(rl, k[0], 0, NULL));
    assert_true(ratelimit_take(rl, k[1], 0, NULL));
    assert_int_equal(ratelimit_size(rl), 2);
    /* at 5 s both are idle: adding a third sweeps both, keeping only the new one */
    assert_true(ratelimit_take(rl, k[2], 5000, NULL));
    assert_int_equal(ratelimit_size(rl), 1);
    ratelimit_free(rl);
}

static void busy_stripe_evicts_lru(void **state)
{
    (void)state;
    char k[3][16];
    same_stripe_keys(k);
    ratelimit *rl = ratelimit_new(1, 2, 32);
    assert_true(ratelimit_take(rl, k[0], 0, NULL));   /* older, not drained */
    assert_true(ratelimit_take(rl, k[1], 500, NULL)); /* drained at 500 ms */
    assert_true(ratelimit_take(rl, k[1], 500, NULL));
    assert_false(ratelimit_take(rl, k[1], 500, NULL));
    /* at 1 s nobody is idle: k[0] (least recently used) makes room for k[2] */
    assert_true(ratelimit_take(rl, k[2], 1000, NULL));
    assert_int_equal(ratelimit_size(rl), 2);
    /* the drained key was kept and is still limited (0.5 token) */
    int64_t ra = 0;
    assert_false(ratelimit_take(rl, k[1], 1000, &ra));
    assert_int_equal(ra, 1);
    ratelimit_free(rl);
}

typedef struct thr_arg {
    ratelimit *rl;
    int allowed;
} thr_arg;

static void *hammer(void *p)
{
    thr_arg *a = p;
    for (int i = 0; i < 1000; i++)
        a->allowed += ratelimit_take(a->rl, "shared", 42, NULL);
    return NULL;
}

static void threads_share_one_bucket(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(1, 100, 64);
    pthread_t t[8];
    thr_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i].rl = rl;
        a[i].allowed = 0;
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &a[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += a[i].allowed;
    }
    assert_int_equal(total, 100); /* exactly the burst, no lost updates */
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_refused),
        cmocka_unit_test(refill_over_time),
        cmocka_unit_test(retry_after_seconds),
        cmocka_unit_test(clock_backwards_adds_nothing),
        cmocka_unit_test(bad_keys_refused),
        cmocka_unit_test(memory_is_bounded),
        cmocka_unit_test(idle_buckets_evicted_first),
        cmocka_unit_test(busy_stripe_evicts_lru),
        cmocka_unit_test(threads_share_one_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
