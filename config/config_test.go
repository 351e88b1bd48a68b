package config_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"

	// Register the handlers and providers the site files name.
	_ "github.com/anyhost/anyhost/authn/htpasswd"
	"github.com/anyhost/anyhost/handlers/demo"
)

// goodFiles lists testdata/good/*.toml; the test fails if there are none.
func goodFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "good", "*.toml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func TestGoodFilesLoadAndBuild(t *testing.T) {
	for _, f := range goodFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := config.Load(f)
			require.NoError(t, err)
			require.NotEmpty(t, s.Locations)
			site, err := s.Build()
			require.NoError(t, err)
			require.NotNil(t, site)
			assert.Equal(t, s.Limits, site.Limits)
		})
	}
}

func TestCheckGoodFiles(t *testing.T) {
	for _, f := range goodFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			assert.NoError(t, config.Check(f))
		})
	}
}

func TestCheckBadFile(t *testing.T) {
	f := filepath.Join("testdata", "bad", "unknown-handler.toml")
	err := config.Check(f)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), f+":"), "error %q should start with %q", err, f+":")
	assert.True(t, strings.HasPrefix(err.Error(), f+":5: "), "error %q should name line 5", err)
	assert.Contains(t, err.Error(), `unknown handler "demo.nope"`)
}

func TestCheckMissingFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "nope.toml")
	err := config.Check(f)
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), f)
}

// ref is a HandlerRef without its position, for comparing structure.
type ref struct {
	Name    string
	Options map[string]string
}

func refs(rs []config.HandlerRef) []ref {
	var out []ref
	for _, r := range rs {
		out = append(out, ref{r.Name, r.Options})
	}
	return out
}

func lines(rs []config.HandlerRef) []int {
	var out []int
	for _, r := range rs {
		out = append(out, r.Pos.Line)
	}
	return out
}

