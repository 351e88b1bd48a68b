package app

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

// The commands as a user types them (they are wired into New in app.go;
// this app holds them alone): install with --only and --config, then
// uninstall leaves no file.
func TestInstallCommands(t *testing.T) {
	dir := t.TempDir()
	prefix, etc := filepath.Join(dir, "prefix"), filepath.Join(dir, "etc")
	site := filepath.Join(dir, "site.toml")
	require.NoError(t, os.WriteFile(site, []byte("[[location]]\npath = \"/hello\"\ncontent = [\"demo.hello\"]\n"), 0o644))
	var out bytes.Buffer
	app := &cli.App{Name: "anyhost", Commands: []*cli.Command{installCommand(), uninstallCommand()}, Writer: &out, ErrWriter: &out,
		ExitErrHandler: func(*cli.Context, error) {}} // errors are returned, never os.Exit

	err := app.Run([]string{"anyhost", "install", "--prefix", prefix, "--etc", etc, "--config", site,
		"--only", "bin,systemd", "--only", "nginx", "--listen", "unix:/run/anyhost-web/http.sock"})
	require.NoError(t, err, "%s", out.String())
	unit, err := os.ReadFile(filepath.Join(etc, "systemd", "system", "anyhost.service"))
	require.NoError(t, err)
	assert.Contains(t, string(unit), "--config "+site+" ")
	assert.Contains(t, string(unit), "RuntimeDirectory=anyhost-web\n")
	assert.NoFileExists(t, filepath.Join(prefix, "share", "anyhost", "demo-site.toml"), "the given site is served")
	assert.Contains(t, out.String(), "Nothing was enabled or started")
	assert.Contains(t, string(unit), "DynamicUser=yes\nRemoveIPC=yes\nUser=anyhost\nGroup=www-data\n", "a user of its own by default")

	err = app.Run([]string{"anyhost", "install", "--prefix", prefix, "--part", "apache2"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown part "apache2"`)

	// Apache's <Location>s are server-wide: the demo site is never its site.
	err = app.Run([]string{"anyhost", "install", "--prefix", prefix, "--etc", etc, "--part", "apache"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--config")
	assert.NoFileExists(t, filepath.Join(etc, "apache2", "mods-available", "anyhost.conf"))

	out.Reset()
	require.NoError(t, app.Run([]string{"anyhost", "uninstall", "--prefix", prefix}), "%s", out.String())
	assert.NoDirExists(t, prefix)
	assert.NoDirExists(t, etc)
	assert.FileExists(t, site, "the site file is the admin's")
}
