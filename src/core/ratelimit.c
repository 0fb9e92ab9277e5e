/* ratelimit — per-key token buckets behind striped locks (see ratelimit.h).
 *
 * Tokens are counted in micro-tokens (1 token = 1e6) with integer arithmetic: refill per ms is
 * rate * 1000 micro-tokens, so there is no floating-point drift. */
#include "core/ratelimit.h"

#include "core/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 16
#define SLOTS 64 /* hash chains per stripe */
#define UNIT 1000000LL

typedef struct bucket {
    struct bucket *next;
    int64_t tokens;  /* micro-tokens, 0..burst*UNIT */
    int64_t last_ms; /* time of the last refill */
    char key[];
} bucket;

typedef struct stripe {
    pthread_mutex_t mu;
    bucket *slot[SLOTS];
    size_t n;
} stripe;

struct ratelimit {
    int64_t per_ms;  /* micro-tokens added per ms */
    int64_t cap;     /* burst * UNIT */
    int64_t full_ms; /* idle time after which an empty bucket is full again */
    size_t per_stripe;
    stripe s[STRIPES];
};

ratelimit *ratelimit_new(int rate, int burst, size_t max_keys)
{
    if (rate < 1) rate = 1;
    if (burst < 1) burst = 1;
    if (max_keys < STRIPES) max_keys = STRIPES;
    ratelimit *rl = xcalloc(1, sizeof *rl);
    rl->per_ms = (int64_t)rate * (UNIT / 1000);
    rl->cap = (int64_t)burst * UNIT;
    rl->full_ms = (rl->cap + rl->per_ms - 1) / rl->per_ms;
    rl->per_stripe = max_keys / STRIPES;
    for (size_t i = 0; i < STRIPES; i++)
        if (pthread_mutex_init(&rl->s[i].mu, NULL) != 0) abort();
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl) return;
    for (size_t i = 0; i < STRIPES; i++) {
        for (size_t j = 0; j < SLOTS; j++) {
            for (bucket *b = rl->s[i].slot[j], *nx; b; b = nx) {
                nx = b->next;
                free(b);
            }
        }
        pthread_mutex_destroy(&rl->s[i].mu);
    }
    free(rl);
}

/* FNV-1a 64: spreads the (random) key ids over stripes and slots. */
static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void refill(const ratelimit *rl, bucket *b, int64_t now_ms)
{
    if (now_ms <= b->last_ms) return; /* clock went backwards or same ms: nothing to add */
    int64_t dt = now_ms - b->last_ms;
    b->last_ms = now_ms;
    if (dt >= rl->full_ms || b->tokens + dt * rl->per_ms >= rl->cap)
        b->tokens = rl->cap;
    else
        b->tokens += dt * rl->per_ms;
}

/* Drops buckets of stripe s that are full again by now (idle for full_ms or more). */
static void sweep_idle(const ratelimit *rl, stripe *s, int64_t now_ms)
{
    for (size_t j = 0; j < SLOTS; j++) {
        for (bucket **pp = &s->slot[j]; *pp;) {
            bucket *b = *pp;
            if (now_ms - b->last_ms >= rl->full_ms) {
                *pp = b->next;
                free(b);
                s->n--;
            } else {
                pp = &b->next;
            }
        }
    }
}

/* Drops the least recently refilled bucket of stripe s. */
static void evict_lru(stripe *s)
{
    bucket **victim = NULL;
    for (size_t j = 0; j < SLOTS; j++)
        for (bucket **pp = &s->slot[j]; *pp; pp = &(*pp)->next)
            if (!victim || (*pp)->last_ms < (*victim)->last_ms) victim = pp;
    if (!victim) return;
    bucket *b = *victim;
    *victim = b->next;
    free(b);
    s->n--;
}

/* The bucket of key in s (created full when absent, evicting to stay in bounds). */
static bucket *find_or_add(const ratelimit *rl, stripe *s, size_t slot, const char *key, size_t n,
                           int64_t now_ms)
{
    for (bucket *b = s->slot[slot]; b; b = b->next)
        if (!strcmp(b->key, key)) return b;
    if (s->n >= rl->per_stripe) sweep_idle(rl, s, now_ms);
    if (s->n >= rl->per_stripe) evict_lru(s);
    bucket *b = xmalloc(sizeof *b + n + 1);
    memcpy(b->key, key, n + 1);
    b->tokens = rl->cap;
    b->last_ms = now_ms;
    b->next = s->slot[slot];
    s->slot[slot] = b;
    s->n++;
    return b;
}

bool ratelimit_take(ratelimit *rl, const char *key_id, int64_t now_ms, int64_t *retry_after_s)
{
    size_t n = key_id ? strnlen(key_id, RATELIMIT_MAX_KEY_LEN + 1) : 0;
    if (n == 0 || n > RATELIMIT_MAX_KEY_LEN) {
        if (retry_after_s) *retry_after_s = 1;
        return false;
    }
    uint64_t h = hash_key(key_id, n);
    stripe *s = &rl->s[h % STRIPES];
    pthread_mutex_lock(&s->mu);
    bucket *b = find_or_add(rl, s, (size_t)((h / STRIPES) % SLOTS), key_id, n, now_ms);
    refill(rl, b, now_ms);
    bool ok = b->tokens >= UNIT;
    int64_t wait_ms = 0;
    if (ok)
        b->tokens -= UNIT;
    else
        wait_ms = (UNIT - b->tokens + rl->per_ms - 1) / rl->per_ms;
    pthread_mutex_unlock(&s->mu);
    if (!ok && retry_after_s) {
        int64_t secs = (wait_ms + 999) / 1000;
        *retry_after_s = secs < 1 ? 1 : secs;
    }
    return ok;
}

size_t ratelimit_size(ratelimit *rl)
{
    size_t total = 0;
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&rl->s[i].mu);
        total += rl->s[i].n;
        pthread_mutex_unlock(&rl->s[i].mu);
    }
    return total;
}
