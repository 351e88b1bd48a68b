// Package config reads the site file: a TOML description of the locations,
// the handlers on each phase, authentication and limits. The loader only
// turns the file into a Site; Build makes the core.Site a host runs, and the
// Apache and nginx generators read the same Site.
//
// Every error names FILE:LINE and what is wrong.
package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/core"
)

// Site is a parsed site file.
type Site struct {
	// File is the file's name as given (used in error messages).
	File string
	// Dir is the directory relative paths in options resolve against.
	Dir string
	// Limits as written, defaults applied.
	Limits core.Limits
	// SiteHandlers holds the site-wide phases (post-read-request, translate).
	SiteHandlers [core.NumPhases][]HandlerRef
	// Locations in file order.
	Locations []Location
	// Auth holds the site-wide [auth] settings; nil when absent.
	Auth *AuthSettings
}

// AuthSettings is the [auth] table: what every location's Basic auth shares.
type AuthSettings struct {
	// TrustedProxies may set the client address by X-Forwarded-For.
	TrustedProxies basic.TrustedProxies
	// Store keeps the cache and throttle state; the zero value is "memory".
	Store HandlerRef
	// Cache is [auth.cache]; nil means no credential cache.
	Cache *CacheSettings
	// Throttle is [auth.throttle]; nil means no throttle.
	Throttle *ThrottleSettings
	Pos      Pos
}

// CacheSettings is [auth.cache].
type CacheSettings struct {
	TTL time.Duration
	// Secret is a file: or env: reference to the HMAC key; empty means a
	// random key per process (only valid with the memory store).
	Secret string
	Pos    Pos
}

// ThrottleSettings is [auth.throttle].
type ThrottleSettings struct {
	MaxUser, MaxClient int64
	Window, Delay      time.Duration
	Mode               basic.ThrottleMode
	FailOpen           bool
	Pos                Pos
}

// Location is one [[location]] table.
type Location struct {
	Path     string
	Handlers [core.NumPhases][]HandlerRef
	Auth     *Auth
	Pos      Pos
}

// Auth is a location's [location.auth] table.
type Auth struct {
	// Type is the scheme: "basic" (the default; providers are password
	// providers) or "bearer" (providers are token verifiers).
	Type string
	// Realm is the realm of the challenge.
	Realm string
	// Providers are the password providers or token verifiers, chained in
	// order.
	Providers []HandlerRef
	// Require rules; any one passing admits the user. Default valid-user.
	Require []string
	// NoCache (cache = false) checks every request's password with the
	// providers although the site has [auth.cache]: a location whose users
	// must be refused the moment their password changes.
	NoCache bool
	Pos     Pos
}

// HandlerRef names a registered handler or provider and its options.
type HandlerRef struct {
	Name    string
	Options map[string]string
	Pos     Pos
}

// Pos is a place in the site file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Error is a problem at a place in the site file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Load reads and parses the site file at path.
func Load(path string) (*Site, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	return Parse(path, dir, data)
}

// Parse parses a site file's contents; name is used in errors and dir
// resolves relative paths. All problems found are returned, joined.
func Parse(name, dir string, data []byte) (*Site, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			return nil, &Error{Pos{name, row}, "syntax error: " + de.Error()}
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &parser{file: name, lines: indexLines(data)}
	s := &Site{File: name, Dir: dir}
	p.site(s, doc)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return s, nil
}

type parser struct {
	file  string
	lines lines
	errs  []error
}

func (p *parser) pos(path string) Pos { return Pos{p.file, p.lines.at(path)} }

func (p *parser) errorf(path, format string, args ...any) {
	p.errs = append(p.errs, &Error{p.pos(path), fmt.Sprintf(format, args...)})
}

