/*
 * ngx_http_anyhost_module: runs anyhost's Go handlers inside nginx's
 * workers, phase by phase, without ever blocking the event loop.
 *
 * Each worker loads the Go library in init_process (after fork: the Go
 * runtime does not survive one; never in the master). A phase that has Go
 * handlers is started on a goroutine and the request is suspended the way
 * nginx's own thread-pool tasks suspend one (r->main->blocked); Go queues
 * the request's handle when it has something and writes to this module's
 * own eventfd, which the loop watches like a connection. The loop then
 * takes what is ready (the phase's status, the response head, body
 * chunks, log lines) and resumes the request. Go never calls nginx.
 *
 * The loop waits on Go only for the calls in anyhost_ngx.h, each of which
 * copies a record and returns: no handler code runs on the loop thread.
 *
 * Phases: post-read in POST_READ, header-parser in PREACCESS, access,
 * authn and authz in ACCESS, fixup in PRECONTENT, content as the
 * location's handler, log in LOG. Translate has no nginx counterpart:
 * nginx maps URIs to locations itself.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

#include "anyhost_ngx.h"
#include "anyhost_wire.h"

/* What a take may bring at once: one body chunk of Go's (64 KiB) plus the
 * head and log lines. Go fills up to this and says AHN_MORE for the rest. */
#define AHN_TAKE_CAP (96 * 1024)

/* A suspended request keeps a timer armed so that a graceful shutdown
 * (nginx -s reload, -s quit) waits for it: a worker exits once no timer
 * but cancelable ones is left, and a request waiting on Go has none. */
#define AHN_HOLD_MS 1000

typedef struct {
    ngx_uint_t kind;
    ngx_uint_t phase;
    ngx_str_t name;
    ngx_str_t location;
    ngx_array_t *opts; /* ngx_str_t key, value, key, value ... */
} ahn_spec_t;

typedef struct {
    ngx_str_t library;
    ngx_str_t site;
    ngx_int_t gomaxprocs;
    ngx_array_t *specs; /* ahn_spec_t, numbered by index */
} ahn_main_conf_t;

typedef struct {
    ngx_array_t *ids[AHN_NUM_PHASES]; /* int spec ids per phase */
    ngx_flag_t content;               /* `anyhost;` or anyhost_handler */
} ahn_loc_conf_t;

/* One request's state on nginx's side. Lives in r->pool; found again
 * after an internal redirect (which clears module contexts) through the
 * pool cleanup that releases Go's state. */
typedef struct {
    ngx_http_request_t *r;
    uintptr_t handle;
    ngx_int_t result;      /* a finished phase job's status */
    int phase;             /* the phase whose job runs or ended, -1 none */
    int sub;               /* ACCESS: which of access, authn, authz */
    unsigned running : 1;  /* a job runs: r->main->blocked is held */
    unsigned finished : 1; /* the job of phase ended; result is its status */
    unsigned content : 1;  /* the running job is the content handler */
    unsigned head_sent : 1;
    unsigned stalled : 1; /* the client has not drained the last chunk */
    unsigned ended : 1;   /* the content job ended */
    unsigned cleanup : 1; /* the http cleanup (cancel) is registered */
    unsigned granted : 1; /* ACCESS: a handler said OK */
    ngx_int_t status;     /* the content job's status */
    ngx_str_t redirect;
    ngx_str_t user;       /* the user Go established: $anyhost_user */
    ngx_chain_t *free, *busy;
} ahn_ctx_t;

static ngx_int_t ahn_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ahn_postconfiguration(ngx_conf_t *cf);
static void *ahn_create_main_conf(ngx_conf_t *cf);
static void *ahn_create_loc_conf(ngx_conf_t *cf);
static char *ahn_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t ahn_init_process(ngx_cycle_t *cycle);
static char *ahn_handler_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ahn_content_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ahn_site_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ahn_content_handler(ngx_http_request_t *r);
static void ahn_pump(ngx_http_request_t *r, ahn_ctx_t *x, int mode);

static ngx_uint_t phase_post_read = AHN_POST_READ_REQUEST, phase_header_parser = AHN_HEADER_PARSER,
                  phase_access = AHN_ACCESS, phase_authn = AHN_AUTHN, phase_authz = AHN_AUTHZ,
                  phase_fixup = AHN_FIXUP, phase_content = AHN_CONTENT, phase_log = AHN_LOG;

#define HANDLER_CMD(name, phase, where)                                                             \
    {ngx_string(name), where | NGX_CONF_1MORE, ahn_handler_directive, NGX_HTTP_LOC_CONF_OFFSET, 0, \
     &phase}

