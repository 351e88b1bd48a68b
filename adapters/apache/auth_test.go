package apache_test

import (
	"testing"

	"github.com/anyhost/anyhost/internal/testhost"
)

// Every built-in provider in Apache's children through AnyhostSite: the
// table the standalone host passes, with the auth phases running in
// Apache's hooks.
func TestAuthProvidersInProcess(t *testing.T) {
	root := testhost.NewApacheRoot(t)
	site := testhost.WriteAuthSite(t, root, testhost.StartSlapd(t))
	empty := writeSite(t, "")
	a := testhost.StartApache(t, testhost.ApacheOptions{SiteFile: empty, Extra: `AnyhostSite "` + site.Path + `"`})
	testhost.RunAuthConformance(t, a.Target(), site)
}
