/* delta — see delta.h. */
#include "scim/delta.h"

#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

void scim_delta_clear(scim_delta *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->nadd; i++)
        free(d->add[i]);
    for (size_t i = 0; i < d->nremove; i++)
        free(d->remove[i]);
    free(d->add);
    free(d->remove);
    memset(d, 0, sizeof *d);
}

/* Capacity is implicit: the array grows to the next power of two when n reaches one. */
static void delta_push(char ***arr, size_t *n, const char *id)
{
    if (*n == 0 || (*n & (*n - 1)) == 0) {
        size_t cap = *n ? *n * 2 : 1;
        *arr = xrealloc(*arr, cap * sizeof **arr);
    }
    (*arr)[(*n)++] = xstrdup(id);
}

void scim_delta_add(scim_delta *d, const char *user_id)
{
    delta_push(&d->add, &d->nadd, user_id);
}

void scim_delta_remove(scim_delta *d, const char *user_id)
{
    delta_push(&d->remove, &d->nremove, user_id);
}