// known reports unknown keys of table t (at path) as errors.
func (p *parser) known(path string, t map[string]any, keys ...string) {
	var bad []string
	for k := range t {
		found := false
		for _, want := range keys {
			if k == want {
				found = true
			}
		}
		if !found {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	for _, k := range bad {
		p.errorf(join(path, k), "unknown key %q (known: %s)", k, strings.Join(keys, ", "))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var locationPhases = []string{"header-parser", "access", "authn", "authz", "fixup", "content", "log"}

func (p *parser) site(s *Site, doc map[string]any) {
	p.known("", doc, "limits", "site", "location", "auth")
	s.Limits = p.limits(doc["limits"])
	if v, ok := doc["auth"]; ok {
		s.Auth = p.authSettings(v)
	}
	if v, ok := doc["site"]; ok {
		t, ok := v.(map[string]any)
		if !ok {
			p.errorf("site", "site must be a table")
		} else {
			p.known("site", t, "post-read-request", "translate")
			for _, ph := range []core.Phase{core.PostReadRequest, core.Translate} {
				s.SiteHandlers[ph] = p.handlers(join("site", ph.String()), t[ph.String()])
			}
		}
	}
	locs, _ := doc["location"].([]any)
	if v, ok := doc["location"]; ok && locs == nil {
		p.errorf("location", "location must be an array of tables: [[location]]")
		_ = v
	}
	seen := map[string]string{}
	for i, v := range locs {
		path := fmt.Sprintf("location[%d]", i)
		t, ok := v.(map[string]any)
		if !ok {
			p.errorf(path, "each location must be a table")
			continue
		}
		keys := append([]string{"path", "auth"}, locationPhases...)
		for k := range t {
			if ph, err := core.ParsePhase(k); err == nil && ph.SiteOnly() {
				p.errorf(join(path, k), "phase %s runs before locations are matched: set it in [site], not in a location", k)
				delete(t, k)
			}
		}
		p.known(path, t, keys...)
		loc := Location{Pos: p.pos(path)}
		prefix, ok := t["path"].(string)
		_, present := t["path"]
		switch {
		case !ok && present:
			p.errorf(join(path, "path"), "location path must be a string like \"/prefix\"")
		case !ok:
			p.errorf(path, "location needs path = \"/prefix\"")
		case !strings.HasPrefix(prefix, "/"):
			p.errorf(join(path, "path"), "location path %q must start with /", prefix)
		default:
			key := strings.TrimSuffix(core.CleanPath(prefix), "/")
			if prev, dup := seen[key]; dup {
				p.errorf(join(path, "path"), "duplicate location %q (first at %s)", prefix, prev)
			}
			seen[key] = p.pos(join(path, "path")).String()
		}
		loc.Path = prefix
		for _, name := range locationPhases {
			ph, _ := core.ParsePhase(name)
			loc.Handlers[ph] = p.handlers(join(path, name), t[name])
		}
		if a, ok := t["auth"]; ok {
			loc.Auth = p.auth(join(path, "auth"), a)
		}
		s.Locations = append(s.Locations, loc)
	}
}

// handlers reads a phase's list: names, or {handler = "name", options = {}}.
func (p *parser) handlers(path string, v any) []HandlerRef {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		p.errorf(path, "%s must be a list of handlers", path[strings.LastIndexByte(path, '.')+1:])
		return nil
	}
	var refs []HandlerRef
	for i, e := range list {
		if ref, ok := p.ref(fmt.Sprintf("%s[%d]", path, i), e, "handler"); ok {
			refs = append(refs, ref)
		}
	}
	return refs
}

func (p *parser) ref(path string, v any, nameKey string) (HandlerRef, bool) {
	ref := HandlerRef{Pos: p.pos(path)}
	switch e := v.(type) {
	case string:
		ref.Name = e
	case map[string]any:
		p.known(path, e, nameKey, "options")
		ref.Name, _ = e[nameKey].(string)
		if ref.Name == "" {
			p.errorf(path, "%s name missing: {%s = \"name\", options = {...}}", nameKey, nameKey)
			return ref, false
		}
		if o, ok := e["options"]; ok {
			ref.Options = p.options(join(path, "options"), o)
		}
	default:
		p.errorf(path, "expected a %s name or {%s = \"name\", options = {...}}", nameKey, nameKey)
		return ref, false
	}
	return ref, true
}

func (p *parser) options(path string, v any) map[string]string {
	t, ok := v.(map[string]any)
	if !ok {
		p.errorf(path, "options must be a table")
		return nil
	}
	out := map[string]string{}
	for k, val := range t {
		switch x := val.(type) {
		case string:
			out[k] = x
		case int64:
			out[k] = strconv.FormatInt(x, 10)
		case float64:
			out[k] = strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(x)
		default:
			p.errorf(join(path, k), "option %s must be a string, number or boolean (options travel as strings on every host)", k)
		}
	}
	return out
}

func (p *parser) auth(path string, v any) *Auth {
	t, ok := v.(map[string]any)
	if !ok {
		p.errorf(path, "auth must be a table")
		return nil
	}
	p.known(path, t, "type", "realm", "providers", "require", "cache")
	a := &Auth{Type: "basic", Pos: p.pos(path)}
	if s, ok := t["type"].(string); ok {
		a.Type = strings.ToLower(s)
	}
	if a.Type != "basic" && a.Type != "bearer" {
		p.errorf(join(path, "type"), "unknown auth type %q (known: basic, bearer)", a.Type)
	}
	if v, set := t["cache"]; set {
		on, ok := v.(bool)
		switch {
		case !ok:
			p.errorf(join(path, "cache"), "cache must be true or false")
		case a.Type == "bearer":
			p.errorf(join(path, "cache"), "cache applies to Basic auth; bearer tokens are verified on every request")
		}
		a.NoCache = ok && !on
	}
	a.Realm, _ = t["realm"].(string)
	if a.Realm == "" {
		p.errorf(path, "auth needs realm = \"...\"")
	}
	list, _ := t["providers"].([]any)
	if len(list) == 0 {
		p.errorf(path, "auth needs providers = [\"name\", ...]")
	}
	for i, e := range list {
		if ref, ok := p.ref(fmt.Sprintf("%s.providers[%d]", path, i), e, "name"); ok {
			a.Providers = append(a.Providers, ref)
		}
	}
	rules, _ := t["require"].([]any)
	if _, set := t["require"]; set && rules == nil {
		p.errorf(join(path, "require"), "require must be a list of rules")
	}
	for i, r := range rules {
		s, _ := r.(string)
		if _, err := authn.ParseRequire(s); err != nil {
			p.errorf(fmt.Sprintf("%s.require[%d]", path, i), "%v", err)
			continue
		}
		a.Require = append(a.Require, s)
	}
	if len(a.Require) == 0 && len(rules) == 0 {
		a.Require = []string{"valid-user"}
	}
	return a
}

func (p *parser) authSettings(v any) *AuthSettings {
	t, ok := v.(map[string]any)
	if !ok {
		p.errorf("auth", "auth must be a table")
		return nil
	}
	p.known("auth", t, "trusted_proxies", "store", "cache", "throttle")
	pos := p.pos("auth")
	for _, sub := range []string{"auth.cache", "auth.throttle"} {
		if pos.Line == 0 {
			// Only [auth.cache] or [auth.throttle] written: point there.
			pos = p.pos(sub)
		}
	}
	a := &AuthSettings{Pos: pos, Store: HandlerRef{Name: "memory", Pos: pos}}
	if x, ok := t["trusted_proxies"]; ok {
		list, _ := x.([]any)
		var strs []string
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				list = nil
				break
			}
			strs = append(strs, s)
		}
		if list == nil {
			p.errorf("auth.trusted_proxies", "trusted_proxies must be a list of addresses or CIDR prefixes")
		} else if tp, err := basic.ParseTrustedProxies(strs); err != nil {
			p.errorf("auth.trusted_proxies", "%v", err)
		} else {
			a.TrustedProxies = tp
		}
	}
	if x, ok := t["store"]; ok {
		if ref, ok := p.ref("auth.store", x, "name"); ok {
			a.Store = ref
		}
	}
	if x, ok := t["cache"]; ok {
		a.Cache = p.cacheSettings(x)
	}
	if x, ok := t["throttle"]; ok {
		a.Throttle = p.throttleSettings(x)
	}
	return a
}

func (p *parser) cacheSettings(v any) *CacheSettings {
	const path = "auth.cache"
	t, ok := v.(map[string]any)
	if !ok {
		p.errorf(path, "cache must be a table")
		return nil
	}
	p.known(path, t, "ttl", "secret")
	c := &CacheSettings{TTL: 5 * time.Minute, Pos: p.pos(path)}
	if x, ok := t["ttl"]; ok {
		c.TTL = p.duration(join(path, "ttl"), x)
	}
	if x, ok := t["secret"]; ok {
		s, _ := x.(string)
		if !strings.HasPrefix(s, "file:") && !strings.HasPrefix(s, "env:") {
			p.errorf(join(path, "secret"), "secret must be a reference, file:PATH or env:NAME, never the key itself")
		}
		c.Secret = s
	}
	return c
}

func (p *parser) throttleSettings(v any) *ThrottleSettings {
	const path = "auth.throttle"
	t, ok := v.(map[string]any)
	if !ok {
		p.errorf(path, "throttle must be a table")
		return nil
	}
	p.known(path, t, "max_user_failures", "max_client_failures", "window", "mode", "delay", "on_store_error")
	th := &ThrottleSettings{MaxUser: 5, MaxClient: 20, Window: 15 * time.Minute, Delay: 2 * time.Second, Pos: p.pos(path)}
	for key, dst := range map[string]*int64{"max_user_failures": &th.MaxUser, "max_client_failures": &th.MaxClient} {
		if x, ok := t[key]; ok {
			n, ok := x.(int64)
			if !ok || n < 0 {
				p.errorf(join(path, key), "%s must be a number >= 0 (0 turns that count off)", key)
				continue
			}
			*dst = n
		}
	}
	if x, ok := t["window"]; ok {
		th.Window = p.duration(join(path, "window"), x)
	}
	if x, ok := t["delay"]; ok {
		th.Delay = p.duration(join(path, "delay"), x)
	}
	if x, ok := t["mode"]; ok {
		s, _ := x.(string)
		if i, isInt := x.(int64); isInt {
			s = strconv.FormatInt(i, 10)
		}
		m, err := basic.ParseThrottleMode(s)
		if err != nil || s == "" {
			p.errorf(join(path, "mode"), "mode must be \"429\", \"403\" or \"delay\"")
		}
		th.Mode = m
	}
	if x, ok := t["on_store_error"]; ok {
		switch x {
		case "closed":
		case "open":
			th.FailOpen = true
		default:
			p.errorf(join(path, "on_store_error"), "on_store_error must be \"closed\" (answer 503) or \"open\" (check passwords without throttling)")
		}
	}
	return th
}

// duration reads a positive duration like "30s".
func (p *parser) duration(path string, v any) time.Duration {
	s, _ := v.(string)
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		p.errorf(path, "%s must be a positive duration like \"30s\"", path[strings.LastIndexByte(path, '.')+1:])
		return 0
	}
	return d
}

