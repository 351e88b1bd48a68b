package apache

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/adapters/fastcgi"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/secret"
)

// ConfOptions says what `anyhost apache conf` writes.
type ConfOptions struct {
	// LibDir holds mod_anyhost.so and anyhost-app.so (from Build).
	LibDir string
	// Site is the site to translate into directives.
	Site *config.Site
	// Full writes a complete httpd.conf instead of a fragment to Include.
	Full bool
	// Root is the ServerRoot of a full config: pid file, logs, runtime
	// files and htdocs go under it.
	Root string
	// Listen is the full config's address. Default 127.0.0.1:8081.
	Listen string
	// MPM is "event" (default) or "prefork".
	MPM string
	// ModulesDir holds Apache's modules. Default: `apxs -q LIBEXECDIR`, or
	// Debian's /usr/lib/apache2/modules.
	ModulesDir string
	// User and Group the children run as when Apache starts as root.
	// Default www-data.
	User, Group string
	// GoMaxProcs is AnyhostGoMaxProcs; 0 leaves Go's default.
	GoMaxProcs int
	// Mode is "inprocess" (default: mod_anyhost loads the Go library) or
	// "fastcgi" (daemon mode: `anyhost serve --adapter fastcgi` runs on
	// its own; Apache forwards content with mod_proxy_fcgi and checks
	// passwords through mod_authnz_fcgi).
	Mode string
	// FastCGI is the Go process's TCP address in fastcgi mode,
	// "127.0.0.1:PORT" (mod_authnz_fcgi speaks TCP only).
	FastCGI string
	// SecretDir, in fastcgi mode, is the directory `anyhost secret new`
	// wrote: its SecretFile is Included, and every request to the Go
	// process carries the secret, so that it believes the user Apache
	// authenticated. Empty: no secret; the Go side then believes no user
	// and checks passwords itself (the Authorization header goes to it).
	SecretDir string
}

// SecretFile is the file in a secret directory that Apache Includes inside
// the <Proxy> section of the Go side's FastCGI address (root-only, mode
// 0600; Apache reads it as root). It holds the whole directive with the
// value written out, never a Define: Apache expands ${NAME} in every
// .htaccess too, where any user with a public_html could echo it.
const SecretFile = "apache-secret.conf"

// SecretSnippet is SecretFile's text for value: mod_proxy_fcgi adds the
// param when it forwards a request to the <Proxy> it is included in, and
// only then, so no handler Apache runs itself (CGI, SSI, PHP, another
// FastCGI backend) sees it.
func SecretSnippet(value string) string {
	return "# Written by `anyhost secret`: the secret Apache sends to `anyhost serve`. Keep it mode 0600, root.\n" +
		`ProxyFCGISetEnvIf "true" ` + secret.Param + ` "` + value + `"` + "\n"
}

// The modes of ConfOptions.Mode.
const (
	ModeInProcess = "inprocess"
	ModeFastCGI   = "fastcgi"
)

// Conf writes Apache configuration for o.Site: LoadModule, AnyhostLibrary,
// one <Location> per site location with its Anyhost*Handler directives and,
// for auth, AuthType/AuthName/AuthBasicProvider/Require so that Apache runs
// its authn and authz phases.
func Conf(o ConfOptions) (string, error) {
	if a := o.Site.Auth; a != nil && (a.Cache != nil || a.Throttle != nil) && o.Mode != ModeFastCGI {
		// In-process, Apache calls the Go providers one by one
		// (AnyhostAuthnProvider); the site's cache and throttle live in the
		// Go pipeline, which only AnyhostSite runs in Apache.
		pos := a.Pos
		if a.Throttle != nil {
			pos = a.Throttle.Pos
		}
		if a.Cache != nil {
			pos = a.Cache.Pos
		}
		return "", fmt.Errorf("%s: [auth] cache and throttle run in the Go pipeline: serve this site in-process with `AnyhostSite %s`, or in daemon mode (--mode fastcgi), or drop them and use Apache's mod_authn_socache",
			pos, o.Site.File)
	}
	if err := checkWords(o.Site); err != nil {
		return "", err
	}
	switch o.Mode {
	case "", ModeInProcess:
	case ModeFastCGI:
		return confFastCGI(o)
	default:
		return "", fmt.Errorf("--mode: %q is not %s or %s", o.Mode, ModeInProcess, ModeFastCGI)
	}
	c, err := newConfText(o, "anyhost apache conf")
	if err != nil {
		return "", err
	}
	load, rest, err := inProcess(o, c.modulesDir)
	if err != nil {
		return "", err
	}
	c.p("")
	c.WriteString(load)
	c.WriteString(rest)
	return c.String(), nil
}

