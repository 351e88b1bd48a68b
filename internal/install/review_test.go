package install

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Apache part never serves the demo site: a2enmod makes its
// <Location "/"> take every URL of every virtual host. Named, it is an
// error; by default it is left out, naming --config.
func TestInstallApacheNeedsConfig(t *testing.T) {
	prefix, etc := roots(t)
	_, err := Install(context.Background(), Options{Prefix: prefix, Etc: etc, Parts: []Part{PartApache}})
	require.ErrorContains(t, err, "--config")
	assert.NoDirExists(t, etc, "nothing was written")

	var log bytes.Buffer
	o, err := Options{Prefix: prefix, Etc: etc, Log: &log}.withDefaults()
	require.NoError(t, err)
	parts, err := chooseParts(context.Background(), o)
	require.NoError(t, err)
	assert.NotContains(t, parts, PartApache)
	assert.Contains(t, log.String(), "skipping apache: it needs your site file (--config SITE.toml)")
}

// appendManifest adds lines to an installed manifest.
func appendManifest(t *testing.T, prefix string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(prefix, "share", "anyhost", ManifestFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// Uninstall acts on no entry outside the manifest's roots, nor on one that
// is not clean, follows no symlink, and (as root) trusts only a manifest
// that root alone may write.
func TestUninstallDistrustsManifest(t *testing.T) {
	victim := t.TempDir()
	victimFile := filepath.Join(victim, "x")
	require.NoError(t, os.WriteFile(victimFile, []byte("victim\n"), 0o644))
	victimDir := filepath.Join(victim, "empty")
	require.NoError(t, os.Mkdir(victimDir, 0o755))
	victimSum := sum([]byte("victim\n"))

	install := func(t *testing.T) (prefix, etc string) {
		prefix, etc = roots(t)
		_, err := Install(context.Background(), Options{Prefix: prefix, Etc: etc, Parts: []Part{PartBin, PartSystemd}})
		require.NoError(t, err)
		return prefix, etc
	}
	for name, line := range map[string]func(prefix string) string{
		"absolute, outside the roots": func(string) string { return "file bin " + victimSum + " " + victimFile },
		"dot-dot out of the prefix": func(prefix string) string {
			rel, err := filepath.Rel(prefix, victimFile)
			require.NoError(t, err)
			return "file bin " + victimSum + " " + prefix + "/" + rel
		},
		"an empty directory elsewhere": func(string) string { return "dir " + victimDir },
		"a root of /":                  func(string) string { return "root /" },
	} {
		t.Run(name, func(t *testing.T) {
			prefix, _ := install(t)
			appendManifest(t, prefix, line(prefix))
			_, err := Uninstall(UninstallOptions{Prefix: prefix})
			require.Error(t, err)
			assert.FileExists(t, victimFile)
			assert.DirExists(t, victimDir)
			assert.FileExists(t, filepath.Join(prefix, "bin", "anyhost"), "nothing is removed")
		})
	}

	t.Run("a DestDir is not left", func(t *testing.T) {
		dest := t.TempDir()
		_, err := Install(context.Background(), Options{Prefix: "/usr/local", Etc: "/etc", DestDir: dest, Parts: []Part{PartBin}})
		require.NoError(t, err)
		// Joined under the DestDir unchecked, it would reach the victim.
		rel, err := filepath.Rel(filepath.Join(dest, "usr", "local"), victimFile)
		require.NoError(t, err)
		appendManifest(t, filepath.Join(dest, "usr", "local"), "file bin "+victimSum+" /usr/local/"+rel)
		_, err = Uninstall(UninstallOptions{Prefix: "/usr/local", DestDir: dest})
		require.Error(t, err)
		assert.FileExists(t, victimFile)
	})

	t.Run("symlinks are kept, never followed", func(t *testing.T) {
		prefix, etc := install(t)
		// The binary's entry now a link to a file of the listed content,
		// and the unit directory a link to a directory holding such a file.
		bin := filepath.Join(prefix, "bin", "anyhost")
		data, err := os.ReadFile(bin)
		require.NoError(t, err)
		target := filepath.Join(victim, "anyhost-copy")
		require.NoError(t, os.WriteFile(target, data, 0o755))
		require.NoError(t, os.Remove(bin))
		require.NoError(t, os.Symlink(target, bin))
		unitDir := filepath.Join(etc, "systemd", "system")
		elsewhere := filepath.Join(victim, "units")
		require.NoError(t, os.Rename(unitDir, elsewhere))
		require.NoError(t, os.Symlink(elsewhere, unitDir))

		var log bytes.Buffer
		kept, err := Uninstall(UninstallOptions{Prefix: prefix, Log: &log, Force: true})
		require.NoError(t, err)
		assert.Contains(t, kept, bin)
		assert.Contains(t, kept, filepath.Join(unitDir, UnitStandalone))
		assert.Contains(t, log.String(), "not a regular file")
		assert.FileExists(t, target)
		assert.FileExists(t, filepath.Join(elsewhere, UnitStandalone))
		fi, err := os.Lstat(unitDir)
		require.NoError(t, err)
		assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the linked directory is not removed either")
	})

	t.Run("as root, a manifest others may write is refused", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root")
		}
		prefix, _ := install(t)
		manifest := filepath.Join(prefix, "share", "anyhost", ManifestFile)
		require.NoError(t, os.Chmod(manifest, 0o664))
		_, err := Uninstall(UninstallOptions{Prefix: prefix})
		require.ErrorContains(t, err, "not trusting")
		require.NoError(t, os.Chmod(manifest, 0o644))
		require.NoError(t, os.Chown(manifest, 65534, -1))
		_, err = Uninstall(UninstallOptions{Prefix: prefix})
		require.ErrorContains(t, err, "owned by uid 65534")
		_, err = Install(context.Background(), Options{Prefix: prefix, Etc: filepath.Join(filepath.Dir(filepath.Dir(prefix)), "etc"), Parts: []Part{PartBin}})
		require.ErrorContains(t, err, "not trusting", "a re-install reads it too")
		assert.FileExists(t, filepath.Join(prefix, "bin", "anyhost"))
		require.NoError(t, os.Chown(manifest, 0, -1))
		_, err = Uninstall(UninstallOptions{Prefix: prefix})
		require.NoError(t, err)
		assert.NoDirExists(t, prefix)
	})
}

