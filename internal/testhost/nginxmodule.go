package testhost

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/handlers/demo"
)

var nginxModuleBuild libBuild

// NginxModuleLibDir builds the nginx module and the Go library (with the
// gate and greet handlers) once per test binary with the real `anyhost
// nginx build`, and returns their directory.
func NginxModuleLibDir(t testing.TB) string {
	t.Helper()
	NginxBinary(t)
	if _, err := os.Stat("/usr/share/nginx/src/src/core/nginx.h"); err != nil {
		msg := "nginx-dev not installed (run `make deps`)"
		if os.Getenv(RequireServersEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// With the handlers the module's tests need (a gate that holds
	// requests, and the example a library swap takes away).
	return nginxModuleBuild.get(t, "nginx", "build",
		"--pkg", "github.com/anyhost/anyhost/internal/testhost/gate", "--pkg", "github.com/anyhost/anyhost/examples/greet")
}

// NginxModuleOptions describe an nginx running the module.
type NginxModuleOptions struct {
	// SiteFile is the site; "" writes the demo site to a file.
	SiteFile string
	// LibDir overrides the library directory (default NginxModuleLibDir).
	LibDir string
	// Workers is worker_processes (default: what the generator writes).
	Workers int
	// HTTP is added inside http{}; Server inside server{}.
	HTTP, Server string
}

// NginxModuleConf is the nginx.conf `anyhost nginx conf --mode module
// --full` writes for o, with StartNginx's placeholders.
func NginxModuleConf(t testing.TB, o NginxModuleOptions) string {
	t.Helper()
	if o.LibDir == "" {
		o.LibDir = NginxModuleLibDir(t)
	}
	if o.SiteFile == "" {
		dir := NewNginxPrefix(t)
		o.SiteFile = filepath.Join(dir, "demo-site.toml")
		require.NoError(t, os.WriteFile(o.SiteFile, demo.SiteTOML, 0o644))
	}
	out, err := exec.Command(AnyhostBinary(t), "nginx", "conf", "--mode", "module", "--lib-dir", o.LibDir,
		"--config", o.SiteFile, "--full", "--prefix", NginxPrefix, "--server-listen", NginxListen).CombinedOutput()
	require.NoError(t, err, "%s", out)
	text := string(out)
	if o.Workers > 0 {
		text = strings.Replace(text, "worker_processes 2;", fmt.Sprintf("worker_processes %d;", o.Workers), 1)
	}
	if o.HTTP != "" {
		text = strings.Replace(text, "\n    server {\n", "\n"+o.HTTP+"\n    server {\n", 1)
	}
	if o.Server != "" {
		text = strings.Replace(text, "\n        location / {\n", "\n"+o.Server+"\n        location / {\n", 1)
	}
	return text
}

// StartNginxModule starts nginx with the module for o.
func StartNginxModule(t testing.TB, o NginxModuleOptions) *Nginx {
	t.Helper()
	return StartNginx(t, NginxModuleConf(t, o))
}

// BuildNginxModuleLib builds a module and library into dir with pkgs.
func BuildNginxModuleLib(t testing.TB, dir string, pkgs ...string) {
	t.Helper()
	NginxModuleLibDir(t) // the checks, and one build at a time
	args := []string{"nginx", "build", "-o", dir}
	for _, p := range pkgs {
		args = append(args, "--pkg", p)
	}
	cmd := exec.Command(AnyhostBinary(t), args...)
	cmd.Dir = ModuleRoot()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}
