#include "verify/verify_cache.h"

#include "jose/jwk.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A kid longer than this is not cached (idpd's kids are 43-character thumbprints); keeping it
 * inline means neither a hit nor an insert allocates. */
#define KID_MAX 64
#define MAX_SHARDS 64
#define NIL UINT32_MAX

typedef struct slot {
    unsigned char key[SHA256_DIGEST_LENGTH];
    int64_t exp;
    json_t *claims; /* NULL: the slot is free */
    uint32_t next;  /* the next slot of its bucket, or of the free list */
    char kid[KID_MAX];
} slot;

/* One shard: a fixed pool of cap slots chained from nbuckets bucket heads. Everything is
 * allocated by verify_cache_new; the lock is held only for a lookup, an insert or a removal. */
typedef struct shard {
    pthread_mutex_t lock;
    slot *slots;
    uint32_t *heads;
    uint32_t cap, nbuckets, count, free_head;
} shard;

struct verify_cache {
    shard shards[MAX_SHARDS];
    unsigned nshards;
    atomic_uint_fast64_t hits, misses;
};

static uint64_t key_word(const unsigned char *k)
{
    uint64_t w;
    memcpy(&w, k, sizeof w);
    return w;
}

static shard *shard_of(verify_cache *c, const unsigned char *k)
{
    return &c->shards[key_word(k) % c->nshards];
}

static uint32_t bucket_of(const shard *s, const unsigned char *k)
{
    /* the shard used the low bits (mod nshards); the bucket takes higher ones */
    return (uint32_t)(key_word(k) >> 32) & (s->nbuckets - 1);
}

/* The index of k in s, and in *prev the slot that links to it (NIL: the bucket head). */
static uint32_t shard_find(const shard *s, const unsigned char *k, uint32_t *prev)
{
    uint32_t p = NIL;
    for (uint32_t i = s->heads[bucket_of(s, k)]; i != NIL; p = i, i = s->slots[i].next) {
        if (!memcmp(s->slots[i].key, k, SHA256_DIGEST_LENGTH)) {
            if (prev) *prev = p;
            return i;
        }
    }
    return NIL;
}

/* Unlinks slot i (found with its prev) and returns its claims for the caller to release after
 * unlocking. */
static json_t *shard_remove(shard *s, uint32_t i, uint32_t prev)
{
    slot *e = &s->slots[i];
    if (prev == NIL)
        s->heads[bucket_of(s, e->key)] = e->next;
    else
        s->slots[prev].next = e->next;
    json_t *claims = e->claims;
    e->claims = NULL;
    e->next = s->free_head;
    s->free_head = i;
    s->count--;
    return claims;
}

static bool shard_init(shard *s, uint32_t cap)
{
    s->cap = cap;
    s->nbuckets = 1;
    while (s->nbuckets < cap)
        s->nbuckets *= 2;
    s->slots = calloc(cap, sizeof *s->slots);
    s->heads = malloc(s->nbuckets * sizeof *s->heads);
    if (!s->slots || !s->heads || pthread_mutex_init(&s->lock, NULL)) {
        free(s->slots);
        free(s->heads);
        return false;
    }
    for (uint32_t i = 0; i < s->nbuckets; i++)
        s->heads[i] = NIL;
    for (uint32_t i = 0; i < cap; i++)
        s->slots[i].next = i + 1 < cap ? i + 1 : NIL;
    s->free_head = 0;
    s->count = 0;
    return true;
}

static void shard_destroy(shard *s)
{
    for (uint32_t i = 0; i < s->cap; i++)
        json_decref(s->slots[i].claims);
    free(s->slots);
    free(s->heads);
    pthread_mutex_destroy(&s->lock);
}

verify_cache *verify_cache_new(size_t max_entries)
{
    if (!max_entries) max_entries = VERIFY_CACHE_DEFAULT_MAX;
    /* a shard's pool index is 32-bit; beyond that the bound is the caller's mistake */
    if (max_entries > (size_t)MAX_SHARDS * (NIL / 2)) return NULL;
    verify_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    /* shards of at least 64 entries (fewer shards for a small cache), at most MAX_SHARDS; the
     * shard sizes add up to max_entries exactly */
    unsigned n = 1;
    while (n < MAX_SHARDS && (size_t)n * 2 * 64 <= max_entries)
        n *= 2;
    for (unsigned i = 0; i < n; i++) {
        uint32_t cap = (uint32_t)(max_entries / n + (i < max_entries % n));
        if (!shard_init(&c->shards[i], cap)) {
            c->nshards = i;
            verify_cache_free(c);
            return NULL;
        }
    }
    c->nshards = n;
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    return c;
}

void verify_cache_free(verify_cache *c)
{
    if (!c) return;
    for (unsigned i = 0; i < c->nshards; i++)
        shard_destroy(&c->shards[i]);
    free(c);
}

_Static_assert(VERIFY_CACHE_KEY_LEN == SHA256_DIGEST_LENGTH, "the key is a SHA-256");

