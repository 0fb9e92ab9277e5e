/* filter — SCIM attribute paths, filters (RFC 7644 §3.4.2.2 and the ABNF of Figure 1) and PATCH
 * paths (§3.5.2), parsed by recursive descent into an sf_node tree, and evaluated in memory.
 *
 * Grammar accepted (keywords and operators case-insensitive, §3.4.2.2):
 *   filter   = orExp
 *   orExp    = andExp *(1*WS "or" 1*WS andExp)        ; "and" binds tighter than "or"
 *   andExp   = unary *(1*WS "and" 1*WS unary)
 *   unary    = "not" *WS "(" orExp ")" / "(" orExp ")" / valuePath / attrExp
 *   valuePath= attrPath "[" orExp "]"                  ; no value path inside a value path
 *   attrExp  = attrPath 1*WS "pr" / attrPath 1*WS compareOp 1*WS compValue
 *   attrPath = [URN ":"] ATTRNAME ["." ATTRNAME]      ; ATTRNAME = ALPHA *(ALPHA/DIGIT/"-"/"_") /
 * "$ref" compValue= JSON string / number / true / false / null (lowercase, RFC 8259) WS is a space
 * or a tab. Unquoted values (userName eq bjensen, sent by some clients) are rejected: compValue is
 * a JSON literal in the RFC grammar. The whole input must be valid UTF-8 without NUL. Nodes are
 * allocated with xcalloc (abort on OOM); every error frees the partial tree. */
#include "scim/filter.h"

#include "core/buf.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "scim/urn.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct fparser {
    const char *s;
    size_t n;
    size_t pos;
    int depth;
    size_t nodes;
    bool in_valpath; /* parsing the filter of a value path */
    bool failed;
    idp_error *err;
} fparser;

/* Records the first error only (inner failures are more precise than the callers'). */
#define PFAIL(p, ...)                                                                              \
    do {                                                                                           \
        if (!(p)->failed) IDP_FAIL((p)->err, IDP_ERR_INVALID, __VA_ARGS__);                        \
        (p)->failed = true;                                                                        \
    } while (0)

/* ---- lexical helpers ---- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static size_t skip_ws(fparser *p)
{
    size_t start = p->pos;
    while (p->pos < p->n && is_ws(p->s[p->pos]))
        p->pos++;
    return p->pos - start;
}

static bool at_end(const fparser *p)
{
    return p->pos >= p->n;
}
static char cur(const fparser *p)
{
    return p->pos < p->n ? p->s[p->pos] : '\0';
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* Characters an attrPath token may contain (URN, name, '.', '$ref'). */
static bool is_path_char(char c)
{
    return is_name_char(c) || c == '.' || c == ':' || c == '$';
}

/* True when s[pos..] starts with word w (case-insensitive) not followed by a name character. */
static bool word_at(const fparser *p, size_t pos, const char *w)
{
    size_t k = strlen(w);
    if (p->n - pos < k || strncasecmp(p->s + pos, w, k) != 0) return false;
    return pos + k >= p->n || !is_path_char(p->s[pos + k]);
}

/* ATTRNAME = ALPHA *(nameChar) / "$ref" (RFC 7644 Figure 1, RFC 7643 §2.1). */
static bool valid_attrname(const char *s, size_t n)
{
    if (n == 4 && strncasecmp(s, "$ref", 4) == 0) return true;
    if (n == 0 || !isalpha((unsigned char)s[0])) return false;
    for (size_t i = 1; i < n; i++)
        if (!is_name_char(s[i])) return false;
    return true;
}

/* ---- nodes ---- */

static void attr_path_clear(scim_attr_path *p)
{
    if (!p) return;
    free(p->urn);
    free(p->attr);
    free(p->sub);
    memset(p, 0, sizeof *p);
}

void scim_filter_free(sf_node *f)
{
    if (!f) return;
    attr_path_clear(&f->path);
    free(f->str);
    scim_filter_free(f->left);
    scim_filter_free(f->right);
    free(f);
}

void scim_patch_path_clear(scim_patch_path *p)
{
    if (!p) return;
    attr_path_clear(&p->path);
    scim_filter_free(p->value_filter);
    free(p->value_sub);
    memset(p, 0, sizeof *p);
}

