/*
 * mod_anyhost: runs Go handlers inside Apache httpd 2.4, on every request
 * phase, as mod_python ran Python.
 *
 * This module is small and generic: it parses the Anyhost* directives,
 * numbers each configured (phase, handler, options) at config time, and, in
 * each child after fork, loads the Go library and passes it those numbers
 * per request. The parent never loads Go: a Go runtime does not survive
 * fork (see HOSTS.md). The calls crossing to Go are defined in
 * anyhost_bridge.h, the records they pass in anyhost_wire.h.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "util_script.h"
#include "ap_provider.h"
#include "mod_auth.h"
#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_hash.h"

#include "anyhost_bridge.h"
#include "anyhost_wire.h"

module AP_MODULE_DECLARE_DATA anyhost_module;

/* ---- config-time state: C only, rebuilt on every config pass ---- */

typedef struct {
    int id, kind, phase;
    const char *name;
    const char *location;     /* the <Location> path of a handler directive, or NULL */
    apr_array_header_t *opts; /* const char *: key, value, key, value ... */
} ah_spec;

static apr_array_header_t *specs;     /* ah_spec, from pconf */
static const char *library_path;      /* AnyhostLibrary */
static apr_hash_t *handler_names;     /* names the library registers */
static apr_hash_t *provider_names;
static int site_spec = -1;            /* AnyhostSite spec id */
static int dir_specs;                 /* handler specs outside [site] phases */
static int go_max_procs;              /* AnyhostGoMaxProcs */
static const char *relative_to;       /* AnyhostRelativeTo, default ServerRoot */

/* ---- child state: set once in child_init ---- */

static int yield_enabled; /* see yield_due */

static struct {
    int loaded;
    const char *error;
    int site_phases;
    ah_run_fn run;
    ah_check_password_fn check_password;
    ah_authz_fn authz;
    ah_release_fn release;
} go;

typedef struct {
    apr_array_header_t *phase[2]; /* post-read-request, translate: int ids */
} ah_server_conf;

typedef struct {
    apr_array_header_t *phase[AH_NUM_PHASES]; /* int spec ids; NULL = inherit */
    apr_array_header_t *opts;                 /* AnyhostOption pairs so far */
} ah_dir_conf;

/* Per request: the Go state handle, whether its cleanup is registered, and
 * the local redirect Go's content handler asked for (the 'R' op). */
typedef struct {
    uintptr_t state;
    int cleanup;
    const char *redirect;
} ah_req;

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    return apr_pcalloc(p, sizeof(ah_server_conf));
}

static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    ah_server_conf *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));
    int i;
    for (i = 0; i < 2; i++)
        c->phase[i] = add->phase[i] ? add->phase[i] : base->phase[i];
    return c;
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    return apr_pcalloc(p, sizeof(ah_dir_conf));
}

/* A section's handlers for a phase replace the enclosing ones; phases it
 * does not set are inherited: the same rule as the site file. */
static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    ah_dir_conf *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));
    int i;
    for (i = 0; i < AH_NUM_PHASES; i++)
        c->phase[i] = add->phase[i] ? add->phase[i] : base->phase[i];
    return c;
}

/* ---- directives ---- */

static const char *load_names(cmd_parms *cmd, const char *lib)
{
    const char *path = apr_pstrcat(cmd->temp_pool, lib, ".names", NULL);
    apr_file_t *f;
    char line[512];
    apr_status_t rv = apr_file_open(&f, path, APR_READ, 0, cmd->temp_pool);
    if (rv != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "AnyhostLibrary: cannot read %s, the list of names "
                            "written by `anyhost apache build` next to the library", path);
    handler_names = apr_hash_make(cmd->pool);
    provider_names = apr_hash_make(cmd->pool);
    while (apr_file_gets(line, sizeof line, f) == APR_SUCCESS) {
        char *name, *kind = apr_strtok(line, " \t\r\n", &name);
        name = name ? apr_strtok(name, " \t\r\n", &name) : NULL;
        if (!kind || !name)
            continue;
        if (!strcmp(kind, "handler"))
            apr_hash_set(handler_names, apr_pstrdup(cmd->pool, name), APR_HASH_KEY_STRING, "");
        else if (!strcmp(kind, "provider"))
            apr_hash_set(provider_names, apr_pstrdup(cmd->pool, name), APR_HASH_KEY_STRING, "");
    }
    apr_file_close(f);
    return NULL;
}

static const char *known_list(apr_pool_t *p, apr_hash_t *names)
{
    apr_hash_index_t *hi;
    const char *out = NULL;
    for (hi = apr_hash_first(p, names); hi; hi = apr_hash_next(hi)) {
        const void *k;
        apr_hash_this(hi, &k, NULL, NULL);
        out = out ? apr_pstrcat(p, out, " ", (const char *)k, NULL) : (const char *)k;
    }
    return out ? out : "(none)";
}

