/* Shared helpers for the cmocka unit tests. */
#ifndef IDPD_TESTUTIL_H
#define IDPD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

/* Path of a file under tests/vectors ($IDPD_VECTORS); owned (free()). */
char *tu_vector_path(const char *rel);
/* Loads a JSON file under tests/vectors; fails the test (without leaking) when it cannot. */
json_t *tu_load_vector_json(const char *rel);
/* Reads a whole file; NULL on error. Owned. */
char *tu_read_file(const char *path, size_t *len);
/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); owned. */
char *tu_tmpdir(void);
/* rm -rf of a directory made by tu_tmpdir. */
void tu_rmtree(const char *dir);

/* A command entry point (src/cli: argv[0] is the command name). */
typedef int (*cmd_fn)(int, char **);
typedef struct run_out {
    int rc;
    char *out, *err; /* owned; run_free */
} run_out;
/* Runs fn in-process with the NULL-terminated arguments, capturing stdout and stderr. */
run_out run_argv(cmd_fn fn, const char *const *args);
void run_free(run_out *r);
#define RUN(fn, ...) run_argv((fn), (const char *const[]){__VA_ARGS__, NULL})

#endif
