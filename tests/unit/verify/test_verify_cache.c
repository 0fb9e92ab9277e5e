/* Unit tests for src/verify/verify_cache.c: hit and miss, exp (now < exp, dropped when found
 * expired), the kid check, the bound and its eviction rule, replacement, counters, and many
 * threads on one cache. */
#include "testutil.h"

#include "verify/verify_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define NOW 1700000000

static json_t *claims_of(const char *sub)
{
    return json_pack("{s:s, s:I}", "sub", sub, "exp", (json_int_t)(NOW + 60));
}

static void put_str(verify_cache *c, const char *tok, const char *sub, const char *kid, int64_t exp)
{
    json_t *cl = claims_of(sub);
    verify_cache_put(c, tok, strlen(tok), cl, kid, exp, NOW);
    json_decref(cl);
}

static json_t *get_str(verify_cache *c, const char *tok, int64_t now)
{
    return verify_cache_get(c, tok, strlen(tok), now, NULL, NULL);
}

static void hit_and_miss(void **state)
{
    (void)state;
    verify_cache *c = verify_cache_new(0);
    assert_non_null(c);
    assert_null(get_str(c, "tok-a", NOW));
    put_str(c, "tok-a", "alice", "k1", NOW + 60);
    json_t *hit = get_str(c, "tok-a", NOW);
    assert_non_null(hit);
    assert_string_equal(json_string_value(json_object_get(hit, "sub")), "alice");
    json_decref(hit);
    /* keyed by the whole token: a prefix or an extension is another token */
    assert_null(verify_cache_get(c, "tok-a", 4, NOW, NULL, NULL));
    assert_null(get_str(c, "tok-ab", NOW));
    uint64_t h = 0, m = 0;
    verify_cache_stats(c, &h, &m);
    assert_int_equal(h, 1);
    assert_int_equal(m, 3);
    assert_int_equal(verify_cache_size(c), 1);
    verify_cache_free(c);
}

static void claims_are_shared_references(void **state)
{
    (void)state;
    verify_cache *c = verify_cache_new(0);
    json_t *cl = claims_of("bob");
    verify_cache_put(c, "t", 1, cl, "k", NOW + 10, NOW);
    json_t *hit = get_str(c, "t", NOW);
    assert_ptr_equal(hit, cl); /* the same immutable object, one more reference */
    json_decref(hit);
    json_decref(cl);
    hit = get_str(c, "t", NOW); /* the cache still holds its own reference */
    assert_non_null(hit);
    json_decref(hit);
    verify_cache_free(c);
}

static void never_outlives_exp(void **state)
{
    (void)state;
    verify_cache *c = verify_cache_new(0);
    put_str(c, "t", "a", "k", NOW + 10);
    json_t *hit = get_str(c, "t", NOW + 9);
    assert_non_null(hit);
    json_decref(hit);
    assert_null(get_str(c, "t", NOW + 10));    /* valid while now < exp only */
    assert_int_equal(verify_cache_size(c), 0); /* and dropped when found expired */
    /* no exp, or an exp already past: not cached */
    put_str(c, "u", "a", "k", NOW);
    put_str(c, "v", "a", "k", 0);
    assert_int_equal(verify_cache_size(c), 0);
    verify_cache_free(c);
}

static bool only_k2(void *ctx, const char *kid)
{
    int *calls = ctx;
    (*calls)++;
    return !strcmp(kid, "k2");
}

static void kid_check(void **state)
{
    (void)state;
    verify_cache *c = verify_cache_new(0);
    put_str(c, "one", "a", "k1", NOW + 60);
    put_str(c, "two", "b", "k2", NOW + 60);
    put_str(c, "none", "c", NULL, NOW + 60);
    int calls = 0;
    json_t *hit = verify_cache_get(c, "two", 3, NOW, only_k2, &calls);
    assert_non_null(hit);
    json_decref(hit);
    /* k1 left the key set: a miss, and the entry goes */
    assert_null(verify_cache_get(c, "one", 3, NOW, only_k2, &calls));
    assert_int_equal(calls, 2);
    assert_int_equal(verify_cache_size(c), 2);
    assert_null(verify_cache_get(c, "one", 3, NOW, NULL, NULL));
    /* a kid-less token is checked with "" */
    assert_null(verify_cache_get(c, "none", 4, NOW, only_k2, &calls));
    /* a kid too long to keep inline is not cached */
    char kid[100];
    memset(kid, 'k', sizeof kid - 1);
    kid[sizeof kid - 1] = '\0';
    put_str(c, "long", "d", kid, NOW + 60);
    assert_null(get_str(c, "long", NOW));
    verify_cache_free(c);
}