static sf_node *node_new(fparser *p, sf_kind kind)
{
    if (++p->nodes > SCIM_FILTER_MAX_NODES) {
        PFAIL(p, "filter has more than %d nodes (offset %zu)", SCIM_FILTER_MAX_NODES, p->pos);
        return NULL;
    }
    sf_node *f = xcalloc(1, sizeof *f);
    f->kind = kind;
    return f;
}

/* ---- attribute paths ---- */

/* Parses attrPath at p->pos into out (zeroed on entry). allow_sub false rejects "a.b". */
static bool parse_attr_path(fparser *p, scim_attr_path *out, bool allow_sub)
{
    size_t start = p->pos;
    while (p->pos < p->n && is_path_char(p->s[p->pos]))
        p->pos++;
    const char *t = p->s + start;
    size_t len = p->pos - start;
    if (len == 0) {
        if (at_end(p))
            PFAIL(p, "expected an attribute name at offset %zu (end of input)", start);
        else
            PFAIL(p, "expected an attribute name at offset %zu", start);
        return false;
    }
    const char *name = t;
    size_t nlen = len;
    if (len > 4 && strncasecmp(t, "urn:", 4) == 0) {
        const char *colon = memrchr(t, ':', len);
        name = colon + 1;
        nlen = len - (size_t)(name - t);
        if (colon - t <= 4 || nlen == 0) {
            PFAIL(p, "malformed schema URN in attribute path at offset %zu", start);
            return false;
        }
        out->urn = xstrndup(t, (size_t)(colon - t));
    }
    const char *dot = memchr(name, '.', nlen);
    size_t alen = dot ? (size_t)(dot - name) : nlen;
    if (!valid_attrname(name, alen) || memchr(name, ':', nlen)) {
        PFAIL(p, "invalid attribute name at offset %zu", (size_t)(name - p->s));
        goto bad;
    }
    out->attr = xstrndup(name, alen);
    if (dot) {
        size_t slen = nlen - alen - 1;
        if (!allow_sub) {
            PFAIL(p, "unexpected sub-attribute at offset %zu", (size_t)(dot - p->s));
            goto bad;
        }
        if (!valid_attrname(dot + 1, slen)) {
            PFAIL(p, "invalid sub-attribute name at offset %zu", (size_t)(dot + 1 - p->s));
            goto bad;
        }
        out->sub = xstrndup(dot + 1, slen);
    }
    return true;
bad:
    attr_path_clear(out);
    return false;
}

