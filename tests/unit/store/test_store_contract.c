/* The store contract suite (store_contract.c) against the SQLite backend: each case opens a
 * fresh file store in a temporary directory through store_open. */
#include "testutil.h"

#include "store_contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static store *sqlite_open(void **ctx)
{
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/idpd.db", dir);
    store *st = NULL;
    idp_error e = {0};
    if (store_open(path, true, &st, &e)) {
        tu_rmtree(dir);
        free(dir);
        return NULL;
    }
    *ctx = dir;
    return st;
}

static void sqlite_close(store *st, void *ctx)
{
    store_close(st);
    tu_rmtree(ctx);
    free(ctx);
}

int main(void)
{
    const store_contract_backend b = {"store_contract_sqlite", sqlite_open, sqlite_close};
    return store_contract_run(&b);
}
