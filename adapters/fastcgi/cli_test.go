package fastcgi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/secret"
	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// `anyhost serve --adapter fastcgi` serves both roles on a unix socket a web
// server's group can reach, and stops gracefully on SIGTERM.
func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fcgi.sock")
	p := testhost.Start(t, testhost.Spec{
		Args:  []string{testhost.AnyhostBinary(t), "serve", "--adapter", "fastcgi", "--listen", "unix:" + sock, "--socket-mode", "0660"},
		Dir:   dir,
		Ready: testhost.DialReady("unix", sock),
	})
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())

	r := dial(t, "unix", sock).do(1, RoleResponder, false, cgiParams("GET", "/hello"), nil)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "Hello!", r.body)
	e := echoOf(t, dial(t, "unix", sock).do(1, RoleResponder, false, cgiParams("GET", "/echo"), nil))
	assert.Equal(t, "fastcgi", e.Adapter)

	r = dial(t, "unix", sock).do(1, RoleAuthorizer, false, cgiParams("GET", "/private/", "REMOTE_USER", "demo", "REMOTE_PASSWD", "demo", ParamLocation, "/private"), nil)
	assert.Equal(t, 200, r.status)
	assert.Contains(t, string(r.stdout), "\r\nVariable-REMOTE_USER: demo\r\n")
	r = dial(t, "unix", sock).do(1, RoleAuthorizer, false, cgiParams("GET", "/private/", "REMOTE_USER", "demo", "REMOTE_PASSWD", "nope", ParamLocation, "/private"), nil)
	assert.Equal(t, 401, r.status)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	select {
	case <-p.Done():
		assert.NoError(t, p.ExitErr())
	case <-time.After(10 * time.Second):
		t.Fatal("anyhost serve --adapter fastcgi did not stop on SIGTERM")
	}
}

// The documented rotation: `anyhost secret rotate` (new, then old, in the
// secret file), SIGHUP (both accepted), `anyhost secret retire`, SIGHUP
// (only the new one). A request with neither is refused all along, and
// serve refuses a non-loopback TCP address without a secret.
func TestSecretRotationOnSIGHUP(t *testing.T) {
	bin := testhost.AnyhostBinary(t)
	dir := t.TempDir()
	sdir := filepath.Join(dir, "secret")
	run := func(args ...string) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		require.NoError(t, err, "anyhost %v: %s", args, out)
	}
	current := func() []string {
		b, err := os.ReadFile(filepath.Join(sdir, "secret"))
		require.NoError(t, err)
		return strings.Fields(string(b))
	}
	run("secret", "new", "--dir", sdir)
	first := current()[0]
	addr := "127.0.0.1:" + strconv.Itoa(testhost.FreePort(t))
	p := testhost.Start(t, testhost.Spec{
		Args:  []string{bin, "serve", "--adapter", "fastcgi", "--listen", addr, "--secret", "file:" + filepath.Join(sdir, "secret")},
		Dir:   dir,
		Ready: testhost.DialReady("tcp", addr),
	})
	user := func(s string) int {
		r := dial(t, "tcp", addr).do(1, RoleResponder, false, cgiParams("GET", "/echo", "ANYHOST_USER", "alice", secret.Param, s), nil)
		return r.status
	}
	require.Equal(t, 200, user(first))
	run("secret", "rotate", "--dir", sdir)
	second := current()
	require.Equal(t, []string{second[0], first}, second, "new first, then the previous")
	for _, b := range []string{"apache-secret.conf", "nginx-secret.conf"} {
		text, err := os.ReadFile(filepath.Join(sdir, b))
		require.NoError(t, err)
		assert.Contains(t, string(text), second[0], "%s carries the new secret", b)
		fi, err := os.Stat(filepath.Join(sdir, b))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	assert.Equal(t, 403, user(second[0]), "not before the reload")
	require.NoError(t, p.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return user(second[0]) == 200 }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, 200, user(first), "the previous one still, during the rotation")
	run("secret", "retire", "--dir", sdir)
	require.NoError(t, p.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return user(first) == 403 }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, 200, user(second[0]))
	assert.Equal(t, 403, user(""))

	out, err := exec.Command(bin, "serve", "--adapter", "fastcgi", "--listen", "0.0.0.0:"+strconv.Itoa(testhost.FreePort(t))).CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(out), "needs --secret")
}