func TestFullStructure(t *testing.T) {
	f := filepath.Join("testdata", "good", "full.toml")
	s, err := config.Load(f)
	require.NoError(t, err)

	assert.Equal(t, f, s.File)
	abs, err := filepath.Abs(filepath.Join("testdata", "good"))
	require.NoError(t, err)
	assert.Equal(t, abs, s.Dir)

	assert.Equal(t, core.Limits{
		MaxBody:           10 << 20,
		MaxHeader:         64 << 10,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       90 * time.Second,
		WriteTimeout:      45 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}, s.Limits)

	// Site-wide phases.
	assert.Equal(t, []ref{{"demo.record", map[string]string{"file": "phases.log"}}},
		refs(s.SiteHandlers[core.PostReadRequest]))
	assert.Equal(t, []ref{{"demo.status", map[string]string{"status": "declined"}}},
		refs(s.SiteHandlers[core.Translate]))
	assert.Equal(t, []int{12}, lines(s.SiteHandlers[core.PostReadRequest]))
	assert.Equal(t, []int{14}, lines(s.SiteHandlers[core.Translate]), "inline table on its own line of a multi-line array")
	for ph := core.HeaderParser; ph < core.NumPhases; ph++ {
		assert.Empty(t, s.SiteHandlers[ph], "site phase %s", ph)
	}

	require.Len(t, s.Locations, 4)
	var paths []string
	for _, l := range s.Locations {
		paths = append(paths, l.Path)
		assert.Equal(t, f, l.Pos.File)
		for _, ph := range []core.Phase{core.PostReadRequest, core.Translate} {
			assert.Empty(t, l.Handlers[ph], "location %s phase %s", l.Path, ph)
		}
	}
	assert.Equal(t, []string{"/", "/echo", "/private", "/status"}, paths)

	root := s.Locations[0]
	assert.Equal(t, 17, root.Pos.Line)
	assert.Equal(t, []ref{{"demo.hello", nil}}, refs(root.Handlers[core.Content]))
	assert.Equal(t, []int{19}, lines(root.Handlers[core.Content]))
	assert.Nil(t, root.Auth)

	echo := s.Locations[1]
	assert.Equal(t, 21, echo.Pos.Line)
	assert.Equal(t, []ref{{"demo.record", map[string]string{"file": "phases.log"}}}, refs(echo.Handlers[core.HeaderParser]))
	assert.Equal(t, []ref{{"demo.status", map[string]string{"status": "declined"}}}, refs(echo.Handlers[core.Access]))
	assert.Equal(t, []ref{{"demo.echo", nil}}, refs(echo.Handlers[core.Content]))
	assert.Equal(t, []ref{
		{"demo.hello", nil},
		{"demo.record", map[string]string{"file": "/var/log/phases.log"}},
	}, refs(echo.Handlers[core.Log]))
	assert.Equal(t, []int{23}, lines(echo.Handlers[core.HeaderParser]))
	assert.Equal(t, []int{24}, lines(echo.Handlers[core.Access]))
	assert.Equal(t, []int{25}, lines(echo.Handlers[core.Content]))
	assert.Equal(t, []int{27, 28}, lines(echo.Handlers[core.Log]))
	for _, ph := range []core.Phase{core.Authn, core.Authz, core.Fixup} {
		assert.Empty(t, echo.Handlers[ph], "phase %s", ph)
	}

	private := s.Locations[2]
	assert.Equal(t, 31, private.Pos.Line)
	assert.Equal(t, []ref{{"demo.private", nil}}, refs(private.Handlers[core.Content]))
	require.NotNil(t, private.Auth)
	a := private.Auth
	assert.Equal(t, "basic", a.Type, "type is case-insensitive and stored lower-case")
	assert.Equal(t, "anyhost test", a.Realm)
	assert.Equal(t, []ref{
		{"demo.users", nil},
		{"htpasswd", map[string]string{"file": "users.htpasswd"}},
	}, refs(a.Providers))
	assert.Equal(t, []int{39, 40}, lines(a.Providers))
	assert.Equal(t, []string{"valid-user", "user demo alice", "group admins", "claim scope=read"}, a.Require)
	assert.Equal(t, config.Pos{File: f, Line: 35}, a.Pos)

	status := s.Locations[3]
	assert.Equal(t, 44, status.Pos.Line)
	// Integers, booleans and floats are options like any other: strings.
	assert.Equal(t, []ref{{"demo.status", map[string]string{"status": "200", "write": "true"}}},
		refs(status.Handlers[core.Fixup]))
	assert.Equal(t, []ref{{"demo.status", map[string]string{"status": "204", "write": "2.5", "user": "bob"}}},
		refs(status.Handlers[core.Content]))
	assert.Equal(t, []ref{{"demo.status", map[string]string{"status": "declined", "write": "-7"}}},
		refs(status.Handlers[core.Authn]))
	assert.Equal(t, []int{46}, lines(status.Handlers[core.Fixup]))
	assert.Equal(t, []int{47}, lines(status.Handlers[core.Content]))
	assert.Equal(t, []int{48}, lines(status.Handlers[core.Authn]))

	site, err := s.Build()
	require.NoError(t, err)
	assert.Len(t, site.PostReadRequest, 1)
	assert.Len(t, site.Translate, 1)
	assert.Equal(t, s.Limits, site.Limits)
	byPrefix := map[string]*core.Location{}
	for _, l := range site.Locations() {
		byPrefix[l.Prefix] = l
	}
	require.Len(t, byPrefix, 4, "no extra / location: the file has one")
	p := byPrefix["/private"]
	require.NotNil(t, p)
	assert.Len(t, p.Handlers[core.Authn], 1, "auth adds the Basic authn handler")
	assert.Len(t, p.Handlers[core.Authz], 1, "auth adds the require authz handler")
	st := byPrefix["/status"]
	require.NotNil(t, st)
	assert.Len(t, st.Handlers[core.Authn], 1, "explicit authn handler, no auth table")
	assert.Nil(t, st.Handlers[core.Authz])
	e := byPrefix["/echo"]
	require.NotNil(t, e)
	assert.Len(t, e.Handlers[core.Log], 2)
}

