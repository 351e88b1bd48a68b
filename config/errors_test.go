package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/config"
)

// want is one expected error: its line, and text its message must contain.
// "FILE" in msg stands for the site file's path.
type want struct {
	line int
	msg  string
}

// Each snippet starts on line 1 right after the backquote, so the line
// numbers below are those of the snippet as written.
var badCases = []struct {
	name string
	src  string
	want []want
}{
	// Syntax.
	{"syntax: missing =", `# a comment
[[location]]
path "/a"
content = ["demo.hello"]
`, []want{{3, "syntax error"}}},
	{"syntax: unterminated string", `[[location]]
path = "/a"

content = ["demo.hello]
`, []want{{4, "syntax error"}}},
	{"syntax: key defined twice", `[[location]]
path = "/a"
content = ["demo.hello"]
path = "/b"
`, []want{{4, "syntax error"}}},

	// Unknown keys.
	{"unknown top-level key", `# site
listen = ":8080"

[[location]]
path = "/a"
content = ["demo.hello"]
`, []want{{2, `unknown key "listen"`}}},
	{"unknown top-level table", `[[location]]
path = "/a"
content = ["demo.hello"]

[server]
port = 80
`, []want{{5, `unknown key "server"`}}},
	{"unknown key in site", `[site]
translate = ["demo.hello"]
content = ["demo.hello"]
`, []want{{3, `unknown key "content"`}}},
	{"unknown key in limits", `[limits]
max_body = "1MiB"
max_bodysize = 5
`, []want{{3, `unknown key "max_bodysize"`}}},
	{"unknown key in location", `[[location]]
path = "/a"
content = ["demo.hello"]

[[location]]
path = "/b"
handlers = ["demo.hello"]
`, []want{{7, `unknown key "handlers"`}}},
	{"unknown key in auth", `[[location]]
path = "/p"
content = ["demo.private"]

  [location.auth]
  realm = "r"
  providers = ["demo.users"]
  users = ["demo"]
`, []want{{8, `unknown key "users"`}}},
	{"unknown key in inline auth", `[[location]]
path = "/p"
content = ["demo.private"]
auth = { realm = "r", providers = ["demo.users"], user = "demo" }
`, []want{{4, `unknown key "user"`}}},
	{"unknown key in handler table", `[[location]]
path = "/a"
content = [
  { handler = "demo.hello", option = { a = 1 } },
]
`, []want{{4, `unknown key "option"`}}},

	// Unknown handlers and providers: the line of the list element.
	{"unknown handler", `[[location]]
path = "/a"
content = ["demo.hello", "demo.nope"]
`, []want{{3, `unknown handler "demo.nope"`}}},
	{"unknown handler on a later line", `[[location]]
path = "/a"
content = [
  "demo.hello",
  "demo.nope",
]
`, []want{{5, `unknown handler "demo.nope"`}}},
	{"unknown handler after a comment line", `[[location]]
path = "/a"
content = [
  # the greeting
  "demo.hello",

  # and a typo
  "demo.nope",
]
`, []want{{8, `unknown handler "demo.nope"`}}},
	{"unknown handler in an inline table", `[[location]]
path = "/a"
content = [{ handler = "demo.nope", options = { x = "1" } }]
`, []want{{3, `unknown handler "demo.nope"`}}},
	{"unknown handler in an inline table on a later line", `[[location]]
path = "/a"
content = [
  "demo.hello",
  { handler = "demo.nope" },
]
`, []want{{5, `unknown handler "demo.nope"`}}},
	{"unknown handler written with an escape", `[[location]]
path = "/a"
content = [
  "demo.hello",
  "demo.n\u006Fpe",
]
`, []want{{5, `unknown handler "demo.nope"`}}},
	{"unknown handler in an array of tables", `[[location]]
path = "/a"

[[location.content]]
handler = "demo.hello"

[[location.content]]
handler = "demo.nope"
`, []want{{7, `unknown handler "demo.nope"`}}},
	{"unknown handler in the second location", `[[location]]
path = "/a"
content = ["demo.hello"]

[[location]]
path = "/b"
log = ["demo.nope"]
`, []want{{7, `unknown handler "demo.nope"`}}},
	{"unknown site handler", `[site]
translate = [
  "demo.nope",
]

[[location]]
path = "/a"
content = ["demo.hello"]
`, []want{{3, `unknown handler "demo.nope"`}}},
	{"unknown provider", `[[location]]
path = "/p"
content = ["demo.private"]

[location.auth]
realm = "r"
providers = [
  "demo.users",
  "ldap",
]
`, []want{{9, `unknown provider "ldap"`}}},
	{"unknown provider in an inline table", `[[location]]
path = "/p"
content = ["demo.private"]

[location.auth]
realm = "r"
providers = [{ name = "ldap", options = { url = "ldap://x" } }]
`, []want{{7, `unknown provider "ldap"`}}},
	{"handler name missing", `[[location]]
path = "/a"
content = ["demo.hello", { options = { a = 1 } }]
`, []want{{3, "handler name missing"}}},
	{"handler entry of the wrong type", `[[location]]
path = "/a"
content = ["demo.hello", 7]
`, []want{{3, "expected a handler name"}}},
	{"phase not a list", `[[location]]
path = "/a"
content = "demo.hello"
`, []want{{3, "content must be a list of handlers"}}},

	// Bad options: the line of the handler entry.
	{"demo.record without file", `[[location]]
path = "/a"
content = ["demo.hello"]
log = [
  "demo.record",
]
`, []want{{5, "handler demo.record: option file is required"}}},
	{"demo.hello with an option", `[[location]]
path = "/a"
content = [{ handler = "demo.hello", options = { greeting = "hi" } }]
`, []want{{3, "handler demo.hello: unknown option greeting"}}},
	{"demo.hello with an option, on a later line", `[[location]]
path = "/a"
content = [
  { handler = "demo.hello", options = { greeting = "hi" } },
]
`, []want{{4, "handler demo.hello: unknown option greeting"}}},
	{"demo.status with a bad status", `[[location]]
path = "/a"
content = [{ handler = "demo.status", options = { status = 7 } }]
`, []want{{3, `option status: "7" is not ok, declined, done or an HTTP code`}}},
	{"provider with a bad option", `[[location]]
path = "/p"
content = ["demo.private"]

[location.auth]
realm = "r"
providers = ["htpasswd"]
`, []want{{7, "provider htpasswd: option file is required"}}},
	{"option that is an array", `[[location]]
path = "/a"
content = ["demo.hello"]
log = [{ handler = "demo.record", options = { file = ["a", "b"] } }]
`, []want{{4, "option file must be a string, number or boolean"}}},
	{"option that is a table", `[[location]]
path = "/a"
content = ["demo.hello"]

[[location.log]]
handler = "demo.record"

[location.log.options]
file = "a"
mode = { append = true }
`, []want{{10, "option mode must be a string, number or boolean"}}},
	{"option that is an array, multi-line inline table", `[[location]]
path = "/a"
content = ["demo.hello"]
log = [
  { handler = "demo.record", options = {
      file = ["a"],
  } },
]
`, []want{{6, "option file must be a string, number or boolean"}}},
	{"options not a table", `[[location]]
path = "/a"
log = [{ handler = "demo.record", options = "file=a" }]
`, []want{{3, "options must be a table"}}},

	// Phases that run before locations are matched.
	{"translate on a location", `[[location]]
path = "/a"
translate = ["demo.hello"]
content = ["demo.hello"]
`, []want{{3, "phase translate runs before locations are matched"}}},
	{"post-read-request on a location", `[[location]]
path = "/a"
content = ["demo.hello"]

[[location]]
path = "/b"
content = ["demo.hello"]
post-read-request = [{ handler = "demo.record" }]
`, []want{{8, "phase post-read-request runs before locations are matched"}}},

	// Location paths.
	{"duplicate location", `[[location]]
path = "/a"
content = ["demo.hello"]

[[location]]
path = "/a"
content = ["demo.echo"]
`, []want{{6, `duplicate location "/a" (first at FILE:2)`}}},
	{"duplicate location with a trailing slash", `[[location]]
path = "/a/"
content = ["demo.hello"]

[[location]]
path = "/a"
content = ["demo.echo"]
`, []want{{6, `duplicate location "/a" (first at FILE:2)`}}},
	{"duplicate location after cleaning", `[[location]]
path = "/a"
content = ["demo.hello"]

[[location]]
path = "/b"
content = ["demo.hello"]

[[location]]
path = "/x/../a/"
content = ["demo.echo"]
`, []want{{10, `duplicate location "/x/../a/" (first at FILE:2)`}}},
	{"duplicate root", `[[location]]
path = "/"
content = ["demo.hello"]

[[location]]
path = "//"
content = ["demo.echo"]
`, []want{{6, `duplicate location "//" (first at FILE:2)`}}},
	{"path without leading slash", `[[location]]
path = "/a"
content = ["demo.hello"]

[[location]]
path = "b"
content = ["demo.hello"]
`, []want{{6, `location path "b" must start with /`}}},
	{"missing path", `[[location]]
path = "/a"
content = ["demo.hello"]

[[location]]
content = ["demo.echo"]
`, []want{{5, "location needs path"}}},
	{"missing path, escaped table name", `# the table name is quoted, with an escape
[["loc\u0061tion"]]
content = ["demo.hello"]
`, []want{{2, "location needs path"}}},
	{"location not an array of tables", `# one location, wrongly written
[location]
path = "/a"
`, []want{{2, "location must be an array of tables"}}},

	// Auth.
	{"bad require rule", `[[location]]
path = "/p"
content = ["demo.private"]

[location.auth]
realm = "r"
providers = ["demo.users"]
require = [
  "valid-user",
  "role admin",
]
`, []want{{10, `unknown require rule "role"`}}},
	{"require user without names", `[[location]]
path = "/p"
content = ["demo.private"]
auth = { realm = "r", providers = ["demo.users"], require = ["user"] }
`, []want{{4, "require user needs at least one name"}}},
	{"require not a list", `[[location]]
path = "/p"
content = ["demo.private"]

[location.auth]
realm = "r"
providers = ["demo.users"]
require = "valid-user"
`, []want{{8, "require must be a list of rules"}}},
	{"auth without realm", `[[location]]
path = "/p"
content = ["demo.private"]

  [location.auth]
  providers = ["demo.users"]
`, []want{{5, "auth needs realm"}}},
	{"auth without providers", `[[location]]
path = "/p"
content = ["demo.private"]

  [location.auth]
  realm = "r"
`, []want{{5, "auth needs providers"}}},
	{"auth with empty providers", `[[location]]
path = "/p"
content = ["demo.private"]
auth = { realm = "r", providers = [] }
`, []want{{4, "auth needs providers"}}},
	{"auth without realm or providers", `[[location]]
path = "/p"
content = ["demo.private"]

[[location]]
path = "/q"
content = ["demo.private"]
auth = {}
`, []want{{8, "auth needs realm"}, {8, "auth needs providers"}}},
	{"unknown auth type", `[[location]]
path = "/p"
content = ["demo.private"]

[location.auth]
realm = "r"
type = "digest"
providers = ["demo.users"]
`, []want{{7, `unknown auth type "digest"`}}},
	{"auth not a table", `[[location]]
path = "/p"
content = ["demo.private"]
auth = "basic"
`, []want{{4, "auth must be a table"}}},

	// Limits.
	{"bad size", `[limits]
max_body = "ten"
`, []want{{2, `"ten" is not a size`}}},
	{"bad size unit", `[limits]
max_header = "64 KB"
max_body = "10 TiB"
`, []want{{2, `"64 KB" is not a size: write "64KiB"`}, {3, `"10 TiB" is not a size`}}},
	{"size of the wrong type", `[limits]

max_body = 1.5
`, []want{{3, "expected a size"}}},
	{"negative size", `[limits]
max_header = -1
`, []want{{2, "size must be positive"}}},
	{"zero size", `[limits]
max_body = "0MiB"
`, []want{{2, "size must be positive"}}},
	{"size that overflows", `[limits]
max_body = "17179869185GiB"
`, []want{{2, "17179869185GiB"}}}, // (2^34+1) GiB wraps to 1 GiB in int64
	{"bad duration", `[limits]
max_body = "1MiB"
read_timeout = "30"
`, []want{{3, "read_timeout must be a duration"}}},
	{"duration as a number", `[limits]
idle_timeout = 30
`, []want{{2, "idle_timeout must be a duration"}}},
	{"negative duration", `[limits]
write_timeout = "-1s"
`, []want{{2, "write_timeout must be a duration"}}},
	{"limits not a table", `limits = "big"
`, []want{{1, "limits must be a table"}}},

	// Several problems: all reported, each with its own line.
	{"several parse errors", `[limits]
max_body = "huge"
read_header_timeout = "soon"

[[location]]
path = "/a"
content = ["demo.hello"]
colour = "blue"

[[location]]
path = "b"
content = ["demo.hello"]

[[location]]
path = "/a/"
translate = ["demo.hello"]
`, []want{
		{2, `"huge" is not a size`},
		{3, "read_header_timeout must be a duration"},
		{8, `unknown key "colour"`},
		{11, `location path "b" must start with /`},
		{15, `duplicate location "/a/" (first at FILE:6)`},
		{16, "phase translate runs before locations are matched"},
	}},
	{"several build errors", `[site]
post-read-request = ["demo.nope"]

[[location]]
path = "/a"
content = ["demo.nope"]

[[location]]
path = "/b"
content = ["demo.hello"]
log = [
  "demo.record",
  { handler = "demo.hello", options = { x = 1 } },
]

[[location]]
path = "/c"
content = ["demo.private"]

[location.auth]
realm = "r"
providers = ["demo.users", "ldap"]
`, []want{
		{2, `unknown handler "demo.nope"`},
		{6, `unknown handler "demo.nope"`},
		{12, "handler demo.record: option file is required"},
		{13, "handler demo.hello: unknown option x"},
		{22, `unknown provider "ldap"`},
	}},
	{"auth settings", `[auth]
trusted_proxies = ["10.0.0.0/8", "proxy.example.org"]
store = { name = "memory" }
colour = "blue"

[auth.cache]
ttl = "forever"
secret = "hunter2hunter2hunter2"

[auth.throttle]
max_user_failures = -1
mode = "418"
window = "0s"
on_store_error = "maybe"
`, []want{
		{2, `"proxy.example.org" is neither an address nor a CIDR prefix`},
		{4, `unknown key "colour"`},
		{7, "ttl must be a positive duration"},
		{8, "secret must be a reference, file:PATH or env:NAME"},
		{11, "max_user_failures must be a number >= 0"},
		{12, `mode must be "429", "403" or "delay"`},
		{13, "window must be a positive duration"},
		{14, `on_store_error must be "closed"`},
	}},
	{"unknown auth store", `[auth]
store = { name = "memcache" }
[auth.throttle]
`, []want{{2, `unknown auth store "memcache"`}}},
	{"location auth cache not a boolean", `[[location]]
path = "/a"
content = ["demo.hello"]
  [location.auth]
  realm = "r"
  providers = ["demo.users"]
  cache = "off"
`, []want{{7, "cache must be true or false"}}},
	{"location auth cache on bearer", `[[location]]
path = "/a"
content = ["demo.hello"]
  [location.auth]
  type = "bearer"
  realm = "r"
  providers = [{name = "jwt", options = {jwks = "keys.json"}}]
  cache = false
`, []want{{8, "cache applies to Basic auth"}}},
	{"auth cache secret", `[auth.cache]
secret = "env:ANYHOST_TEST_UNSET_SECRET"
`, []want{{1, "environment variable ANYHOST_TEST_UNSET_SECRET is not set"}}},
	{"memory store options", `[auth]
store = { name = "memory", options = { max_entries = 0 } }
[auth.cache]
ttl = "1m"
`, []want{{2, "max_entries must be positive"}}},
	{"several errors in one inline table", `[[location]]
path = "/a"
content = ["demo.hello"]
log = [{ handler = "demo.record", options = { file = ["a"], mode = [1] }, when = "always" }]
`, []want{
		{4, "option file must be a string"},
		{4, "option mode must be a string"},
		{4, `unknown key "when"`},
	}},
}