static void replace_same_token(void **state)
{
    (void)state;
    verify_cache *c = verify_cache_new(0);
    put_str(c, "t", "first", "k1", NOW + 10);
    put_str(c, "t", "second", "k2", NOW + 20);
    assert_int_equal(verify_cache_size(c), 1);
    json_t *hit = get_str(c, "t", NOW + 15);
    assert_non_null(hit);
    assert_string_equal(json_string_value(json_object_get(hit, "sub")), "second");
    json_decref(hit);
    verify_cache_free(c);
}

static void bounded_evicts_closest_to_exp(void **state)
{
    (void)state;
    verify_cache *c = verify_cache_new(4); /* small: one shard */
    put_str(c, "a", "a", "k", NOW + 40);
    put_str(c, "b", "b", "k", NOW + 10); /* closest to its exp */
    put_str(c, "c", "c", "k", NOW + 30);
    put_str(c, "d", "d", "k", NOW + 20);
    assert_int_equal(verify_cache_size(c), 4);
    put_str(c, "e", "e", "k", NOW + 50);
    assert_int_equal(verify_cache_size(c), 4);
    assert_null(get_str(c, "b", NOW));
    json_t *h;
    const char *kept[] = {"a", "c", "d", "e"};
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(h = get_str(c, kept[i], NOW));
        json_decref(h);
    }
    /* an entry already expired goes first */
    json_t *cl = claims_of("g");
    verify_cache_put(c, "g", 1, cl, "k", NOW + 100, NOW + 25); /* d (exp +20) has expired */
    json_decref(cl);
    assert_null(get_str(c, "d", NOW + 1));
    assert_int_equal(verify_cache_size(c), 4);
    verify_cache_free(c);
}

static void bound_holds_across_shards(void **state)
{
    (void)state;
    verify_cache *c = verify_cache_new(1000);
    char tok[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(tok, sizeof tok, "token-%d", i);
        put_str(c, tok, "x", "k", NOW + 1 + i);
    }
    assert_true(verify_cache_size(c) <= 1000);
    assert_true(verify_cache_size(c) >= 990); /* every shard is full */
    /* the newest (latest exp) survive */
    json_t *h = get_str(c, "token-4999", NOW);
    assert_non_null(h);
    json_decref(h);
    assert_null(get_str(c, "token-0", NOW));
    verify_cache_free(c);
    verify_cache_free(NULL);
}

typedef struct {
    verify_cache *c;
    int id;
    int hits;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    char tok[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(tok, sizeof tok, "t-%d", (i * 7 + a->id) % 300);
        json_t *h = get_str(a->c, tok, NOW);
        if (h) {
            a->hits++;
            json_decref(h);
        } else {
            put_str(a->c, tok, "x", "k", NOW + 1 + i % 50);
        }
    }
    return NULL;
}

static void concurrent(void **state)
{
    (void)state;
    verify_cache *c = verify_cache_new(200);
    pthread_t t[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){.c = c, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    uint64_t hits = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        hits += (uint64_t)args[i].hits;
    }
    uint64_t h = 0, m = 0;
    verify_cache_stats(c, &h, &m);
    assert_int_equal(h, hits);
    assert_int_equal(h + m, 4 * 20000);
    assert_true(verify_cache_size(c) <= 200);
    verify_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_and_miss),
        cmocka_unit_test(claims_are_shared_references),
        cmocka_unit_test(never_outlives_exp),
        cmocka_unit_test(kid_check),
        cmocka_unit_test(replace_same_token),
        cmocka_unit_test(bounded_evicts_closest_to_exp),
        cmocka_unit_test(bound_holds_across_shards),
        cmocka_unit_test(concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
