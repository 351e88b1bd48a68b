package nginx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

// parseUnit reads a unit file's sections and keys, failing on anything a
// unit file cannot hold: lines outside a section, lines without '=',
// unknown section names, a repeated section.
func parseUnit(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	units := map[string]map[string][]string{}
	var cur map[string][]string
	for i, line := range strings.Split(text, "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			name := line[1 : len(line)-1]
			require.Contains(t, []string{"Unit", "Service", "Install"}, name, "line %d", i+1)
			require.NotContains(t, units, name, "line %d: section repeated", i+1)
			cur = map[string][]string{}
			units[name] = cur
		default:
			require.NotNil(t, cur, "line %d outside a section: %q", i+1, line)
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "line %d has no '=': %q", i+1, line)
			require.Equal(t, strings.TrimSpace(k), k, "line %d", i+1)
			cur[k] = append(cur[k], v)
		}
	}
	return units
}

func TestUnit(t *testing.T) {
	o := UnitOptions{Binary: "/usr/bin/anyhost", Config: "/etc/anyhost/site%1.toml",
		FastCGI: "unix:/run/anyhost/fcgi.sock", Auth: "unix:/run/anyhost/auth.sock"}
	text, err := Unit(o)
	require.NoError(t, err)
	u := parseUnit(t, text)
	s := u["Service"]
	assert.Equal(t, []string{"/usr/bin/anyhost serve --adapter nginx --listen unix:/run/anyhost/fcgi.sock " +
		"--auth-listen unix:/run/anyhost/auth.sock --config /etc/anyhost/site%%1.toml --socket-mode 0660 " +
		"--socket-group www-data --shutdown-timeout 30s --log-format json"}, s["ExecStart"])
	assert.Equal(t, []string{"/bin/kill -HUP $MAINPID"}, s["ExecReload"])
	assert.Equal(t, []string{"on-failure"}, s["Restart"])
	assert.Equal(t, []string{"anyhost"}, s["User"], "a user of its own, not the uid of PHP and CGI scripts")
	assert.Equal(t, []string{"yes"}, s["DynamicUser"])
	assert.Equal(t, []string{"www-data"}, s["Group"], "the socket group, so the process may give it to the sockets")
	assert.Equal(t, []string{"anyhost"}, s["RuntimeDirectory"])
	assert.Equal(t, []string{"0750"}, s["RuntimeDirectoryMode"])
	assert.Equal(t, []string{"AF_UNIX AF_INET AF_INET6"}, s["RestrictAddressFamilies"])
	assert.Equal(t, []string{"strict"}, s["ProtectSystem"])
	assert.NotContains(t, s, "ReadWritePaths", "the runtime directory is writable already")
	assert.Equal(t, []string{"multi-user.target"}, u["Install"]["WantedBy"])

	// Sockets outside /run/NAME/: their directory must stay writable.
	o = UnitOptions{Binary: "/usr/bin/anyhost", FastCGI: "unix:/srv/app/fcgi.sock", Auth: "unix:/srv/app/auth.sock",
		SocketGroup: "nginx", User: "app", SocketMode: 0o600, ShutdownTimeout: 5 * time.Second}
	text, err = Unit(o)
	require.NoError(t, err)
	s = parseUnit(t, text)["Service"]
	assert.Equal(t, []string{"/srv/app"}, s["ReadWritePaths"])
	assert.NotContains(t, s, "RuntimeDirectory")
	assert.NotContains(t, s["ExecStart"][0], "--config", "no site file: the demo site")
	assert.Contains(t, s["ExecStart"][0], "--socket-mode 0600 --socket-group nginx --shutdown-timeout 5s")
	assert.Equal(t, []string{"app"}, s["User"])
	assert.Equal(t, []string{"yes"}, s["DynamicUser"], "no such user: systemd allocates it")
	assert.Equal(t, []string{"nginx"}, s["Group"])
	assert.Equal(t, []string{"10"}, s["TimeoutStopSec"])

	// An existing user is used as is, and keeps its IPC objects.
	o.User = "root"
	text, err = Unit(o)
	require.NoError(t, err)
	s = parseUnit(t, text)["Service"]
	assert.Equal(t, []string{"root"}, s["User"])
	assert.NotContains(t, s, "DynamicUser")
	assert.NotContains(t, s, "RemoveIPC")

	for name, bad := range map[string]UnitOptions{
		"relative binary":   {Binary: "anyhost", FastCGI: "unix:/run/a/f", Auth: "unix:/run/a/a"},
		"relative config":   {Binary: "/b", Config: "site.toml", FastCGI: "unix:/run/a/f", Auth: "unix:/run/a/a"},
		"space in config":   {Binary: "/b", Config: "/etc/my site.toml", FastCGI: "unix:/run/a/f", Auth: "unix:/run/a/a"},
		"no auth address":   {Binary: "/b", FastCGI: "unix:/run/a/f"},
		"group with space":  {Binary: "/b", FastCGI: "unix:/run/a/f", Auth: "unix:/run/a/a", SocketGroup: "www data"},
		"user with a slash": {Binary: "/b", FastCGI: "unix:/run/a/f", Auth: "unix:/run/a/a", User: "../root"},
	} {
		_, err := Unit(bad)
		assert.Error(t, err, name)
	}
}