static const char *cmd_library(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err)
        return err;
    if (library_path)
        return "AnyhostLibrary may be given once";
    library_path = ap_server_root_relative(cmd->pool, arg);
    return load_names(cmd, library_path);
}

static const char *cmd_gomaxprocs(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err)
        return err;
    go_max_procs = atoi(arg);
    if (go_max_procs < 0)
        return "AnyhostGoMaxProcs must be 0 (Go's default) or more";
    return NULL;
}

static const char *cmd_relative_to(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err)
        return err;
    relative_to = ap_server_root_relative(cmd->pool, arg);
    return NULL;
}

static ah_spec *new_spec(apr_pool_t *p, int kind, int phase, const char *name)
{
    ah_spec *s = apr_array_push(specs);
    s->id = specs->nelts - 1;
    s->kind = kind;
    s->phase = phase;
    s->name = name;
    s->opts = apr_array_make(p, 4, sizeof(const char *));
    return s;
}

static void add_opt(ah_spec *s, const char *k, const char *v)
{
    *(const char **)apr_array_push(s->opts) = k;
    *(const char **)apr_array_push(s->opts) = v;
}

/* AnyhostXxxHandler NAME [KEY=VALUE ...]: the options are those of the
 * AnyhostOption lines above it in the same section, then its own. */
static const char *cmd_handler(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    int phase = (int)(intptr_t)cmd->info, i;
    apr_array_header_t **slot;
    ah_spec *s;
    if (!library_path)
        return apr_psprintf(cmd->pool, "%s: AnyhostLibrary must come first", cmd->cmd->name);
    if (argc < 1)
        return apr_psprintf(cmd->pool, "%s needs a handler name", cmd->cmd->name);
    if (!apr_hash_get(handler_names, argv[0], APR_HASH_KEY_STRING))
        return apr_psprintf(cmd->pool, "%s: unknown handler \"%s\" (%s registers: %s)",
                            cmd->cmd->name, argv[0], library_path, known_list(cmd->temp_pool, handler_names));
    s = new_spec(cmd->pool, AH_SPEC_HANDLER, phase, apr_pstrdup(cmd->pool, argv[0]));
    if (phase == AH_POST_READ_REQUEST || phase == AH_TRANSLATE) {
        const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
        ah_server_conf *sc = ap_get_module_config(cmd->server->module_config, &anyhost_module);
        if (err)
            return apr_pstrcat(cmd->pool, err, ": this phase runs before Apache matches "
                               "<Location>/<Directory>", NULL);
        slot = &sc->phase[phase];
    }
    else {
        ah_dir_conf *dc = mconfig;
        /* A handler that needs its location's path (CGI's SCRIPT_NAME)
         * gets it: cmd->path is the <Location>'s, a URL path. */
        if (cmd->path && cmd->directive && cmd->directive->parent &&
            !strcasecmp(cmd->directive->parent->directive, "<Location"))
            s->location = cmd->path;
        if (dc->opts)
            for (i = 0; i + 1 < dc->opts->nelts; i += 2)
                add_opt(s, APR_ARRAY_IDX(dc->opts, i, const char *), APR_ARRAY_IDX(dc->opts, i + 1, const char *));
        slot = &dc->phase[phase];
        dir_specs++;
    }
    for (i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i])
            return apr_psprintf(cmd->pool, "%s %s: option \"%s\" is not KEY=VALUE", cmd->cmd->name, argv[0], argv[i]);
        add_opt(s, apr_pstrndup(cmd->pool, argv[i], eq - argv[i]), apr_pstrdup(cmd->pool, eq + 1));
    }
    if (!*slot)
        *slot = apr_array_make(cmd->pool, 2, sizeof(int));
    *(int *)apr_array_push(*slot) = s->id;
    return NULL;
}

static const char *cmd_option(cmd_parms *cmd, void *mconfig, const char *k, const char *v)
{
    ah_dir_conf *dc = mconfig;
    if (!dc->opts)
        dc->opts = apr_array_make(cmd->pool, 4, sizeof(const char *));
    *(const char **)apr_array_push(dc->opts) = k;
    *(const char **)apr_array_push(dc->opts) = v;
    return NULL;
}

static const char *cmd_site(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err)
        return err;
    if (!library_path)
        return "AnyhostSite: AnyhostLibrary must come first";
    if (site_spec >= 0)
        return "AnyhostSite may be given once";
    site_spec = new_spec(cmd->pool, AH_SPEC_SITE, 0, ap_server_root_relative(cmd->pool, arg))->id;
    return NULL;
}

static const authn_provider ah_authn_provider;

/* AnyhostAuthnProvider NAME PROVIDER[?k=v&k=v] ...: registers an Apache
 * authn provider NAME, usable as `AuthBasicProvider NAME file`. */
