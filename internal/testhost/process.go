// Package testhost starts real hosts (anyhost itself, httpd, nginx, ...) for
// tests, each on a free loopback port with its own root under t.TempDir(),
// and holds the conformance table every adapter's tests run.
package testhost

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RequireServersEnv, set to 1 (CI sets it), turns "server not installed"
// into a test failure instead of a skip.
const RequireServersEnv = "ANYHOST_REQUIRE_SERVERS"

// NeedBinary returns the path of a host binary, skipping the test when it is
// missing, or failing it under ANYHOST_REQUIRE_SERVERS=1.
func NeedBinary(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, dir := range binDirs() {
			if p := filepath.Join(dir, n); isExecutable(p) {
				return p
			}
		}
	}
	msg := fmt.Sprintf("%s not installed (run `make deps`)", strings.Join(names, " or "))
	if os.Getenv(RequireServersEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// binDirs are searched after PATH: sbin directories, and Debian's
// versioned PostgreSQL directory (newest first), which is not on PATH.
func binDirs() []string {
	pg, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return n
	}
	sort.Slice(pg, func(i, j int) bool { return version(pg[i]) > version(pg[j]) })
	return append([]string{"/usr/sbin", "/sbin", "/usr/local/sbin"}, pg...)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// FreePort returns a loopback port nobody listens on right now. Another
// process may take it before the host binds it; Start retries for that.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Process is a host process started for a test.
type Process struct {
	Cmd *exec.Cmd
	// Logs are files to show when the test fails (error logs); the
	// process's own stdout and stderr are always among them.
	Logs []string
	// PIDFile, if set, holds the pid of the real server when the started
	// command daemonizes or re-execs (httpd, nginx); Stop signals that pid.
	PIDFile string

	t      testing.TB
	done   chan struct{}
	exit   error
	stopMu sync.Mutex
}

// Spec describes how to start a host.
type Spec struct {
	// Args is the command line; Args[0] is the binary.
	Args []string
	// Dir is the working directory; default the test's temp dir.
	Dir string
	// Env is added to the test's environment.
	Env []string
	// Logs are extra files to show on failure.
	Logs []string
	// PIDFile: see Process.PIDFile.
	PIDFile string
	// Ready is polled until it returns nil; the host has then started.
	Ready func() error
	// Timeout bounds the wait for Ready; default 20s.
	Timeout time.Duration
	// StopSignal is sent to stop the host; default SIGTERM.
	StopSignal syscall.Signal
}

// Start runs the host and waits until it is ready. It is stopped by pid in
// t.Cleanup, also when the test fails, and its logs are printed then.
func Start(t testing.TB, spec Spec) *Process {
	t.Helper()
	dir := spec.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	stdout := filepath.Join(dir, fmt.Sprintf("%s.%d.stdout", filepath.Base(spec.Args[0]), time.Now().UnixNano()))
	stderr := strings.TrimSuffix(stdout, ".stdout") + ".stderr"
	outF, err := os.Create(stdout)
	require.NoError(t, err)
	errF, err := os.Create(stderr)
	require.NoError(t, err)
	cmd := exec.Command(spec.Args[0], spec.Args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout, cmd.Stderr = outF, errF
	// Its own process group: a Ctrl-C to `go test` must not reach it before
	// Cleanup stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start(), "starting %v", spec.Args)
	p := &Process{Cmd: cmd, Logs: append([]string{stderr, stdout}, spec.Logs...), PIDFile: spec.PIDFile, t: t, done: make(chan struct{})}
	go func() {
		p.exit = cmd.Wait()
		outF.Close()
		errF.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		sig := spec.StopSignal
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		p.Stop(sig)
		if t.Failed() {
			p.DumpLogs()
		}
	})
	if spec.Ready == nil {
		return p
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		err := spec.Ready()
		if err == nil {
			return p
		}
		select {
		case <-p.done:
			p.DumpLogs()
			t.Fatalf("%s exited before it was ready: %v (ready check: %v)", spec.Args[0], p.exit, err)
		default:
		}
		if time.Now().After(deadline) {
			p.DumpLogs()
			t.Fatalf("%s not ready after %s: %v", spec.Args[0], timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Signal sends sig to the host: to the pid in PIDFile when there is one.
func (p *Process) Signal(sig syscall.Signal) error {
	if pid := p.serverPID(); pid > 0 {
		return syscall.Kill(pid, sig)
	}
	return p.Cmd.Process.Signal(sig)
}

func (p *Process) serverPID() int {
	if p.PIDFile == "" {
		return 0
	}
	b, err := os.ReadFile(p.PIDFile)
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	return pid
}

// PID is the server's pid (from PIDFile when set).
func (p *Process) PID() int {
	if pid := p.serverPID(); pid > 0 {
		return pid
	}
	return p.Cmd.Process.Pid
}

// Done is closed when the started command exits.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the command's exit status once Done is closed.
func (p *Process) ExitErr() error { return p.exit }

// Stop signals the host and waits up to 10s for it to exit, then kills it.
// Never pkill: only the pid this test started is touched.
func (p *Process) Stop(sig syscall.Signal) {
	p.stopMu.Lock()
	defer p.stopMu.Unlock()
	select {
	case <-p.done:
		if pid := p.serverPID(); pid > 0 && syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, sig)
			waitGone(pid, 10*time.Second)
		}
		return
	default:
	}
	_ = p.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Logf("%s did not stop on %v within 10s; killing it", p.Cmd.Path, sig)
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	if pid := p.serverPID(); pid > 0 {
		waitGone(pid, 10*time.Second)
	}
}

func waitGone(pid int, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// DumpLogs prints the tail of every log file to the test log.
func (p *Process) DumpLogs() {
	for _, f := range p.Logs {
		b, err := os.ReadFile(f)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if len(b) > 8<<10 {
			b = b[len(b)-8<<10:]
		}
		p.t.Logf("---- %s ----\n%s", f, b)
	}
}

// LogText returns the contents of the process's stderr so far.
func (p *Process) LogText() string {
	b, _ := os.ReadFile(p.Logs[0])
	return string(b)
}

// HTTPReady returns a Ready check that passes once url answers at all.
func HTTPReady(url string) func() error {
	client := &http.Client{Timeout: 2 * time.Second}
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
}

// DialReady returns a Ready check that passes once network/addr accepts a
// connection (a unix socket, or TCP for protocols other than HTTP).
func DialReady(network, addr string) func() error {
	return func() error {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
}

// waitReady polls ready until it passes (true), or the process exits
// because its port was taken, as portTaken reads its logs (false: the
// caller starts it again on another port). Any other exit, or no answer
// within timeout, fails the test with the process's logs.
func waitReady(t testing.TB, p *Process, name string, ready func() error, timeout time.Duration, portTaken func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return true
		}
		select {
		case <-p.Done():
			if portTaken() {
				return false
			}
			p.DumpLogs()
			t.Fatalf("%s exited at start: %v", name, p.ExitErr())
		default:
		}
		if time.Now().After(deadline) {
			p.DumpLogs()
			t.Fatalf("%s not ready after %s: %v", name, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