func TestMinimalDefaults(t *testing.T) {
	s, err := config.Load(filepath.Join("testdata", "good", "minimal.toml"))
	require.NoError(t, err)
	assert.Equal(t, core.Limits{}.WithDefaults(), s.Limits)
	assert.Equal(t, core.Limits{
		MaxBody:           10 << 20,
		MaxHeader:         64 << 10,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}, s.Limits)
	for ph := range core.NumPhases {
		assert.Empty(t, s.SiteHandlers[ph])
	}
	require.Len(t, s.Locations, 1)
	l := s.Locations[0]
	assert.Equal(t, "/hello", l.Path)
	assert.Equal(t, 1, l.Pos.Line)
	assert.Equal(t, []ref{{"demo.hello", nil}}, refs(l.Handlers[core.Content]))
	assert.Equal(t, []int{3}, lines(l.Handlers[core.Content]))
	assert.Nil(t, l.Auth)
}

func TestLimitsInBytes(t *testing.T) {
	s, err := config.Load(filepath.Join("testdata", "good", "limits-bytes.toml"))
	require.NoError(t, err)
	assert.Equal(t, int64(1048576), s.Limits.MaxBody)
	assert.Equal(t, 8192, s.Limits.MaxHeader)
	assert.Equal(t, 10*time.Second, s.Limits.ReadHeaderTimeout, "default")
	assert.Equal(t, 60*time.Second, s.Limits.ReadTimeout, "default")
	assert.Equal(t, time.Duration(0), s.Limits.WriteTimeout, "default: none")
	assert.Equal(t, 120*time.Second, s.Limits.IdleTimeout, `"0s" means the default`)
}

func TestArrayTables(t *testing.T) {
	s, err := config.Load(filepath.Join("testdata", "good", "array-tables.toml"))
	require.NoError(t, err)
	require.Len(t, s.Locations, 2)
	a, b := s.Locations[0], s.Locations[1]
	assert.Equal(t, "/a", a.Path)
	assert.Equal(t, 3, a.Pos.Line)
	assert.Equal(t, []ref{
		{"demo.status", map[string]string{"status": "201", "write": "created"}},
		{"demo.echo", nil},
	}, refs(a.Handlers[core.Content]))
	assert.Equal(t, []int{6, 13}, lines(a.Handlers[core.Content]))

	assert.Equal(t, "/b", b.Path)
	assert.Equal(t, 16, b.Pos.Line)
	assert.Equal(t, []ref{{"demo.record", map[string]string{"file": "b.log"}}}, refs(b.Handlers[core.Log]))
	assert.Equal(t, []int{19}, lines(b.Handlers[core.Log]))
	require.NotNil(t, b.Auth)
	assert.Equal(t, 23, b.Auth.Pos.Line)
	assert.Equal(t, "b", b.Auth.Realm)
	assert.Equal(t, []ref{{"demo.users", nil}}, refs(b.Auth.Providers))
	assert.Equal(t, []int{26}, lines(b.Auth.Providers))
	assert.Equal(t, []string{"valid-user"}, b.Auth.Require, "default rule")
}

func TestDemoSite(t *testing.T) {
	s, err := config.Parse("site.toml", ".", demo.SiteTOML)
	require.NoError(t, err)
	assert.Equal(t, core.Limits{}.WithDefaults(), s.Limits)
	want := []struct {
		path    string
		line    int
		content string
	}{
		{"/hello", 3, "demo.hello"},
		{"/echo", 7, "demo.echo"},
		{"/private", 11, "demo.private"},
		{"/panic", 20, "demo.panic"},
		{"/", 25, "demo.index"},
	}
	require.Len(t, s.Locations, len(want))
	for i, w := range want {
		l := s.Locations[i]
		assert.Equal(t, w.path, l.Path)
		assert.Equal(t, config.Pos{File: "site.toml", Line: w.line}, l.Pos)
		assert.Equal(t, []ref{{w.content, nil}}, refs(l.Handlers[core.Content]))
		if w.path != "/private" {
			assert.Nil(t, l.Auth, w.path)
		}
	}
	a := s.Locations[2].Auth
	require.NotNil(t, a)
	assert.Equal(t, "basic", a.Type)
	assert.Equal(t, "anyhost demo", a.Realm)
	assert.Equal(t, []ref{{"demo.users", nil}}, refs(a.Providers))
	assert.Equal(t, []string{"valid-user"}, a.Require)
	assert.Equal(t, 15, a.Pos.Line)

	site, err := s.Build()
	require.NoError(t, err)
	var prefixes []string
	for _, l := range site.Locations() {
		prefixes = append(prefixes, l.Prefix)
	}
	assert.ElementsMatch(t, []string{"/hello", "/echo", "/private", "/panic", "/"}, prefixes)
}

