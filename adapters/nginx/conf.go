package nginx

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/anyhost/anyhost/adapters/fastcgi"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/secret"
)

// AuthLocation is the internal location auth_request calls.
const AuthLocation = "/.anyhost-auth"

// ConfOptions says what Conf writes.
type ConfOptions struct {
	// Site is the site the locations come from.
	Site *config.Site
	// FastCGI and Auth are where Host listens: "unix:/path" or "HOST:PORT",
	// exactly as given to Host.
	FastCGI, Auth string
	// ServerListen is the server's listen address. Default 127.0.0.1:8080.
	ServerListen string
	// Full writes a complete nginx.conf (for `nginx -p Prefix -c FILE`)
	// instead of upstreams and a server{} to include in http{}.
	Full bool
	// Prefix holds the full config's pid file, logs and temp directories.
	Prefix string
	// User the workers run as when nginx starts as root. Default www-data.
	User string
	// WorkerProcesses of a full config. Default 2.
	WorkerProcesses int
	// Mode is ModeFastCGI (default: `anyhost serve --adapter nginx` runs
	// beside nginx) or ModeModule (the Go library runs in nginx's workers).
	Mode string
	// LibDir, in module mode, is where `anyhost nginx build -o` put the
	// module and the library.
	LibDir string
	// DestDir, if set, is where LibDir is staged for now (a package
	// build's DESTDIR): the library is looked for under it, and the
	// configuration still names LibDir.
	DestDir string
	// SecretDir is the directory `anyhost secret new` wrote: its
	// SecretFile is included in every location, so both sockets see the
	// secret with each request and refuse requests without it (another
	// local process on a TCP socket). Empty: no secret; only the sockets'
	// permissions keep others out.
	SecretDir string
}

// AuthRecipe is the comment Conf writes above the auth location: how a
// location whose content nginx serves itself gets the auth phases of the
// site location it falls under.
const AuthRecipe = `# For content nginx serves itself (root, proxy_pass) under a site location
# with auth, run that location's auth phases through anyhost's auth endpoint:
#     location ^~ /private/files/ {
#         set $anyhost_location /private;   # the site location's path
#         auth_request ` + AuthLocation + `;
#         auth_request_set $anyhost_user $upstream_http_x_anyhost_user;
#         root /srv/www;
#     }
`

// SecretFile is the snippet in a secret directory that nginx includes in
// its locations (root-only, mode 0600; nginx reads it as root).
const SecretFile = "nginx-secret.conf"

// SecretSnippet is SecretFile's text for value: the FastCGI param for the
// responder and the header for the auth socket. Literal values, never an
// nginx variable, which SSI could echo.
func SecretSnippet(value string) string {
	return "# Written by `anyhost secret`: the secret nginx sends to `anyhost serve`. Keep it mode 0600, root.\n" +
		"fastcgi_param " + secret.Param + " " + value + ";\n" +
		"proxy_set_header " + secret.Header + " " + value + ";\n"
}

// Params are the FastCGI params every content location sends: our own list,
// not Debian's fastcgi_params, which passes the name the client typed into
// Basic auth as REMOTE_USER without verifying it. No identity is ever sent:
// the responder runs the auth phases itself.
var Params = [][2]string{
	{"REQUEST_METHOD", "$request_method"},
	{"REQUEST_URI", "$request_uri"},
	{"QUERY_STRING", "$query_string"},
	{"CONTENT_TYPE", "$content_type"},
	{"CONTENT_LENGTH", "$content_length"},
	{"SERVER_PROTOCOL", "$server_protocol"},
	{"REQUEST_SCHEME", "$scheme"},
	{"HTTPS", "$https if_not_empty"},
	{"REMOTE_ADDR", "$remote_addr"},
	{"REMOTE_PORT", "$remote_port"},
	{"SERVER_NAME", "$server_name"},
	{"SERVER_PORT", "$server_port"},
}

