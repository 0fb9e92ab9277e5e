/* store internal — the backend constructors store_open dispatches to. */
#ifndef IDPD_STORE_INTERNAL_H
#define IDPD_STORE_INTERNAL_H

#include "store/store.h"

/* SQLite backend (store_sqlite.c). path is a file name (never a URI; ":memory:" is refused
 * because every thread gets its own connection). */
idp_err store_sqlite_open(const char *path, bool create, store **out, idp_error *err);

#endif
