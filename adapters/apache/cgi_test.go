package apache_test

import (
	"testing"

	"github.com/anyhost/anyhost/internal/testhost"
)

// Legacy CGI scripts through the cgi handler inside Apache (prefork: the
// handler spawns from Apache's own child, whose signal mask and
// descriptors the scripts must not inherit).
func TestCGIScriptsInProcess(t *testing.T) {
	scripts := testhost.CGIScripts(t)
	for _, mpm := range []string{"event", "prefork"} {
		t.Run(mpm, func(t *testing.T) {
			a := testhost.StartApache(t, testhost.ApacheOptions{MPM: mpm, SiteFile: testhost.CGISite(t, scripts)})
			testhost.RunCGICases(t, a.Target(), scripts)
		})
	}
}