static ngx_command_t ahn_commands[] = {
    {ngx_string("anyhost_library"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_str_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(ahn_main_conf_t, library), NULL},
    {ngx_string("anyhost_site"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ahn_site_directive,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL},
    {ngx_string("anyhost_go_max_procs"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_num_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(ahn_main_conf_t, gomaxprocs), NULL},
    {ngx_string("anyhost"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, ahn_content_directive,
     NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    HANDLER_CMD("anyhost_post_read_handler", phase_post_read, NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF),
    HANDLER_CMD("anyhost_header_parser_handler", phase_header_parser,
                NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF),
    HANDLER_CMD("anyhost_access_handler", phase_access,
                NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF),
    HANDLER_CMD("anyhost_authn_handler", phase_authn, NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF),
    HANDLER_CMD("anyhost_authz_handler", phase_authz, NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF),
    HANDLER_CMD("anyhost_fixup_handler", phase_fixup, NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF),
    HANDLER_CMD("anyhost_handler", phase_content, NGX_HTTP_LOC_CONF),
    HANDLER_CMD("anyhost_log_handler", phase_log, NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF),
    ngx_null_command};

static ngx_http_module_t ahn_module_ctx = {
    ahn_preconfiguration, ahn_postconfiguration, ahn_create_main_conf, NULL, NULL, NULL, ahn_create_loc_conf,
    ahn_merge_loc_conf};

ngx_module_t ngx_http_anyhost_module = {
    NGX_MODULE_V1,
    &ahn_module_ctx,
    ahn_commands,
    NGX_HTTP_MODULE,
    NULL,
    NULL,
    ahn_init_process,
    NULL,
    NULL,
    NULL,
    NULL,
    NGX_MODULE_V1_PADDING};

/* ---- the worker's Go library: set once in init_process ---- */

static struct {
    int loaded;
    const char *error; /* why it is not loaded */
    int site_phases;
    int notify_fd;
    ngx_connection_t *notify;
    ngx_uint_t running; /* suspended requests */
    ngx_event_t hold;
    ahn_start_fn start;
    ahn_plan_fn plan;
    ahn_ready_fn ready;
    ahn_take_fn take;
    ahn_pause_fn pause;
    ahn_cancel_fn cancel;
    ahn_release_fn release;
} go;

static char take_buf[AHN_TAKE_CAP];

/* ---- configuration ---- */

static void *ahn_create_main_conf(ngx_conf_t *cf)
{
    ahn_main_conf_t *m = ngx_pcalloc(cf->pool, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->gomaxprocs = NGX_CONF_UNSET;
    m->specs = ngx_array_create(cf->pool, 8, sizeof(ahn_spec_t));
    if (m->specs == NULL)
        return NULL;
    return m;
}

static void *ahn_create_loc_conf(ngx_conf_t *cf)
{
    ahn_loc_conf_t *l = ngx_pcalloc(cf->pool, sizeof(*l));
    int i;
    if (l == NULL)
        return NULL;
    for (i = 0; i < AHN_NUM_PHASES; i++)
        l->ids[i] = NGX_CONF_UNSET_PTR;
    l->content = NGX_CONF_UNSET;
    return l;
}

static char *ahn_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ahn_loc_conf_t *p = parent, *c = child;
    int i;
    /* A location's own handlers on a phase replace its parent's. */
    for (i = 0; i < AHN_NUM_PHASES; i++)
        ngx_conf_merge_ptr_value(c->ids[i], p->ids[i], NULL);
    ngx_conf_merge_value(c->content, p->content, 0);
    return NGX_CONF_OK;
}

static ahn_spec_t *add_spec(ngx_conf_t *cf, ngx_uint_t kind, ngx_uint_t phase, ngx_str_t *name, int *id)
{
    ahn_main_conf_t *m = ngx_http_conf_get_module_main_conf(cf, ngx_http_anyhost_module);
    ahn_spec_t *s = ngx_array_push(m->specs);
    if (s == NULL)
        return NULL;
    ngx_memzero(s, sizeof(*s));
    s->kind = kind;
    s->phase = phase;
    s->name = *name;
    s->opts = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (s->opts == NULL)
        return NULL;
    *id = (int)(m->specs->nelts - 1);
    return s;
}

/* anyhost_*_handler NAME [KEY=VALUE ...] */
static char *ahn_handler_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ahn_loc_conf_t *l = conf;
    ngx_uint_t phase = *(ngx_uint_t *)cmd->post;
    ngx_str_t *args = cf->args->elts;
    ngx_http_core_loc_conf_t *clcf;
    ahn_spec_t *s;
    ngx_uint_t i;
    int id, *slot;

    s = add_spec(cf, AHN_SPEC_HANDLER, phase, &args[1], &id);
    if (s == NULL)
        return NGX_CONF_ERROR;
    for (i = 2; i < cf->args->nelts; i++) {
        u_char *eq = ngx_strlchr(args[i].data, args[i].data + args[i].len, '=');
        ngx_str_t *kv;
        if (eq == NULL || eq == args[i].data)
            return "takes options as KEY=VALUE";
        kv = ngx_array_push_n(s->opts, 2);
        if (kv == NULL)
            return NGX_CONF_ERROR;
        kv[0].data = args[i].data;
        kv[0].len = eq - args[i].data;
        kv[1].data = eq + 1;
        kv[1].len = args[i].data + args[i].len - eq - 1;
    }
    if (cf->cmd_type & NGX_HTTP_LOC_CONF) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        /* The path handlers see as their Location, for a prefix location. */
#if (NGX_PCRE)
        if (clcf->regex == NULL)
#endif
            s->location = clcf->name;
    }
    if (l->ids[phase] == NGX_CONF_UNSET_PTR) {
        l->ids[phase] = ngx_array_create(cf->pool, 2, sizeof(int));
        if (l->ids[phase] == NULL)
            return NGX_CONF_ERROR;
    }
    slot = ngx_array_push(l->ids[phase]);
    if (slot == NULL)
        return NGX_CONF_ERROR;
    *slot = id;
    if (phase == AHN_CONTENT)
        return ahn_content_directive(cf, cmd, conf);
    return NGX_CONF_OK;
}

/* anyhost; — the location's content comes from Go (the site's handlers,
 * or anyhost_handler's). */
static char *ahn_content_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ahn_loc_conf_t *l = conf;
    ngx_http_core_loc_conf_t *clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    l->content = 1;
    clcf->handler = ahn_content_handler;
    return NGX_CONF_OK;
}

static char *ahn_site_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ahn_main_conf_t *m = conf;
    ngx_str_t *args = cf->args->elts;
    int id;
    if (m->site.len)
        return "is duplicate";
    m->site = args[1];
    if (ngx_conf_full_name(cf->cycle, &m->site, 1) != NGX_OK)
        return NGX_CONF_ERROR;
    if (add_spec(cf, AHN_SPEC_SITE, 0, &m->site, &id) == NULL)
        return NGX_CONF_ERROR;
    return NGX_CONF_OK;
}

static ahn_ctx_t *ahn_ctx(ngx_http_request_t *r);

/* $anyhost_user is the user Go's auth phases established. nginx's own
 * $remote_user is the name in the Authorization header, verified or not
 * (ngx_http_auth_basic_user parses it again on every use). */
static ngx_int_t ahn_user_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data)
{
    ahn_ctx_t *x = ngx_http_get_module_ctx(r->main, ngx_http_anyhost_module);
    if (x == NULL || x->user.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }
    v->data = x->user.data;
    v->len = x->user.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    return NGX_OK;
}

static ngx_int_t ahn_preconfiguration(ngx_conf_t *cf)
{
    ngx_str_t name = ngx_string("anyhost_user");
    ngx_http_variable_t *v = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (v == NULL)
        return NGX_ERROR;
    v->get_handler = ahn_user_variable;
    return NGX_OK;
}

static ngx_int_t ahn_post_read(ngx_http_request_t *r);
static ngx_int_t ahn_header_parser(ngx_http_request_t *r);
static ngx_int_t ahn_access(ngx_http_request_t *r);
static ngx_int_t ahn_fixup(ngx_http_request_t *r);
static ngx_int_t ahn_log(ngx_http_request_t *r);

