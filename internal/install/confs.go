package install

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/anyhost/anyhost/adapters/apache"
	"github.com/anyhost/anyhost/adapters/nginx"
	"github.com/anyhost/anyhost/config"
)

// apacheModule writes mods-available/anyhost.load and anyhost.conf for
// the library built into l.apacheLib().
func apacheModule(site *config.Site, l layout) (load, conf string, err error) {
	load, conf, err = apache.DebianModuleFiles(apache.ConfOptions{LibDir: l.apacheLib(), Site: site}, []string{
		"Installed by `anyhost install`. Enable: a2enmod " + apache.DebianModule +
			" && apache2ctl configtest && systemctl reload apache2",
		"Rebuild the library after changing handler code: anyhost install --part apache (then reload).",
	})
	if err != nil {
		return "", "", fmt.Errorf("apache: %w", err)
	}
	return load, conf, nil
}

// nginxSite writes sites-available/anyhost: nginx in front of
// anyhost-nginx.service.
func nginxSite(o Options, site *config.Site, l layout) (string, error) {
	fcgi, auth := nginxSockets()
	out, err := nginx.Conf(nginx.ConfOptions{Site: site, FastCGI: fcgi, Auth: auth, ServerListen: o.NginxListen, SecretDir: o.SecretDir})
	if err != nil {
		return "", fmt.Errorf("nginx: %w", err)
	}
	return enableComment(l, NginxSite, "needs "+UnitNginx+" running (systemctl enable --now "+UnitNginx+")") + out, nil
}

// nginxModuleFiles writes modules-available/50-mod-http-anyhost.conf (the
// load_module line, main context) and sites-available/anyhost-module for
// the module built into l.nginxLib().
func nginxModuleFiles(o Options, site *config.Site, l layout) (load, conf string, err error) {
	lib := l.nginxLib()
	conf, err = nginx.Conf(nginx.ConfOptions{Mode: nginx.ModeModule, LibDir: lib, DestDir: o.DestDir, Site: site, ServerListen: o.NginxListen})
	if err != nil {
		return "", "", fmt.Errorf("nginx module: %w", err)
	}
	load = fmt.Sprintf("# Installed by `anyhost install`: nginx's in-process anyhost module.\n"+
		"# Enable: ln -s %s %s/ (nginx.conf includes modules-enabled/*.conf)\n"+
		"# nginx refuses a module built for another nginx version: after Debian updates nginx,\n"+
		"# install the matching nginx-dev and run `anyhost install --part nginx-module` again.\n"+
		"load_module %s;\n",
		filepath.Join(l.nginxModules(), NginxModuleLoad), filepath.Join(l.etc, "nginx", "modules-enabled"), filepath.Join(lib, "ngx_http_anyhost_module.so"))
	conf = enableComment(l, NginxModuleSite, "needs modules-enabled/"+NginxModuleLoad) + conf
	return load, conf, nil
}

// enableComment opens a sites-available file: how to enable it, and that
// its server{} is a second one if both snippets are enabled.
func enableComment(l layout, name, needs string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Installed by `anyhost install`; %s.\n", needs)
	fmt.Fprintf(&b, "# Enable: ln -s %s %s/ && nginx -t && systemctl reload nginx\n",
		filepath.Join(l.nginxSites(), name), filepath.Join(l.etc, "nginx", "sites-enabled"))
	fmt.Fprintf(&b, "# Enable %s or %s, not both: each is a server{} on the same address.\n", NginxSite, NginxModuleSite)
	return b.String()
}