static const char *cmd_authn_provider(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    ah_spec *s;
    int i;
    if (err)
        return err;
    if (!library_path)
        return "AnyhostAuthnProvider: AnyhostLibrary must come first";
    if (argc < 2)
        return "AnyhostAuthnProvider needs a name and at least one provider";
    if (ap_lookup_provider(AUTHN_PROVIDER_GROUP, argv[0], AUTHN_PROVIDER_VERSION))
        return apr_psprintf(cmd->pool, "AnyhostAuthnProvider: an authn provider named \"%s\" exists already", argv[0]);
    s = new_spec(cmd->pool, AH_SPEC_PROVIDER, AH_AUTHN, apr_pstrdup(cmd->pool, argv[0]));
    for (i = 1; i < argc; i++) {
        const char *q = strchr(argv[i], '?');
        const char *name = q ? apr_pstrndup(cmd->temp_pool, argv[i], q - argv[i]) : argv[i];
        if (!apr_hash_get(provider_names, name, APR_HASH_KEY_STRING))
            return apr_psprintf(cmd->pool, "AnyhostAuthnProvider %s: unknown provider \"%s\" (%s registers: %s)",
                                argv[0], name, library_path, known_list(cmd->temp_pool, provider_names));
        add_opt(s, "provider", apr_pstrdup(cmd->pool, argv[i]));
    }
    ap_register_auth_provider(cmd->pool, AUTHN_PROVIDER_GROUP, s->name, AUTHN_PROVIDER_VERSION,
                              &ah_authn_provider, AP_AUTH_INTERNAL_PER_CONF);
    return NULL;
}

#define HANDLER_CMD(name, phase, where, doc) \
    AP_INIT_TAKE_ARGV(name, cmd_handler, (void *)(intptr_t)(phase), where, doc)

static const command_rec ah_cmds[] = {
    AP_INIT_TAKE1("AnyhostLibrary", cmd_library, NULL, RSRC_CONF,
                  "the Go handler library built by `anyhost apache build`"),
    AP_INIT_TAKE1("AnyhostGoMaxProcs", cmd_gomaxprocs, NULL, RSRC_CONF,
                  "GOMAXPROCS for the Go runtime in each child (0: Go's default)"),
    AP_INIT_TAKE1("AnyhostRelativeTo", cmd_relative_to, NULL, RSRC_CONF,
                  "directory relative paths in handler and provider options resolve against (default ServerRoot)"),
    AP_INIT_TAKE1("AnyhostSite", cmd_site, NULL, RSRC_CONF,
                  "serve a whole anyhost site file (locations, handlers, auth) from Go"),
    AP_INIT_TAKE_ARGV("AnyhostAuthnProvider", cmd_authn_provider, NULL, RSRC_CONF,
                      "NAME PROVIDER... : an Apache authn provider backed by a chain of Go providers"),
    AP_INIT_TAKE2("AnyhostOption", cmd_option, NULL, OR_ALL,
                  "KEY VALUE for the Anyhost*Handler directives below it in this section"),
    HANDLER_CMD("AnyhostPostReadRequestHandler", AH_POST_READ_REQUEST, RSRC_CONF, "NAME [KEY=VALUE...]"),
    HANDLER_CMD("AnyhostTransHandler", AH_TRANSLATE, RSRC_CONF, "NAME [KEY=VALUE...]"),
    HANDLER_CMD("AnyhostHeaderParserHandler", AH_HEADER_PARSER, ACCESS_CONF | RSRC_CONF, "NAME [KEY=VALUE...]"),
    HANDLER_CMD("AnyhostAccessHandler", AH_ACCESS, ACCESS_CONF | RSRC_CONF, "NAME [KEY=VALUE...]"),
    HANDLER_CMD("AnyhostAuthnHandler", AH_AUTHN, ACCESS_CONF | RSRC_CONF, "NAME [KEY=VALUE...]"),
    HANDLER_CMD("AnyhostAuthzHandler", AH_AUTHZ, ACCESS_CONF | RSRC_CONF, "NAME [KEY=VALUE...]"),
    HANDLER_CMD("AnyhostFixupHandler", AH_FIXUP, ACCESS_CONF | RSRC_CONF, "NAME [KEY=VALUE...]"),
    HANDLER_CMD("AnyhostHandler", AH_CONTENT, ACCESS_CONF | RSRC_CONF, "NAME [KEY=VALUE...]"),
    HANDLER_CMD("AnyhostLogHandler", AH_LOG, ACCESS_CONF | RSRC_CONF, "NAME [KEY=VALUE...]"),
    {NULL}
};

/* ---- packing the request for Go ---- */

/* Records are packed by one function called twice: measuring, then
 * writing (anyhost_wire.h). */