static ngx_int_t ahn_postconfiguration(ngx_conf_t *cf)
{
    ahn_main_conf_t *m = ngx_http_conf_get_module_main_conf(cf, ngx_http_anyhost_module);
    ngx_http_core_main_conf_t *cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    struct {
        ngx_uint_t phase;
        ngx_http_handler_pt h;
    } hooks[] = {{NGX_HTTP_POST_READ_PHASE, ahn_post_read},
                 {NGX_HTTP_PREACCESS_PHASE, ahn_header_parser},
                 {NGX_HTTP_ACCESS_PHASE, ahn_access},
                 {NGX_HTTP_PRECONTENT_PHASE, ahn_fixup},
                 {NGX_HTTP_LOG_PHASE, ahn_log}};
    ngx_uint_t i;

    if (m->specs->nelts == 0 && !m->library.len)
        return NGX_OK;
    if (!m->library.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "anyhost: handlers are configured but anyhost_library is not");
        return NGX_ERROR;
    }
    if (ngx_conf_full_name(cf->cycle, &m->library, 1) != NGX_OK)
        return NGX_ERROR;
    for (i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
        ngx_http_handler_pt *h = ngx_array_push(&cmcf->phases[hooks[i].phase].handlers);
        if (h == NULL)
            return NGX_ERROR;
        *h = hooks[i].h;
    }
    return NGX_OK;
}

/* ---- loading the library in each worker ---- */

static void ahn_notify_handler(ngx_event_t *ev);
static void ahn_hold_handler(ngx_event_t *ev);

static void put_specs(ah_packer *w, ngx_cycle_t *cycle, ahn_main_conf_t *m)
{
    ahn_spec_t *s = m->specs->elts;
    ngx_uint_t i, j;
    ah_put_str(w, (char *)cycle->conf_prefix.data, cycle->conf_prefix.len);
    ah_put_u32(w, (uint32_t)m->specs->nelts);
    for (i = 0; i < m->specs->nelts; i++) {
        ngx_str_t *kv = s[i].opts->elts;
        ah_put_u32(w, (uint32_t)i);
        ah_put_u32(w, (uint32_t)s[i].kind);
        ah_put_u32(w, (uint32_t)s[i].phase);
        ah_put_str(w, (char *)s[i].name.data, s[i].name.len);
        ah_put_str(w, (char *)s[i].location.data, s[i].location.len);
        ah_put_u32(w, (uint32_t)(s[i].opts->nelts / 2));
        for (j = 0; j < s[i].opts->nelts; j++)
            ah_put_str(w, (char *)kv[j].data, kv[j].len);
    }
}

/* ahn_strdup is a NUL-terminated copy (dlerror's text is reused). */
static char *ahn_strdup(ngx_pool_t *pool, const char *s)
{
    size_t n = ngx_strlen(s);
    char *d = ngx_pnalloc(pool, n + 1);
    if (d == NULL)
        return "out of memory";
    ngx_memcpy(d, s, n + 1);
    return d;
}

static ngx_int_t ahn_init_process(ngx_cycle_t *cycle)
{
    ahn_main_conf_t *m;
    sigset_t block, old;
    void *lib;
    ahn_version_fn version;
    ahn_init_fn init;
    ah_packer w = {NULL, 0};
    char err[1024] = "";
    int rc;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE)
        return NGX_OK;
    m = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_anyhost_module);
    if (m == NULL || !m->library.len)
        return NGX_OK;
    /* Go's threads inherit this thread's signal mask: nginx's QUIT, TERM,
     * HUP, USR1 and WINCH stay with nginx's thread; crash signals are Go's. */
    sigfillset(&block);
    sigdelset(&block, SIGSEGV);
    sigdelset(&block, SIGBUS);
    sigdelset(&block, SIGFPE);
    sigdelset(&block, SIGILL);
    sigdelset(&block, SIGTRAP);
    sigdelset(&block, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    lib = dlopen((char *)m->library.data, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (lib == NULL) {
        go.error = ahn_strdup(cycle->pool, dlerror());
        goto done;
    }
    version = (ahn_version_fn)dlsym(lib, "anyhost_ngx_version");
    init = (ahn_init_fn)dlsym(lib, "anyhost_ngx_init");
    go.start = (ahn_start_fn)dlsym(lib, "anyhost_ngx_start");
    go.plan = (ahn_plan_fn)dlsym(lib, "anyhost_ngx_plan");
    go.ready = (ahn_ready_fn)dlsym(lib, "anyhost_ngx_ready");
    go.take = (ahn_take_fn)dlsym(lib, "anyhost_ngx_take");
    go.pause = (ahn_pause_fn)dlsym(lib, "anyhost_ngx_pause");
    go.cancel = (ahn_cancel_fn)dlsym(lib, "anyhost_ngx_cancel");
    go.release = (ahn_release_fn)dlsym(lib, "anyhost_ngx_release");
    if (!version || !init || !go.start || !go.plan || !go.ready || !go.take || !go.pause || !go.cancel || !go.release) {
        go.error = "not an anyhost library for nginx (missing exports; built by `anyhost nginx build`?)";
        goto done;
    }
    if (version() != ANYHOST_NGX_VERSION) {
        go.error = "the library speaks another bridge version: rebuild both with one `anyhost nginx build`";
        goto done;
    }
    go.notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (go.notify_fd == -1) {
        go.error = "eventfd failed";
        goto done;
    }
    put_specs(&w, cycle, m);
    w.p = ngx_alloc(w.n ? w.n : 1, cycle->log);
    if (w.p == NULL) {
        go.error = "out of memory";
        goto done;
    }
    w.n = 0;
    put_specs(&w, cycle, m);
    rc = init(ANYHOST_NGX_VERSION, go.notify_fd, w.p, (long)w.n, m->gomaxprocs > 0 ? (int)m->gomaxprocs : 0,
              &go.site_phases, err, sizeof err);
    ngx_free(w.p);
    if (rc < 0) {
        go.error = ahn_strdup(cycle->pool, err);
        goto done;
    }
    if (rc > 0)
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "anyhost: %V: some handlers could not be built; requests that reach them get 500: %s",
                      &m->library, err);
    go.notify = ngx_get_connection(go.notify_fd, cycle->log);
    if (go.notify == NULL) {
        go.error = "no free connection for the notify eventfd (worker_connections)";
        goto done;
    }
    go.notify->read->handler = ahn_notify_handler;
    /* Like nginx's own channel to the master: not a client connection, so
     * a graceful exit does not report it as an open socket left behind. */
    go.notify->read->channel = 1;
    go.notify->read->log = cycle->log;
    go.notify->write->log = cycle->log;
    if (ngx_add_event(go.notify->read, NGX_READ_EVENT, 0) != NGX_OK) {
        go.error = "cannot watch the notify eventfd";
        goto done;
    }
    go.hold.handler = ahn_hold_handler;
    go.hold.log = cycle->log;
    go.hold.data = &go;
    go.loaded = 1;
done:
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!go.loaded)
        /* Never exit: the master would respawn the worker in a loop.
         * Requests that need Go get 500. */
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "anyhost: cannot load %V: %s", &m->library, go.error);
    return NGX_OK;
}


static void ahn_hold_handler(ngx_event_t *ev)
{
    if (go.running)
        ngx_add_timer(ev, AHN_HOLD_MS);
}

