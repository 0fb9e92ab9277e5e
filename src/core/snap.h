/* snap — immutable, reference-counted snapshots behind one atomic pointer (DESIGN §2).
 *
 * A snapshot type embeds `snap_obj` as its FIRST member. Readers call snap_acquire() (one atomic
 * load and one atomic increment, no lock) and snap_release() when done. A writer builds a new
 * snapshot and calls snap_publish(); the slot's own reference to the old snapshot is dropped only
 * after a grace period (snap_reap, called by a background thread), so a reader that loaded the
 * old pointer just before the swap can always still take its reference. */
#ifndef IDPD_CORE_SNAP_H
#define IDPD_CORE_SNAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct snap_obj {
    _Atomic long refs;
    void (*destroy)(struct snap_obj *self); /* frees the whole snapshot */
} snap_obj;

#define SNAP_GRACE_MS 10000

typedef struct snap_retired {
    snap_obj *obj;
    int64_t at_ms;
    struct snap_retired *next;
} snap_retired;

typedef struct snap_slot {
    _Atomic(snap_obj *) cur;
    pthread_mutex_t lock; /* writers only: serialises publish and reap */
    snap_retired *retired;
} snap_slot;

void snap_obj_init(snap_obj *o, void (*destroy)(snap_obj *)); /* refs = 1 (the creator's) */
snap_obj *snap_ref(snap_obj *o);
void snap_unref(snap_obj *o); /* accepts NULL */

void snap_slot_init(snap_slot *s);
/* Drops every reference the slot holds, including the current snapshot. No readers may remain. */
void snap_slot_destroy(snap_slot *s);
/* Returns a new reference to the current snapshot (NULL if none published). */
snap_obj *snap_acquire(snap_slot *s);
static inline void snap_release(snap_obj *o) { snap_unref(o); }
/* Makes o current; takes over the caller's reference to o. */
void snap_publish(snap_slot *s, snap_obj *o);
/* Drops references to snapshots retired more than SNAP_GRACE_MS ago. */
void snap_reap(snap_slot *s);

#endif