func (p *parser) limits(v any) core.Limits {
	var l core.Limits
	if v == nil {
		return l.WithDefaults()
	}
	t, ok := v.(map[string]any)
	if !ok {
		p.errorf("limits", "limits must be a table")
		return l.WithDefaults()
	}
	p.known("limits", t, "max_body", "max_header", "read_header_timeout", "read_timeout", "write_timeout", "idle_timeout")
	if x, ok := t["max_body"]; ok {
		l.MaxBody = p.size("limits.max_body", x)
	}
	if x, ok := t["max_header"]; ok {
		l.MaxHeader = int(p.size("limits.max_header", x))
	}
	durs := map[string]*time.Duration{
		"read_header_timeout": &l.ReadHeaderTimeout, "read_timeout": &l.ReadTimeout,
		"write_timeout": &l.WriteTimeout, "idle_timeout": &l.IdleTimeout,
	}
	for k, dst := range durs {
		x, ok := t[k]
		if !ok {
			continue
		}
		s, _ := x.(string)
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			p.errorf("limits."+k, "%s must be a duration like \"30s\"", k)
			continue
		}
		*dst = d
	}
	return l.WithDefaults()
}

// size reads a byte count: an integer, or a string with a KiB/MiB/GiB unit.
func (p *parser) size(path string, v any) int64 {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case string:
		var err error
		n, err = ParseSize(x)
		if err != nil {
			p.errorf(path, "%v", err)
			return 0
		}
	default:
		p.errorf(path, "expected a size: bytes, or a string like \"10MiB\"")
		return 0
	}
	if n <= 0 {
		p.errorf(path, "size must be positive")
		return 0
	}
	return n
}

// ParseSize reads "123", "64KiB", "10MiB", "1GiB". Decimal-looking units
// (KB, MB, GB, and nginx's K, M, G) are refused with the binary spelling to
// use: "10MB" reads as 10,000,000 bytes to some and 10,485,760 to others,
// and a limit must mean one thing on every host.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	if mult == 1 {
		for _, u := range [...]string{"KB", "MB", "GB", "kB", "K", "M", "G", "k", "m", "g"} {
			if n, ok := strings.CutSuffix(t, u); ok && n != "" && strings.Trim(n, "0123456789 ") == "" {
				return 0, fmt.Errorf("%q is not a size: write %q (binary units only: KiB, MiB, GiB; %s could mean powers of 10)",
					s, strings.TrimSpace(n)+strings.ToUpper(u[:1])+"iB", u)
			}
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size: bytes, or a number with KiB, MiB or GiB", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size: too large", s)
	}
	return n * mult, nil
}
