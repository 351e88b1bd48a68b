package install

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

// roots makes the prefix and etc roots of a test install.
func roots(t *testing.T) (prefix, etc string) {
	dir := t.TempDir()
	return filepath.Join(dir, "usr", "local"), filepath.Join(dir, "etc")
}

// listTree is every path under root, as root-relative names with a type
// mark; a missing root is empty.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && p == root {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	require.NoError(t, err)
	return out
}

// exposure is the most `systemd-analyze security --offline=yes` may rate
// each service (tenths; systemd 252). Measured with the default dynamic
// user: 1.4 for the first two, 1.5 for the nginx unit (it chowns its unix
// sockets, so @chown stays allowed); 1.8 each with www-data and the
// hardening before. A static --user adds 0.1 or 0.2.
var exposure = map[string]string{UnitStandalone: "15", UnitFastCGI: "15", UnitNginx: "16"}

// verifyUnits runs systemd's own checker over the installed units: it
// reports unknown keys, bad values and a missing binary; and its security
// review, so the hardening cannot regress.
func verifyUnits(t *testing.T, etc string) {
	t.Helper()
	analyze := testhost.NeedBinary(t, "systemd-analyze")
	dir := filepath.Join(etc, "systemd", "system")
	for _, name := range []string{UnitStandalone, UnitFastCGI, UnitFastCGISocket, UnitNginx} {
		out, err := exec.Command(analyze, "verify", filepath.Join(dir, name)).CombinedOutput()
		require.NoError(t, err, "%s: %s", name, out)
		assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify %s has remarks", name)
		if limit, ok := exposure[name]; ok {
			out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold="+limit, filepath.Join(dir, name)).CombinedOutput()
			assert.NoError(t, err, "%s: exposure above %s:\n%s", name, limit, out)
		}
	}
}

// nginxTest runs `nginx -t` on a configuration that includes the
// installed files, as Debian's nginx.conf includes modules-enabled/*.conf
// (main) and sites-enabled/* (http{}).
func nginxTest(t *testing.T, main, site string) {
	t.Helper()
	bin := testhost.NeedBinary(t, "nginx")
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("pid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\n")
	if main != "" {
		b.WriteString("include " + main + ";\n")
	}
	b.WriteString("events {}\nhttp {\n    include /etc/nginx/mime.types;\n    access_log " + dir + "/access.log;\n")
	for _, p := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		b.WriteString("    " + p + "_temp_path " + dir + "/" + p + ";\n")
	}
	b.WriteString("    include " + site + ";\n}\n")
	conf := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(conf, []byte(b.String()), 0o644))
	out, err := exec.Command(bin, "-t", "-p", dir, "-c", conf).CombinedOutput()
	require.NoError(t, err, "nginx -t:\n%s\n%s", out, b.String())
	assert.Contains(t, string(out), "test is successful")
}

