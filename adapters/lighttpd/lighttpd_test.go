package lighttpd_test

import (
	"path/filepath"
	"testing"

	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// The demo site as a CGI program under lighttpd's mod_cgi answers as
// `anyhost serve` does.
func TestCGI(t *testing.T) {
	l := testhost.StartLighttpd(t, func(root, addr string) string {
		return testhost.LighttpdConf(t, root, addr, "--mode", "cgi", "--program", testhost.CGIProgram(t, root, ""))
	})
	testhost.RunConformance(t, l.Target("cgi"))
	testhost.EchoMatches(t, testhost.StartAnyhost(t).URL, l.URL)
}

// lighttpd's mod_fastcgi to `anyhost serve --adapter fastcgi` listening on
// a unix socket of its own.
func TestFastCGISocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fcgi.sock")
	testhost.Start(t, testhost.Spec{
		Args:  []string{testhost.AnyhostBinary(t), "serve", "--adapter", "fastcgi", "--listen", "unix:" + sock, "--socket-mode", "0666"},
		Ready: testhost.DialReady("unix", sock),
	})
	l := testhost.StartLighttpd(t, func(root, addr string) string {
		return testhost.LighttpdConf(t, root, addr, "--mode", "fastcgi", "--socket", sock)
	})
	testhost.RunConformance(t, l.Target("fastcgi"))
}
