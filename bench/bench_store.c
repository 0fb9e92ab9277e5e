/* bench_store — the SCIM store layer alone: inserts 100,000 users into a fresh SQLite store in a
 * temporary directory (batches of 5,000 per transaction), then times list queries through the
 * ops table (store.h): indexed and scanned filters, and a deep sorted page. Figures are printed;
 * nothing is asserted on time. The exit status is 1 when a store call fails.
 *
 * Usage (optimized build):
 *   meson setup build-rel --buildtype=release && ninja -C build-rel bench/bench_store
 *   build-rel/bench/bench_store */
#include "core/err.h"
#include "core/timeutil.h"
#include "scim/filter.h"
#include "scim/plan.h"
#include "scim/schema.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1704067200000LL /* 2024-01-01T00:00:00Z, ms */

static void die(const char *what, const idp_error *e)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, e->msg);
    exit(1);
}

/* One list query; returns the first id of the page (owned, "" when none) and *total. */
static char *query(store *st, const char *filter, const char *sort, bool desc, int64_t start,
                   int64_t count, int64_t *total)
{
    sf_node *f = NULL;
    scim_plan *plan = NULL;
    idp_error e = {0};
    if (filter && scim_filter_parse(filter, strlen(filter), &f, &e)) die(filter, &e);
    if (f && scim_plan_build(&scim_rt_user, f, &plan, &e)) die(filter, &e);
    store_query q = {.rt = &scim_rt_user,
                     .plan = plan,
                     .sort_by = sort,
                     .descending = desc,
                     .start_index = start,
                     .count = count};
    store_user *rows = NULL;
    size_t n = 0;
    if (st->ops->user_query(st, &q, &rows, &n, total, &e)) die("user_query", &e);
    char *first = strdup(n ? rows[0].id : "");
    store_user_list_free(rows, n);
    scim_plan_free(plan);
    scim_filter_free(f);
    return first;
}

static void insert_users(store *st, int n, int batch)
{
    char id[32], name[32], doc[256];
    idp_error e = {0};
    for (int i = 0; i < n; i++) {
        if (i % batch == 0 && store_tx_begin(st, &e)) die("tx_begin", &e);
        snprintf(id, sizeof id, "id-%06d", i);
        snprintf(name, sizeof name, "User%06d", i);
        snprintf(doc, sizeof doc,
                 "{\"name\":{\"familyName\":\"F%d\"},\"emails\":[{\"value\":\"u%06d@ex%d.com\","
                 "\"type\":\"work\"}]}",
                 i % 1000, i, i % 50);
        store_user u = {
            .id = id, .user_name = name, .active = true, .doc = doc, .created_at = T0 + i};
        if (st->ops->user_create(st, &u, &e)) die("user_create", &e);
        if ((i % batch == batch - 1 || i == n - 1) && store_tx_commit(st, &e)) die("commit", &e);
    }
}

int main(void)
{
    enum { N = 100000, BATCH = 5000 };
    char dir[] = "/tmp/bench_store.XXXXXX", path[64];
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    snprintf(path, sizeof path, "%s/idpd.db", dir);
    store *st = NULL;
    idp_error e = {0};
    if (store_open(path, true, &st, &e)) die("store_open", &e);

    int64_t t0 = time_mono_us();
    insert_users(st, N, BATCH);
    int64_t t1 = time_mono_us();
    printf("inserted %d users in %.2f s\n", N, (double)(t1 - t0) / 1e6);

    const char *queries[] = {"userName eq \"user054321\"", "emails co \"u054321@\"",
                             "name.familyName eq \"F7\"", "externalId eq \"none\""};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        int reps = i == 0 || i == 3 ? 1000 : 3;
        int64_t total = 0;
        t0 = time_mono_us();
        for (int r = 0; r < reps; r++)
            free(query(st, queries[i], NULL, false, 1, 100, &total));
        t1 = time_mono_us();
        printf("%-32s %8.3f ms/query (total %lld)\n", queries[i], (double)(t1 - t0) / 1e3 / reps,
               (long long)total);
    }
    t0 = time_mono_us();
    free(query(st, NULL, "userName", true, 50001, 100, NULL));
    t1 = time_mono_us();
    printf("sortBy userName desc page 501 %8.3f ms\n", (double)(t1 - t0) / 1e3);

    store_close(st);
    const char *files[] = {"idpd.db", "idpd.db-wal", "idpd.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}