// inProcess writes the in-process configuration in its two parts: load,
// what must come before any Anyhost directive (LoadModule,
// AnyhostLibrary, the modules auth needs), and rest, the server-wide
// settings and the <Location> sections.
func inProcess(o ConfOptions, modulesDir string) (load, rest string, err error) {
	for _, l := range o.Site.Locations {
		if l.Auth != nil && l.Auth.Type == "bearer" {
			// In-process, Apache's directives carry Basic only: mod_auth_basic
			// asks the Go providers for a password. A bearer token needs the
			// Go pipeline's authn.
			return "", "", fmt.Errorf("%s: location %s: auth type bearer has no Apache directive form; serve this site in-process with `AnyhostSite %s` (the Go pipeline runs its auth phases in Apache's hooks), in daemon mode (--mode fastcgi), or behind nginx",
				l.Pos, l.Path, o.Site.File)
		}
	}
	if o.LibDir == "" {
		return "", "", fmt.Errorf("the library directory is required (--lib-dir, where `anyhost apache build -o` put it)")
	}
	lib, err := filepath.Abs(o.LibDir)
	if err != nil {
		return "", "", err
	}
	head := &confText{modulesDir: modulesDir}
	c := &confText{modulesDir: modulesDir}
	head.p("<IfModule !anyhost_module>\n    LoadModule anyhost_module %s\n</IfModule>", quote(filepath.Join(lib, ModuleFile)))
	auth := false
	for _, l := range o.Site.Locations {
		auth = auth || l.Auth != nil || len(l.Handlers[core.Authn]) > 0 || len(l.Handlers[core.Authz]) > 0
	}
	if auth {
		// Stock Debian enables these, but a minimal httpd.conf may not.
		head.load("authn_core_module", "mod_authn_core.so")
		head.load("authz_core_module", "mod_authz_core.so")
		head.load("authz_user_module", "mod_authz_user.so")
		head.load("auth_basic_module", "mod_auth_basic.so")
	}
	head.p("AnyhostLibrary %s", quote(filepath.Join(lib, LibraryFile)))
	p := c.p
	if o.Site.Dir != "" {
		p("AnyhostRelativeTo %s", quote(o.Site.Dir))
	}
	if o.GoMaxProcs > 0 {
		p("AnyhostGoMaxProcs %d", o.GoMaxProcs)
	}
	for _, ph := range []core.Phase{core.PostReadRequest, core.Translate} {
		for _, h := range o.Site.SiteHandlers[ph] {
			p("%s", handlerLine(ph, h))
		}
	}
	locs := append([]config.Location(nil), o.Site.Locations...)
	// Apache merges <Location> sections in file order, so enclosing
	// prefixes must come first for nested ones to override them.
	sort.SliceStable(locs, func(i, j int) bool { return len(locPrefix(locs[i])) < len(locPrefix(locs[j])) })
	used := map[string]bool{}
	for _, l := range locs {
		var provider string
		if l.Auth != nil {
			provider = providerName(l.Path, used)
			var refs []string
			for _, r := range l.Auth.Providers {
				refs = append(refs, quote(providerRef(r)))
			}
			p("AnyhostAuthnProvider %s %s", provider, strings.Join(refs, " "))
		}
		p("<Location %s>", quote(locPrefix(l)))
		// At / SetHandler would take every URL from the modules that
		// chose a handler for it (ScriptAlias's cgi-script, PHP): there
		// the Go content runs where no other handler was chosen, and a
		// handler's Declined gives the file (mod_anyhost's run_handler).
		if len(l.Handlers[core.Content]) > 0 && locPrefix(l) != "/" {
			p("    SetHandler anyhost")
		}
		for ph := core.HeaderParser; ph <= core.Log; ph++ {
			for _, h := range l.Handlers[ph] {
				p("    %s", handlerLine(ph, h))
			}
		}
		if l.Auth != nil {
			p("    AuthType Basic")
			p("    AuthName %s", quote(l.Auth.Realm))
			p("    AuthBasicProvider %s", provider)
			for _, r := range l.Auth.Require {
				p("    Require %s", requireLine(r))
			}
		} else if len(l.Handlers[core.Authn]) > 0 || len(l.Handlers[core.Authz]) > 0 {
			// Apache runs authn and authz only where a Require needs a user.
			p("    Require valid-user")
		}
		if o.Site.Limits.MaxBody > 0 {
			p("    LimitRequestBody %d", o.Site.Limits.MaxBody)
		}
		p("</Location>")
	}
	return head.String(), c.String(), nil
}

