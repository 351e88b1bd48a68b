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

// A directory where others could replace the socket is refused, before
// anything is bound in it; /tmp's sticky bit keeps that from happening.
func TestListenRefusesADirectoryOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	_, err := listen.Listen("unix:"+filepath.Join(dir, "fcgi.sock"), listen.Options{Mode: 0o660})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "writable by others (mode 0777)")
	_, err = os.Stat(filepath.Join(dir, "fcgi.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing bound there")

	require.NoError(t, os.Chmod(dir, os.ModeSticky|0o777))
	ln, err := listen.Listen("unix:"+filepath.Join(dir, "fcgi.sock"), listen.Options{Mode: 0o660})
	require.NoError(t, err, "sticky, as /tmp")
	ln.Close()

	if os.Geteuid() == 0 {
		other := t.TempDir()
		require.NoError(t, os.Chown(other, 65534, 65534))
		_, err = listen.Listen("unix:"+filepath.Join(other, "fcgi.sock"), listen.Options{Mode: 0o660})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "belongs to uid 65534")
	}
}