/* ---- values ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at s[pos..]; -1 when malformed. */
static long hex4(const fparser *p, size_t pos)
{
    if (p->n - pos < 4) return -1;
    long v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = hexval(p->s[pos + i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static void put_utf8(idp_buf *b, uint32_t cp)
{
    char u[4];
    size_t k;
    if (cp < 0x80) {
        u[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    buf_append(b, u, k); /* cannot exceed the cap: output <= input length */
}

/* \uXXXX escape at p->pos (pointing at 'u'), with surrogate pairs (RFC 8259 §7). */
static bool parse_u_escape(fparser *p, idp_buf *b)
{
    size_t at = p->pos - 1;
    long hi = hex4(p, p->pos + 1);
    if (hi < 0) {
        PFAIL(p, "bad \\u escape at offset %zu", at);
        return false;
    }
    p->pos += 5;
    uint32_t cp = (uint32_t)hi;
    if (hi >= 0xDC00 && hi <= 0xDFFF) {
        PFAIL(p, "lone surrogate escape at offset %zu", at);
        return false;
    }
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        long lo = (p->n - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u')
                      ? hex4(p, p->pos + 2)
                      : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
            PFAIL(p, "lone surrogate escape at offset %zu", at);
            return false;
        }
        p->pos += 6;
        cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    }
    if (cp == 0) {
        PFAIL(p, "\\u0000 is not allowed at offset %zu", at);
        return false;
    }
    put_utf8(b, cp);
    return true;
}

/* JSON string at p->pos (pointing at '"'); *out owned on success. */
static bool parse_string(fparser *p, char **out)
{
    size_t start = p->pos++;
    idp_buf b;
    buf_init(&b, SCIM_FILTER_MAX_LEN + 1);
    buf_puts(&b, "");
    for (;;) {
        if (at_end(p)) {
            PFAIL(p, "unterminated string starting at offset %zu", start);
            goto bad;
        }
        char c = p->s[p->pos];
        if (c == '"') break;
        if ((unsigned char)c < 0x20) {
            PFAIL(p, "control character in string at offset %zu", p->pos);
            goto bad;
        }
        if (c != '\\') {
            buf_putc(&b, c);
            p->pos++;
            continue;
        }
        if (++p->pos >= p->n) {
            PFAIL(p, "unterminated string starting at offset %zu", start);
            goto bad;
        }
        static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
        const char *esc = strchr(esc_in, p->s[p->pos]);
        if (esc && *esc) {
            buf_putc(&b, esc_out[esc - esc_in]);
            p->pos++;
        } else if (p->s[p->pos] == 'u') {
            if (!parse_u_escape(p, &b)) goto bad;
        } else {
            PFAIL(p, "bad escape in string at offset %zu", p->pos - 1);
            goto bad;
        }
    }
    p->pos++;
    *out = buf_steal(&b);
    return true;
bad:
    buf_free(&b);
    return false;
}

/* JSON number (RFC 8259 §6) at p->pos. */
static bool parse_number(fparser *p, sf_node *f)
{
    size_t start = p->pos, i = p->pos;
    if (i < p->n && p->s[i] == '-') i++;
    if (i < p->n && p->s[i] == '0')
        i++;
    else if (i < p->n && isdigit((unsigned char)p->s[i]))
        while (i < p->n && isdigit((unsigned char)p->s[i]))
            i++;
    else
        goto bad;
    if (i < p->n && p->s[i] == '.') {
        if (++i >= p->n || !isdigit((unsigned char)p->s[i])) goto bad;
        while (i < p->n && isdigit((unsigned char)p->s[i]))
            i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        if (++i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->n || !isdigit((unsigned char)p->s[i])) goto bad;
        while (i < p->n && isdigit((unsigned char)p->s[i]))
            i++;
    }
    if (i < p->n && is_path_char(p->s[i])) goto bad;
    f->str = xstrndup(p->s + start, i - start);
    f->num = strtod(f->str, NULL);
    if (!isfinite(f->num)) {
        PFAIL(p, "number out of range at offset %zu", start);
        return false;
    }
    f->vtype = SF_V_NUMBER;
    p->pos = i;
    return true;
bad:
    PFAIL(p, "malformed number at offset %zu", start);
    return false;
}

static bool parse_value(fparser *p, sf_node *f)
{
    char c = cur(p);
    if (at_end(p)) {
        PFAIL(p, "missing comparison value at offset %zu", p->pos);
        return false;
    }
    if (c == '"') {
        if (!parse_string(p, &f->str)) return false;
        f->vtype = SF_V_STRING;
        return true;
    }
    if (c == '-' || isdigit((unsigned char)c)) return parse_number(p, f);
    static const struct {
        const char *w;
        sf_vtype t;
    } lit[] = {{"true", SF_V_TRUE}, {"false", SF_V_FALSE}, {"null", SF_V_NULL}};
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
        size_t k = strlen(lit[i].w);
        if (word_at(p, p->pos, lit[i].w) && strncmp(p->s + p->pos, lit[i].w, k) == 0) {
            f->vtype = lit[i].t;
            p->pos += k;
            return true;
        }
    }
    if (c == ')' || c == ']')
        PFAIL(p, "missing comparison value at offset %zu", p->pos);
    else
        PFAIL(p,
              "comparison value must be a JSON string, number, true, false or null "
              "(quote strings) at offset %zu",
              p->pos);
    return false;
}

/* ---- filters ---- */

static sf_node *parse_or(fparser *p);

static const struct {
    const char *w;
    sf_op op;
} ops[] = {{"eq", SF_EQ}, {"ne", SF_NE}, {"co", SF_CO}, {"sw", SF_SW}, {"ew", SF_EW},
           {"pr", SF_PR}, {"gt", SF_GT}, {"ge", SF_GE}, {"lt", SF_LT}, {"le", SF_LE}};

/* compareOp / "pr" then (unless pr) the value, for node f whose path is parsed. */
static bool parse_op_value(fparser *p, sf_node *f)
{
    if (skip_ws(p) == 0 || at_end(p)) {
        PFAIL(p, "expected an operator after the attribute path at offset %zu", p->pos);
        return false;
    }
    size_t at = p->pos;
    size_t i = 0;
    while (i < sizeof ops / sizeof ops[0] && !word_at(p, at, ops[i].w))
        i++;
    if (i == sizeof ops / sizeof ops[0]) {
        PFAIL(p, "unknown operator at offset %zu", at);
        return false;
    }
    f->op = ops[i].op;
    p->pos += 2;
    if (f->op == SF_PR) {
        size_t save = p->pos;
        skip_ws(p);
        char c = cur(p);
        if (c == '"' || c == '-' || isdigit((unsigned char)c) || word_at(p, p->pos, "true") ||
            word_at(p, p->pos, "false") || word_at(p, p->pos, "null")) {
            PFAIL(p, "unexpected value after 'pr' at offset %zu", p->pos);
            return false;
        }
        p->pos = save;
        return true;
    }
    if (skip_ws(p) == 0) {
        if (at_end(p))
            PFAIL(p, "missing comparison value at offset %zu", p->pos);
        else
            PFAIL(p, "expected a space after the operator at offset %zu", p->pos);
        return false;
    }
    return parse_value(p, f);
}

static bool depth_enter(fparser *p)
{
    if (++p->depth > SCIM_FILTER_MAX_DEPTH) {
        PFAIL(p, "filter nested deeper than %d at offset %zu", SCIM_FILTER_MAX_DEPTH, p->pos);
        return false;
    }
    return true;
}

/* "(" orExp ")" at p->pos. */
static sf_node *parse_group(fparser *p)
{
    size_t open = p->pos++;
    if (!depth_enter(p)) return NULL;
    skip_ws(p);
    sf_node *f = parse_or(p);
    if (!f) return NULL;
    skip_ws(p);
    if (cur(p) != ')' || at_end(p)) {
        PFAIL(p, "missing ')' for '(' at offset %zu", open);
        scim_filter_free(f);
        return NULL;
    }
    p->pos++;
    p->depth--;
    return f;
}

/* attrPath "[" valFilter "]" with the path already parsed into f. */
static bool parse_valfilter(fparser *p, sf_node *f)
{
    size_t open = p->pos;
    if (p->in_valpath) {
        PFAIL(p, "nested value path at offset %zu", open);
        return false;
    }
    if (f->path.sub) {
        PFAIL(p, "value filter after a sub-attribute at offset %zu", open);
        return false;
    }
    p->pos++;
    if (!depth_enter(p)) return false;
    p->in_valpath = true;
    skip_ws(p);
    f->left = parse_or(p);
    p->in_valpath = false;
    if (!f->left) return false;
    skip_ws(p);
    if (cur(p) != ']' || at_end(p)) {
        PFAIL(p, "missing ']' for '[' at offset %zu", open);
        return false;
    }
    p->pos++;
    p->depth--;
    return true;
}

static sf_node *parse_unary(fparser *p)
{
    if (cur(p) == '(' && !at_end(p)) return parse_group(p);
    if (word_at(p, p->pos, "not")) {
        size_t save = p->pos;
        p->pos += 3;
        skip_ws(p);
        if (cur(p) == '(' && !at_end(p)) {
            sf_node *f = node_new(p, SF_NOT);
            if (!f) return NULL;
            if (!(f->left = parse_group(p))) {
                scim_filter_free(f);
                return NULL;
            }
            return f;
        }
        p->pos = save; /* an attribute called "not" */
    }
    sf_node *f = node_new(p, SF_COMPARE);
    if (!f) return NULL;
    if (!parse_attr_path(p, &f->path, true)) goto bad;
    if (cur(p) == '[' && !at_end(p)) {
        f->kind = SF_VALUEPATH;
        if (!parse_valfilter(p, f)) goto bad;
        return f;
    }
    if (!parse_op_value(p, f)) goto bad;
    return f;
bad:
    scim_filter_free(f);
    return NULL;
}

/* Binary chains, left-associative: and_level true parses andExp, else orExp. */
static sf_node *parse_chain(fparser *p, bool and_level)
{
    const char *kw = and_level ? "and" : "or";
    sf_node *left = and_level ? parse_unary(p) : parse_chain(p, true);
    while (left) {
        size_t save = p->pos;
        if (skip_ws(p) == 0 || !word_at(p, p->pos, kw)) {
            p->pos = save;
            break;
        }
        p->pos += strlen(kw);
        if (skip_ws(p) == 0) {
            if (at_end(p))
                PFAIL(p, "missing expression after '%s' at offset %zu", kw, p->pos);
            else
                PFAIL(p, "expected a space after '%s' at offset %zu", kw, p->pos);
            break;
        }
        sf_node *right = and_level ? parse_unary(p) : parse_chain(p, true);
        if (!right) break;
        sf_node *f = node_new(p, and_level ? SF_AND : SF_OR);
        if (!f) {
            scim_filter_free(right);
            break;
        }
        f->left = left;
        f->right = right;
        left = f;
    }
    if (p->failed) {
        scim_filter_free(left);
        return NULL;
    }
    return left;
}

static sf_node *parse_or(fparser *p)
{
    return parse_chain(p, false);
}

/* Common input checks: length cap and UTF-8. */
static bool input_ok(fparser *p, const char *what)
{
    if (p->n > SCIM_FILTER_MAX_LEN) {
        PFAIL(p, "%s longer than %d bytes", what, SCIM_FILTER_MAX_LEN);
        return false;
    }
    size_t bad = utf8_check((const unsigned char *)p->s, p->n);
    if (bad != p->n) {
        PFAIL(p, "invalid UTF-8 or NUL in %s at offset %zu", what, bad);
        return false;
    }
    return true;
}

idp_err scim_filter_parse(const char *s, size_t n, sf_node **out, idp_error *err)
{
    fparser p = {.s = s, .n = n, .err = err};
    *out = NULL;
    if (!s || !input_ok(&p, "filter")) return IDP_ERR_INVALID;
    skip_ws(&p);
    if (at_end(&p)) {
        PFAIL(&p, "empty filter");
        return IDP_ERR_INVALID;
    }
    sf_node *f = parse_or(&p);
    if (!f) return IDP_ERR_INVALID;
    skip_ws(&p);
    if (!at_end(&p)) {
        char c = cur(&p);
        if (c == ')')
            PFAIL(&p, "unbalanced ')' at offset %zu", p.pos);
        else if (c == ']')
            PFAIL(&p, "unbalanced ']' at offset %zu", p.pos);
        else
            PFAIL(&p, "unexpected text at offset %zu", p.pos);
        scim_filter_free(f);
        return IDP_ERR_INVALID;
    }
    *out = f;
    return IDP_OK;
}

idp_err scim_patch_path_parse(const char *s, size_t n, scim_patch_path *out, idp_error *err)
{
    fparser p = {.s = s, .n = n, .err = err};
    memset(out, 0, sizeof *out);
    if (!s || !input_ok(&p, "path")) return IDP_ERR_INVALID;
    if (n == 0) {
        PFAIL(&p, "empty path");
        return IDP_ERR_INVALID;
    }
    if (!parse_attr_path(&p, &out->path, true)) goto bad;
    if (cur(&p) == '[' && !at_end(&p)) {
        sf_node holder = {.kind = SF_VALUEPATH, .path = out->path};
        if (!parse_valfilter(&p, &holder)) {
            scim_filter_free(holder.left);
            goto bad;
        }
        out->value_filter = holder.left;
        if (cur(&p) == '.' && !at_end(&p)) {
            size_t start = ++p.pos;
            while (p.pos < p.n && is_path_char(p.s[p.pos]))
                p.pos++;
            if (!valid_attrname(p.s + start, p.pos - start)) {
                PFAIL(&p, "invalid sub-attribute name at offset %zu", start);
                goto bad;
            }
            out->value_sub = xstrndup(p.s + start, p.pos - start);
        }
    }
    if (!at_end(&p)) {
        PFAIL(&p, "unexpected text in path at offset %zu", p.pos);
        goto bad;
    }
    return IDP_OK;
bad:
    scim_patch_path_clear(out);
    return IDP_ERR_INVALID;
}

/* ---- evaluation ---- */

/* Member of obj by name, exact first then case-insensitive (RFC 7643 §2.1). Borrowed. */
static const json_t *get_ci(const json_t *obj, const char *key)
{
    if (!json_is_object(obj) || !key) return NULL;
    const json_t *v = json_object_get(obj, key);
    if (v) return v;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)obj, k, m) if (strcasecmp(k, key) == 0) return m;
    return NULL;
}

/* The object holding the attributes of urn: obj itself for no URN or a core URN, else the
 * extension object keyed by the URN (RFC 7643 §3.3). */
static const json_t *container_of(const json_t *obj, const char *urn)
{
    if (!urn || strcasecmp(urn, SCIM_URN_USER) == 0 || strcasecmp(urn, SCIM_URN_GROUP) == 0)
        return obj;
    const json_t *e = get_ci(obj, urn);
    return json_is_object(e) ? e : NULL;
}

/* RFC 7644 §3.4.2.2 "pr": a non-empty value, or a complex value with a non-empty node. */
static bool nonempty(const json_t *v)
{
    size_t i;
    const char *k;
    json_t *e;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_ARRAY:
        json_array_foreach((json_t *)v, i, e) if (nonempty(e)) return true;
        return false;
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, k, e) if (nonempty(e)) return true;
        return false;
    case JSON_NULL:
        return false;
    default:
        return true;
    }
}