// leaves flattens joined errors.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

func TestBadFiles(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			checkBad(t, "site.toml", tc.src, tc.want)
		})
	}
}

// Line numbers do not depend on the line ending.
func TestBadFilesCRLF(t *testing.T) {
	for _, tc := range badCases {
		if strings.HasPrefix(tc.name, "syntax") {
			continue // the syntax errors above are about line ends or quotes
		}
		t.Run(tc.name, func(t *testing.T) {
			checkBad(t, "site.toml", strings.ReplaceAll(tc.src, "\n", "\r\n"), tc.want)
		})
	}
}

func checkBad(t *testing.T, name, src string, wants []want) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	err := config.Check(path)
	require.Error(t, err, "Check must fail")
	text := err.Error()
	require.True(t, strings.HasPrefix(text, path+":"), "error %q should start with the file path", text)

	got := leaves(err)
	var gotText []string
	for _, e := range got {
		gotText = append(gotText, e.Error())
	}
	assert.Len(t, got, len(wants), "errors: %q", gotText)
	used := make([]bool, len(got))
	for _, w := range wants {
		prefix := path + ":" + strconv.Itoa(w.line) + ": "
		msg := strings.ReplaceAll(w.msg, "FILE", path)
		found := false
		for i, e := range got {
			if !used[i] && strings.HasPrefix(e.Error(), prefix) && strings.Contains(e.Error(), msg) {
				used[i], found = true, true
				var ce *config.Error
				if assert.True(t, errors.As(e, &ce), "%q is not a *config.Error", e) {
					assert.Equal(t, config.Pos{File: path, Line: w.line}, ce.Pos)
				}
				break
			}
		}
		assert.True(t, found, "want an error starting %q containing %q; got %q", prefix, msg, gotText)
	}
	// The joined text lists the errors one per line.
	assert.Equal(t, strings.Join(gotText, "\n"), text)
}
