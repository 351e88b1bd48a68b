package testhost

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/wrk"
)

var apacheBuild libBuild

// libBuild is a library directory built once per test binary.
type libBuild struct {
	once sync.Once
	dir  string
	err  error
}

// get runs `anyhost ARGS... -o DIR` once, in a fresh world-traversable
// directory (the web server's workers run as www-data), and returns DIR.
func (b *libBuild) get(t testing.TB, args ...string) string {
	t.Helper()
	bin := AnyhostBinary(t)
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "anyhost-lib-"); b.err != nil {
			return
		}
		os.Chmod(b.dir, 0o755)
		cmd := exec.Command(bin, append(args, "-o", b.dir)...)
		cmd.Dir = ModuleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("anyhost %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

// ApacheLibDir builds mod_anyhost.so and the Go library once per test
// binary with the real `anyhost apache build`, and returns their directory.
func ApacheLibDir(t testing.TB) string {
	t.Helper()
	NeedBinary(t, "apxs", "apxs2")
	return apacheBuild.get(t, "apache", "build")
}

// Apache is a running httpd.
type Apache struct {
	*Process
	// Root is its ServerRoot (error.log, access.log, httpd.conf).
	Root string
	// Addr is HOST:PORT; URL is http://Addr.
	Addr, URL string
	// ConfFile is the httpd.conf it runs.
	ConfFile string
}

// ApacheOptions describe an httpd for a test.
type ApacheOptions struct {
	// MPM is "event" (default) or "prefork".
	MPM string
	// SiteFile is the site the configuration is generated from; "" is the
	// demo site.
	SiteFile string
	// LibDir overrides the library directory (default ApacheLibDir).
	LibDir string
	// Extra is appended to the generated httpd.conf; "ROOT" in it becomes
	// the ServerRoot.
	Extra string
	// Args are more `anyhost apache conf` flags.
	Args []string
}

// ApacheBinary is Debian's apache2 (httpd elsewhere).
func ApacheBinary(t testing.TB) string { return NeedBinary(t, "apache2", "httpd") }

// NewApacheRoot makes a ServerRoot that Apache's children (www-data) can
// use: traversable and writable, since tests record into it.
func NewApacheRoot(t testing.TB) string {
	t.Helper()
	root, err := os.MkdirTemp("", "anyhost-httpd-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o777))
	require.NoError(t, os.Mkdir(filepath.Join(root, "htdocs"), 0o755))
	return root
}

// ApacheConf runs `anyhost apache conf --full` for o and returns the text.
func ApacheConf(t testing.TB, root, addr string, o ApacheOptions) string {
	t.Helper()
	lib := o.LibDir
	if lib == "" {
		lib = ApacheLibDir(t)
	}
	args := []string{"apache", "conf", "--lib-dir", lib, "--full", "--root", root, "--listen", addr}
	if o.MPM != "" {
		args = append(args, "--mpm", o.MPM)
	}
	if o.SiteFile != "" {
		args = append(args, "--config", o.SiteFile)
	}
	args = append(args, o.Args...)
	out, err := exec.Command(AnyhostBinary(t), args...).CombinedOutput()
	require.NoError(t, err, "anyhost %s\n%s", strings.Join(args, " "), out)
	return string(out) + "\n" + strings.ReplaceAll(o.Extra, "ROOT", root) + "\n"
}

// StartApache generates a full httpd.conf with `anyhost apache conf` and
// runs `apache2 -f httpd.conf -DFOREGROUND` on a free port. It is stopped in
// t.Cleanup; its error log is shown if the test fails.
func StartApache(t testing.TB, o ApacheOptions) *Apache {
	t.Helper()
	return startApacheWith(t, func(root, addr string) string { return ApacheConf(t, root, addr, o) })
}

// startApacheWith runs httpd with the configuration conf writes for a fresh
// ServerRoot and a free port, trying another port when one was taken.
func startApacheWith(t testing.TB, conf func(root, addr string) string) *Apache {
	t.Helper()
	bin := ApacheBinary(t)
	for attempt := 0; ; attempt++ {
		root := NewApacheRoot(t)
		addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		a := &Apache{Root: root, Addr: addr, URL: "http://" + addr, ConfFile: filepath.Join(root, "httpd.conf")}
		require.NoError(t, os.WriteFile(a.ConfFile, []byte(conf(root, addr)), 0o644))
		if ok := a.start(t, bin); ok {
			return a
		}
		if attempt == 2 {
			t.Fatalf("httpd could not bind a port after 3 tries")
		}
	}
}

func (a *Apache) start(t testing.TB, bin string) bool {
	t.Helper()
	errorLog := filepath.Join(a.Root, "error.log")
	a.Process = Start(t, Spec{
		Args:    []string{bin, "-f", a.ConfFile, "-DFOREGROUND"},
		Dir:     a.Root,
		Logs:    []string{errorLog},
		PIDFile: filepath.Join(a.Root, "httpd.pid"),
	})
	return waitReady(t, a.Process, "httpd", HTTPReady(a.URL+"/"), 30*time.Second, func() bool {
		log, _ := os.ReadFile(errorLog)
		return strings.Contains(string(log)+a.LogText(), "Address already in use")
	})
}

// ErrorLog returns the error log's contents.
func (a *Apache) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(a.Root, "error.log"))
	return string(b)
}

// AccessLog returns the access log's contents.
func (a *Apache) AccessLog() string {
	b, _ := os.ReadFile(filepath.Join(a.Root, "access.log"))
	return string(b)
}

// Target is the conformance view of this httpd.
func (a *Apache) Target() Target { return Target{URL: a.URL, Addr: a.Addr, Adapter: "apache"} }

// BuildApacheLib runs `anyhost apache build -o dir --pkg P...` (for tests
// that need a second library, such as a swap under load).
func BuildApacheLib(t testing.TB, dir string, pkgs ...string) {
	t.Helper()
	args := []string{"apache", "build", "-o", dir}
	for _, p := range pkgs {
		args = append(args, "--pkg", p)
	}
	cmd := exec.Command(AnyhostBinary(t), args...)
	cmd.Dir = ModuleRoot()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "anyhost %s\n%s", strings.Join(args, " "), out)
}

// Wrk runs wrk against url for d and returns what it reported; extra are
// more wrk arguments (-H "Connection: close").
func Wrk(t testing.TB, ctx context.Context, url string, d time.Duration, connections int, extra ...string) *wrk.Result {
	t.Helper()
	return StartWrk(t, ctx, url, d, connections, extra...)()
}

// StartWrk starts Wrk's run in the background; wait, called from the test's
// goroutine, returns its result.
func StartWrk(t testing.TB, ctx context.Context, url string, d time.Duration, connections int, extra ...string) (wait func() *wrk.Result) {
	t.Helper()
	bin := NeedBinary(t, "wrk")
	args := append(extra, wrk.Args(2, connections, d, url)...)
	type run struct {
		out []byte
		err error
	}
	done := make(chan run, 1)
	go func() {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		done <- run{out, err}
	}()
	return func() *wrk.Result {
		t.Helper()
		r := <-done
		require.NoError(t, r.err, "wrk: %s", r.out)
		res, err := wrk.Parse(string(r.out))
		require.NoError(t, err, "wrk output: %s", r.out)
		return res
	}
}
