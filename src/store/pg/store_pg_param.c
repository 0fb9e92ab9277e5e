/* store_pg_param — the PostgreSQL backend's bound parameters and column readers (internal.h):
 * parameters are collected into a pg_params ($1.. in the order added; an overflow marks the set
 * unusable, store_pg_exec refuses it), results are read in the text format (bytea as "\\x" +
 * hex, the server's default bytea_output), and store_pg_rows copies a result into an array of
 * at most `max` rows. Nothing here touches a connection. */
#include "store/pg/internal.h"

#include "core/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters and results ----------------------------------------------------------------- */

static int pg_param_slot(pg_params *p)
{
    if (p->n >= PG_PARAMS_MAX) {
        p->overflow = true;
        return -1;
    }
    return p->n++;
}

void store_pg_text(pg_params *p, const char *s)
{
    int i = pg_param_slot(p);
    if (i < 0) return;
    p->v[i] = s;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void store_pg_i64(pg_params *p, int64_t v)
{
    int i = pg_param_slot(p);
    if (i < 0) return;
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->v[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void store_pg_bool(pg_params *p, bool v)
{
    int i = pg_param_slot(p);
    if (i < 0) return;
    p->v[i] = v ? "true" : "false";
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void store_pg_bytea(pg_params *p, const void *b, size_t n)
{
    int i = pg_param_slot(p);
    if (i < 0) return;
    if (n > INT32_MAX) {
        p->overflow = true;
        return;
    }
    p->v[i] = b ? (n ? b : "") : NULL;
    p->len[i] = (int)n;
    p->fmt[i] = 1;
}

char *store_pg_str(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return NULL;
    return xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

int64_t store_pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool store_pg_boolv(const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    return !PQgetisnull(r, row, col) && (v[0] == 't' || v[0] == '1');
}

bool store_pg_isnull(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* bytea in the text format is "\x" and hex digits (bytea_output = hex, the default). */
bool store_pg_bytes_dup(const PGresult *r, int row, int col, unsigned char **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (PQgetisnull(r, row, col)) return false;
    const char *v = PQgetvalue(r, row, col);
    size_t len = (size_t)PQgetlength(r, row, col);
    if (len < 2 || v[0] != '\\' || v[1] != 'x' || (len - 2) % 2) return false;
    size_t m = (len - 2) / 2;
    unsigned char *b = xmalloc(m ? m : 1);
    for (size_t i = 0; i < m; i++) {
        int hi = hexval(v[2 + 2 * i]), lo = hexval(v[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            free(b);
            return false;
        }
        b[i] = (unsigned char)(hi * 16 + lo);
    }
    *out = b;
    *n = m;
    return true;
}

bool store_pg_bytes(const PGresult *r, int row, int col, unsigned char *out, size_t n)
{
    unsigned char *b = NULL;
    size_t m = 0;
    if (!store_pg_bytes_dup(r, row, col, &b, &m)) return false;
    bool ok = m == n;
    if (ok) memcpy(out, b, n);
    free(b);
    return ok;
}

idp_err store_pg_rows(const PGresult *r, size_t esize, size_t max, store_pg_row_fn fn,
                      store_pg_row_clear_fn clear, void **rows, size_t *n, idp_error *err)
{
    size_t len = (size_t)PQntuples(r);
    *rows = NULL;
    *n = 0;
    if (len > max) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "store: more than %zu rows", max);
    if (len == 0) return IDP_OK;
    char *v = xcalloc(len, esize);
    for (size_t i = 0; i < len; i++) {
        idp_err rc = fn(r, (int)i, v + i * esize, err);
        if (rc) {
            if (clear)
                for (size_t j = 0; j <= i; j++)
                    clear(v + j * esize);
            free(v);
            return rc;
        }
    }
    *rows = v;
    *n = len;
    return IDP_OK;
}