/* ---- the request's state ---- */

static void ahn_pool_cleanup(void *data)
{
    ahn_ctx_t *x = data;
    if (x->handle && go.loaded)
        go.release(x->handle);
    x->handle = 0;
}

/* ahn_request_cleanup runs when nginx ends the request, also when it
 * terminates one a job still runs for (client gone, timeout): the
 * handler's context is cancelled, and the request waits for the job. */
static void ahn_request_cleanup(void *data)
{
    ahn_ctx_t *x = data;
    if (x->running && x->handle)
        go.cancel(x->handle);
}

static ahn_ctx_t *ahn_ctx(ngx_http_request_t *r)
{
    ahn_ctx_t *x = ngx_http_get_module_ctx(r, ngx_http_anyhost_module);
    ngx_pool_cleanup_t *c;
    if (x)
        return x;
    /* An internal redirect cleared the module contexts; the state is
     * still the pool's. */
    for (c = r->pool->cleanup; c; c = c->next) {
        if (c->handler == ahn_pool_cleanup && ((ahn_ctx_t *)c->data)->r == r) {
            x = c->data;
            ngx_http_set_ctx(r, x, ngx_http_anyhost_module);
            return x;
        }
    }
    c = ngx_pool_cleanup_add(r->pool, sizeof(ahn_ctx_t));
    if (c == NULL)
        return NULL;
    x = c->data;
    ngx_memzero(x, sizeof(*x));
    x->r = r;
    x->phase = -1;
    c->handler = ahn_pool_cleanup;
    ngx_http_set_ctx(r, x, ngx_http_anyhost_module);
    return x;
}

/* ---- packing the request for Go ---- */

/* next_header walks a header list: *part starts at &list->part, *i at 0;
 * NULL at the end. */
static ngx_table_elt_t *next_header(ngx_list_part_t **part, ngx_uint_t *i)
{
    while (*i >= (*part)->nelts) {
        if ((*part)->next == NULL)
            return NULL;
        *part = (*part)->next;
        *i = 0;
    }
    return (ngx_table_elt_t *)(*part)->elts + (*i)++;
}

static void put_headers(ah_packer *w, ngx_list_t *list)
{
    ngx_list_part_t *part = &list->part;
    ngx_table_elt_t *h;
    size_t count = w->n;
    uint32_t n = 0;
    ngx_uint_t i = 0;
    ah_put_u32(w, 0);
    while ((h = next_header(&part, &i)) != NULL) {
        if (h->hash == 0)
            continue;
        ah_put_str(w, (char *)h->key.data, h->key.len);
        ah_put_str(w, (char *)h->value.data, h->value.len);
        n++;
    }
    ah_put_u32_at(w, count, n);
}

typedef struct {
    ngx_http_request_t *r;
    ngx_str_t addr;
} req_fields;

/* ngx_log levels to Apache's APLOG numbers, which the record carries. */
static uint32_t aplog_level(ngx_uint_t l) { return l > 0 ? (uint32_t)(l - 1) : 0; }

static int64_t body_length(ngx_http_request_t *r)
{
    return r->headers_in.chunked ? -1 : (r->headers_in.content_length_n >= 0 ? r->headers_in.content_length_n : 0);
}

static void put_request(ah_packer *w, void *arg)
{
    req_fields *f = arg;
    ngx_http_request_t *r = f->r;
    ngx_str_t host = r->headers_in.host ? r->headers_in.host->value : r->headers_in.server;
    if (r->host_start && r->host_end) {
        /* An absolute-form target: its authority, which nginx chose the
         * server by, not the Host header. */
        host.data = r->host_start;
        host.len = (r->port_end ? r->port_end : r->host_end) - r->host_start;
    }
    int64_t cl = body_length(r);
    ah_put_u32(w, r != r->main ? 1 : (r->internal ? 2 : 0));
    ah_put_u32(w, aplog_level(r->connection->log->log_level));
    ah_put_i64(w, cl);
    ah_put_str(w, (char *)r->method_name.data, r->method_name.len);
    ah_put_str(w, (char *)r->unparsed_uri.data, r->unparsed_uri.len);
    ah_put_str(w, (char *)r->uri.data, r->uri.len);
    ah_put_str(w, (char *)r->args.data, r->args.len);
    ah_put_str(w, (char *)r->http_protocol.data, r->http_protocol.len);
    ah_put_str(w, (char *)host.data, host.len);
#if (NGX_HTTP_SSL)
    ah_put_cstr(w, r->connection->ssl ? "https" : "http");
#else
    ah_put_cstr(w, "http");
#endif
    ah_put_str(w, (char *)f->addr.data, f->addr.len);
    ah_put_cstr(w, ""); /* user: Go keeps the one it set */
    ah_put_cstr(w, ""); /* auth type */
    ah_put_cstr(w, ""); /* handler name */
    put_headers(w, &r->headers_in.headers);
    ah_put_u32(w, 0); /* notes: Go keeps them */
}

static const char *pack(ngx_pool_t *pool, void (*put)(ah_packer *, void *), void *arg, long *len)
{
    ah_packer w = {NULL, 0};
    put(&w, arg);
    w.p = ngx_pnalloc(pool, w.n ? w.n : 1);
    if (w.p == NULL)
        return NULL;
    *len = (long)w.n;
    w.n = 0;
    put(&w, arg);
    return w.p;
}

static const char *pack_request(ngx_http_request_t *r, long *len)
{
    req_fields f;
    ngx_connection_t *c = r->connection;
    u_char *p;
    f.r = r;
    /* "ip:port", or "[ip6]:port". */
    p = ngx_pnalloc(r->pool, c->addr_text.len + 2 + NGX_INT_T_LEN + 1);
    if (p == NULL)
        return NULL;
    f.addr.data = p;
    if (c->sockaddr->sa_family == AF_INET6)
        f.addr.len = ngx_sprintf(p, "[%V]:%ui", &c->addr_text, (ngx_uint_t)ngx_inet_get_port(c->sockaddr)) - p;
    else if (c->sockaddr->sa_family == AF_INET)
        f.addr.len = ngx_sprintf(p, "%V:%ui", &c->addr_text, (ngx_uint_t)ngx_inet_get_port(c->sockaddr)) - p;
    else
        f.addr = c->addr_text;
    return pack(r->pool, put_request, &f, len);
}

/* The body record: nginx has read the whole body, into memory buffers or
 * a temp file (whose fd Go dups before start returns). */
