/*
 * anyhost_ngx.h: the ABI between ngx_http_anyhost_module.c (nginx's side,
 * pure C) and the Go handler library (adapters/nginx/module/bridge). Both
 * sides check ANYHOST_NGX_VERSION at load; change it whenever anything here
 * changes.
 *
 * nginx's event loop must never wait on Go. So every call below returns
 * without running a handler: a phase that has handlers starts them on a
 * goroutine (start answers AHN_PENDING), and Go hands results back by
 * queueing the request's handle and writing to the eventfd C gave it at
 * init. The loop reads the eventfd, asks for the ready handles and takes
 * what each has (response head, body, log lines, the phase's status).
 * Go never calls into nginx: nothing of nginx runs off the loop thread.
 *
 * What crosses: integers, the request pointer (opaque to Go, handed back
 * by take only while nginx still holds the request) and flat byte buffers
 * valid for the call alone; Go copies what it keeps.
 */
#ifndef ANYHOST_NGX_H
#define ANYHOST_NGX_H

#include <stdint.h>

#define ANYHOST_NGX_VERSION 2

/* Phases: the same numbers as core.Phase. */
enum {
    AHN_POST_READ_REQUEST = 0,
    AHN_TRANSLATE,
    AHN_HEADER_PARSER,
    AHN_ACCESS,
    AHN_AUTHN,
    AHN_AUTHZ,
    AHN_FIXUP,
    AHN_CONTENT,
    AHN_LOG,
    AHN_NUM_PHASES
};

/* start's answer when a goroutine runs the phase. */
#define AHN_PENDING (-100)

/* take's flags. */
#define AHN_DONE 1  /* the job ended: take's return value is its status */
#define AHN_MORE 2  /* more is ready now: take again */
#define AHN_FLUSH 4 /* the handler flushed: push the body to the client now */

/* take's modes. */
#define AHN_TAKE_READY 0  /* after a ready notice: body only if not paused */
#define AHN_TAKE_RESUME 1 /* the client drained what it had: unpause, body */

/* Spec kinds, as in the Apache bridge: what C numbers at config time. */
enum {
    AHN_SPEC_HANDLER = 1,
    AHN_SPEC_SITE = 3
};

/* The bridge version the library was built with. */
typedef int (*ahn_version_fn)(void);

/* Builds the spec table (anyhost_wire.h: server root, then per spec id,
 * kind, phase, name, location, options). notify_fd is the eventfd Go
 * writes to when a handle becomes ready. site_phases gets a bit per phase
 * the site has handlers on. Returns 0; 1 when some specs failed (message in
 * errbuf; those handlers answer 500); -1 when nothing can run. */
typedef int (*ahn_init_fn)(int c_version, int notify_fd, const char *specs, long len, int gomaxprocs,
                           int *site_phases, char *errbuf, long errlen);

/* Runs phase for r with the handlers ids[0..n) (none: the site's). req is
 * the request record; body (content only) the body record: uint32 count,
 * then per segment uint32 kind, and for kind 0 a string of bytes, for
 * kind 1 int32 fd, int64 offset, int64 length (a temp file Go dups).
 * *state is the request's Go handle (0 = none yet; set when Go keeps
 * state). Returns AHN_PENDING, or without running anything DECLINED (-1)
 * when no handler is on the phase, or 500 when the request cannot run. */
typedef int (*ahn_start_fn)(void *r, int phase, const int *ids, int n, const char *req, long reqlen,
                            const char *body, long bodylen, uintptr_t *state);

/* For a request Go holds no state for yet, under anyhost_site without a
 * location's own handlers: 1 if the site could run anything on phase for
 * this path (r->uri) and body length, else 0 and C skips the phase
 * without packing the request. The path is read during the call only. */
typedef int (*ahn_plan_fn)(int phase, const char *path, long len, long long content_length);

/* Copies up to cap ready handles into handles; returns how many. */
typedef long (*ahn_ready_fn)(uintptr_t *handles, long cap);

/* Takes what the request behind state has ready as a response record
 * (anyhost_wire.h ops, with 'L' log lines) into out (cap bytes). *r gets
 * the request pointer, or NULL when nginx has released it (log lines then
 * go to the cycle's log). *flags: AHN_DONE, AHN_MORE, AHN_FLUSH. Returns
 * the job's status when AHN_DONE is set. */
typedef int (*ahn_take_fn)(uintptr_t state, int mode, char *out, long cap, long *outlen, void **r, int *flags);

/* The client is slow: hold the body until a take in AHN_TAKE_RESUME mode. */
typedef void (*ahn_pause_fn)(uintptr_t state);

/* The request is over for nginx (client gone, timeout, finalized): cancels
 * the handler's context; writes fail from now on. */
typedef void (*ahn_cancel_fn)(uintptr_t state);

/* nginx frees the request: Go drops the state once no goroutine uses it.
 * The handle is never valid again. */
typedef void (*ahn_release_fn)(uintptr_t state);

#endif
