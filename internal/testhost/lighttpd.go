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

// Lighttpd is a running lighttpd.
type Lighttpd struct {
	*Process
	// Root holds its configuration, logs and document root.
	Root string
	// Addr is HOST:PORT; URL is http://Addr.
	Addr, URL string
}

// LighttpdBinary is Debian's lighttpd.
func LighttpdBinary(t testing.TB) string { return NeedBinary(t, "lighttpd") }

// LighttpdConf runs `anyhost lighttpd conf --full` with args for root and
// addr and returns the text.
func LighttpdConf(t testing.TB, root, addr string, args ...string) string {
	t.Helper()
	argv := append([]string{"lighttpd", "conf", "--full", "--root", root, "--listen", addr}, args...)
	out, err := exec.Command(AnyhostBinary(t), argv...).CombinedOutput()
	require.NoError(t, err, "anyhost %s\n%s", strings.Join(argv, " "), out)
	return string(out)
}

// StartLighttpd writes the configuration conf(root, addr) returns and runs
// `lighttpd -D -f` on a free port until the test ends. setup, if set,
// prepares root (a program, a socket's server) before lighttpd starts.
func StartLighttpd(t testing.TB, conf func(root, addr string) string) *Lighttpd {
	t.Helper()
	bin := LighttpdBinary(t)
	for attempt := 0; ; attempt++ {
		root := t.TempDir()
		require.NoError(t, os.Chmod(root, 0o755))
		require.NoError(t, os.Mkdir(filepath.Join(root, "htdocs"), 0o755))
		addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		l := &Lighttpd{Root: root, Addr: addr, URL: "http://" + addr}
		file := filepath.Join(root, "lighttpd.conf")
		require.NoError(t, os.WriteFile(file, []byte(conf(root, addr)), 0o644))
		out, err := exec.Command(bin, "-tt", "-f", file).CombinedOutput()
		require.NoError(t, err, "lighttpd -tt rejects the configuration: %s", out)
		errorLog := filepath.Join(root, "error.log")
		l.Process = Start(t, Spec{Args: []string{bin, "-D", "-f", file}, Dir: root, Logs: []string{errorLog}})
		if waitReady(t, l.Process, "lighttpd", HTTPReady(l.URL+"/"), 20*time.Second, func() bool {
			log, _ := os.ReadFile(errorLog)
			return strings.Contains(string(log)+l.LogText(), "Address already in use")
		}) {
			return l
		}
		if attempt == 2 {
			t.Fatalf("lighttpd could not bind a port after 3 tries")
		}
	}
}

// Target is the conformance view of this lighttpd, whose requests anyhost
// serves as adapter.
func (l *Lighttpd) Target(adapter string) Target {
	return Target{URL: l.URL, Addr: l.Addr, Adapter: adapter}
}