/* RFC 3339 §5.6 date-time -> (seconds since the epoch, nanoseconds). */
static bool parse_datetime(const char *s, int64_t *sec, long *nsec)
{
    int Y, M, D, h, m, sc, n = 0;
    if (strlen(s) < 20 || sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3 || n != 10) return false;
    if ((s[10] != 'T' && s[10] != 't') || sscanf(s + 11, "%2d:%2d:%2d%n", &h, &m, &sc, &n) != 3 ||
        n != 8)
        return false;
    for (int i = 0; i < 19; i++)
        if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && !isdigit((unsigned char)s[i]))
            return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sc > 60) return false;
    const char *t = s + 19;
    long frac = 0, scale = 100000000;
    if (*t == '.') {
        if (!isdigit((unsigned char)*++t)) return false;
        for (; isdigit((unsigned char)*t); t++, scale /= 10)
            frac += scale ? (*t - '0') * scale : 0;
    }
    int off = 0;
    if (*t == 'Z' || *t == 'z')
        t++;
    else if ((*t == '+' || *t == '-') && isdigit((unsigned char)t[1]) &&
             isdigit((unsigned char)t[2]) && t[3] == ':' && isdigit((unsigned char)t[4]) &&
             isdigit((unsigned char)t[5])) {
        off = ((t[1] - '0') * 10 + (t[2] - '0')) * 60 + (t[4] - '0') * 10 + (t[5] - '0');
        if (*t == '-') off = -off;
        t += 6;
    } else
        return false;
    if (*t) return false;
    int64_t y = Y - (M <= 2); /* days from civil (H. Hinnant) */
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    *sec = days * 86400 + h * 3600 + m * 60 + sc - (int64_t)off * 60;
    *nsec = frac;
    return true;
}

