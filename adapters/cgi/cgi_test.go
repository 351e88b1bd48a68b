package cgi_test

import (
	"testing"

	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// The demo site as a CGI program under Apache's mod_cgid answers as
// `anyhost serve` does (under mpm_event: the matrix's cgi-apache).
func TestUnderApacheCGI(t *testing.T) {
	for _, mpm := range []string{"prefork"} {
		t.Run(mpm, func(t *testing.T) {
			a := testhost.StartApacheCGI(t, mpm, "")
			testhost.RunConformance(t, testhost.Target{URL: a.URL, Addr: a.Addr, Adapter: "cgi"})
			testhost.EchoMatches(t, testhost.StartAnyhost(t).URL, a.URL)
		})
	}
}