// Conf writes nginx configuration for o.Site: an upstream for the FastCGI
// responder and one for the auth endpoint (both keepalive), and a server{}
// with one location pair per site location (`location = /p` and
// `location ^~ /p/`, so prefixes match whole segments as on every host),
// and the internal auth location.
//
// Content is FastCGI everywhere, so the access, authn and authz phases run
// in the responder (Host sets fastcgi.Server.RunsAuth): one round trip, no
// subrequest, and every outcome passes through as on the other hosts (429,
// redirects, Done), where auth_request honours only 2xx, 401 and 403.
// Locations with auth phases turn request buffering off, so that a request
// the auth phases refuse is answered before nginx has read its body.
// auth_request (AuthLocation) is for content nginx serves itself (root,
// proxy_pass) under a site location with auth; see AuthRecipe.
func Conf(o ConfOptions) (string, error) {
	if o.Site == nil {
		return "", fmt.Errorf("nginx conf: no site")
	}
	switch o.Mode {
	case "", ModeFastCGI:
	case ModeModule:
		return confModule(o)
	default:
		return "", fmt.Errorf("nginx conf: --mode %q is not %s or %s", o.Mode, ModeFastCGI, ModeModule)
	}
	if o.FastCGI == "" || o.Auth == "" {
		return "", fmt.Errorf("nginx conf: the FastCGI and auth addresses are required")
	}
	for _, a := range []string{o.FastCGI, o.Auth} {
		if !safeWord(a) {
			return "", fmt.Errorf("nginx conf: address %q has characters nginx would misread", a)
		}
	}
	if o.ServerListen == "" {
		o.ServerListen = "127.0.0.1:8080"
	}
	if !safeWord(o.ServerListen) {
		return "", fmt.Errorf("nginx conf: listen address %q has characters nginx would misread", o.ServerListen)
	}
	locs, err := locations(o.Site)
	if err != nil {
		return "", err
	}
	limits := o.Site.Limits.WithDefaults()
	var include string
	if o.SecretDir != "" {
		include = filepath.Join(o.SecretDir, SecretFile)
		if !filepath.IsAbs(include) || !safeWord(include) {
			return "", fmt.Errorf("nginx conf: secret directory %q must be an absolute path of plain characters", o.SecretDir)
		}
	}
	anyAuth := false
	for _, l := range locs {
		anyAuth = anyAuth || l.auth
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	in, err := head(o, p, "")
	if err != nil {
		return "", err
	}
	// keepalive is the idle connections each worker keeps: fewer than the
	// requests a worker has in flight, and every burst opens and closes
	// connections (with 16, about 4%% of requests under wrk -c32 did).
	// keepalive_requests: nginx's default (1000) reconnected every
	// thousandth request. Our side keeps idle connections longer (the
	// site's IdleTimeout, 120s) than nginx (keepalive_timeout, 60s), so
	// nginx never reuses one we are closing.
	for _, up := range [][2]string{{"anyhost_fastcgi", o.FastCGI}, {"anyhost_auth", o.Auth}} {
		p(in+"upstream %s {", up[0])
		p(in+"    server %s;", up[1])
		p(in + "    keepalive 64;")
		p(in + "    keepalive_requests 10000;")
		p(in + "}")
	}
	p("")
	p(in + "server {")
	i2 := in + "    "
	p(i2+"listen %s;", o.ServerListen)
	serverLimits(p, i2, limits)
	p("")
	i3 := i2 + "    "
	for _, l := range locs {
		block := func(match string) {
			p(i2+"location %s {", match)
			p(i3 + "fastcgi_pass anyhost_fastcgi;")
			p(i3 + "fastcgi_keep_conn on;")
			if l.auth {
				// The responder may refuse before reading the body: a
				// buffered upload would be read whole (and spooled to
				// disk) before the 401.
				p(i3 + "fastcgi_request_buffering off;")
				// Not used here: it declares the variable the auth
				// location sends, which the admin's own locations set
				// (AuthRecipe). Never at server level: nginx runs that
				// again for the subrequest, which shares the variable.
				p(i3+"set $anyhost_location %s;", quote(l.prefix))
			}
			for _, kv := range Params {
				p(i3+"fastcgi_param %s %s;", kv[0], kv[1])
			}
			p(i3+"fastcgi_param %s %s;", fastcgi.ParamLocation, quote(l.prefix))
			if include != "" {
				p(i3+"include %s;", include)
			}
			p(i2 + "}")
		}
		if l.prefix == "/" {
			block("/")
			continue
		}
		block("= " + quote(l.prefix))
		block("^~ " + quote(l.prefix+"/"))
	}
	for _, line := range strings.Split(strings.TrimSuffix(AuthRecipe, "\n"), "\n") {
		p(i2+"%s", line)
	}
	p(i2+"location = %s {", AuthLocation)
	p(i3 + "internal;")
	p(i3 + "proxy_pass http://anyhost_auth;")
	p(i3 + "proxy_http_version 1.1;")
	p(i3 + `proxy_set_header Connection "";`)
	p(i3 + "proxy_pass_request_body off;")
	p(i3 + `proxy_set_header Content-Length "";`)
	p(i3 + "proxy_set_header Host $host;")
	// proxy_set_header replaces a client-sent header of the same name, so
	// these cannot be forged by the client.
	p(i3+"proxy_set_header %s $request_method;", HeaderMethod)
	p(i3+"proxy_set_header %s $request_uri;", "X-Original-URI")
	p(i3+"proxy_set_header %s $http_host;", HeaderHost)
	p(i3+"proxy_set_header %s $server_protocol;", HeaderProto)
	p(i3+"proxy_set_header %s $scheme;", HeaderScheme)
	p(i3+"proxy_set_header %s $remote_addr;", "X-Real-IP")
	p(i3+"proxy_set_header %s $remote_port;", HeaderPort)
	if anyAuth {
		p(i3+"proxy_set_header %s $anyhost_location;", HeaderLocation)
	}
	if include != "" {
		p(i3+"include %s;", include)
	}
	p(i2 + "}")
	p(in + "}")
	if o.Full {
		p("}")
	}
	return b.String(), nil
}

// head writes the start of the configuration: with o.Full the main
// context, events{} and the opening of http{} (the module's load_module
// line, extra, first); else a comment naming the command. It returns the
// indentation of what goes inside http{}.
func head(o ConfOptions, p func(string, ...any), extra string) (string, error) {
	command := "anyhost nginx conf"
	if o.Mode == ModeModule {
		command += " --mode module"
	}
	if !o.Full {
		p("# Generated by `%s` from %s. Include it in nginx's http{} block.", command, o.Site.File)
		return "", nil
	}
	if o.Prefix == "" {
		return "", fmt.Errorf("nginx conf: a full config needs a prefix directory")
	}
	if !safeWord(o.Prefix) {
		return "", fmt.Errorf("nginx conf: prefix %q has characters nginx would misread", o.Prefix)
	}
	user := o.User
	if user == "" {
		user = "www-data"
	}
	workers := o.WorkerProcesses
	if workers <= 0 {
		workers = 2
	}
	pre := strings.TrimSuffix(o.Prefix, "/")
	p("# Generated by `%s` from %s. Run: nginx -p %s -c nginx.conf", command, o.Site.File, pre)
	if extra != "" {
		p("%s", extra)
	}
	p("worker_processes %d;", workers)
	if os.Geteuid() == 0 {
		// Workers must not be root: this also makes the socket
		// permissions real.
		p("user %s;", user)
	}
	p("pid %s/nginx.pid;", pre)
	p("error_log %s/error.log notice;", pre)
	p("")
	p("events {\n    worker_connections 1024;\n}")
	p("")
	p("http {")
	in := "    "
	p(in + "include /etc/nginx/mime.types;")
	p(in + "default_type application/octet-stream;")
	if o.Mode == ModeModule {
		// $anyhost_user: the user Go authenticated ($remote_user is the
		// name in the Authorization header, checked or not).
		p(in + `log_format anyhost '$remote_addr - $anyhost_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';`)
		p(in+"access_log %s/access.log anyhost;", pre)
	} else {
		p(in+"access_log %s/access.log;", pre)
	}
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		p(in+"%s_temp_path %s/%s_temp;", t, pre, t)
	}
	p("")
	return in, nil
}

