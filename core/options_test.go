package core

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func opts(kv ...string) Options {
	o := Options{Values: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Values[kv[i]] = kv[i+1]
	}
	return o
}

func TestOptionsCheck(t *testing.T) {
	assert.NoError(t, Options{}.Check())
	assert.NoError(t, Options{}.Check("root"))
	assert.NoError(t, opts("root", "/srv", "index", "x").Check("root", "index", "other"))

	err := opts("root", "/srv", "roott", "x", "Index", "y").Check("root", "index")
	require.Error(t, err)
	assert.Equal(t, "unknown option Index, roott (known: root, index)", err.Error())

	err = opts("x", "1").Check()
	assert.EqualError(t, err, "unknown option x (this takes no options)")
}

func TestOptionsStringAndRequired(t *testing.T) {
	o := opts("name", "v", "empty", "")
	assert.Equal(t, "v", o.String("name", "def"))
	assert.Equal(t, "", o.String("empty", "def"), "set but empty is not the default")
	assert.Equal(t, "def", o.String("unset", "def"))
	assert.Equal(t, "def", Options{}.String("x", "def"), "nil Values")

	v, err := o.Required("name")
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	_, err = o.Required("empty")
	assert.EqualError(t, err, "option empty is required")
	_, err = o.Required("unset")
	assert.EqualError(t, err, "option unset is required")
}

func TestOptionsPath(t *testing.T) {
	o := opts("rel", "data/users.htpasswd", "abs", "/etc/passwd", "dot", "../up", "empty", "")
	o.Dir = "/srv/site"
	assert.Equal(t, "/srv/site/data/users.htpasswd", o.Path("rel"))
	assert.Equal(t, "/etc/passwd", o.Path("abs"))
	assert.Equal(t, "/srv/up", o.Path("dot"))
	assert.Equal(t, "", o.Path("empty"))
	assert.Equal(t, "", o.Path("unset"))

	o.Dir = ""
	assert.Equal(t, "data/users.htpasswd", o.Path("rel"), "no Dir: relative to the working directory")
}

func TestOptionsTyped(t *testing.T) {
	o := opts("n", "42", "neg", "-7", "badn", "4x", "floatn", "1.5",
		"b", "true", "b0", "0", "bT", "TRUE", "badb", "yes",
		"d", "1m30s", "badd", "30", "empty", "")

	tests := []struct {
		name string
		got  func() (any, error)
		want any
		err  string
	}{
		{"int", func() (any, error) { return o.Int("n", 1) }, 42, ""},
		{"int negative", func() (any, error) { return o.Int("neg", 1) }, -7, ""},
		{"int default", func() (any, error) { return o.Int("unset", 5) }, 5, ""},
		{"int bad", func() (any, error) { return o.Int("badn", 5) }, 0, `option badn: "4x" is not a whole number`},
		{"int float", func() (any, error) { return o.Int("floatn", 5) }, 0, `option floatn: "1.5" is not a whole number`},
		{"int empty", func() (any, error) { return o.Int("empty", 5) }, 0, `option empty: "" is not a whole number`},
		{"bool", func() (any, error) { return o.Bool("b", false) }, true, ""},
		{"bool 0", func() (any, error) { return o.Bool("b0", true) }, false, ""},
		{"bool TRUE", func() (any, error) { return o.Bool("bT", false) }, true, ""},
		{"bool default", func() (any, error) { return o.Bool("unset", true) }, true, ""},
		{"bool bad", func() (any, error) { return o.Bool("badb", true) }, false, `option badb: "yes" is not true or false`},
		{"duration", func() (any, error) { return o.Duration("d", 0) }, 90 * time.Second, ""},
		{"duration default", func() (any, error) { return o.Duration("unset", time.Second) }, time.Second, ""},
		{"duration bad", func() (any, error) { return o.Duration("badd", time.Second) }, time.Duration(0),
			`option badd: "30" is not a duration like 30s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestOptionsSecret(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crlf"), []byte("line\r\n\r\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inner"), []byte(" a\nb \n"), 0o600))
	t.Setenv("CORETEST_SECRET", "from env")
	t.Setenv("CORETEST_EMPTY", "")

	o := opts(
		"rel", "file:pw",
		"abs", "file:"+filepath.Join(dir, "pw"),
		"crlf", "file:crlf",
		"inner", "file:inner",
		"missing", "file:nope",
		"env", "env:CORETEST_SECRET",
		"envempty", "env:CORETEST_EMPTY",
		"envunset", "env:CORETEST_UNSET_VARIABLE",
		"inline", "hunter2",
		"inlineprefix", "File:pw",
		"empty", "",
	)
	o.Dir = dir

	tests := []struct {
		key, want, err string
	}{
		{"rel", "s3cret", ""},
		{"abs", "s3cret", ""},
		{"crlf", "line", ""},
		{"inner", " a\nb ", ""},
		{"missing", "", "secret file:nope"},
		{"env", "from env", ""},
		{"envempty", "", ""},
		{"envunset", "", "environment variable CORETEST_UNSET_VARIABLE is not set"},
		{"inline", "", "not inline"},
		{"inlineprefix", "", "not inline"},
		{"empty", "", "not inline"},
		{"unset", "", "option unset is required"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := o.Secret(tt.key)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.NotContains(t, err.Error(), "hunter2", "the error must not echo an inline secret")
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "k"), []byte("key"), 0o600))
	got, err := ResolveSecret("file:k", dir)
	require.NoError(t, err)
	assert.Equal(t, "key", got)
	_, err = ResolveSecret("plain", dir)
	assert.Error(t, err)
}