/* Ordering of two strings: chronological when both are date-times, else byte-wise
 * lexicographic (ASCII case-folded unless case-exact). */
static int order_strings(const char *a, const char *b, bool cx)
{
    int64_t sa, sb;
    long na, nb;
    if (parse_datetime(a, &sa, &na) && parse_datetime(b, &sb, &nb))
        return sa != sb ? (sa < sb ? -1 : 1) : (na != nb ? (na < nb ? -1 : 1) : 0);
    return cx ? strcmp(a, b) : strcasecmp(a, b);
}

static bool ends_with(const char *s, const char *t, bool cx)
{
    size_t ls = strlen(s), lt = strlen(t);
    return ls >= lt && (cx ? strcmp(s + ls - lt, t) : strcasecmp(s + ls - lt, t)) == 0;
}

static bool cmp_order(sf_op op, int c)
{
    switch (op) {
    case SF_GT:
        return c > 0;
    case SF_GE:
        return c >= 0;
    case SF_LT:
        return c < 0;
    case SF_LE:
        return c <= 0;
    default:
        return false;
    }
}

/* One present value against the literal of f (neither is JSON null). */
static bool cmp_leaf(const json_t *v, const sf_node *f, bool cx)
{
    if (json_is_string(v) && f->vtype == SF_V_STRING) {
        const char *a = json_string_value(v), *b = f->str;
        switch (f->op) {
        case SF_EQ:
            return (cx ? strcmp(a, b) : strcasecmp(a, b)) == 0;
        case SF_NE:
            return (cx ? strcmp(a, b) : strcasecmp(a, b)) != 0;
        case SF_CO:
            return (cx ? strstr(a, b) : strcasestr(a, b)) != NULL;
        case SF_SW:
            return (cx ? strncmp(a, b, strlen(b)) : strncasecmp(a, b, strlen(b))) == 0;
        case SF_EW:
            return ends_with(a, b, cx);
        default:
            return cmp_order(f->op, order_strings(a, b, cx));
        }
    }
    if (json_is_number(v) && f->vtype == SF_V_NUMBER) {
        double a = json_number_value(v), b = f->num;
        if (f->op == SF_EQ) return a == b;
        if (f->op == SF_NE) return a != b;
        return cmp_order(f->op, a < b ? -1 : a > b ? 1 : 0);
    }
    if (json_is_boolean(v) && (f->vtype == SF_V_TRUE || f->vtype == SF_V_FALSE)) {
        bool same = json_is_true(v) == (f->vtype == SF_V_TRUE);
        return f->op == SF_EQ ? same : f->op == SF_NE ? !same : false;
    }
    return f->op == SF_NE; /* different types are never equal */
}

