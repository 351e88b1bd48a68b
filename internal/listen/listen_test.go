package listen_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/listen"
)

// A socket under a directory that does not exist yet (/run/anyhost after
// a reboot, outside systemd) gets the directory, reachable by the web
// server's user; the socket's own mode guards it.
func TestListenMakesTheSocketDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "anyhost")
	sock := filepath.Join(dir, "fcgi.sock")
	ln, err := listen.Listen("unix:"+sock, listen.Options{Mode: 0o660})
	require.NoError(t, err)
	defer ln.Close()
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "under the usual umask 022")
	si, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), si.Mode().Perm())
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	c.Close()

	// An existing directory keeps its mode.
	require.NoError(t, os.Chmod(dir, 0o750))
	ln.Close()
	ln2, err := listen.Listen("unix:"+sock, listen.Options{Mode: 0o660})
	require.NoError(t, err)
	ln2.Close()
	fi, err = os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o750), fi.Mode().Perm())
}
