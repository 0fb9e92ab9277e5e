/* deadline — the whole-request-head deadline (request_header_timeout): the request line and
 * every header must arrive within the timeout of the connection's accept, or of the end of the
 * previous request on a kept-alive connection, however slowly the bytes trickle in.
 * libmicrohttpd's own timeout restarts on every byte, so a client sending one header line every
 * few seconds would hold a connection forever (slowloris).
 *
 * The server registers every connection (MHD_OPTION_NOTIFY_CONNECTION), marks the end of its
 * request head (first call of the access handler) and of its request (completion), and a
 * background thread sweeps the list: an overdue connection's socket is shut down (shutdown(2),
 * never close(2): the descriptor stays libmicrohttpd's, which sees end of stream and closes the
 * connection itself). Every function takes the list's lock, so the calls may come from any
 * thread; deadline_remove must run before the descriptor is closed, which MHD guarantees by
 * notifying MHD_CONNECTION_NOTIFY_CLOSED before closing the socket. */
#ifndef IDPD_HTTP_DEADLINE_H
#define IDPD_HTTP_DEADLINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct deadline_conn {
    struct deadline_conn *prev, *next;
    int fd;
    int64_t start_ms; /* accept, or the end of the previous request */
    bool in_head;     /* waiting for (the rest of) a request head */
    bool expired;     /* already shut down by a sweep */
} deadline_conn;

typedef struct deadline_list {
    pthread_mutex_t lock;
    deadline_conn *head;
    size_t n;
    int64_t timeout_ms;
} deadline_list;

void deadline_init(deadline_list *d, int64_t timeout_ms);
/* Frees every connection still listed. */
void deadline_destroy(deadline_list *d);
/* A new connection on fd, in its request head from now_ms. Returns the entry (owned by the list
 * until deadline_remove). */
deadline_conn *deadline_add(deadline_list *d, int fd, int64_t now_ms);
/* The connection is closing: unlists and frees c (NULL is ignored). */
void deadline_remove(deadline_list *d, deadline_conn *c);
/* The request head of c is complete: no deadline until deadline_restart. */
void deadline_head_done(deadline_list *d, deadline_conn *c);
/* A request on c ended at now_ms: the next request head is due within the timeout from now. */
void deadline_restart(deadline_list *d, deadline_conn *c, int64_t now_ms);
/* Calls expire(fd, cls) once for every connection in its request head for longer than the
 * timeout at now_ms, with the lock held (expire must not call back into the list). Returns the
 * number expired by this call. */
size_t deadline_sweep(deadline_list *d, int64_t now_ms, void (*expire)(int fd, void *cls),
                      void *cls);

#endif