/* SHA-256 fetched once per process: SHA256() fetches the algorithm on every call (OpenSSL 3), a
 * third of the cost of hashing a token on a cache hit. Kept for the process's life. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static void sha256_fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

void verify_cache_key(const char *tok, size_t len, unsigned char key[VERIFY_CACHE_KEY_LEN])
{
    pthread_once(&sha256_once, sha256_fetch);
    unsigned int n = 0;
    if (!sha256_md || EVP_Digest(tok, len, key, &n, sha256_md, NULL) != 1 ||
        n != VERIFY_CACHE_KEY_LEN)
        SHA256((const unsigned char *)tok, len, key);
}

/* Drops k from its shard when it is still the entry we looked at (same kid). */
static void drop(verify_cache *c, const unsigned char *k, const char *kid)
{
    shard *s = shard_of(c, k);
    uint32_t prev = NIL;
    pthread_mutex_lock(&s->lock);
    uint32_t i = shard_find(s, k, &prev);
    json_t *old = i != NIL && !strcmp(s->slots[i].kid, kid) ? shard_remove(s, i, prev) : NULL;
    pthread_mutex_unlock(&s->lock);
    json_decref(old);
}

json_t *verify_cache_get(verify_cache *c, const char *tok, size_t len, int64_t now,
                         verify_cache_kid_fn kid_ok, void *ctx)
{
    if (!c || !tok) return NULL;
    unsigned char k[SHA256_DIGEST_LENGTH];
    verify_cache_key(tok, len, k);
    return verify_cache_get_key(c, k, now, kid_ok, ctx);
}

json_t *verify_cache_get_key(verify_cache *c, const unsigned char k[VERIFY_CACHE_KEY_LEN],
                             int64_t now, verify_cache_kid_fn kid_ok, void *ctx)
{
    if (!c || !k) return NULL;
    shard *s = shard_of(c, k);
    json_t *claims = NULL, *expired = NULL;
    char kid[KID_MAX];
    uint32_t prev = NIL;
    pthread_mutex_lock(&s->lock);
    uint32_t i = shard_find(s, k, &prev);
    if (i != NIL) {
        slot *e = &s->slots[i];
        if (now < e->exp) {
            claims = json_incref(e->claims);
            memcpy(kid, e->kid, sizeof kid);
        } else {
            expired = shard_remove(s, i, prev); /* never outlives the token */
        }
    }
    pthread_mutex_unlock(&s->lock);
    json_decref(expired);
    /* the kid check runs outside the lock: it reads the caller's key set */
    if (claims && kid_ok && !kid_ok(ctx, kid)) {
        json_decref(claims);
        claims = NULL;
        drop(c, k, kid); /* its key left the set: the entry is of no further use */
    }
    atomic_fetch_add_explicit(claims ? &c->hits : &c->misses, 1, memory_order_relaxed);
    return claims;
}

/* The slot of s to reuse when it is full: the one closest to its exp (expired ones have the
 * smallest exp, so they go first). */
static uint32_t victim(const shard *s)
{
    uint32_t best = NIL;
    for (uint32_t i = 0; i < s->cap; i++)
        if (s->slots[i].claims && (best == NIL || s->slots[i].exp < s->slots[best].exp)) best = i;
    return best;
}

void verify_cache_put(verify_cache *c, const char *tok, size_t len, json_t *claims, const char *kid,
                      int64_t exp, int64_t now)
{
    if (!c || !tok || !claims || exp <= now) return;
    unsigned char k[SHA256_DIGEST_LENGTH];
    verify_cache_key(tok, len, k);
    verify_cache_put_key(c, k, claims, kid, exp, now);
}

void verify_cache_put_key(verify_cache *c, const unsigned char k[VERIFY_CACHE_KEY_LEN],
                          json_t *claims, const char *kid, int64_t exp, int64_t now)
{
    if (!c || !k || !claims || exp <= now) return;
    if (!kid) kid = "";
    size_t kl = strlen(kid);
    if (kl >= KID_MAX) return;
    shard *s = shard_of(c, k);
    if (!s->cap) return;
    json_t *old = NULL;
    uint32_t prev = NIL;
    pthread_mutex_lock(&s->lock);
    uint32_t i = shard_find(s, k, &prev);
    if (i == NIL) {
        if (s->free_head == NIL) {
            uint32_t v = victim(s);
            uint32_t vprev = NIL;
            shard_find(s, s->slots[v].key, &vprev);
            old = shard_remove(s, v, vprev);
        }
        i = s->free_head;
        s->free_head = s->slots[i].next;
        memcpy(s->slots[i].key, k, SHA256_DIGEST_LENGTH);
        uint32_t b = bucket_of(s, k);
        s->slots[i].next = s->heads[b];
        s->heads[b] = i;
        s->count++;
    } else {
        old = s->slots[i].claims; /* verified again: the newer answer replaces it */
    }
    slot *e = &s->slots[i];
    e->claims = json_incref(claims);
    e->exp = exp;
    memcpy(e->kid, kid, kl + 1);
    pthread_mutex_unlock(&s->lock);
    json_decref(old);
}

size_t verify_cache_size(verify_cache *c)
{
    size_t n = 0;
    for (unsigned i = 0; c && i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        n += c->shards[i].count;
        pthread_mutex_unlock(&c->shards[i].lock);
    }
    return n;
}

void verify_cache_stats(verify_cache *c, uint64_t *hits, uint64_t *misses)
{
    if (hits) *hits = c ? atomic_load(&c->hits) : 0;
    if (misses) *misses = c ? atomic_load(&c->misses) : 0;
}

bool verify_cache_kid_in_jwks(void *keys, const char *kid)
{
    return keys && kid && *kid && jwks_find(keys, kid) != NULL;
}