// Option values of every scalar type reach handlers as strings.
func TestOptionValuesAreStrings(t *testing.T) {
	src := `[[location]]
path = "/a"
content = [{ handler = "x", options = { s = "text", i = 42, neg = -3, hex = 0x10, t = true, f = false, fl = 2.5, exp = 1e3, tiny = 1.5e-7, e = "" } }]
`
	s, err := config.Parse("opts.toml", ".", []byte(src))
	require.NoError(t, err)
	require.Len(t, s.Locations, 1)
	assert.Equal(t, []ref{{"x", map[string]string{
		"s": "text", "i": "42", "neg": "-3", "hex": "16", "t": "true", "f": "false",
		"fl": "2.5", "exp": "1000", "tiny": "1.5e-07", "e": "",
	}}}, refs(s.Locations[0].Handlers[core.Content]))
}

// An inline table of options with no entries gives an empty map; a bare name
// gives none.
func TestEmptyOptions(t *testing.T) {
	src := `[[location]]
path = "/a"
content = ["demo.hello", { handler = "demo.echo" }, { handler = "demo.echo", options = {} }]
`
	s, err := config.Parse("opts.toml", ".", []byte(src))
	require.NoError(t, err)
	got := s.Locations[0].Handlers[core.Content]
	require.Len(t, got, 3)
	assert.Nil(t, got[0].Options)
	assert.Nil(t, got[1].Options)
	assert.Empty(t, got[2].Options)
	_, err = s.Build()
	assert.NoError(t, err)
}

// Parse does not resolve secret references or check files: that is the
// handler's business at Build. Relative option paths resolve against Dir.
func TestParseDoesNotTouchOptionFiles(t *testing.T) {
	dir := t.TempDir()
	src := `[[location]]
path = "/p"
content = ["demo.private"]
auth = { realm = "r", providers = [{ name = "htpasswd", options = { file = "users" } }] }
`
	s, err := config.Parse("p.toml", dir, []byte(src))
	require.NoError(t, err, "a missing htpasswd file is not the loader's concern")
	_, err = s.Build()
	require.Error(t, err, "the provider opens the file at Build, relative to Dir")
	assert.True(t, strings.HasPrefix(err.Error(), "p.toml:4: "), "%v", err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "users"))

	data, err := os.ReadFile(filepath.Join("testdata", "good", "users.htpasswd"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users"), data, 0o644))
	_, err = s.Build()
	assert.NoError(t, err)
}

// TestLocationCacheOff: with [auth.cache] on the site, a location with
// cache = false asks the providers on every request, and the others still
// hit the cache.
func TestLocationCacheOff(t *testing.T) {
	dir := t.TempDir()
	src := `[auth.cache]
ttl = "5m"

[[location]]
path = "/cached"
content = ["demo.private"]
  [location.auth]
  realm = "r"
  providers = [{name = "demo.users", options = {record = "cached.log"}}]

[[location]]
path = "/fresh"
content = ["demo.private"]
  [location.auth]
  realm = "r"
  cache = false
  providers = [{name = "demo.users", options = {record = "fresh.log"}}]
`
	s, err := config.Parse("site.toml", dir, []byte(src))
	require.NoError(t, err)
	assert.False(t, s.Locations[0].Auth.NoCache)
	assert.True(t, s.Locations[1].Auth.NoCache)
	site, err := s.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = site.Close() })
	for _, path := range []string{"/cached", "/fresh"} {
		for range 3 {
			req := httptest.NewRequest("GET", path, nil)
			req.SetBasicAuth("demo", "demo")
			w := httptest.NewRecorder()
			site.ServeHTTP(w, req)
			require.Equal(t, 200, w.Code, path)
		}
	}
	checks := func(name string) int {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return strings.Count(string(b), "\n")
	}
	assert.Equal(t, 1, checks("cached.log"), "the cached location checks the password once")
	assert.Equal(t, 3, checks("fresh.log"), "cache = false checks it on every request")
}