static void put_body(ah_packer *w, void *arg)
{
    ngx_http_request_t *r = arg;
    ngx_chain_t *cl;
    size_t count = w->n;
    uint32_t n = 0;
    ah_put_u32(w, 0);
    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            ngx_buf_t *b = cl->buf;
            if (b->in_file && b->file) {
                ah_put_u32(w, 1);
                ah_put_u32(w, (uint32_t)b->file->fd);
                ah_put_i64(w, b->file_pos);
                ah_put_i64(w, b->file_last - b->file_pos);
                n++;
            } else if (ngx_buf_in_memory(b) && b->last > b->pos) {
                ah_put_u32(w, 0);
                ah_put_str(w, (char *)b->pos, b->last - b->pos);
                n++;
            }
        }
    }
    ah_put_u32_at(w, count, n);
}

/* ---- starting a phase ---- */

static ngx_int_t ahn_start(ngx_http_request_t *r, ahn_ctx_t *x, int phase, ngx_array_t *ids, int with_body)
{
    const char *rec, *body = NULL;
    long len, blen = 0;
    int rc;

    rec = pack_request(r, &len);
    if (rec == NULL)
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    if (with_body) {
        body = pack(r->pool, put_body, r, &blen);
        if (body == NULL)
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = go.start(r, phase, ids ? ids->elts : NULL, ids ? (int)ids->nelts : 0, rec, len, body, blen, &x->handle);
    if (rc != AHN_PENDING)
        return rc;
    if (!x->cleanup && phase != AHN_LOG) {
        ngx_http_cleanup_t *cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            go.cancel(x->handle);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        cln->handler = ahn_request_cleanup;
        cln->data = x;
        x->cleanup = 1;
    }
    return AHN_PENDING;
}

/* Suspends r while a job runs, as nginx's thread-pool tasks do: a
 * blocked request is neither closed nor freed (a client that goes away
 * marks it for finalizing, and it is finalized when the job ends). */
static void ahn_suspend(ngx_http_request_t *r, ahn_ctx_t *x, int phase)
{
    x->running = 1;
    x->phase = phase;
    x->finished = 0;
    r->main->blocked++;
    /* Notice a client that goes away, to cancel the handler's context. */
    r->read_event_handler = ngx_http_test_reading;
    if (go.running++ == 0 && !go.hold.timer_set)
        ngx_add_timer(&go.hold, AHN_HOLD_MS);
}

static void ahn_resume(ngx_http_request_t *r, ahn_ctx_t *x)
{
    x->running = 0;
    r->main->blocked--;
    go.running--;
    if (r->read_event_handler == ngx_http_test_reading)
        r->read_event_handler = ngx_http_block_reading;
}

/* ---- applying what Go sent ---- */

static ngx_int_t copy_str(ngx_pool_t *pool, ngx_str_t *dst, const char *s, size_t n)
{
    dst->data = ngx_pnalloc(pool, n ? n : 1);
    if (dst->data == NULL)
        return NGX_ERROR;
    ngx_memcpy(dst->data, s, n);
    dst->len = n;
    return NGX_OK;
}

static int name_is(const ah_op *op, const char *name)
{
    size_t n = ngx_strlen(name);
    return op->kl == n && ngx_strncasecmp((u_char *)op->k, (u_char *)name, n) == 0;
}

static void unset_header(ngx_http_request_t *r, const ah_op *op)
{
    ngx_list_part_t *part = &r->headers_out.headers.part;
    ngx_table_elt_t *h;
    ngx_uint_t i = 0;
    while ((h = next_header(&part, &i)) != NULL) {
        if (h->key.len == op->kl && ngx_strncasecmp(h->key.data, (u_char *)op->k, op->kl) == 0)
            h->hash = 0;
    }
    if (name_is(op, "Content-Type")) {
        r->headers_out.content_type.len = 0;
        r->headers_out.content_type_len = 0;
    } else if (name_is(op, "Content-Length")) {
        r->headers_out.content_length_n = -1;
    } else if (name_is(op, "Server")) {
        r->headers_out.server = NULL;
    } else if (name_is(op, "Date")) {
        r->headers_out.date = NULL;
    } else if (name_is(op, "Content-Encoding")) {
        r->headers_out.content_encoding = NULL;
    } else if (name_is(op, "WWW-Authenticate")) {
        r->headers_out.www_authenticate = NULL;
    }
}

static ngx_int_t add_header(ngx_http_request_t *r, const ah_op *op)
{
    ngx_table_elt_t *h;
    if (name_is(op, "Connection") || name_is(op, "Keep-Alive") || name_is(op, "Transfer-Encoding") ||
        name_is(op, "Upgrade") || name_is(op, "Proxy-Connection"))
        return NGX_OK; /* hop-by-hop: nginx's own */
    if (name_is(op, "Content-Type")) {
        if (copy_str(r->pool, &r->headers_out.content_type, op->v, op->vl) != NGX_OK)
            return NGX_ERROR;
        r->headers_out.content_type_len = op->vl;
        r->headers_out.content_type_lowcase = NULL;
        return NGX_OK;
    }
    if (name_is(op, "Content-Length")) {
        off_t n = ngx_atoof((u_char *)op->v, op->vl);
        if (n == NGX_ERROR)
            return NGX_ERROR;
        r->headers_out.content_length_n = n;
        return NGX_OK;
    }
    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL)
        return NGX_ERROR;
    h->hash = 1;
    if (copy_str(r->pool, &h->key, op->k, op->kl) != NGX_OK || copy_str(r->pool, &h->value, op->v, op->vl) != NGX_OK)
        return NGX_ERROR;
    h->lowcase_key = ngx_pnalloc(r->pool, op->kl ? op->kl : 1);
    if (h->lowcase_key == NULL)
        return NGX_ERROR;
    ngx_strlow(h->lowcase_key, h->key.data, h->key.len);
    /* Known to nginx's filters: Go's values replace nginx's own. A
     * Location stays a plain header (nginx would make a relative one
     * absolute; Apache and net/http send it as written). */
    if (name_is(op, "Server"))
        r->headers_out.server = h;
    else if (name_is(op, "Date"))
        r->headers_out.date = h;
    else if (name_is(op, "Content-Encoding"))
        r->headers_out.content_encoding = h;
    else if (name_is(op, "WWW-Authenticate"))
        r->headers_out.www_authenticate = h;
    return NGX_OK;
}

static void go_log(ngx_http_request_t *r, const ah_op *op)
{
    ngx_uint_t level = ngx_atoi((u_char *)op->k, op->kl);
    ngx_log_t *log = r ? r->connection->log : ngx_cycle->log;
    if (level == (ngx_uint_t)NGX_ERROR || level < NGX_LOG_EMERG || level > NGX_LOG_DEBUG)
        level = NGX_LOG_ERR;
    ngx_log_error(level, log, 0, "anyhost: %*s", (size_t)op->vl, op->v);
}

