/* store_pg_op — the op wrapper every PostgreSQL op body runs in (STORE_PG_OP, internal.h), the
 * twin of sqlite/store_sqlite_op.c's op_begin/op_end: it holds this thread's connection for the
 * op, makes the op atomic (its own writer transaction outside one, a savepoint inside the
 * caller's) and retries what may be retried.
 *
 * Where the retry lives and why it is safe: here, around a whole op body, and only when the op
 * began its own transaction (or, for a read, ran without one): a serialization failure (40001)
 * or a deadlock (40P01) rolled that transaction back entirely, so running the body again is as
 * if it ran once; a connection that broke before COMMIT was sent lost the transaction with it,
 * so the body runs once more on the reset connection. An op body has no effect outside the
 * database and sets its out-parameters only on success, so nothing is seen twice. A failed
 * COMMIT is not retried (the transaction may have committed), and an op inside the caller's
 * transaction is never retried: the caller's earlier work is gone, the caller must roll back. */
#include "store/pg/internal.h"

static void op_finish(store *st, pg_op *op)
{
    op->state = 2;
    store_pg_conn_release(st, op->borrowed);
}

static bool op_begin(store *st, pg_op *op, idp_err *rc, idp_error *err)
{
    for (;;) {
        bool b = false;
        idp_err r = store_pg_conn_hold(st, &b, err);
        op->borrowed = op->borrowed || b;
        if (r) {
            *rc = r;
            op_finish(st, op);
            return false;
        }
        op->nested = store_pg_op_depth(st, 0) > 0;
        op->own = op->sp = false;
        if (!op->nested && store_pg_in_tx(st)) {
            r = store_pg_simple(st, "SAVEPOINT idpd_op", err);
            op->sp = r == IDP_OK;
        } else if (!op->nested && op->kind == PG_WRITE) {
            r = store_pg_writer_begin(st, err);
            op->own = r == IDP_OK;
        }
        if (r) {
            /* nothing was done yet: a broken connection is reset and the op begun once more */
            if (!op->nested && !store_pg_in_tx(st) && store_pg_last_failure(st) == 2 &&
                !op->reset) {
                op->reset = true;
                if (store_pg_conn_repair(st, err) == IDP_OK) continue;
            }
            *rc = r;
            op_finish(st, op);
            return false;
        }
        store_pg_op_depth(st, 1);
        op->state = 1;
        *rc = IDP_OK;
        return true;
    }
}

bool store_pg_op_next(store *st, pg_op *op, idp_err *rc, idp_error *err)
{
    for (;;) {
        if (op->state == 0) return op_begin(st, op, rc, err);
        if (op->state != 1) return false;
        store_pg_op_depth(st, -1);
        idp_err r = *rc;
        int why = r ? store_pg_last_failure(st) : 0;
        if (op->nested) {
            op_finish(st, op);
            return false;
        }
        if (op->sp) {
            if (!r) {
                idp_err r2 = store_pg_simple(st, "RELEASE SAVEPOINT idpd_op", err);
                if (r2) *rc = r2;
            } else if (why != 2 &&
                       store_pg_simple(st, "ROLLBACK TO SAVEPOINT idpd_op", NULL) == IDP_OK) {
                store_pg_simple(st, "RELEASE SAVEPOINT idpd_op", NULL);
            }
            op_finish(st, op);
            return false;
        }
        if (op->own) {
            if (!r) {
                idp_err r2 = store_pg_simple(st, "COMMIT", err);
                if (r2) {
                    *rc = r2;
                    if (store_pg_last_failure(st) != 2) store_pg_simple(st, "ROLLBACK", NULL);
                }
                op_finish(st, op); /* a failed COMMIT is never retried */
                return false;
            }
            if (why != 2) store_pg_simple(st, "ROLLBACK", NULL);
        }
        if (r && why == 1 && op->attempts < PG_OP_RETRIES) {
            op->attempts++;
            store_pg_retried();
            op->state = 0;
            continue;
        }
        if (r && why == 2 && !op->reset) {
            op->reset = true;
            if (store_pg_conn_repair(st, NULL) == IDP_OK) {
                op->state = 0;
                continue;
            }
        }
        op_finish(st, op);
        return false;
    }
}