static const char *pack_twice(apr_pool_t *pool, void (*pack)(ah_packer *, void *), void *arg, long *len)
{
    ah_packer w = {NULL, 0};
    pack(&w, arg);
    w.p = apr_palloc(pool, w.n ? w.n : 1);
    *len = (long)w.n;
    w.n = 0;
    pack(&w, arg);
    return w.p;
}

static void put_table(ah_packer *w, const apr_table_t *t)
{
    const apr_array_header_t *a = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    size_t count = w->n;
    apr_uint32_t n = 0;
    int i;
    ah_put_u32(w, 0);
    for (i = 0; i < a->nelts; i++) {
        if (!e[i].key)
            continue;
        ah_put_cstr(w, e[i].key);
        ah_put_cstr(w, e[i].val);
        n++;
    }
    ah_put_u32_at(w, count, n);
}

static int request_kind(request_rec *r)
{
    if (r->main)
        return 1;
    if (r->prev)
        return 2;
    return 0;
}

typedef struct {
    request_rec *r;
    const char *strs[11];
    apr_int64_t content_length;
} request_fields;

static void put_request(ah_packer *w, void *arg)
{
    request_fields *f = arg;
    request_rec *r = f->r;
    int i;
    ah_put_u32(w, request_kind(r));
    ah_put_u32(w, r->log ? r->log->level : r->server->log.level);
    ah_put_i64(w, f->content_length);
    for (i = 0; i < 11; i++)
        ah_put_cstr(w, f->strs[i]);
    put_table(w, r->headers_in);
    put_table(w, r->notes);
}

static const char *pack_request(request_rec *r, long *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    request_fields f;

    f.r = r;
    f.content_length = cl ? apr_atoi64(cl) : (te ? -1 : 0);
    f.strs[0] = r->method;
    f.strs[1] = r->unparsed_uri;
    f.strs[2] = r->uri;
    f.strs[3] = r->args;
    f.strs[4] = r->protocol;
    f.strs[5] = r->hostname ? apr_table_get(r->headers_in, "Host") : NULL;
    if (!f.strs[5])
        f.strs[5] = r->hostname;
    f.strs[6] = ap_http_scheme(r);
    /* "ip:port" made here, where the pool makes it cheap, so Go need not
     * allocate it for every request. */
    if (r->useragent_addr && r->useragent_addr->port)
        f.strs[7] = apr_psprintf(r->pool, strchr(r->useragent_ip, ':') ? "[%s]:%u" : "%s:%u",
                                 r->useragent_ip, (unsigned)r->useragent_addr->port);
    else
        f.strs[7] = r->useragent_ip;
    f.strs[8] = r->user;
    f.strs[9] = r->ap_auth_type;
    f.strs[10] = r->handler;
    return pack_twice(r->pool, put_request, &f, len);
}

/* ---- applying Go's response record ---- */

static ah_req *req_state(request_rec *r);

/* apply_record's outcomes besides 0. */
enum { APPLY_BROKEN = -1, APPLY_GONE = -2 };

/* apply_record applies Go's response record to r: 0; APPLY_BROKEN (logged)
 * for a record that is truncated or has an unknown op, which is a bug of
 * the bridge, never of the client; APPLY_GONE when writing the body failed
 * (the client went away). */
static int apply_record(request_rec *r, const char *rec, long len)
{
    const char *p = rec, *end = rec + len;
    ah_op o;
    int more;
    while ((more = ah_next_op(&p, end, &o)) > 0) {
        switch (o.op) {
        case 'S':
            r->status = atoi(apr_pstrndup(r->pool, o.v, o.vl));
            r->status_line = NULL;
            break;
        case 'U':
            r->user = apr_pstrndup(r->pool, o.v, o.vl);
            break;
        case 'T':
            r->ap_auth_type = apr_pstrndup(r->pool, o.v, o.vl);
            break;
        case 'H': {
            const char *key = apr_pstrndup(r->pool, o.k, o.kl);
            /* Apache sends Content-Type from r->content_type and computes
             * Content-Length itself. */
            if (!strcasecmp(key, "Content-Type"))
                ap_set_content_type(r, apr_pstrndup(r->pool, o.v, o.vl));
            else if (strcasecmp(key, "Content-Length"))
                apr_table_addn(r->headers_out, key, apr_pstrndup(r->pool, o.v, o.vl));
            break;
        }
        case 'h':
            apr_table_unset(r->headers_out, apr_pstrndup(r->pool, o.k, o.kl));
            break;
        case 'E':
            apr_table_addn(r->err_headers_out, apr_pstrndup(r->pool, o.k, o.kl), apr_pstrndup(r->pool, o.v, o.vl));
            break;
        case 'N':
            apr_table_set(r->notes, apr_pstrndup(r->pool, o.k, o.kl), apr_pstrndup(r->pool, o.v, o.vl));
            break;
        case 'V':
            apr_table_set(r->subprocess_env, apr_pstrndup(r->pool, o.k, o.kl), apr_pstrndup(r->pool, o.v, o.vl));
            break;
        case 'P':
            r->uri = apr_pstrndup(r->pool, o.v, o.vl);
            break;
        case 'R':
            /* Kept where only this module looks, never in r->notes, which
             * any handler or module can write. */
            req_state(r)->redirect = apr_pstrndup(r->pool, o.v, o.vl);
            break;
        case 'B':
            if (o.vl && ap_rwrite(o.v, (int)o.vl, r) < 0)
                return APPLY_GONE;
            break;
        default:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "bridge: unknown response op %d", o.op);
            return APPLY_BROKEN;
        }
    }
    if (more < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "bridge: truncated response record");
        return APPLY_BROKEN;
    }
    return 0;
}

