/*
 * anyhost_bridge.h: the ABI between mod_anyhost.c (Apache's side, pure C)
 * and the Go handler library (adapters/apache/bridge). Both sides check
 * ANYHOST_BRIDGE_VERSION at load; change it whenever anything here changes.
 *
 * What crosses: integers, opaque request pointers (never dereferenced by
 * Go), and flat byte buffers valid for the call alone. C never holds a Go
 * pointer; Go keeps per-request state behind an integer handle.
 */
#ifndef ANYHOST_BRIDGE_H
#define ANYHOST_BRIDGE_H

#include <stdint.h>

#define ANYHOST_BRIDGE_VERSION 2

/* Phases: the same numbers as core.Phase. */
enum {
    AH_POST_READ_REQUEST = 0,
    AH_TRANSLATE,
    AH_HEADER_PARSER,
    AH_ACCESS,
    AH_AUTHN,
    AH_AUTHZ,
    AH_FIXUP,
    AH_CONTENT,
    AH_LOG,
    AH_NUM_PHASES
};

/* anyhost_run flags. */
#define AH_LAST 1
#define AH_YIELD 2

/* Spec kinds in the table C builds at config time (see anyhost_init). */
enum {
    AH_SPEC_HANDLER = 1,   /* a handler on a phase: name + options */
    AH_SPEC_PROVIDER = 2,  /* an authn provider chain: name = chain name, options = providers */
    AH_SPEC_SITE = 3       /* AnyhostSite: name = site file path */
};

/*
 * Functions of Apache's side that Go calls, given to Go once in
 * anyhost_init. r is the request_rec, opaque to Go.
 */
typedef struct {
    int version;
    /* Reads up to len body bytes into buf: >0 bytes read, 0 at the end,
     * <0 the negated HTTP status to answer with (413, 400). */
    long (*read_body)(void *r, char *buf, long len);
    /* Applies a response record (anyhost_wire.h) and writes its body;
     * flush pushes it to the client. Returns 0, -1 if the client is gone,
     * -2 if the record could not be applied (a bug of the bridge, logged). */
    int (*send)(void *r, const char *rec, long len, int flush);
    /* Writes a line to Apache's error log for r at an APLOG_* level. */
    void (*log)(void *r, int level, const char *msg, long len);
    /* Packs r's CGI environment (subprocess_env with the common and CGI
     * variables) as string pairs into *out, allocated from r's pool;
     * returns its length. */
    long (*env)(void *r, char **out);
} ah_host;

/* The records these functions pass (request, response, environment, spec
 * table) are specified, and read and written on the C side, in
 * anyhost_wire.h (internal/wire), shared with every in-process bridge. */

/*
 * Go's exports. Each returns quickly and never lets a panic reach C.
 */
/* The bridge version the library was built with. */
typedef int (*ah_version_fn)(void);
/* Builds every handler of the spec table (string server_root, against
 * which relative paths in options resolve; uint32 count, then per spec:
 * uint32 id, uint32 kind, uint32 phase, string name, string location (the
 * <Location> path, or empty), uint32 n, n option string pairs). For an AnyhostSite, *site_phases gets a bit per phase the
 * site has handlers on. Returns 0; 1 when some specs failed (message in
 * errbuf; the library serves, those handlers answer 500); -1 when nothing
 * can run (message in errbuf). */
typedef int (*ah_init_fn)(const ah_host *host, int c_version, const char *specs, long len,
                          int gomaxprocs, int *site_phases, char *errbuf, long errlen);
/* Runs phase for r with the handlers ids[0..n): returns OK (0), DECLINED
 * (-1), DONE (-2) or an HTTP status. *state is the request's Go handle
 * (0 = none yet). flags: AH_LAST says no later phase of this request runs
 * Go, so the state may go; AH_YIELD asks Go to pass through its scheduler
 * once (see mod_anyhost.c, yield_due). The response record is written to out (cap bytes), its
 * length to *outlen; a larger response has already gone through send. */
typedef int (*ah_run_fn)(void *r, int phase, const int *ids, int n, int flags,
                         const char *req, long reqlen, uintptr_t *state,
                         char *out, long cap, long *outlen);
/* Checks user/password against the provider chain spec id. Returns an
 * authn_status: AUTH_DENIED (0), AUTH_GRANTED (1), AUTH_USER_NOT_FOUND (3)
 * or AUTH_GENERAL_ERROR (4). What the chain learns (groups) stays in the
 * request's Go state for `Require anyhost group ...`. */
typedef int (*ah_check_password_fn)(void *r, int id, const char *user, long ulen,
                                    const char *pass, long plen,
                                    const char *req, long reqlen, uintptr_t *state);
/* Evaluates a `Require anyhost RULE` line for r. Returns an authz_status:
 * AUTHZ_DENIED (0), AUTHZ_GRANTED (1), AUTHZ_GENERAL_ERROR (3) or
 * AUTHZ_DENIED_NO_USER (4). */
typedef int (*ah_authz_fn)(void *r, const char *rule, long rlen,
                           const char *req, long reqlen, uintptr_t *state);
/* Drops the request's Go state. */
typedef void (*ah_release_fn)(uintptr_t state);

#endif