/* What one take brought, once applied to r. */
typedef struct {
    ngx_chain_t *body, **last;
    int head; /* a response status and headers arrived */
} taken;

/* apply reads a response record into r: identity and headers at once,
 * body bytes copied into buffers of the request's (reused once sent). */
static ngx_int_t apply(ngx_http_request_t *r, ahn_ctx_t *x, const char *p, long len, taken *t)
{
    const char *end = p + len;
    ah_op op;
    int rc;
    while ((rc = ah_next_op(&p, end, &op)) == 1) {
        if (op.op == 'L') {
            go_log(r, &op);
            continue;
        }
        if (r == NULL)
            continue;
        switch (op.op) {
        case 'S':
            r->headers_out.status = ngx_atoi((u_char *)op.v, op.vl);
            t->head = 1;
            break;
        case 'U':
            if (copy_str(r->pool, &x->user, op.v, op.vl) != NGX_OK)
                return NGX_ERROR;
            break;
        case 'H':
        case 'E':
            if (add_header(r, &op) != NGX_OK)
                return NGX_ERROR;
            break;
        case 'h':
            unset_header(r, &op);
            break;
        case 'R':
            if (copy_str(r->pool, &x->redirect, op.v, op.vl) != NGX_OK)
                return NGX_ERROR;
            break;
        case 'C': /* the body fell short of the handler's Content-Length */
            r->keepalive = 0;
            break;
        case 'B': {
            ngx_chain_t *cl;
            ngx_buf_t *b;
            if (op.vl == 0 || (x->head_sent && r->header_only))
                break; /* HEAD, 204, 304: nothing to copy */
            cl = ngx_chain_get_free_buf(r->pool, &x->free);
            if (cl == NULL)
                return NGX_ERROR;
            b = cl->buf;
            if (b->start == NULL || (uint32_t)(b->end - b->start) < op.vl) {
                size_t size = op.vl < 4096 ? op.vl : 64 * 1024;
                if (size < op.vl)
                    size = op.vl;
                b->start = ngx_palloc(r->pool, size);
                if (b->start == NULL)
                    return NGX_ERROR;
                b->end = b->start + size;
            }
            b->pos = b->start;
            b->last = ngx_cpymem(b->pos, op.v, op.vl);
            b->memory = 1;
            b->temporary = 1;
            b->tag = (ngx_buf_tag_t)&ngx_http_anyhost_module;
            b->flush = 0;
            b->last_buf = 0;
            b->last_in_chain = 0;
            cl->next = NULL;
            *t->last = cl;
            t->last = &cl->next;
            break;
        }
        default: /* notes, env, path: Go keeps its own */
            break;
        }
    }
    return rc < 0 ? NGX_ERROR : NGX_OK;
}

/* ---- phases other than content ---- */

static ngx_int_t status_of(int rc)
{
    switch (rc) {
    case 0:
        return NGX_OK;
    case -1:
        return NGX_DECLINED;
    case -2: /* DONE: the response is complete, no later phase runs */
        return NGX_HTTP_OK;
    }
    if (rc < 100 || rc > 999)
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return rc;
}

static ngx_array_t *phase_ids(ngx_http_request_t *r, int phase, int *run)
{
    ahn_loc_conf_t *l = ngx_http_get_module_loc_conf(r, ngx_http_anyhost_module);
    ngx_array_t *ids = l->ids[phase];
    ahn_ctx_t *x;
    if (ids && ids->nelts) {
        *run = 1;
        return ids;
    }
    *run = (go.site_phases & (1 << phase)) != 0;
    if (*run && go.loaded) {
        /* The site's phase: ask with the path alone whether it has
         * anything for it, unless Go already holds state for r (whose
         * handlers may have changed the path Go matches on). */
        x = ngx_http_get_module_ctx(r, ngx_http_anyhost_module);
        if (x == NULL || x->handle == 0)
            *run = go.plan(phase, (char *)r->uri.data, (long)r->uri.len, body_length(r));
    }
    return NULL;
}

/* run_phase is the phase handler for one anyhost phase: it starts the
 * phase's job, and when nginx re-enters it after the job ended, answers
 * the job's status. */
static ngx_int_t run_phase(ngx_http_request_t *r, int phase)
{
    ahn_ctx_t *x;
    ngx_array_t *ids;
    int run;
    ngx_int_t rc;

    if (r != r->main)
        return NGX_DECLINED;
    ids = phase_ids(r, phase, &run);
    if (!run)
        return NGX_DECLINED;
    if (!go.loaded) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "anyhost: the Go library is not loaded: %s", go.error);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    x = ahn_ctx(r);
    if (x == NULL)
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    if (x->finished && x->phase == phase) {
        x->finished = 0;
        x->phase = -1;
        return status_of((int)x->result);
    }
    rc = ahn_start(r, x, phase, ids, 0);
    if (rc != AHN_PENDING)
        return status_of((int)rc);
    ahn_suspend(r, x, phase);
    return NGX_AGAIN;
}

/* In nginx's generic phases NGX_OK skips the phase's other handlers
 * (realip, limit_req, limit_conn, try_files, mirror; ours run first, being
 * registered last): Go's OK only means "go on". */
static ngx_int_t generic(ngx_int_t rc) { return rc == NGX_OK ? NGX_DECLINED : rc; }
static ngx_int_t ahn_post_read(ngx_http_request_t *r) { return generic(run_phase(r, AHN_POST_READ_REQUEST)); }
static ngx_int_t ahn_header_parser(ngx_http_request_t *r) { return generic(run_phase(r, AHN_HEADER_PARSER)); }
static ngx_int_t ahn_fixup(ngx_http_request_t *r) { return generic(run_phase(r, AHN_FIXUP)); }

/* ACCESS runs access, authn and authz in turn (the site's all three in
 * one job, as core's pipeline runs them). */
static ngx_int_t ahn_access(ngx_http_request_t *r)
{
    static const int subs[] = {AHN_ACCESS, AHN_AUTHN, AHN_AUTHZ};
    ahn_loc_conf_t *l;
    ahn_ctx_t *x;
    ngx_int_t rc;
    int i, any = 0;

    if (r != r->main)
        return NGX_DECLINED;
    l = ngx_http_get_module_loc_conf(r, ngx_http_anyhost_module);
    for (i = 0; i < 3; i++)
        any = any || (l->ids[subs[i]] && l->ids[subs[i]]->nelts);
    if (!any)
        return run_phase(r, AHN_ACCESS);
    x = ahn_ctx(r);
    if (x == NULL)
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    for (i = x->sub; i < 3; i++) {
        if (!(l->ids[subs[i]] && l->ids[subs[i]]->nelts))
            continue;
        x->sub = i;
        rc = run_phase(r, subs[i]);
        if (rc == NGX_AGAIN)
            return NGX_AGAIN;
        if (rc == NGX_OK) {
            x->granted = 1;
        } else if (rc != NGX_DECLINED) {
            x->sub = 0;
            x->granted = 0;
            return rc;
        }
    }
    /* Under `satisfy any`, NGX_OK grants access: only when a handler did. */
    rc = x->granted ? NGX_OK : NGX_DECLINED;
    x->sub = 0;
    x->granted = 0;
    return rc;
}

