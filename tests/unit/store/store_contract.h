/* store contract suite — the behaviour store.h promises, checked through the ops table only, so
 * that every backend runs the same cases unchanged (the model: dex's storage/conformance).
 *
 * A backend's driver (test_store_contract.c for SQLite) fills a store_contract_backend and calls
 * store_contract_run from its main(). Each case gets a fresh, empty store from open(). */
#ifndef IDPD_TESTS_STORE_CONTRACT_H
#define IDPD_TESTS_STORE_CONTRACT_H

#include "store/store.h"

typedef struct store_contract_backend {
    const char *name; /* the cmocka group name, e.g. "store_contract_sqlite" */
    /* A fresh, empty store (opened through store_open); *ctx is handed back to close. NULL on
     * failure. */
    store *(*open)(void **ctx);
    void (*close)(store *st, void *ctx); /* closes st and removes what open created */
} store_contract_backend;

/* Runs every case against b; returns the number of failed cases (0 = all passed). */
int store_contract_run(const store_contract_backend *b);
/* The revocation-event cases (store_contract_rev.c); store_contract_run runs them too. */
int store_contract_rev_run(const store_contract_backend *b);

#endif