/* ---- what Go calls back ---- */

static long host_read_body(void *rv, char *buf, long len)
{
    request_rec *r = rv;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    int tries;
    /* A blocking read returns data or the end; an empty brigade without
     * EOS is retried a few times rather than mistaken for the end. */
    for (tries = 0; tries < 16; tries++) {
        apr_size_t n = (apr_size_t)len;
        apr_bucket *b;
        int eos = 0;
        apr_status_t st = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, len);
        if (st != APR_SUCCESS) {
            int code = ap_map_http_request_error(st, HTTP_BAD_REQUEST);
            apr_brigade_destroy(bb);
            /* AP_FILTER_ERROR (-102) says a filter already answered, with
             * the status it set: negated it would read as 102 bytes. */
            if (code == AP_FILTER_ERROR)
                code = ap_is_HTTP_ERROR(r->status) ? r->status : HTTP_BAD_REQUEST;
            return -code;
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b))
            if (APR_BUCKET_IS_EOS(b))
                eos = 1;
        st = apr_brigade_flatten(bb, buf, &n);
        apr_brigade_cleanup(bb);
        if (st != APR_SUCCESS) {
            apr_brigade_destroy(bb);
            return -HTTP_BAD_REQUEST;
        }
        if (n > 0 || eos) {
            apr_brigade_destroy(bb);
            return (long)n;
        }
    }
    apr_brigade_destroy(bb);
    return -HTTP_BAD_REQUEST;
}

static int host_send(void *rv, const char *rec, long len, int flush)
{
    request_rec *r = rv;
    switch (apply_record(r, rec, len)) {
    case APPLY_BROKEN:
        return -2;
    case APPLY_GONE:
        return -1;
    }
    if (flush && ap_rflush(r) < 0)
        return -1;
    return 0;
}

static void host_log(void *rv, int level, const char *msg, long len)
{
    request_rec *r = rv;
    ap_log_rerror(APLOG_MARK, level, 0, r, "%.*s", (int)len, msg);
}

static void put_env(ah_packer *w, void *arg)
{
    put_table(w, ((request_rec *)arg)->subprocess_env);
}

static long host_env(void *rv, char **out)
{
    request_rec *r = rv;
    long len;
    ap_add_common_vars(r);
    ap_add_cgi_vars(r);
    *out = (char *)pack_twice(r->pool, put_env, r, &len);
    return len;
}

static const ah_host host_api = {
    ANYHOST_BRIDGE_VERSION, host_read_body, host_send, host_log, host_env
};

/* ---- loading Go in each child ---- */