/* The leaf a comparison looks at in one value: elem.sub, or for a complex value without a
 * sub-attribute its "value" (RFC 7644 §3.4.2.2: emails co "x" means emails.value). */
static const json_t *leaf_of(const json_t *elem, const char *sub)
{
    if (sub) return get_ci(elem, sub);
    return json_is_object(elem) ? get_ci(elem, "value") : elem;
}

static bool match_compare(const sf_node *f, const json_t *obj, scim_case_exact_fn case_exact,
                          void *ctx)
{
    const json_t *v = get_ci(container_of(obj, f->path.urn), f->path.attr);
    if (f->op == SF_PR && !f->path.sub) return v && nonempty(v);
    bool cx = case_exact ? case_exact(&f->path, ctx) : false;
    size_t count = json_is_array(v) ? json_array_size(v) : 1, present = 0;
    for (size_t i = 0; v && i < count; i++) {
        const json_t *leaf = leaf_of(json_is_array(v) ? json_array_get(v, i) : v, f->path.sub);
        if (!leaf || json_is_null(leaf)) continue;
        present++;
        if (f->op == SF_PR) {
            if (nonempty(leaf)) return true;
        } else if (f->vtype != SF_V_NULL && cmp_leaf(leaf, f, cx)) {
            return true;
        }
    }
    /* Unassigned (RFC 7643 §2.5): only "ne" matches, and "eq null" ("ne null" needs a value). */
    if (f->vtype == SF_V_NULL) return f->op == SF_EQ ? present == 0 : f->op == SF_NE && present > 0;
    return present == 0 && f->op == SF_NE;
}

