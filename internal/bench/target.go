package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Target is one row of a benchmark table: a server set-up that answers the
// same request ("Hello!") as the other rows of its group.
//
// To add a row (an Apache or nginx configuration, another adapter...), append
// a Target to the table in targets.go. Start gets a private-to-the-run
// workDir for binaries, configs and logs; it must return once the server
// answers, and the returned Running.Stop must stop everything it started.
type Target struct {
	Name  string // row label, e.g. "standalone /hello"; unique within its Group
	Group string // table it belongs to; ratios are computed against the group's Baseline
	// Baseline marks the row the group's ratios are relative to; exactly one
	// per group.
	Baseline bool
	// AllowErrors: non-2xx/3xx responses or socket errors are still shown,
	// but do not make the run exit 1 (e.g. a target that is known to drop
	// connections under load).
	AllowErrors bool
	// AllowKeepAliveCloses: wrk "read" socket errors up to maxKeepAliveCloses
	// of the requests are shown but do not fail the run. They are what a
	// server closing an idle keep-alive connection just as wrk sends on it
	// looks like (mpm_event closes a child's idle keep-alive connections
	// whenever all its workers are busy). Any other error still fails it;
	// pair it with a Running.Check that catches crashed workers, whose
	// dropped connections look the same to wrk.
	AllowKeepAliveCloses bool
	// OptIn targets are skipped unless --only names them (extra rows such as
	// noise controls that are not worth their time in every run).
	OptIn bool
	// Notes is printed under the group's table when the row is run: what the
	// row measures, and how it differs from its neighbours.
	Notes string
	// Start starts the server(s) and returns once they answer on URL.
	Start func(ctx context.Context, workDir string) (*Running, error)
}

// FullName is "Group: Name", unique in the table; --only matches it (or Name).
func (t Target) FullName() string { return t.Group + ": " + t.Name }

// Running is a started target.
type Running struct {
	URL string
	// Headers are request headers ("Name: value") wrk and the start-up check
	// send with every request (e.g. Basic credentials).
	Headers []string
	// H2 drives the row with h2load over TLS (HTTP/2) instead of wrk; URL
	// is https.
	H2 bool
	// Connections, if set, replaces --connections (wrk -c) for this row: a
	// row that serves tens of requests a second would only time out at 32.
	Connections int
	// PIDs returns the processes whose CPU counts as the server's; their
	// descendants are added by the driver. It is called again at every
	// measurement, so it may change (a host that forks workers).
	PIDs func() []int
	// Stop stops everything Start started. It is called exactly once, also
	// when the run is interrupted.
	Stop func() error
	// Cgroup, if set, is a cgroup v2 directory holding the target's
	// processes (see cgroup.go): the server CPU is then its cpu.stat
	// usage_usec, which also counts processes that exited during the run
	// (CGI programs); context switches still come from PIDs' trees.
	Cgroup string
	// Backend, if set, returns the processes of a backend the server
	// forwards to (in PIDs too): their CPU is also reported on its own, so
	// the server's share and the backend's can be told apart.
	Backend func() []int
	// Check, if set, is called after each measured run; an error fails the
	// run (e.g. the server logged a crashed worker since the last check).
	Check func() error

	// parts names a backend Running's processes by backend (Apache
	// instances with several), for rows that measure one of them.
	parts map[string]func() []int
}

// repoRoot is the module root (directory of go.mod), set by main; go builds run there.
var repoRoot string

// ---------------------------------------------------------------- go build

type buildResult struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*buildResult{}
)

// GoBuild builds the package pkg (relative to the module root, e.g.
// "./cmd/anyhost") into workDir/name, once per run: later calls with the same
// workDir and name return the first call's result. The error carries the
// compiler's output.
func GoBuild(ctx context.Context, workDir, pkg, name string) (string, error) {
	out := filepath.Join(workDir, name)
	return buildOnce(out, func() error {
		start := time.Now()
		if err := runIn(ctx, repoRoot, "go", "build", "-o", out, pkg); err != nil {
			return err
		}
		logf("built %s in %.1fs", pkg, time.Since(start).Seconds())
		return nil
	})
}

// buildOnce runs build once per output path out and returns out, or the
// first call's error to every call.
func buildOnce(out string, build func() error) (string, error) {
	buildsMu.Lock()
	b := builds[out]
	if b == nil {
		b = &buildResult{}
		builds[out] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		if b.err = build(); b.err == nil {
			b.path = out
		}
	})
	return b.path, b.err
}

// runIn runs a command in dir; the error carries its combined output.
func runIn(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	msg, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
		if m := strings.TrimSpace(string(msg)); m != "" {
			err = fmt.Errorf("%w\n%s", err, m)
		}
	}
	return err
}

// ---------------------------------------------------------------- children