// confText is the configuration `apache conf` writes, begun the same way in
// both modes.
type confText struct {
	strings.Builder
	modulesDir string
}

// newConfText begins a configuration: with --full a complete httpd.conf,
// else a header naming the command that wrote the fragment.
func newConfText(o ConfOptions, command string) (*confText, error) {
	if o.ModulesDir == "" {
		o.ModulesDir = modulesDir()
	}
	c := &confText{modulesDir: o.ModulesDir}
	if o.Full {
		if err := full(&c.Builder, o); err != nil {
			return nil, err
		}
	} else {
		c.p("# Generated by `%s` from %s. Include it in httpd.conf.", command, o.Site.File)
	}
	return c, nil
}

func (c *confText) p(format string, args ...any) { fmt.Fprintf(c, format+"\n", args...) }

// load writes a LoadModule for a module the including httpd.conf may lack.
func (c *confText) load(name, file string) {
	c.p("<IfModule !%s>\n    LoadModule %s %s\n</IfModule>", name, name, quote(filepath.Join(c.modulesDir, file)))
}

func full(b *strings.Builder, o ConfOptions) error {
	if o.Root == "" {
		return fmt.Errorf("a full configuration needs --root DIR for its pid file, logs and runtime files")
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	// The root is ours to lay out: make it (and an empty DocumentRoot) so
	// the printed file starts as is.
	if err := os.MkdirAll(filepath.Join(root, "htdocs"), 0o755); err != nil {
		return err
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8081"
	}
	if o.MPM == "" {
		o.MPM = "event"
	}
	if o.MPM != "event" && o.MPM != "prefork" {
		return fmt.Errorf("--mpm: %q is not event or prefork", o.MPM)
	}
	if o.User == "" {
		o.User = "www-data"
	}
	if o.Group == "" {
		o.Group = "www-data"
	}
	l := o.Site.Limits.WithDefaults()
	mod := func(name, file string) string {
		return fmt.Sprintf("LoadModule %s %s", name, quote(filepath.Join(o.ModulesDir, file)))
	}
	mpm := mod("mpm_event_module", "mod_mpm_event.so")
	if o.MPM == "prefork" {
		mpm = mod("mpm_prefork_module", "mod_mpm_prefork.so")
	}
	fmt.Fprintf(b, `# Generated by `+"`anyhost apache conf --full`"+` from %s.
# Start: apache2 -f %s -DFOREGROUND
ServerRoot %s
Listen %s
ServerName %s
PidFile %s
ErrorLog %s
LogLevel warn
DefaultRuntimeDir %s
Mutex file:%s default
%s
%s
%s
%s
User %s
Group %s
TypesConfig /etc/mime.types
DocumentRoot %s
LogFormat "%%h %%l %%u %%t \"%%r\" %%>s %%b" common
CustomLog %s common
Timeout %d
KeepAlive On
KeepAliveTimeout %d
LimitRequestFieldSize %d
LimitRequestLine %d
`, o.Site.File, quote(filepath.Join(root, "httpd.conf")), quote(root), o.Listen, hostOf(o.Listen),
		quote(filepath.Join(root, "httpd.pid")), quote(filepath.Join(root, "error.log")), quote(root), root,
		mpm, mod("authz_core_module", "mod_authz_core.so"), mod("mime_module", "mod_mime.so"),
		mod("reqtimeout_module", "mod_reqtimeout.so"), o.User, o.Group, quote(filepath.Join(root, "htdocs")),
		quote(filepath.Join(root, "access.log")), int(l.ReadTimeout.Seconds()), int(l.IdleTimeout.Seconds()),
		headerLimit(o, l), headerLimit(o, l))
	// A client gets 5 s for its headers, then must keep sending 500 B/s
	// up to ReadHeaderTimeout; likewise the body. A slowloris trickling a
	// header line a second (200 of them starved the prefork children,
	// which serve one connection each) is cut off after 5 s.
	header, body := int(l.ReadHeaderTimeout.Seconds()), int(l.ReadTimeout.Seconds())
	fmt.Fprintf(b, "RequestReadTimeout header=%s,MinRate=500 body=%s,MinRate=500\n", timeoutRange(5, header), timeoutRange(20, body))
	if o.MPM == "prefork" {
		// A prefork child serves one connection at a time, and starting
		// one (with its Go runtime) takes from tens of ms to a second:
		// children kept ready absorb a burst of slow connections while
		// mod_reqtimeout cuts them off (Apache's default of 5 starved
		// real clients for over 10 s under 200 slow connections).
		fmt.Fprintf(b, "StartServers 20\nMinSpareServers 20\nMaxSpareServers 40\n")
	}
	return nil
}

// fcgiHeaderLimit is Apache's default LimitRequestLine and
// LimitRequestFieldSize. In daemon mode they must stay below what
// mod_authnz_fcgi and mod_proxy_fcgi carry in a param (about 16 KiB; a
// longer REQUEST_URI, Cookie or X-Forwarded-For is dropped with AH02499 /
// AH02536), so Apache refuses such a request (414, 400) instead of
// forwarding it without the variable.
const fcgiHeaderLimit = 8190

func headerLimit(o ConfOptions, l core.Limits) int {
	if o.Mode == ModeFastCGI {
		return min(l.MaxHeader, fcgiHeaderLimit)
	}
	return min(l.MaxHeader, 65536)
}

// timeoutRange is mod_reqtimeout's "first-max": first seconds, extended by
// MinRate up to max; just max when that is shorter.
func timeoutRange(first, max int) string {
	if max <= first {
		return strconv.Itoa(max)
	}
	return fmt.Sprintf("%d-%d", first, max)
}

func hostOf(listen string) string {
	if i := strings.LastIndexByte(listen, ':'); i > 0 {
		return listen[:i]
	}
	return "localhost"
}

func modulesDir() string {
	if out, err := exec.Command("apxs", "-q", "LIBEXECDIR").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			return d
		}
	}
	return "/usr/lib/apache2/modules"
}