static void put_specs(ah_packer *w, void *arg)
{
    int i, j;
    (void)arg;
    ah_put_cstr(w, relative_to ? relative_to : ap_server_root);
    ah_put_u32(w, specs->nelts);
    for (i = 0; i < specs->nelts; i++) {
        ah_spec *s = &APR_ARRAY_IDX(specs, i, ah_spec);
        ah_put_u32(w, s->id);
        ah_put_u32(w, s->kind);
        ah_put_u32(w, s->phase);
        ah_put_cstr(w, s->name);
        ah_put_cstr(w, s->location);
        ah_put_u32(w, s->opts->nelts / 2);
        for (j = 0; j < s->opts->nelts; j++)
            ah_put_cstr(w, APR_ARRAY_IDX(s->opts, j, const char *));
    }
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    sigset_t block, old;
    void *lib;
    ah_version_fn version;
    ah_init_fn init;
    char err[1024] = "";
    const char *spec_buf;
    long spec_len;
    int rc, threaded = 0;

    if (!library_path)
        return;
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) == APR_SUCCESS)
        yield_enabled = threaded == AP_MPMQ_NOT_SUPPORTED;
    /* Go's threads inherit this thread's signal mask: keep Apache's
     * TERM/HUP/USR1/WINCH for Apache, leave crash signals to Go. */
    sigfillset(&block);
    sigdelset(&block, SIGSEGV);
    sigdelset(&block, SIGBUS);
    sigdelset(&block, SIGFPE);
    sigdelset(&block, SIGILL);
    sigdelset(&block, SIGTRAP);
    sigdelset(&block, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    lib = dlopen(library_path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!lib) {
        go.error = apr_pstrdup(p, dlerror());
        goto done;
    }
    version = (ah_version_fn)dlsym(lib, "anyhost_bridge_version");
    init = (ah_init_fn)dlsym(lib, "anyhost_init");
    go.run = (ah_run_fn)dlsym(lib, "anyhost_run");
    go.check_password = (ah_check_password_fn)dlsym(lib, "anyhost_check_password");
    go.authz = (ah_authz_fn)dlsym(lib, "anyhost_authz");
    go.release = (ah_release_fn)dlsym(lib, "anyhost_release");
    if (!version || !init || !go.run || !go.check_password || !go.authz || !go.release) {
        go.error = apr_psprintf(p, "%s is not an anyhost library (missing exports)", library_path);
        goto done;
    }
    if (version() != ANYHOST_BRIDGE_VERSION) {
        go.error = apr_psprintf(p, "%s speaks bridge version %d, mod_anyhost %d: rebuild both with the same anyhost",
                                library_path, version(), ANYHOST_BRIDGE_VERSION);
        goto done;
    }
    spec_buf = pack_twice(p, put_specs, NULL, &spec_len);
    rc = init(&host_api, ANYHOST_BRIDGE_VERSION, spec_buf, spec_len, go_max_procs, &go.site_phases, err, sizeof err);
    if (rc < 0) {
        go.error = apr_pstrdup(p, err);
        goto done;
    }
    if (rc > 0)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "anyhost: %s: some handlers could not be built; "
                     "requests that reach them get 500: %s", library_path, err);
    go.loaded = 1;
done:
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!go.loaded)
        /* Never exit: Apache would respawn the child in a loop. Requests
         * that need Go get 500. */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "anyhost: cannot load %s: %s",
                     library_path, go.error);
}

/* ---- running phases ---- */

static apr_status_t release_state(void *data)
{
    ah_req *rq = data;
    if (rq->state && go.loaded) {
        go.release(rq->state);
        rq->state = 0;
    }
    return APR_SUCCESS;
}

static ah_req *req_state(request_rec *r)
{
    ah_req *rq = ap_get_module_config(r->request_config, &anyhost_module);
    if (!rq) {
        rq = apr_pcalloc(r->pool, sizeof(*rq));
        ap_set_module_config(r->request_config, &anyhost_module, rq);
    }
    return rq;
}

static void keep_state(request_rec *r, ah_req *rq)
{
    /* Go normally drops the state in its last phase; this covers requests
     * that another module ends early. */
    if (rq->state && !rq->cleanup) {
        apr_pool_cleanup_register(r->pool, rq, release_state, apr_pool_cleanup_null);
        rq->cleanup = 1;
    }
}

static int later_phases(request_rec *r, int phase)
{
    ah_dir_conf *dc = ap_get_module_config(r->per_dir_config, &anyhost_module);
    int p;
    if (site_spec >= 0)
        return (go.site_phases >> (phase + 1)) != 0;
    if (phase < AH_HEADER_PARSER && dir_specs > 0)
        return 1;
    for (p = phase + 1; p < AH_NUM_PHASES; p++)
        if (dc && dc->phase[p] && dc->phase[p]->nelts)
            return 1;
    return 0;
}

/*
 * Go's sysmon preempts a P whose scheduler tick has not moved for 10ms. A P
 * that only ever runs callbacks from one C thread never ticks, so after
 * 10ms sysmon takes it after every callback and then polls every 20us:
 * under prefork, where each child's single thread keeps its P, that was
 * two to three context switches per request (measured). Passing through
 * Go's scheduler once per 5ms moves the tick and lets sysmon sleep. Under
 * threaded MPMs the Ps move between threads anyway and the yields cost
 * more than they save (measured: 3.4 -> 6.8 switches per request), so
 * they are off there.
 *
 * Go 1.26, prefork (40 children, wrk -c32, /hello, CPU and switches per
 * request, static file 61-75 us and 1.03): every 5ms 166 us, 3.80; never
 * 158 us, 3.48; every 1ms 221 us, 5.81; GOMAXPROCS 1 with no yield 190 us,
 * 3.90, with 5ms 303 us, 8.88. Kept: never and 5ms are within noise of
 * each other, and 5ms bounds the worst case on older runtimes. What
 * remains is sysmon itself (perf sched_switch: 60% of the children's
 * switches are sysmon's usleep and its deep sleep, woken by each callback
 * that finds its P retaken), which no setting outside the runtime moves.
 */
static __thread apr_time_t last_yield;

