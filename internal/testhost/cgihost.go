package testhost

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// CGIProgram puts the anyhost binary and a cgi-bin wrapper for it in dir
// (which the web server's user must be able to read) and returns the
// wrapper's path. The wrapper names the site in ANYHOST_CONFIG ("" for the
// demo site) and execs the binary with no arguments: anyhost sees
// GATEWAY_INTERFACE and answers the one request.
func CGIProgram(t testing.TB, dir, site string) string {
	t.Helper()
	bin, err := os.ReadFile(AnyhostBinary(t))
	require.NoError(t, err)
	prog := filepath.Join(dir, "anyhost")
	require.NoError(t, os.WriteFile(prog, bin, 0o755))
	wrapper := filepath.Join(dir, "anyhost.cgi")
	text := "#!/bin/sh\n"
	if site != "" {
		text += fmt.Sprintf("ANYHOST_CONFIG=%q\nexport ANYHOST_CONFIG\n", site)
	}
	text += fmt.Sprintf("exec %q\n", prog)
	require.NoError(t, os.WriteFile(wrapper, []byte(text), 0o755))
	return wrapper
}

// StartApacheCGI runs httpd with mod_cgid sending every path to anyhost as
// a CGI program (CGIPassAuth On, so the site's own Basic auth runs).
func StartApacheCGI(t testing.TB, mpm, site string) *Apache {
	t.Helper()
	if mpm == "" {
		mpm = "event"
	}
	return startApacheWith(t, func(root, addr string) string {
		return strings.NewReplacer("ROOT", root, "ADDR", addr, "MPM", mpm, "MODS", apacheModules, "WRAPPER", CGIProgram(t, root, site)).Replace(`ServerRoot "ROOT"
Listen ADDR
ServerName 127.0.0.1
PidFile "ROOT/httpd.pid"
ErrorLog "ROOT/error.log"
LogLevel warn
DefaultRuntimeDir "ROOT"
Mutex file:ROOT default
LoadModule mpm_MPM_module "MODSmod_mpm_MPM.so"
LoadModule authz_core_module "MODSmod_authz_core.so"
LoadModule alias_module "MODSmod_alias.so"
LoadModule cgid_module "MODSmod_cgid.so"
User www-data
Group www-data
ScriptSock "ROOT/cgid.sock"
DocumentRoot "ROOT/htdocs"
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog "ROOT/access.log" common
ScriptAliasMatch "^/(.*)$" "WRAPPER/$1"
<Directory "ROOT">
    Require all granted
    CGIPassAuth On
    # The demo site's max_body: Apache refuses a larger declared body
    # before it sends 100 Continue, which the program itself cannot.
    LimitRequestBody 10485760
</Directory>
`)
	})
}

// apacheModules is where Debian keeps Apache's modules.
const apacheModules = "/usr/lib/apache2/modules/"
