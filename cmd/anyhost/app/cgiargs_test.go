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
		want    []string
	}{
		{[]string{"anyhost", "list"}, "", []string{"anyhost", "list"}},
		{[]string{"anyhost"}, "CGI/1.1", []string{"anyhost", "serve", "--adapter", "cgi"}},
		{[]string{"anyhost", "serve", "--adapter", "standalone"}, "CGI/1.1", []string{"anyhost", "serve", "--adapter", "cgi"}},
		{[]string{"anyhost", "htpasswd", "x"}, "CGI/1.1", []string{"anyhost", "serve", "--adapter", "cgi"}},
		{[]string{"anyhost", "serve", "--adapter", "cgi", "--config", "s.toml"}, "CGI/1.1", []string{"anyhost", "serve", "--adapter", "cgi", "--config", "s.toml"}},
		{[]string{"anyhost", "serve", "--adapter=cgi"}, "CGI/1.1", []string{"anyhost", "serve", "--adapter=cgi"}},
	} {
		assert.Equal(t, tt.want, cgiArgs(tt.argv, tt.gateway), "%v", tt.argv)
	}
}