static ngx_int_t ahn_log(ngx_http_request_t *r)
{
    ahn_ctx_t *x;
    ngx_array_t *ids;
    int run;
    if (r != r->main || !go.loaded)
        return NGX_OK;
    ids = phase_ids(r, AHN_LOG, &run);
    if (!run)
        return NGX_OK;
    x = ahn_ctx(r);
    if (x == NULL)
        return NGX_OK;
    /* The log handlers run on their own; nothing waits for them. */
    (void)ahn_start(r, x, AHN_LOG, ids, 0);
    return NGX_OK;
}

/* A phase job ended: resume the request's phases from the phase handler,
 * which answers the job's status. */
static void phase_done(ngx_http_request_t *r, ahn_ctx_t *x, int status)
{
    x->result = status;
    x->finished = 1;
    ahn_resume(r, x);
    r->write_event_handler(r);
}

/* ---- content ---- */

static void ahn_body_read(ngx_http_request_t *r);

static ngx_int_t ahn_content_handler(ngx_http_request_t *r)
{
    ngx_int_t rc;
    if (!go.loaded) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "anyhost: the Go library is not loaded: %s", go.error);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r != r->main)
        return NGX_HTTP_NOT_IMPLEMENTED; /* subrequests (SSI) are not served by Go */
    /* nginx reads the whole body (memory or temp file, client_max_body_size)
     * before the handler starts. */
    rc = ngx_http_read_client_request_body(r, ahn_body_read);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE)
        return rc;
    return NGX_DONE;
}

static void ahn_body_read(ngx_http_request_t *r)
{
    ahn_loc_conf_t *l = ngx_http_get_module_loc_conf(r, ngx_http_anyhost_module);
    ahn_ctx_t *x = ahn_ctx(r);
    ngx_array_t *ids = l->ids[AHN_CONTENT];
    ngx_int_t rc;

    if (x == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    rc = ahn_start(r, x, AHN_CONTENT, ids && ids->nelts ? ids : NULL, 1);
    if (rc != AHN_PENDING) {
        rc = status_of((int)rc);
        ngx_http_finalize_request(r, rc == NGX_DECLINED || rc == NGX_OK ? NGX_HTTP_NOT_FOUND : rc);
        return;
    }
    x->content = 1;
    x->ended = 0;
    x->head_sent = 0;
    ahn_suspend(r, x, AHN_CONTENT);
}

static void ahn_write_handler(ngx_http_request_t *r);

/* content_end finalizes r once the content job ended and its body went
 * to nginx. */
static void content_end(ngx_http_request_t *r, ahn_ctx_t *x, ngx_int_t rc)
{
    ahn_resume(r, x);
    x->content = 0;
    r->write_event_handler = ngx_http_request_empty_handler;
    x->phase = -1;
    x->finished = 0;
    if (x->redirect.len) {
        ngx_str_t uri = x->redirect, args = ngx_null_string;
        u_char *q = ngx_strlchr(uri.data, uri.data + uri.len, '?');
        if (q) {
            args.data = q + 1;
            args.len = uri.data + uri.len - q - 1;
            uri.len = q - uri.data;
        }
        ngx_uint_t flags = NGX_HTTP_LOG_UNSAFE;
        x->redirect.len = 0;
        /* The target is checked as X-Accel-Redirect's is: no "..", no
         * NUL, so a redirect cannot climb past a location's rules. */
        if (ngx_http_parse_unsafe_uri(r, &uri, &args, &flags) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "anyhost: unsafe local redirect target \"%V\"", &uri);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        /* As Apache's ap_internal_redirect_handler: a GET (a HEAD stays a
         * HEAD) without the body, handled afresh (Go's state for the
         * request starts over: no user, no notes). */
        if (r->method != NGX_HTTP_HEAD) {
            r->method = NGX_HTTP_GET;
            ngx_str_set(&r->method_name, "GET");
        }
        r->headers_in.content_length_n = 0;
        r->headers_in.content_length = NULL;
        r->headers_in.chunked = 0;
        r->request_body = NULL;
        x->user.len = 0;
        if (x->handle) {
            go.release(x->handle);
            x->handle = 0;
        }
        (void)ngx_http_internal_redirect(r, &uri, &args);
        ngx_http_finalize_request(r, NGX_DONE);
    } else {
        ngx_http_finalize_request(r, rc);
    }
}

/* send_head sends the response head the content job wrote. */
static ngx_int_t send_head(ngx_http_request_t *r, ahn_ctx_t *x, taken *t, int whole)
{
    ngx_chain_t *cl;
    off_t n = 0;
    x->head_sent = 1;
    /* Go handlers answer conditional requests themselves (as on Apache
     * and net/http): nginx must not turn their 200s into 304 or 412. */
    r->disable_not_modified = 1;
    if (whole && r->headers_out.content_length_n < 0) {
        for (cl = t->body; cl; cl = cl->next)
            n += ngx_buf_size(cl->buf);
        r->headers_out.content_length_n = n;
    }
    return ngx_http_send_header(r);
}

/* output passes a take's body to nginx's output filters (with the last
 * buffer once the job ended). 0: go on; 1: the client is slow, wait for
 * the write event; -1: the request is finished. */
static int output(ngx_http_request_t *r, ahn_ctx_t *x, taken *t, int flags)
{
    ngx_http_core_loc_conf_t *clcf;
    ngx_connection_t *c = r->connection;
    ngx_chain_t *cl;
    ngx_int_t rc;

    if (x->ended) {
        cl = ngx_chain_get_free_buf(r->pool, &x->free);
        if (cl == NULL) {
            content_end(r, x, NGX_ERROR);
            return -1;
        }
        ngx_memzero(cl->buf, sizeof(ngx_buf_t));
        cl->buf->last_buf = 1;
        cl->buf->tag = (ngx_buf_tag_t)&ngx_http_anyhost_module;
        cl->next = NULL;
        *t->last = cl;
        /* nginx's writer sends whatever the client has not taken yet. */
        content_end(r, x, ngx_http_output_filter(r, t->body));
        return -1;
    }
    if (flags & AHN_FLUSH) {
        for (cl = t->body; cl->next; cl = cl->next) {
        }
        cl->buf->flush = 1;
    }
    rc = ngx_http_output_filter(r, t->body);
    ngx_chain_update_chains(r->pool, &x->free, &x->busy, &t->body, (ngx_buf_tag_t)&ngx_http_anyhost_module);
    if (rc == NGX_ERROR) {
        go.cancel(x->handle);
        c->error = 1;
        return 0;
    }
    /* Only NGX_AGAIN means the socket is full (a write event follows).
     * Busy buffers after NGX_OK are a small tail nginx postpones
     * (postpone_output) until more comes: no event would wake a wait. */
    if (rc != NGX_AGAIN || !x->busy)
        return 0;
    /* The client is slow: Go holds the rest (its writer blocks past a
     * bound) until the socket drains. */
    x->stalled = 1;
    go.pause(x->handle);
    r->write_event_handler = ahn_write_handler;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    if (!c->write->delayed)
        ngx_add_timer(c->write, clcf->send_timeout);
    if (ngx_handle_write_event(c->write, clcf->send_lowat) != NGX_OK) {
        go.cancel(x->handle);
        c->error = 1;
    }
    return 1;
}

/* process applies one take of a running job to r. Returns 1 when the
 * caller should take again (Go said AHN_MORE), else 0. */
static int process(ngx_http_request_t *r, ahn_ctx_t *x, int st, int flags, long len)
{
    ngx_connection_t *c = r->connection;
    taken t = {NULL, NULL, 0};
    ngx_int_t rc;

    t.last = &t.body;
    if (apply(r, x, take_buf, len, &t) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0, "anyhost: a response record could not be applied");
        go.cancel(x->handle);
        c->error = 1;
    }
    if (t.head && !x->content) {
        /* A phase handler wrote the response: served as content, after
         * nginx discards the body no handler read (else its bytes would
         * be read as the next request on the connection). */
        x->content = 1;
        if (ngx_http_discard_request_body(r) != NGX_OK)
            c->error = 1;
    }
    if (!x->content) {
        if (flags & AHN_DONE) {
            phase_done(r, x, c->error ? NGX_HTTP_INTERNAL_SERVER_ERROR : st);
            return 0;
        }
        return (flags & AHN_MORE) != 0;
    }
    if (flags & AHN_DONE) {
        x->ended = 1;
        x->status = st;
    }
    if (!c->error && !x->head_sent && t.head) {
        rc = send_head(r, x, &t, x->ended);
        if (rc == NGX_ERROR || rc > NGX_OK) {
            go.cancel(x->handle);
            c->error = 1;
        }
    }
    if (x->head_sent && !c->error) {
        if (r->header_only)
            t.body = NULL; /* HEAD: Go's body is dropped */
        if (t.body || x->ended) {
            switch (output(r, x, &t, flags)) {
            case -1:
            case 1:
                return 0;
            }
        }
    }
    if (x->ended) {
        if (c->error) {
            content_end(r, x, NGX_ERROR);
        } else if (x->redirect.len) {
            content_end(r, x, NGX_DECLINED);
        } else {
            /* No response was written: the status (an error page). */
            rc = status_of(st);
            if (rc == NGX_OK)
                rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            if (rc == NGX_DECLINED)
                rc = NGX_HTTP_NOT_FOUND;
            content_end(r, x, rc);
        }
        return 0;
    }
    return (flags & AHN_MORE) != 0;
}