// serverLimits writes the site's limits as a server{}'s directives.
func serverLimits(p func(string, ...any), in string, limits core.Limits) {
	p(in+"client_max_body_size %d;", limits.MaxBody)
	// One request line or header must fit in one buffer; all together in
	// four: MaxHeader is the total, as on the other hosts.
	p(in+"large_client_header_buffers 4 %d;", max(limits.MaxHeader/4, 1024))
	p(in+"client_header_timeout %ds;", seconds(limits.ReadHeaderTimeout.Seconds()))
	p(in+"client_body_timeout %ds;", seconds(limits.ReadTimeout.Seconds()))
	p(in+"keepalive_timeout %ds;", seconds(limits.IdleTimeout.Seconds()))
	if limits.WriteTimeout > 0 {
		p(in+"send_timeout %ds;", seconds(limits.WriteTimeout.Seconds()))
	}
}

type loc struct {
	prefix string
	auth   bool
}

// locations lists the site's location prefixes (plus "/", which every site
// has) with whether the location runs an auth phase, its own or inherited
// from an enclosing location as core.NewSite inherits them.
func locations(s *config.Site) ([]loc, error) {
	own := map[string]bool{"/": false}
	for _, l := range s.Locations {
		key := strings.TrimSuffix(core.CleanPath(l.Path), "/")
		if key == "" {
			key = "/"
		}
		if key == AuthLocation || strings.HasPrefix(key, AuthLocation+"/") {
			return nil, fmt.Errorf("%s: location %q is reserved for the auth check", l.Pos, l.Path)
		}
		if strings.ContainsAny(key, "\"\\{};$\x00\r\n\t") {
			return nil, fmt.Errorf("%s: location %q has characters an nginx location cannot hold", l.Pos, l.Path)
		}
		own[key] = own[key] || l.Auth != nil || len(l.Handlers[core.Access]) > 0 ||
			len(l.Handlers[core.Authn]) > 0 || len(l.Handlers[core.Authz]) > 0
	}
	var out []loc
	for key := range own {
		auth := false
		for outer, a := range own {
			if a && (outer == "/" || outer == key || strings.HasPrefix(key, outer+"/")) {
				auth = true
			}
		}
		out = append(out, loc{key, auth})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].prefix < out[j].prefix })
	return out, nil
}

func seconds(s float64) int {
	if s < 1 {
		return 1
	}
	return int(s + 0.5)
}

// quote quotes an nginx location argument when it holds more than plain
// path characters.
func quote(p string) string {
	if safeWord(p) {
		return p
	}
	return `"` + p + `"`
}

func safeWord(s string) bool {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("/._~-:@[]+%,=", c):
		default:
			return false
		}
	}
	return s != ""
}
