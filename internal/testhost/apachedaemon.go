package testhost

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ApacheDaemon is Apache in daemon mode: `anyhost serve --adapter fastcgi` on
// its own, Apache in front with mod_proxy_fcgi and mod_authnz_fcgi.
type ApacheDaemon struct {
	Go       *Process
	GoAddr   string
	Apache   *Process
	Root     string
	Addr     string
	URL      string
	ConfFile string
	// SecretDir is the web server's secret directory; "" without one.
	SecretDir string
}

// Target is the conformance view of this host.
func (h *ApacheDaemon) Target() Target {
	return Target{URL: h.URL, Addr: h.Addr, Adapter: "fastcgi"}
}

// ErrorLog returns Apache's error log.
func (h *ApacheDaemon) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(h.Root, "error.log"))
	return string(b)
}

// ApacheDaemonOptions say how StartApacheDaemon sets daemon mode up.
type ApacheDaemonOptions struct {
	GoSite, ConfSite string
	// NoSecret leaves out the web server's secret (the documented setup
	// has one: `anyhost secret new`, `--secret-dir`, `serve --secret`).
	NoSecret bool
	// Extra is appended to the generated httpd.conf.
	Extra string
}

// StartApacheDaemon starts `anyhost serve --adapter fastcgi` and an httpd
// whose whole configuration is `anyhost apache conf --mode fastcgi --full`.
func StartApacheDaemon(t testing.TB, o ApacheDaemonOptions) *ApacheDaemon {
	t.Helper()
	apache := ApacheBinary(t)
	bin := AnyhostBinary(t)
	h := &ApacheDaemon{Root: NewApacheRoot(t)}
	h.GoAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	goArgs := []string{bin, "serve", "--adapter", "fastcgi", "--listen", h.GoAddr, "--log-format", "json"}
	if o.GoSite != "" {
		goArgs = append(goArgs, "--config", o.GoSite)
	}
	var secretArgs []string
	if !o.NoSecret {
		h.SecretDir = filepath.Join(h.Root, "secret")
		out, err := exec.Command(bin, "secret", "new", "--dir", h.SecretDir).CombinedOutput()
		require.NoError(t, err, "%s", out)
		goArgs = append(goArgs, "--secret", "file:"+filepath.Join(h.SecretDir, "secret"))
		secretArgs = []string{"--secret-dir", h.SecretDir}
	}
	h.Go = Start(t, Spec{
		Args:  goArgs,
		Ready: DialReady("tcp", h.GoAddr),
	})
	h.Addr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	h.URL = "http://" + h.Addr
	h.ConfFile = filepath.Join(h.Root, "httpd.conf")
	args := []string{"apache", "conf", "--mode", "fastcgi", "--fastcgi", h.GoAddr, "--full", "--root", h.Root, "--listen", h.Addr}
	args = append(args, secretArgs...)
	if o.ConfSite != "" {
		args = append(args, "--config", o.ConfSite)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "anyhost %s\n%s", strings.Join(args, " "), out)
	out = append(out, "\n"+strings.ReplaceAll(o.Extra, "ROOT", h.Root)+"\n"...)
	require.NoError(t, os.WriteFile(h.ConfFile, out, 0o644))
	h.Apache = Start(t, Spec{
		Args:    []string{apache, "-f", h.ConfFile, "-DFOREGROUND"},
		Dir:     h.Root,
		Logs:    []string{filepath.Join(h.Root, "error.log"), h.ConfFile},
		PIDFile: filepath.Join(h.Root, "httpd.pid"),
		Ready:   HTTPReady(h.URL + "/"),
		Timeout: 30 * time.Second,
	})
	return h
}