var phaseDirective = map[core.Phase]string{
	core.PostReadRequest: "AnyhostPostReadRequestHandler", core.Translate: "AnyhostTransHandler",
	core.HeaderParser: "AnyhostHeaderParserHandler", core.Access: "AnyhostAccessHandler",
	core.Authn: "AnyhostAuthnHandler", core.Authz: "AnyhostAuthzHandler", core.Fixup: "AnyhostFixupHandler",
	core.Content: "AnyhostHandler", core.Log: "AnyhostLogHandler",
}

func handlerLine(ph core.Phase, h config.HandlerRef) string {
	parts := []string{phaseDirective[ph], quote(h.Name)}
	keys := make([]string, 0, len(h.Options))
	for k := range h.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, quote(k+"="+h.Options[k]))
	}
	return strings.Join(parts, " ")
}

// providerRef is "name" or "name?key=value&..." as AnyhostAuthnProvider takes it.
func providerRef(r config.HandlerRef) string {
	if len(r.Options) == 0 {
		return r.Name
	}
	keys := make([]string, 0, len(r.Options))
	for k := range r.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var q []string
	for _, k := range keys {
		q = append(q, urlEscape(k)+"="+urlEscape(r.Options[k]))
	}
	return r.Name + "?" + strings.Join(q, "&")
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/:", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

func providerName(path string, used map[string]bool) string {
	base := "anyhost_" + strings.Trim(nonWord.ReplaceAllString(strings.ToLower(path), "_"), "_")
	if base == "anyhost_" {
		base = "anyhost_root"
	}
	name := base
	for i := 2; used[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	used[name] = true
	return name
}

// requireLine maps a site require rule to Apache: users are Apache's own
// (mod_authz_user); groups and claims come from the Go providers.
func requireLine(rule string) string {
	f := strings.Fields(rule)
	switch f[0] {
	case "valid-user", "user":
		return strings.Join(f, " ")
	}
	return "anyhost " + strings.Join(f, " ")
}

// quote writes s as one Apache config argument.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// fcgiProvider is the mod_authnz_fcgi provider every auth location uses:
// the authorizer dispatches on the request's path, so one is enough.
const fcgiProvider = "anyhost_fcgi"

var fcgiAddr = regexp.MustCompile(`^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$`)

// confFastCGI writes the daemon-mode configuration: the Go process runs on
// its own (`anyhost serve --adapter fastcgi --listen o.FastCGI`), each
// site location with content is forwarded by mod_proxy_fcgi (ProxyPass in
// <Location>, so prefixes match whole segments as in-process), and
// locations with [location.auth] have mod_authnz_fcgi ask our Authorizer
// role at check_user_id with the whole request: it runs the location's
// access, authn (Basic or Bearer) and authz phases, and its refusals (401
// with the challenge, 403, 429, 503) reach the client as they are.
//
// Every <Location> names the site location it stands for
// (ANYHOST_LOCATION, set at header_parser, before check_user_id), and the
// Go side refuses a request whose path the site matches to another. With
// a secret (o.SecretDir), the user Apache authenticated reaches the
// responder as ANYHOST_USER / ANYHOST_AUTH_TYPE with ANYHOST_AUTH_DONE=1,
// so the password is checked once; without, the responder gets the
// credentials and checks them itself.
func confFastCGI(o ConfOptions) (string, error) {
	if o.FastCGI == "" {
		return "", fmt.Errorf("fastcgi mode needs --fastcgi HOST:PORT, the TCP address of `anyhost serve --adapter fastcgi`")
	}
	if !fcgiAddr.MatchString(o.FastCGI) {
		return "", fmt.Errorf("--fastcgi: %q is not HOST:PORT (mod_authnz_fcgi speaks TCP only)", o.FastCGI)
	}
	if port, _ := strconv.Atoi(o.FastCGI[strings.LastIndexByte(o.FastCGI, ':')+1:]); port < 1 || port > 65535 {
		return "", fmt.Errorf("--fastcgi: port of %q out of range", o.FastCGI)
	}
	url := "fcgi://" + o.FastCGI + "/"
	c, err := newConfText(o, "anyhost apache conf --mode fastcgi")
	if err != nil {
		return "", err
	}
	p, load := c.p, c.load
	p("# The Go side runs on its own: anyhost serve --adapter fastcgi --listen %s%s", o.FastCGI, secretFlag(o))
	p("")
	if !o.Full {
		p("# What mod_proxy_fcgi and mod_authnz_fcgi cannot carry (a request line or header over")
		p("# ~16 KiB) is refused here, not forwarded without it.")
		p("LimitRequestLine %d\nLimitRequestFieldSize %d", fcgiHeaderLimit, fcgiHeaderLimit)
	}
	load("proxy_module", "mod_proxy.so")
	load("proxy_fcgi_module", "mod_proxy_fcgi.so")
	load("setenvif_module", "mod_setenvif.so")
	load("alias_module", "mod_alias.so")
	auth, handlers := false, false
	for _, l := range o.Site.Locations {
		auth = auth || l.Auth != nil
		handlers = handlers || handlerAuth(l)
	}
	if auth || handlers {
		load("authn_core_module", "mod_authn_core.so")
		load("authz_core_module", "mod_authz_core.so")
	}
	withSecret := o.SecretDir != ""
	var secretInclude string
	if withSecret {
		dir, err := filepath.Abs(o.SecretDir)
		if err != nil {
			return "", err
		}
		secretInclude = filepath.Join(dir, SecretFile)
		// An ErrorDocument answering an error the Go side sent (with
		// ProxyErrorOverride) runs as an internal redirect, whose
		// environment keeps ours as REDIRECT_*: its post-read-request
		// (which redirects run) drops the secret, so a CGI script or SSI
		// page serving the error never sees it.
		p(`SetEnvIfExpr "true" !REDIRECT_%s`, secret.Param)
	}
	if auth {
		load("authnz_fcgi_module", "mod_authnz_fcgi.so")
		// authnz, asked at check_user_id: the authorizer gets the whole
		// request (Authorization included, through CGIPassAuth) and runs
		// access, authn and authz at once; whatever it refuses with (401
		// with its challenge, 403, 429, 503) goes to the client as is.
		// AuthBasicProvider mode would know only granted and denied, and
		// Basic only.
		p("AuthnzFcgiDefineProvider authnz %s %s", fcgiProvider, url)
	}
	// One worker for every location: its parameters go here, since a
	// ProxyPass sharing an existing worker ignores its own (AH01146).
	p("<Proxy %s>\n    ProxySet enablereuse=on", quote(url))
	if withSecret {
		// The secret goes with what is forwarded to this address only:
		// another FastCGI backend under the same <Location> (Debian's
		// php-fpm) is another <Proxy>.
		p("    Include %s", quote(secretInclude))
	}
	p("</Proxy>")
	if len(o.Site.SiteHandlers[core.PostReadRequest]) > 0 || len(o.Site.SiteHandlers[core.Translate]) > 0 {
		p("# Site-wide post-read-request and translate handlers run in the Go process for the")
		p("# requests forwarded to it, not for Apache's own.")
	}
	locs := append([]config.Location(nil), o.Site.Locations...)
	// Apache merges <Location> sections in file order, so enclosing
	// prefixes must come first for nested ones to override them.
	sort.SliceStable(locs, func(i, j int) bool { return len(locPrefix(locs[i])) < len(locPrefix(locs[j])) })
	for _, l := range locs {
		prefix := locPrefix(l)
		p("<Location %s>", quote(prefix))
		// Which site location this is, for the authorizer and the
		// responder (mod_setenvif in a <Location> runs at header_parser,
		// before check_user_id; the last one of nested sections wins).
		p(`    SetEnvIfExpr "true" %s`, quote(fastcgi.ParamLocation+"="+core.LocationPrefix(l.Path)))
		if len(l.Handlers[core.Content]) > 0 {
			p("    ProxyPass %s", quote(url))
		}
		// The Go side sees the Authorization header, as handlers do on
		// every host (auth handlers, a duplicate refused with 400);
		// where Apache authenticated, it is dropped again below.
		p("    CGIPassAuth On")
		switch {
		case l.Auth != nil:
			// Not Basic: mod_auth_basic stays out, and the Go side reads
			// the Authorization header itself (Basic or Bearer).
			p("    AuthType anyhost")
			p("    AuthName %s", quote(l.Auth.Realm))
			p(`    AuthnzFcgiCheckAuthnProvider %s Authoritative On RequireBasicAuth Off UserExpr "%%{reqenv:REMOTE_USER}"`, fcgiProvider)
			// The authorizer ran the site's require rules already. It
			// gets no secret: mod_authnz_fcgi sends only the request's
			// environment, which every handler Apache runs for the
			// location (CGI, SSI, PHP) would see too, and a peer asking
			// the Authorizer role itself learns no more than a login
			// attempt tells it.
			p("    Require %s", fcgiProvider)
		case handlerAuth(l):
			// Auth handlers without [location.auth] check what they
			// like (tokens, headers): they run in the responder. Apache
			// knows no user here.
			p("    Require all granted")
		}
		// ProxyFCGISetEnvIf lines of enclosing <Location>s run first and
		// these last, so every location says all three params.
		if withSecret && authorizerRuns(locs, prefix) {
			// mod_authnz_fcgi ran this location's access, authn and
			// authz phases in our Authorizer role (for a nested
			// location, with the enclosing one's Require, as core
			// inherits its handlers): the responder takes the user from
			// here and does not check the password again, so it gets
			// no credentials. mod_proxy_fcgi's own
			// REMOTE_USER is dropped by the responder (nginx's stock
			// params forge it), hence ANYHOST_USER.
			// ANYHOST_AUTH_DONE is the authorizer's own word
			// (Variable-ANYHOST_AUTH_DONE in its grant), never a
			// constant: where another Require (Require ip ...) replaced
			// ours, the authorizer did not run and the responder does.
			p(`    ProxyFCGISetEnvIf "true" ANYHOST_USER "%%{REMOTE_USER}"`)
			p(`    ProxyFCGISetEnvIf "true" ANYHOST_AUTH_TYPE "%%{reqenv:ANYHOST_AUTH_TYPE}"`)
			p(`    ProxyFCGISetEnvIf "true" %s "%%{reqenv:%s}"`, fastcgi.ParamAuthDone, fastcgi.ParamAuthDone)
			// CGIPassAuth lets the credentials reach the authorizer; they
			// stay out of the responder, which trusts the user above,
			// unless the authorizer did not run and the responder checks.
			p(`    ProxyFCGISetEnvIf "-n %%{reqenv:%s}" !HTTP_AUTHORIZATION`, fastcgi.ParamAuthDone)
		} else {
			// Without the secret the responder believes no user: it runs
			// the auth phases itself, with the credentials.
			p(`    ProxyFCGISetEnvIf "true" !ANYHOST_USER`)
			p(`    ProxyFCGISetEnvIf "true" !ANYHOST_AUTH_TYPE`)
			p(`    ProxyFCGISetEnvIf "true" !%s`, fastcgi.ParamAuthDone)
		}
		// The Go side's limit, default included. Apache (2.4.71) does not
		// apply LimitRequestBody to requests mod_proxy forwards: it sent
		// 100 Continue and read a body past the limit before the Go side
		// answered 413. A declared length past it is refused here, before
		// any body is asked for; a chunked one is cut off by the Go side.
		maxBody := o.Site.Limits.WithDefaults().MaxBody
		p("    LimitRequestBody %d", maxBody)
		p(`    <If "%%{HTTP:Content-Length} -gt %d">`, maxBody)
		p("        Redirect 413")
		p("    </If>")
		p("</Location>")
	}
	return c.String(), nil
}

func secretFlag(o ConfOptions) string {
	if o.SecretDir == "" {
		return ""
	}
	return " --secret file:" + filepath.Join(o.SecretDir, secret.File)
}

// locPrefix is the <Location> for l: its prefix as the site matches it
// (core.LocationPrefix), so Apache and the Go side name the same thing.
func locPrefix(l config.Location) string { return core.LocationPrefix(l.Path) }

// checkWords refuses what would not reach Apache as written: a location
// path Apache would read as a wildcard (<Location> takes * ? [ ]) or that
// SetEnvIfExpr would expand ($1), and any control character (a newline in
// a path or an option value would start a directive of its own).
func checkWords(s *config.Site) error {
	ctl := func(v string) bool {
		return strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
	}
	check := func(refs []config.HandlerRef) error {
		for _, h := range refs {
			for k, v := range h.Options {
				if ctl(k) || ctl(v) {
					return fmt.Errorf("%s: %s: option %q has a control character Apache's configuration cannot hold", h.Pos, h.Name, k)
				}
			}
		}
		return nil
	}
	for _, hs := range s.SiteHandlers {
		if err := check(hs); err != nil {
			return err
		}
	}
	for _, l := range s.Locations {
		if ctl(l.Path) || strings.ContainsAny(l.Path, "*?[]$%\"\\") {
			return fmt.Errorf("%s: location %q has characters an Apache <Location> cannot hold as written (wildcards, $, %%, quotes, control characters)", l.Pos, l.Path)
		}
		for _, hs := range l.Handlers {
			if err := check(hs); err != nil {
				return err
			}
		}
		if l.Auth != nil {
			if err := check(l.Auth.Providers); err != nil {
				return err
			}
			if ctl(l.Auth.Realm) {
				return fmt.Errorf("%s: location %s: the realm has a control character", l.Pos, l.Path)
			}
		}
	}
	return nil
}

// handlerAuth reports whether l has auth handlers of its own without
// [location.auth]: those run in the responder.
func handlerAuth(l config.Location) bool {
	return l.Auth == nil && (len(l.Handlers[core.Authn]) > 0 || len(l.Handlers[core.Authz]) > 0)
}

// authorizerRuns reports whether Apache runs mod_authnz_fcgi for requests
// under prefix: the nearest <Location> at or around it (Apache 2.4 matches
// <Location> prefixes on whole segments, as core does) that sets Require
// is one with [location.auth], not one with Require all granted.
func authorizerRuns(locs []config.Location, prefix string) bool {
	best, runs := -1, false
	for _, l := range locs {
		p := locPrefix(l)
		if !(p == "/" || p == prefix || strings.HasPrefix(prefix, p+"/")) || len(p) <= best {
			continue
		}
		if l.Auth != nil || handlerAuth(l) {
			best, runs = len(p), l.Auth != nil
		}
	}
	return runs
}
