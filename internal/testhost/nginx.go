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

// Placeholders StartNginx replaces in the configuration it is given.
const (
	// NginxPrefix becomes the prefix directory (pid, logs, temp paths).
	NginxPrefix = "@PREFIX@"
	// NginxListen becomes the HOST:PORT nginx listens on.
	NginxListen = "@LISTEN@"
)

// Nginx is a running nginx.
type Nginx struct {
	*Process
	// Prefix is its -p directory: nginx.conf, error.log, access.log.
	Prefix string
	// Addr is HOST:PORT; URL is http://Addr.
	Addr, URL string
	// ConfFile is the nginx.conf it runs.
	ConfFile string
}

// NginxBinary is nginx, or skips the test.
func NginxBinary(t testing.TB) string { return NeedBinary(t, "nginx") }

// NewNginxPrefix makes a prefix directory nginx's workers (www-data when
// started as root) can traverse.
func NewNginxPrefix(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "anyhost-nginx-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

// StartNginx writes confText as nginx.conf in a fresh prefix directory, with
// NginxPrefix and NginxListen replaced by that directory and a free loopback
// address, and runs `nginx -p PREFIX -c nginx.conf -g 'daemon off;'` until
// it answers HTTP. It is stopped in t.Cleanup; its error log is shown if the
// test fails.
func StartNginx(t testing.TB, confText string) *Nginx {
	t.Helper()
	bin := NginxBinary(t)
	for attempt := 0; ; attempt++ {
		prefix := NewNginxPrefix(t)
		addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		n := &Nginx{Prefix: prefix, Addr: addr, URL: "http://" + addr, ConfFile: filepath.Join(prefix, "nginx.conf")}
		text := strings.NewReplacer(NginxPrefix, prefix, NginxListen, addr).Replace(confText)
		require.NoError(t, os.WriteFile(n.ConfFile, []byte(text), 0o644))
		if n.start(t, bin) {
			return n
		}
		if attempt == 2 {
			t.Fatalf("nginx could not bind a port after 3 tries")
		}
	}
}

func (n *Nginx) start(t testing.TB, bin string) bool {
	t.Helper()
	errorLog := filepath.Join(n.Prefix, "error.log")
	n.Process = Start(t, Spec{
		// -e: the error log before nginx.conf is read, so nothing goes
		// to /var/log/nginx.
		Args:    []string{bin, "-p", n.Prefix, "-e", errorLog, "-c", n.ConfFile, "-g", "daemon off;"},
		Dir:     n.Prefix,
		Logs:    []string{errorLog},
		PIDFile: filepath.Join(n.Prefix, "nginx.pid"),
	})
	return waitReady(t, n.Process, "nginx", HTTPReady(n.URL+"/"), 30*time.Second,
		func() bool { return strings.Contains(n.ErrorLog()+n.LogText(), "Address already in use") })
}

// ErrorLog returns the error log's contents.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Prefix, "error.log"))
	return string(b)
}

// Target is the conformance view of this nginx; adapter is what /echo
// reports ("nginx" for `serve --adapter nginx`).
func (n *Nginx) Target(adapter string) Target {
	return Target{URL: n.URL, Addr: n.Addr, Adapter: adapter}
}

// NginxTest runs `nginx -t` on confText (placeholders replaced as in
// StartNginx) and returns its output and error.
func NginxTest(t testing.TB, confText string) (string, error) {
	t.Helper()
	bin := NginxBinary(t)
	prefix := NewNginxPrefix(t)
	conf := filepath.Join(prefix, "nginx.conf")
	text := strings.NewReplacer(NginxPrefix, prefix, NginxListen, fmt.Sprintf("127.0.0.1:%d", FreePort(t))).Replace(confText)
	require.NoError(t, os.WriteFile(conf, []byte(text), 0o644))
	out, err := execOutput(bin, "-t", "-p", prefix, "-e", filepath.Join(prefix, "error.log"), "-c", conf)
	return out, err
}

func execOutput(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// StartNginxFastCGI runs the documented nginx setup: `anyhost serve
// --adapter nginx` on unix sockets only nginx's workers (www-data) may use,
// with the web server's secret, and nginx with the configuration `anyhost
// nginx conf --full` writes for site ("" is the demo site).
func StartNginxFastCGI(t testing.TB, site string) *Nginx {
	t.Helper()
	NginxBinary(t)
	bin := AnyhostBinary(t)
	dir := NewNginxPrefix(t)
	fcgi, auth := "unix:"+filepath.Join(dir, "fcgi.sock"), "unix:"+filepath.Join(dir, "auth.sock")
	secretDir := filepath.Join(dir, "secret")
	out, err := exec.Command(bin, "secret", "new", "--dir", secretDir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	args := []string{bin, "serve", "--adapter", "nginx", "--listen", fcgi, "--auth-listen", auth, "--log-format", "json",
		"--secret", "file:" + filepath.Join(secretDir, "secret")}
	if os.Geteuid() == 0 {
		args = append(args, "--socket-group", "www-data")
	} else {
		args = append(args, "--socket-mode", "0666") // nginx's workers run as us
	}
	conf := []string{"nginx", "conf", "--listen", fcgi, "--auth-listen", auth, "--secret-dir", secretDir,
		"--full", "--prefix", NginxPrefix, "--server-listen", NginxListen}
	if site != "" {
		args = append(args, "--config", site)
		conf = append(conf, "--config", site)
	}
	Start(t, Spec{Args: args, Dir: dir, Ready: DialReady("unix", filepath.Join(dir, "fcgi.sock"))})
	text, err := exec.Command(bin, conf...).CombinedOutput()
	require.NoError(t, err, "%s", text)
	return StartNginx(t, string(text))
}
