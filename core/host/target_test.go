package host

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Target
	}{
		{"/", Target{Path: "/"}},
		{"/echo?q=1&x", Target{Path: "/echo", RawQuery: "q=1&x"}},
		{"/a/../b/./c//d/", Target{Path: "/b/c/d/"}},
		{"/ech%6F/a%20b", Target{Path: "/echo/a b", RawPath: "/ech%6F/a%20b"}},
		{"/a%2Fb", Target{Path: "/a/b", RawPath: "/a%2Fb"}},
		{"/x/%2e%2e/private/", Target{Path: "/private/"}},
		{"/x/a%2Fb/../c", Target{Path: "/x/a/c"}}, // the encoded slash makes raw and decoded disagree
		{"/private;x", Target{Path: "/private;x"}},
		{"/?", Target{Path: "/"}},
		{"http://127.0.0.1/admin/", Target{Path: "/admin/", Host: "127.0.0.1"}},
		{"HTTP://h:8080/admin/?a=b", Target{Path: "/admin/", RawQuery: "a=b", Host: "h:8080"}},
		{"https://u:p@h/x", Target{Path: "/x", Host: "h"}},
		{"ftp://h", Target{Path: "/", Host: "h"}},
		{"http://h?q", Target{Path: "/", RawQuery: "q", Host: "h"}},
		{"http://h/../private", Target{Path: "/private", Host: "h"}},
		{"git+ssh://[::1]:22/p", Target{Path: "/p", Host: "[::1]:22"}},
	} {
		got, err := ParseTarget(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, got, c.in)
		if err == nil {
			u := got.URL()
			assert.Equal(t, got.Path, u.Path, c.in)
		}
	}
	for _, c := range []struct {
		in  string
		err error
	}{
		{"", ErrTargetForm},
		{"*", ErrTargetForm},
		{"127.0.0.1:443", ErrTargetForm},
		{"admin/", ErrTargetForm},
		{"http:/admin/", ErrTargetForm},
		{"http:///admin/", ErrTargetForm},
		{"1http://h/", ErrTargetForm},
		{"/a%zz", ErrTargetEncoding},
		{"/a%00b", ErrTargetEncoding},
		{"/a%0Ab", ErrTargetEncoding},
		{"/a\x01", ErrTargetEncoding},
		{"/private#x", ErrTargetEncoding},
		{"http://a#@b/admin/x", ErrTargetEncoding}, // which host? (security review)
		{"http://a b/x", ErrTargetForm},
		{"http://a\\b/x", ErrTargetForm},
		{"http://a<b>/x", ErrTargetForm},
	} {
		_, err := ParseTarget(c.in)
		assert.ErrorIs(t, err, c.err, c.in)
	}
}

// The common target is parsed without allocating.
func TestParseTargetAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		if _, err := ParseTarget("/echo/sub?a=1"); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, n)
}
