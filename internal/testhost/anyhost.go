package testhost

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// ModuleRoot is the repository's root directory.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AnyhostBinary builds ./cmd/anyhost once per test binary and returns its
// path, so tests run the real command a user runs.
func AnyhostBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "anyhost-testbin-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "anyhost")
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/anyhost")
		cmd.Dir = ModuleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/anyhost: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Main runs a package's tests and removes what AnyhostBinary built; call it
// from TestMain.
func Main(m interface{ Run() int }) {
	runChild()
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// Anyhost is a running `anyhost serve`.
type Anyhost struct {
	*Process
	// Addr is HOST:PORT it listens on; URL is http://Addr.
	Addr, URL string
	// Dir is its working directory.
	Dir string

	markers int // SettledLog's requests so far
}

// SettledLog returns the log once every line logged before the call is
// in it. serve writes its log in batches, in order: this requests a marker
// path and waits for that request's access line. Needs the access log on
// (serve's default).
func (a *Anyhost) SettledLog(t testing.TB) string {
	t.Helper()
	a.markers++
	marker := fmt.Sprintf("/anyhost-test-log-marker-%d", a.markers)
	resp, err := http.Get(a.URL + marker)
	require.NoError(t, err)
	resp.Body.Close()
	var log string
	require.Eventually(t, func() bool {
		log = a.LogText()
		return strings.Contains(log, marker)
	}, 10*time.Second, 10*time.Millisecond, "the access line of %s", marker)
	return log
}

// StartAnyhost runs `anyhost serve --listen 127.0.0.1:PORT ARGS...` on a
// free port and waits until it answers.
func StartAnyhost(t testing.TB, args ...string) *Anyhost {
	t.Helper()
	bin := AnyhostBinary(t)
	dir := t.TempDir()
	var last *Anyhost
	// A free port can be taken by a parallel test package between
	// FreePort and the bind: retry with another.
	for attempt := 0; attempt < 3; attempt++ {
		addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		a := &Anyhost{Addr: addr, URL: "http://" + addr, Dir: dir}
		argv := append([]string{bin, "serve", "--listen", addr, "--log-format", "json"}, args...)
		ok := tryStart(t, Spec{Args: argv, Dir: dir, Ready: HTTPReady(a.URL + "/")}, a)
		if ok {
			return a
		}
		last = a
	}
	t.Fatalf("anyhost could not bind a port after 3 tries: %s", last.LogText())
	return nil
}

// tryStart starts the process; false means the port was taken.
func tryStart(t testing.TB, spec Spec, a *Anyhost) (ok bool) {
	t.Helper()
	ready := spec.Ready
	spec.Ready = nil
	a.Process = Start(t, spec)
	return waitReady(t, a.Process, "anyhost", ready, 20*time.Second,
		func() bool { return strings.Contains(a.LogText(), "address already in use") })
}

// StartAnyhostTLS is StartAnyhost with TLS on; URL is https://.
func StartAnyhostTLS(t testing.TB, cert, key string, args ...string) *Anyhost {
	t.Helper()
	bin := AnyhostBinary(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	a := &Anyhost{Addr: addr, URL: "https://" + addr, Dir: dir}
	argv := append([]string{bin, "serve", "--listen", addr, "--tls-cert", cert, "--tls-key", key, "--log-format", "json"}, args...)
	tlsAddrs.Store(addr, true)
	t.Cleanup(func() { tlsAddrs.Delete(addr) })
	a.Process = Start(t, Spec{Args: argv, Dir: dir, Ready: DialReady("tcp", addr)})
	return a
}