static int yield_due(void)
{
    apr_time_t now;
    if (!yield_enabled)
        return 0;
    now = apr_time_now();
    if (now - last_yield < apr_time_from_msec(5))
        return 0;
    last_yield = now;
    return AH_YIELD;
}

static int run_phase(request_rec *r, int phase, const int *ids, int n)
{
    char out[16384];
    long outlen = 0, reqlen;
    const char *req;
    ah_req *rq;
    int rc;

    if (n == 0)
        return DECLINED;
    if (!go.loaded) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "anyhost: Go library not loaded (%s)",
                      go.error ? go.error : "no AnyhostLibrary");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rq = req_state(r);
    req = pack_request(r, &reqlen);
    rc = go.run(r, phase, ids, n, (later_phases(r, phase) ? 0 : AH_LAST) | yield_due(), req, reqlen, &rq->state,
                out, sizeof out, &outlen);
    keep_state(r, rq);
    if (outlen > 0 && apply_record(r, out, outlen) == APPLY_BROKEN) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "anyhost: the Go library's answer for phase %d could not be applied", phase);
        /* Once the body has started no status can be sent any more. */
        return r->sent_bodyct ? rc : HTTP_INTERNAL_SERVER_ERROR;
    }
    /* APPLY_GONE: the client went away; there is nothing more to send. */
    return rc;
}

static int run_ids(request_rec *r, int phase, apr_array_header_t *ids)
{
    if (!ids)
        return DECLINED;
    return run_phase(r, phase, (const int *)ids->elts, ids->nelts);
}

static int run_site(request_rec *r, int phase)
{
    /* Without the library the site's phases are unknown: run_phase answers
     * 500, never a silent 404 from a site that did not load. */
    if (go.loaded && !(go.site_phases & (1 << phase)))
        return DECLINED;
    return run_phase(r, phase, &site_spec, 1);
}

static ah_dir_conf *dir_conf(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &anyhost_module);
}

/* Apache merges repeated request headers into one: "Basic a, Basic b" is
 * two Authorization headers, since a token68 (Basic, Bearer) holds no comma.
 * Every host answers those 400, as nginx does, so the credentials the auth
 * phases check are the ones content sees (as core.Site.Serve and
 * host.RunAuthPhases do). */
static int duplicate_credentials(request_rec *r)
{
    const char *v = apr_table_get(r->headers_in, "Authorization");
    if (!v)
        return 0;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strncasecmp(v, "Basic ", 6) && strncasecmp(v, "Bearer ", 7))
        return 0;
    return strchr(v, ',') != NULL;
}

static int hook_post_read_request(request_rec *r)
{
    ah_server_conf *sc = ap_get_module_config(r->server->module_config, &anyhost_module);
    if (duplicate_credentials(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "request with more than one Authorization header refused");
        return HTTP_BAD_REQUEST;
    }
    if (site_spec >= 0)
        return run_site(r, AH_POST_READ_REQUEST);
    return run_ids(r, AH_POST_READ_REQUEST, sc->phase[AH_POST_READ_REQUEST]);
}

static int hook_translate_name(request_rec *r)
{
    ah_server_conf *sc = ap_get_module_config(r->server->module_config, &anyhost_module);
    if (site_spec >= 0)
        return run_site(r, AH_TRANSLATE);
    return run_ids(r, AH_TRANSLATE, sc->phase[AH_TRANSLATE]);
}

#define DIR_HOOK(fn, ph)                                   \
    static int fn(request_rec *r)                          \
    {                                                      \
        ah_dir_conf *dc = dir_conf(r);                     \
        if (site_spec >= 0)                                \
            return run_site(r, ph);                        \
        return run_ids(r, ph, dc ? dc->phase[ph] : NULL);  \
    }

DIR_HOOK(hook_header_parser, AH_HEADER_PARSER)
DIR_HOOK(hook_access, AH_ACCESS)
DIR_HOOK(hook_authn, AH_AUTHN)
DIR_HOOK(hook_authz, AH_AUTHZ)
DIR_HOOK(hook_fixups, AH_FIXUP)

static int run_handler(request_rec *r)
{
    ah_dir_conf *dc = dir_conf(r);
    /* Ours when SetHandler anyhost, or when a Go content handler is set
     * and no other handler was chosen: r->handler is then NULL, a MIME
     * type, or Apache's default handler name (""). */
    if (r->handler && strcmp(r->handler, "anyhost") && !AP_IS_DEFAULT_HANDLER_NAME(r->handler) &&
        !strchr(r->handler, '/'))
        return DECLINED;
    if (site_spec >= 0)
        return run_site(r, AH_CONTENT);
    if (!dc || !dc->phase[AH_CONTENT]) {
        if (r->handler && !strcmp(r->handler, "anyhost")) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SetHandler anyhost without an AnyhostHandler for %s", r->uri);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        return DECLINED;
    }
    return run_ids(r, AH_CONTENT, dc->phase[AH_CONTENT]);
}

