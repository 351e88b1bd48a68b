package nginx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/anyhost/anyhost/handlers/demo"
)

// The modes of ConfOptions.Mode.
const (
	ModeFastCGI = "fastcgi"
	ModeModule  = "module"
)

// Module file names in a library directory (adapters/nginx/module writes
// them; repeated here so that this package needs no cgo-side import).
const (
	moduleFile  = "ngx_http_anyhost_module.so"
	libraryFile = "anyhost-app.so"
)

// confModule writes the configuration of the in-process module: the
// library and the site for every worker, and one location that gives the
// site all content (the site matches its own locations, as on every host;
// nginx adds what it does before and after: limits, logs, TLS).
//
// A fragment cannot hold load_module (main context only): its first
// comment gives the line, for nginx.conf or Debian's modules-enabled/.
func confModule(o ConfOptions) (string, error) {
	if o.LibDir == "" {
		return "", fmt.Errorf("nginx conf: --mode module needs --lib-dir, where `anyhost nginx build -o` put the module")
	}
	lib, err := filepath.Abs(o.LibDir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(o.DestDir, lib, libraryFile)); err != nil {
		return "", fmt.Errorf("nginx conf: --lib-dir %s holds no %s: run `anyhost nginx build -o %s` first", lib, libraryFile, o.LibDir)
	}
	site, err := siteFile(o)
	if err != nil {
		return "", err
	}
	for _, w := range []string{lib, site} {
		if !safeWord(w) {
			return "", fmt.Errorf("nginx conf: path %q has characters nginx would misread", w)
		}
	}
	if o.ServerListen == "" {
		o.ServerListen = "127.0.0.1:8080"
	}
	if !safeWord(o.ServerListen) {
		return "", fmt.Errorf("nginx conf: listen address %q has characters nginx would misread", o.ServerListen)
	}
	load := fmt.Sprintf("load_module %s;", filepath.Join(lib, moduleFile))
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	in, err := head(o, p, load)
	if err != nil {
		return "", err
	}
	if !o.Full {
		p("# nginx.conf's main context (or /etc/nginx/modules-enabled/50-mod-http-anyhost.conf) needs:")
		p("#   %s", load)
	}
	p(in+"anyhost_library %s;", filepath.Join(lib, libraryFile))
	p(in+"anyhost_site %s;", site)
	p("")
	p(in + "server {")
	i2 := in + "    "
	p(i2+"listen %s;", o.ServerListen)
	serverLimits(p, i2, o.Site.Limits.WithDefaults())
	p("")
	p(i2 + "location / {")
	p(i2 + "    anyhost;")
	p(i2 + "}")
	p(in + "}")
	if o.Full {
		p("}")
	}
	return b.String(), nil
}

// siteFile is the site file the workers load: the given one, or for the
// embedded demo site a copy written into the full config's prefix.
func siteFile(o ConfOptions) (string, error) {
	if f := o.Site.File; f != "" && !strings.HasPrefix(f, "demo site") {
		return filepath.Abs(f)
	}
	if !o.Full || o.Prefix == "" {
		return "", fmt.Errorf("nginx conf: --mode module loads the site from a file: give --config FILE (or --full --prefix DIR, where the demo site is written)")
	}
	pre, err := filepath.Abs(o.Prefix)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(pre, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(pre, "demo-site.toml")
	return path, os.WriteFile(path, demo.SiteTOML, 0o644)
}
