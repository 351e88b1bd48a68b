package install

import "path/filepath"

// layout is where each installed file goes, as installed (no DestDir).
type layout struct {
	prefix, etc string
}

func (l layout) binary() string       { return filepath.Join(l.prefix, "bin", "anyhost") }
func (l layout) share() string        { return filepath.Join(l.prefix, "share", "anyhost") }
func (l layout) manifest() string     { return filepath.Join(l.share(), ManifestFile) }
func (l layout) demoSite() string     { return filepath.Join(l.share(), "demo-site.toml") }
func (l layout) apacheLib() string    { return filepath.Join(l.prefix, "lib", "anyhost", "apache") }
func (l layout) nginxLib() string     { return filepath.Join(l.prefix, "lib", "anyhost", "nginx") }
func (l layout) unitDir() string      { return filepath.Join(l.etc, "systemd", "system") }
func (l layout) apacheMods() string   { return filepath.Join(l.etc, "apache2", "mods-available") }
func (l layout) nginxSites() string   { return filepath.Join(l.etc, "nginx", "sites-available") }
func (l layout) nginxModules() string { return filepath.Join(l.etc, "nginx", "modules-available") }

// ManifestFile is the manifest's name in PREFIX/share/anyhost.
const ManifestFile = "install-manifest"

// The names of the installed configuration files, by Debian's conventions.
const (
	// UnitStandalone runs `serve` on its own (net/http).
	UnitStandalone = "anyhost.service"
	// UnitFastCGI runs `serve --adapter fastcgi` on the socket of
	// UnitFastCGISocket.
	UnitFastCGI       = "anyhost-fastcgi.service"
	UnitFastCGISocket = "anyhost-fastcgi.socket"
	// UnitNginx runs `serve --adapter nginx` for NginxSite.
	UnitNginx = "anyhost-nginx.service"
	// NginxSite and NginxModuleSite go in sites-available.
	NginxSite       = "anyhost"
	NginxModuleSite = "anyhost-module"
	// NginxModuleLoad goes in modules-available, named as Debian's own
	// dynamic modules (50-mod-http-*.conf).
	NginxModuleLoad = "50-mod-http-anyhost.conf"
)

// nginxRunDir holds the nginx mode's sockets: the unit's RuntimeDirectory.
const nginxRunDir = "/run/anyhost"
