/*
 * anyhost_wire.h: the C half of the flat records that cross between a web
 * server's C module (mod_anyhost.c, and any other in-process bridge) and the Go library;
 * internal/wire (wire.go) is the Go half. Header-only, no server headers,
 * so a test harness compiles it alone under AddressSanitizer.
 *
 * Packing is two passes over the same code: a measuring pass (p == NULL)
 * that only counts, then a writing pass into a buffer of exactly that
 * size. One function per record keeps the size and the bytes from ever
 * disagreeing, as three hand-kept size calculations once could.
 *
 * Reading checks every length against the end before touching the bytes
 * it covers: a truncated record is an error, never a read past its end.
 */
/*
 * Wire formats. A string is a uint32 length (host byte order) followed by
 * its bytes, no NUL.
 *
 * Request record (C -> Go), packed fresh for every call:
 *   uint32 kind (0 initial, 1 subrequest, 2 internal redirect)
 *   uint32 loglevel (APLOG_*), int64 content_length (-1 unknown),
 *   strings: method, unparsed_uri, uri (decoded path), args, protocol,
 *            host, scheme, remote_addr ("ip:port"), user, auth_type,
 *            handler_name
 *   uint32 n, then n header name/value string pairs (headers_in)
 *   uint32 n, then n note name/value string pairs (notes)
 *
 * Response record (Go -> C): a sequence of ops, each one byte followed by
 * two strings (key, value; unused ones empty):
 *   'S' status (value: decimal)     'U' user            'T' auth type
 *   'H' headers_out add             'h' headers_out unset (key)
 *   'E' err_headers_out add         'N' notes set       'V' subprocess_env set
 *   'P' uri (path) set              'B' body bytes (value)
 *   'R' local redirect to the path in value (the content phase only)
 *   nginx's module only: 'L' log line (key: NGX_LOG_* level, decimal)
 *                        'C' close the connection after the response
 */

#ifndef ANYHOST_WIRE_H
#define ANYHOST_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *p;  /* NULL: the measuring pass */
    size_t n; /* bytes counted or written so far */
} ah_packer;

static inline void ah_put_bytes(ah_packer *w, const void *b, size_t n)
{
    if (w->p && n)
        memcpy(w->p + w->n, b, n);
    w->n += n;
}

static inline void ah_put_u32(ah_packer *w, uint32_t v) { ah_put_bytes(w, &v, 4); }

static inline void ah_put_i64(ah_packer *w, int64_t v) { ah_put_bytes(w, &v, 8); }

/* ah_put_u32_at overwrites a uint32 written earlier at offset off (a count
 * known only once what it counts is written). */
static inline void ah_put_u32_at(ah_packer *w, size_t off, uint32_t v)
{
    if (w->p)
        memcpy(w->p + off, &v, 4);
}

static inline void ah_put_str(ah_packer *w, const char *s, size_t n)
{
    ah_put_u32(w, (uint32_t)n);
    ah_put_bytes(w, s, n);
}

static inline void ah_put_cstr(ah_packer *w, const char *s)
{
    ah_put_str(w, s ? s : "", s ? strlen(s) : 0);
}

/* One op of a response record. */
typedef struct {
    char op;
    const char *k, *v;
    uint32_t kl, vl;
} ah_op;

/* ah_next_op reads the op at *p, before end: 1 with *op filled and *p
 * moved past it; 0 at the end; -1 when the record is truncated (nothing
 * past end is read, *p is left as it was). */
static inline int ah_next_op(const char **p, const char *end, ah_op *op)
{
    const char *q = *p;
    uint32_t kl, vl;
    if (q >= end)
        return 0;
    if ((size_t)(end - q) < 1 + 4)
        return -1;
    op->op = *q++;
    memcpy(&kl, q, 4);
    q += 4;
    if ((size_t)(end - q) < kl)
        return -1;
    op->k = q;
    q += kl;
    if ((size_t)(end - q) < 4)
        return -1;
    memcpy(&vl, q, 4);
    q += 4;
    if ((size_t)(end - q) < vl)
        return -1;
    op->v = q;
    op->kl = kl;
    op->vl = vl;
    *p = q + vl;
    return 1;
}

#endif