// Child is a process started by the driver, with stdout and stderr captured
// to files in its own directory under workDir.
type Child struct {
	Name       string
	Cmd        *exec.Cmd
	Dir        string
	StdoutPath string
	StderrPath string

	done    chan struct{} // closed when the process has been waited for
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

var slugRe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// StartChild starts bin with args as a child process in its own process
// group (so Stop reaches its descendants too, and a Ctrl-C in the terminal
// reaches only the driver, which then stops it in order). If the driver dies
// without cleaning up, the kernel kills the child (Pdeathsig).
func StartChild(workDir, name, bin string, args ...string) (*Child, error) {
	return StartChildIn(workDir, name, "", bin, args...)
}

// StartChildIn is StartChild with the child started inside the cgroup v2
// directory cgroup (none if empty), atomically (clone3 CLONE_INTO_CGROUP),
// so that everything it forks is in the cgroup from its first instruction.
func StartChildIn(workDir, name, cgroup, bin string, args ...string) (*Child, error) {
	dir, err := os.MkdirTemp(workDir, "child-"+slugRe.ReplaceAllString(name, "_")+"-")
	if err != nil {
		return nil, err
	}
	// The child's working directory: Apache's children (www-data) must be
	// able to return to it (mod_python's cgihandler chdirs back).
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Child{
		Name:       name,
		Dir:        dir,
		StdoutPath: filepath.Join(dir, "stdout"),
		StderrPath: filepath.Join(dir, "stderr"),
		done:       make(chan struct{}),
	}
	stdout, err := os.Create(c.StdoutPath)
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := os.Create(c.StderrPath)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()

	c.Cmd = exec.Command(bin, args...)
	c.Cmd.Dir = dir
	c.Cmd.Stdout = stdout
	c.Cmd.Stderr = stderr
	c.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cgroup != "" {
		fd, err := syscall.Open(cgroup, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open cgroup %s: %w", cgroup, err)
		}
		defer syscall.Close(fd)
		c.Cmd.SysProcAttr.UseCgroupFD, c.Cmd.SysProcAttr.CgroupFD = true, fd
	}
	// Pdeathsig fires when the creating OS thread exits; keep this goroutine
	// on one thread across the fork so the signal is tied to a thread that
	// the runtime keeps (it only retires threads that exit while locked).
	runtime.LockOSThread()
	err = c.Cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		c.waitErr = c.Cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// PIDs is the child's PID while it runs (for Running.PIDs).
func (c *Child) PIDs() []int {
	if c.Exited() {
		return nil
	}
	return []int{c.Cmd.Process.Pid}
}

// StderrTail returns the last n bytes of the child's stderr.
func (c *Child) StderrTail(n int64) string { return fileTail(c.StderrPath, n) }

// Stop sends SIGTERM to the child's process group, and SIGKILL if the child
// has not exited 5 s later. Safe to call more than once.
func (c *Child) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(5 * time.Second) })
	return c.stopErr
}

func (c *Child) stop(grace time.Duration) error {
	pgid := c.Cmd.Process.Pid // Setpgid: the child leads its own group
	if c.Exited() {
		killLeftovers(pgid)
		return nil
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.done:
		killLeftovers(pgid)
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) survived SIGKILL", c.Name, pgid)
	}
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %s; killed", c.Name, pgid, grace)
}

// killLeftovers SIGKILLs what is left of the process group pgid after its
// leader (our child) has exited and been reaped: descendants that did not
// exit with it. If a process with PID pgid exists, that PID was reused by
// someone else's new process group, and nothing is sent.
func killLeftovers(pgid int) {
	members := processGroupMembers(pgid)
	if len(members) == 0 || slices.Contains(members, pgid) || syscall.Kill(pgid, 0) == nil {
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// ---------------------------------------------------------------- network

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitAnswers polls GET url until the server sends any HTTP response, the
// timeout passes, ctx ends, or child (if not nil) exits. Errors include the
// tail of child's stderr.
func WaitAnswers(ctx context.Context, url string, timeout time.Duration, child *Child) error {
	client := checkClient(time.Second)
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		lastErr = err
		var exited bool
		if child != nil {
			select {
			case <-child.done:
				exited = true
			case <-time.After(50 * time.Millisecond):
			}
		} else {
			time.Sleep(50 * time.Millisecond)
		}
		switch {
		case exited:
			return fmt.Errorf("%s exited before answering on %s (%v)%s", child.Name, url, child.waitErr, stderrNote(child))
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("no answer on %s after %s: %v%s", url, timeout, lastErr, stderrNote(child))
		}
	}
}

func stderrNote(c *Child) string {
	if c == nil {
		return ""
	}
	tail := c.StderrTail(2000)
	if tail == "" {
		return "; stderr empty (" + c.StderrPath + ")"
	}
	return "; stderr (" + c.StderrPath + "):\n" + indent(tail, "    ")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// ---------------------------------------------------------------- Go servers

// GoServer is a Target.Start for a Go program in this module that serves
// HTTP on the address its args name: it builds pkg once into workDir/bin,
// starts it on a free 127.0.0.1 port, and waits until it answers on path.
// args receives the listen address ("127.0.0.1:PORT").
func GoServer(pkg, bin string, args func(addr string) []string, path string) func(context.Context, string) (*Running, error) {
	return func(ctx context.Context, workDir string) (*Running, error) {
		return startGoServer(ctx, workDir, pkg, bin, "http", path, func(addr string) ([]string, error) { return args(addr), nil })
	}
}

// startGoServer is GoServer's Start, with args that may fail (writing a
// file they name) and the URL's scheme ("https": the row is served over
// TLS).
func startGoServer(ctx context.Context, workDir, pkg, bin, scheme, path string, args func(addr string) ([]string, error)) (*Running, error) {
	exe, err := GoBuild(ctx, workDir, pkg, bin)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	argv, err := args(addr)
	if err != nil {
		return nil, err
	}
	child, err := StartChild(workDir, bin, exe, argv...)
	if err != nil {
		return nil, err
	}
	url := scheme + "://" + addr + path
	if err := WaitAnswers(ctx, url, 20*time.Second, child); err != nil {
		return nil, errors.Join(err, child.Stop())
	}
	return &Running{URL: url, PIDs: child.PIDs, Stop: child.Stop, H2: scheme == "https"}, nil
}

// outputIn runs a command in dir and returns its standard output; the
// error carries its standard error.
func outputIn(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