// systemd's own checker accepts the unit `anyhost nginx conf --systemd`
// prints (unknown keys, bad values and a missing binary are errors or
// warnings it reports).
func TestUnitPassesSystemdAnalyze(t *testing.T) {
	analyze := testhost.NeedBinary(t, "systemd-analyze")
	bin := testhost.AnyhostBinary(t)
	out, err := exec.Command(bin, "nginx", "conf", "--listen", "unix:/run/anyhost/fcgi.sock",
		"--auth-listen", "unix:/run/anyhost/auth.sock", "--systemd", "--binary", bin).Output()
	require.NoError(t, err)
	_, unit, ok := strings.Cut(string(out), "\n# ---- systemd unit")
	require.True(t, ok, "the unit follows the nginx configuration:\n%s", out)
	_, unit, _ = strings.Cut(unit, "\n")
	parseUnit(t, unit)
	file := filepath.Join(t.TempDir(), "anyhost.service")
	require.NoError(t, os.WriteFile(file, []byte(unit), 0o644))
	res, err := exec.Command(analyze, "verify", file).CombinedOutput()
	require.NoError(t, err, "%s", res)
	assert.Empty(t, strings.TrimSpace(string(res)), "systemd-analyze has remarks")
	// Its security review, so the hardening cannot regress: 1.6 measured
	// (systemd 252, --service-user www-data), 1.8 before ProtectProc,
	// ProcSubset and ~@privileged @resources.
	res, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=16", file).CombinedOutput()
	assert.NoError(t, err, "exposure above 1.6:\n%s", res)
}

// With --secret-dir the unit passes the root-only secret file as a systemd
// credential, and still verifies clean.
func TestUnitWithSecretPassesSystemdAnalyze(t *testing.T) {
	analyze := testhost.NeedBinary(t, "systemd-analyze")
	bin := testhost.AnyhostBinary(t)
	sdir := t.TempDir()
	out, err := exec.Command(bin, "secret", "new", "--dir", sdir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin, "nginx", "conf", "--listen", "unix:/run/anyhost/fcgi.sock",
		"--auth-listen", "unix:/run/anyhost/auth.sock", "--systemd", "--binary", bin, "--secret-dir", sdir).Output()
	require.NoError(t, err)
	conf, unit, ok := strings.Cut(string(out), "\n# ---- systemd unit")
	require.True(t, ok)
	assert.Contains(t, conf, "include "+filepath.Join(sdir, SecretFile)+";")
	_, unit, _ = strings.Cut(unit, "\n")
	assert.Contains(t, unit, "LoadCredential=anyhost-secret:"+filepath.Join(sdir, "secret"))
	assert.Contains(t, unit, "--secret file:${CREDENTIALS_DIRECTORY}/anyhost-secret")
	file := filepath.Join(t.TempDir(), "anyhost.service")
	require.NoError(t, os.WriteFile(file, []byte(unit), 0o644))
	res, err := exec.Command(analyze, "verify", file).CombinedOutput()
	require.NoError(t, err, "%s", res)
	assert.Empty(t, strings.TrimSpace(string(res)), "systemd-analyze has remarks")

	// And nginx -t takes the configuration, the secret snippet included.
	full, err := exec.Command(bin, "nginx", "conf", "--listen", "unix:/run/anyhost/fcgi.sock",
		"--auth-listen", "unix:/run/anyhost/auth.sock", "--secret-dir", sdir, "--full", "--prefix", testhost.NginxPrefix,
		"--server-listen", testhost.NginxListen).Output()
	require.NoError(t, err)
	res2, err := testhost.NginxTest(t, string(full))
	require.NoError(t, err, "%s", res2)
}
