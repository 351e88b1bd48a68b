package install

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/adapters/nginx/module"
	"github.com/anyhost/anyhost/internal/testhost"
)

// needNginxDev skips (or under ANYHOST_REQUIRE_SERVERS=1 fails) without
// nginx's build tree.
func needNginxDev(t *testing.T) {
	t.Helper()
	if _, err := module.SourceVersion(module.DefaultSource); err != nil {
		if os.Getenv(testhost.RequireServersEnv) == "1" {
			t.Fatal("nginx-dev not installed (run `make deps`)")
		}
		t.Skip("nginx-dev not installed (run `make deps`)")
	}
}

// Every part, with the real module builds (the slow test: one build of
// each), into a copy of Debian's /etc/apache2: `a2enmod anyhost` and
// `apache2ctl -t` accept the mods-available pair, `nginx -t` the module's
// load_module and snippet; after a2dismod and uninstall the roots are as
// they were before.
func TestInstallEveryPart(t *testing.T) {
	testhost.NeedBinary(t, "apxs", "apxs2")
	a2enmod := testhost.NeedBinary(t, "a2enmod")
	a2dismod := testhost.NeedBinary(t, "a2dismod")
	apache2ctl := testhost.NeedBinary(t, "apache2ctl")
	testhost.NeedBinary(t, "nginx")
	needNginxDev(t)
	if _, err := os.Stat("/etc/apache2/apache2.conf"); err != nil {
		t.Skip("no Debian /etc/apache2 to copy")
	}
	prefix, etc := roots(t)
	require.NoError(t, os.MkdirAll(etc, 0o755))
	out, err := exec.Command("cp", "-a", "/etc/apache2", filepath.Join(etc, "apache2")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	before := listTree(t, etc)
	// The Apache part serves the admin's site only (the demo's / would
	// take every virtual host's URLs).
	site := filepath.Join(t.TempDir(), "site.toml")
	require.NoError(t, os.WriteFile(site, []byte("[[location]]\npath = \"/hello\"\ncontent = [\"demo.hello\"]\n"), 0o644))

	var log bytes.Buffer
	_, err = Install(context.Background(), Options{Prefix: prefix, Etc: etc, Site: site, Log: &log})
	require.NoError(t, err, "%s", log.String())
	assert.NotContains(t, log.String(), "skipping")
	for _, f := range []string{
		"lib/anyhost/apache/mod_anyhost.so", "lib/anyhost/apache/anyhost-app.so",
		"lib/anyhost/nginx/ngx_http_anyhost_module.so", "lib/anyhost/nginx/anyhost-app.so",
	} {
		assert.FileExists(t, filepath.Join(prefix, f))
	}
	conf, err := os.ReadFile(filepath.Join(etc, "apache2", "mods-available", "anyhost.conf"))
	require.NoError(t, err)
	assert.Contains(t, string(conf), "apply to every virtual host")
	load, err := os.ReadFile(filepath.Join(etc, "apache2", "mods-available", "anyhost.load"))
	require.NoError(t, err)
	assert.Contains(t, string(load), "AnyhostLibrary ")
	verifyUnits(t, etc)

	confDir := filepath.Join(etc, "apache2")
	env := append(os.Environ(), "APACHE_CONFDIR="+confDir, "APACHE_STATE_DIRECTORY="+t.TempDir())
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %v:\n%s", name, args, out)
	}
	run(a2enmod, "-q", "anyhost")
	run(apache2ctl, "-t")

	nginxTest(t, filepath.Join(etc, "nginx", "modules-available", NginxModuleLoad),
		filepath.Join(etc, "nginx", "sites-available", NginxModuleSite))
	nginxTest(t, "", filepath.Join(etc, "nginx", "sites-available", NginxSite))

	run(a2dismod, "-q", "anyhost")
	kept, err := Uninstall(UninstallOptions{Prefix: prefix})
	require.NoError(t, err)
	assert.Empty(t, kept)
	assert.Equal(t, before, listTree(t, etc), "etc is as it was")
	assert.Empty(t, listTree(t, prefix), "nothing is left under the prefix")
}
