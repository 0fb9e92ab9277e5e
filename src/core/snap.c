#include "core/snap.h"

#include "core/mem.h"
#include "core/timeutil.h"

#include <stdlib.h>

void snap_obj_init(snap_obj *o, void (*destroy)(snap_obj *))
{
    atomic_init(&o->refs, 1);
    o->destroy = destroy;
}

snap_obj *snap_ref(snap_obj *o)
{
    if (o) atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
    return o;
}

void snap_unref(snap_obj *o)
{
    if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1) o->destroy(o);
}

void snap_slot_init(snap_slot *s)
{
    atomic_init(&s->cur, NULL);
    pthread_mutex_init(&s->lock, NULL);
    s->retired = NULL;
}

void snap_slot_destroy(snap_slot *s)
{
    pthread_mutex_lock(&s->lock);
    for (snap_retired *r = s->retired, *n; r; r = n) {
        n = r->next;
        snap_unref(r->obj);
        free(r);
    }
    s->retired = NULL;
    snap_unref(atomic_exchange(&s->cur, NULL));
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_destroy(&s->lock);
}

snap_obj *snap_acquire(snap_slot *s)
{
    snap_obj *o = atomic_load_explicit(&s->cur, memory_order_acquire);
    return snap_ref(o);
}

void snap_publish(snap_slot *s, snap_obj *o)
{
    pthread_mutex_lock(&s->lock);
    snap_obj *old = atomic_exchange_explicit(&s->cur, o, memory_order_acq_rel);
    if (old) {
        snap_retired *r = xmalloc(sizeof *r);
        r->obj = old;
        r->at_ms = time_now_ms();
        r->next = s->retired;
        s->retired = r;
    }
    pthread_mutex_unlock(&s->lock);
}

void snap_reap(snap_slot *s)
{
    int64_t now = time_now_ms();
    pthread_mutex_lock(&s->lock);
    snap_retired **pp = &s->retired;
    while (*pp) {
        snap_retired *r = *pp;
        if (now - r->at_ms >= SNAP_GRACE_MS) {
            *pp = r->next;
            snap_unref(r->obj);
            free(r);
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&s->lock);
}