// A non-clean --etc still finds the admin's file in the way.
func TestInstallCleansPaths(t *testing.T) {
	prefix, etc := roots(t)
	unit := filepath.Join(etc, "systemd", "system", UnitStandalone)
	require.NoError(t, os.MkdirAll(filepath.Dir(unit), 0o755))
	require.NoError(t, os.WriteFile(unit, []byte("# the admin's\n"), 0o644))
	_, err := Install(context.Background(), Options{Prefix: prefix + "/", Etc: etc + "/.", Parts: []Part{PartSystemd}})
	require.ErrorContains(t, err, unit)
	data, err := os.ReadFile(unit)
	require.NoError(t, err)
	assert.Equal(t, "# the admin's\n", string(data))
}

// The demo site stays while a part still installed names it, and goes
// with the last one.
func TestInstallKeepsSharedSite(t *testing.T) {
	prefix, etc := roots(t)
	demo := filepath.Join(prefix, "share", "anyhost", "demo-site.toml")
	_, err := Install(context.Background(), Options{Prefix: prefix, Etc: etc, Parts: []Part{PartBin, PartSystemd}})
	require.NoError(t, err)
	require.FileExists(t, demo)

	site := filepath.Join(t.TempDir(), "site.toml")
	require.NoError(t, os.WriteFile(site, []byte("[[location]]\npath = \"/hello\"\ncontent = [\"demo.hello\"]\n"), 0o644))
	m, err := Install(context.Background(), Options{Prefix: prefix, Etc: etc, Site: site, Parts: []Part{PartNginx}})
	require.NoError(t, err)
	assert.FileExists(t, demo, "anyhost.service still serves it")
	_, listed := m.file(demo)
	assert.True(t, listed)
	unit, err := os.ReadFile(filepath.Join(etc, "systemd", "system", UnitStandalone))
	require.NoError(t, err)
	assert.Contains(t, string(unit), "--config "+demo+" ")

	_, err = Uninstall(UninstallOptions{Prefix: prefix, Parts: []Part{PartSystemd}})
	require.NoError(t, err)
	assert.NoFileExists(t, demo, "nginx serves the admin's site: nothing names the demo now")
	assert.FileExists(t, filepath.Join(etc, "nginx", "sites-available", NginxSite))
	_, err = Uninstall(UninstallOptions{Prefix: prefix})
	require.NoError(t, err)
	assert.NoDirExists(t, prefix)
	assert.FileExists(t, site)
}

// The directories install makes are 0755 under any umask: the services'
// user reads the demo site.
func TestInstallDirModes(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	prefix, etc := roots(t)
	_, err := Install(context.Background(), Options{Prefix: prefix, Etc: etc, Parts: []Part{PartBin, PartSystemd}})
	require.NoError(t, err)
	for _, d := range []string{prefix, filepath.Join(prefix, "share"), filepath.Join(prefix, "share", "anyhost"), filepath.Join(etc, "systemd", "system")} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), d)
	}
	fi, err := os.Stat(filepath.Join(prefix, "share", "anyhost", "demo-site.toml"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
}

// An existing --user runs the services as is; the socket of a dynamic
// user's service is root's, reached through its group.
func TestInstallUnitUsers(t *testing.T) {
	prefix, etc := roots(t)
	_, err := Install(context.Background(), Options{Prefix: prefix, Etc: etc, Parts: []Part{PartBin, PartSystemd}, FastCGIListen: "unix:/run/anyhost-fcgi/fcgi.sock"})
	require.NoError(t, err)
	dir := filepath.Join(etc, "systemd", "system")
	sock, err := os.ReadFile(filepath.Join(dir, UnitFastCGISocket))
	require.NoError(t, err)
	assert.NotContains(t, string(sock), "SocketUser=")
	assert.Contains(t, string(sock), "SocketGroup=www-data\nSocketMode=0660\n")
	verifyUnits(t, etc)

	_, err = Install(context.Background(), Options{Prefix: prefix, Etc: etc, Parts: []Part{PartSystemd}, User: "www-data",
		FastCGIListen: "unix:/run/anyhost-fcgi/fcgi.sock", Force: true})
	require.NoError(t, err)
	for _, name := range []string{UnitStandalone, UnitFastCGI, UnitNginx} {
		unit, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Contains(t, string(unit), "\nUser=www-data\n", name)
		assert.NotContains(t, string(unit), "DynamicUser", name)
		assert.NotContains(t, string(unit), "RemoveIPC", name+": www-data's other processes keep their IPC objects")
	}
	sock, err = os.ReadFile(filepath.Join(dir, UnitFastCGISocket))
	require.NoError(t, err)
	assert.Contains(t, string(sock), "SocketUser=www-data\n")
}