static bool match_valuepath(const sf_node *f, const json_t *obj, scim_case_exact_fn case_exact,
                            void *ctx)
{
    const json_t *v = get_ci(container_of(obj, f->path.urn), f->path.attr);
    if (json_is_object(v)) return scim_filter_match(f->left, v, case_exact, ctx);
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)v, i,
                       e) if (json_is_object(e) &&
                              scim_filter_match(f->left, e, case_exact, ctx)) return true;
    return false;
}

bool scim_filter_match(const sf_node *f, const json_t *obj, scim_case_exact_fn case_exact,
                       void *ctx)
{
    if (!f || !json_is_object(obj)) return false;
    switch (f->kind) {
    case SF_AND:
        return scim_filter_match(f->left, obj, case_exact, ctx) &&
               scim_filter_match(f->right, obj, case_exact, ctx);
    case SF_OR:
        return scim_filter_match(f->left, obj, case_exact, ctx) ||
               scim_filter_match(f->right, obj, case_exact, ctx);
    case SF_NOT:
        return !scim_filter_match(f->left, obj, case_exact, ctx);
    case SF_VALUEPATH:
        return match_valuepath(f, obj, case_exact, ctx);
    case SF_COMPARE:
        return match_compare(f, obj, case_exact, ctx);
    }
    return false;
}