// The parts that need no build: the binary, the units and the nginx
// snippet are written, pass their checkers, are replaced cleanly by a
// second install, and are all gone after uninstall, with the directories
// install made; a file the admin changed stops a reinstall and survives
// an uninstall.
func TestInstallUninstall(t *testing.T) {
	prefix, etc := roots(t)
	var log bytes.Buffer
	o := Options{Prefix: prefix, Etc: etc, Parts: []Part{PartBin, PartSystemd, PartNginx}, Log: &log}
	m, err := Install(context.Background(), o)
	require.NoError(t, err, "%s", log.String())

	unitDir := filepath.Join(etc, "systemd", "system")
	want := []string{
		filepath.Join(prefix, "bin", "anyhost"),
		filepath.Join(prefix, "share", "anyhost", "demo-site.toml"),
		filepath.Join(unitDir, UnitStandalone), filepath.Join(unitDir, UnitFastCGI),
		filepath.Join(unitDir, UnitFastCGISocket), filepath.Join(unitDir, UnitNginx),
		filepath.Join(etc, "nginx", "sites-available", NginxSite),
	}
	var got []string
	for _, f := range m.Files {
		got = append(got, f.Path)
		s, err := fileSum(f.Path)
		require.NoError(t, err)
		assert.Equal(t, f.SHA256, s, f.Path)
	}
	assert.ElementsMatch(t, want, got)
	text, err := os.ReadFile(filepath.Join(prefix, "share", "anyhost", ManifestFile))
	require.NoError(t, err)
	assert.Contains(t, string(text), "dir "+filepath.Join(etc, "systemd")+"\n", "the directories install made are listed")
	assert.Contains(t, log.String(), "systemctl enable --now "+UnitFastCGISocket, "it says what to run")
	assert.NotContains(t, listTree(t, etc), "nginx/sites-enabled/", "nothing is enabled")

	nginxUnit, err := os.ReadFile(filepath.Join(unitDir, UnitNginx))
	require.NoError(t, err)
	assert.Contains(t, string(nginxUnit), "ExecStart="+filepath.Join(prefix, "bin", "anyhost")+" serve --adapter nginx --listen unix:/run/anyhost/fcgi.sock")
	assert.Contains(t, string(nginxUnit), "RuntimeDirectory=anyhost\n")
	fcgiUnit, err := os.ReadFile(filepath.Join(unitDir, UnitFastCGI))
	require.NoError(t, err)
	for _, line := range []string{"StandardInput=socket", "StandardOutput=journal", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"} {
		assert.Contains(t, string(fcgiUnit), line+"\n")
	}
	assert.NotContains(t, string(fcgiUnit), "--listen", "the socket unit's socket is fd 0")
	// A user of its own, not www-data (PHP's and CGI's uid); the group
	// stays the web server's.
	for _, line := range []string{"DynamicUser=yes", "User=anyhost", "Group=www-data", "ProtectProc=invisible", "ProcSubset=pid",
		"SystemCallFilter=~@privileged @resources", "SystemCallErrorNumber=EPERM"} {
		assert.Contains(t, string(fcgiUnit), line+"\n")
	}
	assert.NotContains(t, string(fcgiUnit), "MemoryDenyWriteExecute=yes", "CGI interpreters with a JIT need W+X memory")
	assert.Contains(t, log.String(), "listens on 127.0.0.1:8081 (--nginx-listen) and serves the demo site", "the next steps say where the demo listens")
	verifyUnits(t, etc)
	nginxTest(t, "", filepath.Join(etc, "nginx", "sites-available", NginxSite))

	// Again over itself: same files, nothing refused.
	log.Reset()
	m2, err := Install(context.Background(), o)
	require.NoError(t, err, "%s", log.String())
	assert.Equal(t, m.Files, m2.Files)

	// A unit the admin edited: a reinstall refuses before writing, and
	// uninstall keeps it.
	edited := filepath.Join(unitDir, UnitStandalone)
	f, err := os.OpenFile(edited, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("# the admin's line\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = Install(context.Background(), o)
	require.ErrorContains(t, err, edited)

	// A reinstall of some parts leaves the others as they were.
	o.Parts = []Part{PartBin, PartSystemd}
	o.Force = true
	_, err = Install(context.Background(), o)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(etc, "nginx", "sites-available", NginxSite))

	// Uninstalling one part removes its files only.
	_, err = Uninstall(UninstallOptions{Prefix: prefix, Parts: []Part{PartNginx}})
	require.NoError(t, err)
	assert.NotContains(t, listTree(t, etc), "nginx/", "the directories install made for it go too")
	assert.FileExists(t, filepath.Join(unitDir, UnitNginx))

	// An enabled unit the admin then edited: uninstall keeps the file,
	// and names the link.
	require.NoError(t, os.MkdirAll(filepath.Join(unitDir, "multi-user.target.wants"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(unitDir, UnitNginx), filepath.Join(unitDir, "multi-user.target.wants", UnitNginx)))
	require.NoError(t, os.WriteFile(edited, []byte("# the admin's unit\n"), 0o644))
	log.Reset()
	kept, err := Uninstall(UninstallOptions{Prefix: prefix, Log: &log})
	require.NoError(t, err)
	assert.Equal(t, []string{edited}, kept)
	assert.Contains(t, log.String(), "still enabled: "+filepath.Join(unitDir, "multi-user.target.wants", UnitNginx))
	assert.Contains(t, log.String(), "systemctl disable "+UnitNginx)
	require.NoError(t, os.Remove(filepath.Join(unitDir, "multi-user.target.wants", UnitNginx)))
	require.NoError(t, os.Remove(filepath.Join(unitDir, "multi-user.target.wants")))
	assert.Equal(t, []string{"./", "systemd/", "systemd/system/", "systemd/system/" + UnitStandalone}, listTree(t, etc),
		"only the edited file is left, in the directories that hold it")
	assert.Empty(t, listTree(t, prefix), "the prefix install made is gone")
	_, err = Uninstall(UninstallOptions{Prefix: prefix})
	assert.ErrorContains(t, err, "no install manifest")
}
