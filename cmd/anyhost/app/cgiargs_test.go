package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Under a web server's CGI, argv is the server's (ISINDEX words, RFC 3875
// 4.4), not a command: only an explicit `serve --adapter cgi` is kept.
func TestCGIArgs(t *testing.T) {
	for _, tt := range []struct {
		argv    []string
		gateway string
		query   string
		want    []string
	}{
		{[]string{"anyhost", "list"}, "", "", []string{"anyhost", "list"}},
		{[]string{"anyhost"}, "CGI/1.1", "", []string{"anyhost", "serve", "--adapter", "cgi"}},
		{[]string{"anyhost", "serve", "--adapter", "standalone"}, "CGI/1.1", "", []string{"anyhost", "serve", "--adapter", "cgi"}},
		{[]string{"anyhost", "htpasswd", "x"}, "CGI/1.1", "a=1", []string{"anyhost", "serve", "--adapter", "cgi"}},
		// A wrapper's command line, with a query the server passes no argv for.
		{[]string{"anyhost", "serve", "--adapter", "cgi", "--config", "s.toml"}, "CGI/1.1", "", []string{"anyhost", "serve", "--adapter", "cgi", "--config", "s.toml"}},
		{[]string{"anyhost", "serve", "--adapter=cgi"}, "CGI/1.1", "x=1", []string{"anyhost", "serve", "--adapter=cgi"}},
		// Regression (security review): the client's ISINDEX words.
		{[]string{"anyhost", "serve", "--adapter", "cgi", "--config", "/dev/stdin"}, "CGI/1.1", "serve+--adapter+cgi+--config+/dev/stdin",
			[]string{"anyhost", "serve", "--adapter", "cgi"}},
	} {
		assert.Equal(t, tt.want, cgiArgs(tt.argv, tt.gateway, tt.query), "%v", tt.argv)
	}
}
