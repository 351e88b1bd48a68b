package fastcgi

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
