/* buf — growable byte buffer with a hard size cap (curl's dynbuf). Always NUL-terminated
 * after a successful append, so data can be used as a C string when it holds text. */
#ifndef IDPD_CORE_BUF_H
#define IDPD_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define BUF_DEFAULT_MAX (16u * 1024u * 1024u)

typedef struct idp_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* appends that would grow len beyond max fail */
} idp_buf;

void buf_init(idp_buf *b, size_t max); /* max 0 = BUF_DEFAULT_MAX */
/* Each append returns 0, or -1 when the cap would be exceeded (buffer unchanged). */
int buf_append(idp_buf *b, const void *p, size_t n);
int buf_puts(idp_buf *b, const char *s);
int buf_putc(idp_buf *b, char c);
int buf_printf(idp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(idp_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
const char *buf_cstr(idp_buf *b);     /* borrowed; "" when empty */
char *buf_steal(idp_buf *b);          /* owned by caller (free()); buffer reset to empty */
void buf_reset(idp_buf *b);           /* len = 0, memory kept */
void buf_free(idp_buf *b);            /* frees; the buffer may be reused after buf_init */
void buf_free_secret(idp_buf *b);     /* wipes then frees */

#endif