/* ahn_pump takes what the content job has ready until Go has nothing
 * more now, the client is slow, or the job ended. */
static void ahn_pump(ngx_http_request_t *r, ahn_ctx_t *x, int mode)
{
    int flags, st;
    long len;
    void *rp;
    do {
        flags = 0;
        len = 0;
        st = go.take(x->handle, mode, take_buf, sizeof take_buf, &len, &rp, &flags);
        mode = AHN_TAKE_READY;
    } while (process(r, x, st, flags, len) && x->running && !x->stalled);
}

static void ahn_write_handler(ngx_http_request_t *r)
{
    ahn_ctx_t *x = ahn_ctx(r);
    ngx_connection_t *c = r->connection;
    ngx_http_core_loc_conf_t *clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    ngx_int_t rc;

    if (x == NULL || !x->stalled)
        return;
    if (c->write->timedout) {
        c->timedout = 1;
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT, "client timed out");
        go.cancel(x->handle);
        c->error = 1;
    }
    if (!c->error) {
        ngx_chain_t *none = NULL;
        rc = ngx_http_output_filter(r, NULL);
        ngx_chain_update_chains(r->pool, &x->free, &x->busy, &none, (ngx_buf_tag_t)&ngx_http_anyhost_module);
        if (rc == NGX_ERROR) {
            go.cancel(x->handle);
            c->error = 1;
        } else if (rc == NGX_AGAIN && x->busy) {
            if (!c->write->delayed)
                ngx_add_timer(c->write, clcf->send_timeout);
            if (ngx_handle_write_event(c->write, clcf->send_lowat) == NGX_OK)
                return;
            go.cancel(x->handle);
            c->error = 1;
        }
    }
    if (c->write->timer_set)
        ngx_del_timer(c->write);
    x->stalled = 0;
    r->write_event_handler = ngx_http_request_empty_handler;
    /* Go's writer may be waiting: take the rest (after an error, only to
     * wait for the handler to return). */
    ahn_pump(r, x, AHN_TAKE_RESUME);
    ngx_http_run_posted_requests(c);
}

/* ---- the notify eventfd: Go says some handles are ready ---- */

static void deliver(uintptr_t h)
{
    void *rp = NULL;
    int flags = 0, st;
    long len = 0;
    ngx_http_request_t *r;
    ngx_connection_t *c;
    ahn_ctx_t *x;

    /* The take names the request: NULL once nginx released it, when only
     * log lines can be left (they go to the cycle's log). */
    st = go.take(h, AHN_TAKE_READY, take_buf, sizeof take_buf, &len, &rp, &flags);
    r = rp;
    if (r == NULL) {
        taken t = {NULL, NULL, 0};
        t.last = &t.body;
        (void)apply(NULL, NULL, take_buf, len, &t);
        return;
    }
    x = ahn_ctx(r);
    if (x == NULL || !x->running)
        return;
    c = r->connection;
    ngx_http_set_log_request(c->log, r);
    if (process(r, x, st, flags, len) && x->running && !x->stalled)
        ahn_pump(r, x, AHN_TAKE_READY);
    ngx_http_run_posted_requests(c);
}

static void ahn_notify_handler(ngx_event_t *ev)
{
    uintptr_t handles[64];
    uint64_t v;
    long n, i;
    (void)read(go.notify_fd, &v, sizeof v);
    do {
        n = go.ready(handles, 64);
        for (i = 0; i < n; i++)
            deliver(handles[i]);
    } while (n == 64);
}
