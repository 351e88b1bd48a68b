package standalone_test

import (
	"testing"

	"github.com/anyhost/anyhost/internal/testhost"
)

// Legacy CGI scripts behind the standalone host (handlers/cgi).
func TestCGIScripts(t *testing.T) {
	scripts := testhost.CGIScripts(t)
	a := testhost.StartAnyhost(t, "--config", testhost.CGISite(t, scripts))
	testhost.RunCGICases(t, testhost.Target{URL: a.URL, Addr: a.Addr, Adapter: "standalone"}, scripts)
}