/* A content handler that asked for a local redirect (Go's
 * Request.LocalRedirect, a CGI script's "Location: /path") is served the
 * new path as Apache's mod_cgi does it: a GET through every phase again. */
static int hook_handler(request_rec *r)
{
    int rc = run_handler(r);
    ah_req *rq = ap_get_module_config(r->request_config, &anyhost_module);
    const char *to;
    if (!rq || !rq->redirect)
        return rc;
    to = rq->redirect;
    rq->redirect = NULL;
    /* What the client still sends of its body is no part of the GET the
     * redirect becomes. */
    ap_discard_request_body(r);
    r->method = "GET";
    r->method_number = M_GET;
    apr_table_unset(r->headers_in, "Content-Length");
    apr_table_unset(r->headers_in, "Transfer-Encoding");
    ap_internal_redirect_handler(to, r);
    return OK;
}

static int hook_log(request_rec *r)
{
    ah_dir_conf *dc = dir_conf(r);
    /* DECLINED whatever Go answered: log_transaction is run-all, and any
     * other value would stop the modules logging after us (mod_log_config). */
    if (site_spec >= 0)
        run_site(r, AH_LOG);
    else
        run_ids(r, AH_LOG, dc ? dc->phase[AH_LOG] : NULL);
    return DECLINED;
}

/* ---- Apache auth providers ---- */

static authn_status check_password(request_rec *r, const char *user, const char *password)
{
    const char *name = apr_table_get(r->notes, AUTHN_PROVIDER_NAME_NOTE);
    ah_req *rq;
    const char *req;
    long reqlen;
    int i, rc;
    if (!go.loaded) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "anyhost: Go library not loaded (%s)", go.error ? go.error : "");
        return AUTH_GENERAL_ERROR;
    }
    for (i = 0; name && i < specs->nelts; i++) {
        ah_spec *s = &APR_ARRAY_IDX(specs, i, ah_spec);
        if (s->kind != AH_SPEC_PROVIDER || strcmp(s->name, name))
            continue;
        rq = req_state(r);
        req = pack_request(r, &reqlen);
        rc = go.check_password(r, s->id, user, strlen(user), password, strlen(password), req, reqlen, &rq->state);
        keep_state(r, rq);
        return (authn_status)rc;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "anyhost: no AnyhostAuthnProvider named %s", name ? name : "(none)");
    return AUTH_GENERAL_ERROR;
}

static const authn_provider ah_authn_provider = {check_password, NULL};

static authz_status check_authz(request_rec *r, const char *line, const void *parsed)
{
    ah_req *rq;
    const char *req;
    long reqlen;
    int rc;
    if (!go.loaded) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "anyhost: Go library not loaded (%s)", go.error ? go.error : "");
        return AUTHZ_GENERAL_ERROR;
    }
    if (!r->user)
        return AUTHZ_DENIED_NO_USER;
    rq = req_state(r);
    req = pack_request(r, &reqlen);
    rc = go.authz(r, line, strlen(line), req, reqlen, &rq->state);
    keep_state(r, rq);
    return (authz_status)rc;
}

static const char *parse_require(cmd_parms *cmd, const char *line, const void **parsed)
{
    const char *w = line;
    char *kind = ap_getword_conf(cmd->temp_pool, &w);
    if (strcmp(kind, "valid-user") && strcmp(kind, "user") && strcmp(kind, "group") && strcmp(kind, "claim"))
        return apr_psprintf(cmd->pool, "Require anyhost: unknown rule \"%s\" (valid-user, user, group, claim)", kind);
    if (strcmp(kind, "valid-user") && !*w)
        return apr_psprintf(cmd->pool, "Require anyhost %s needs at least one value", kind);
    return NULL;
}

static const authz_provider ah_authz_provider = {check_authz, parse_require};

/* ---- registration ---- */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    /* Apache reads its configuration twice at start-up and again on every
     * restart: start each pass from nothing. */
    specs = apr_array_make(pconf, 16, sizeof(ah_spec));
    library_path = NULL;
    handler_names = provider_names = NULL;
    site_spec = -1;
    dir_specs = 0;
    go_max_procs = 0;
    relative_to = NULL;
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(hook_post_read_request, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(hook_translate_name, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_header_parser(hook_header_parser, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_access(hook_access, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(hook_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authz(hook_authz, NULL, NULL, APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(hook_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(hook_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(hook_log, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "anyhost", AUTHZ_PROVIDER_VERSION,
                              &ah_authz_provider, AP_AUTH_INTERNAL_PER_CONF);
}

AP_DECLARE_MODULE(anyhost) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    merge_server_conf,
    ah_cmds,
    register_hooks
};
