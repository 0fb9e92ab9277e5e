/* deadline — the whole-request-head deadline (see deadline.h). */
#include "http/deadline.h"

#include "core/mem.h"

#include <stdlib.h>

void deadline_init(deadline_list *d, int64_t timeout_ms)
{
    pthread_mutex_init(&d->lock, NULL);
    d->head = NULL;
    d->n = 0;
    d->timeout_ms = timeout_ms;
}

void deadline_destroy(deadline_list *d)
{
    deadline_conn *c = d->head;
    while (c) {
        deadline_conn *next = c->next;
        free(c);
        c = next;
    }
    d->head = NULL;
    d->n = 0;
    pthread_mutex_destroy(&d->lock);
}

deadline_conn *deadline_add(deadline_list *d, int fd, int64_t now_ms)
{
    deadline_conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->start_ms = now_ms;
    c->in_head = true;
    pthread_mutex_lock(&d->lock);
    c->next = d->head;
    if (d->head) d->head->prev = c;
    d->head = c;
    d->n++;
    pthread_mutex_unlock(&d->lock);
    return c;
}

void deadline_remove(deadline_list *d, deadline_conn *c)
{
    if (!c) return;
    pthread_mutex_lock(&d->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        d->head = c->next;
    if (c->next) c->next->prev = c->prev;
    d->n--;
    pthread_mutex_unlock(&d->lock);
    free(c);
}

void deadline_head_done(deadline_list *d, deadline_conn *c)
{
    if (!c) return;
    pthread_mutex_lock(&d->lock);
    c->in_head = false;
    pthread_mutex_unlock(&d->lock);
}

void deadline_restart(deadline_list *d, deadline_conn *c, int64_t now_ms)
{
    if (!c) return;
    pthread_mutex_lock(&d->lock);
    c->in_head = true;
    c->start_ms = now_ms;
    pthread_mutex_unlock(&d->lock);
}

size_t deadline_sweep(deadline_list *d, int64_t now_ms, void (*expire)(int fd, void *cls),
                      void *cls)
{
    size_t k = 0;
    pthread_mutex_lock(&d->lock);
    for (deadline_conn *c = d->head; c; c = c->next) {
        if (!c->in_head || c->expired || now_ms - c->start_ms < d->timeout_ms) continue;
        c->expired = true;
        expire(c->fd, cls);
        k++;
    }
    pthread_mutex_unlock(&d->lock);
    return k;
}
