package install

import (
	"fmt"
	"path/filepath"
	"slices"
)

// nextSteps says how to turn on what was installed: Install enables
// nothing, since which mode runs (and on which web server) is the admin's
// choice.
func nextSteps(o Options, l layout, parts []Part) {
	w := o.Log
	site := "the demo site (/hello, /echo, /private with demo:demo; --config SITE.toml serves yours)"
	if o.Site != "" {
		site = o.Site
	}
	fmt.Fprintln(w, "Nothing was enabled or started. To use what was installed:")
	if slices.Contains(parts, PartSystemd) {
		fmt.Fprintf(w, "  standalone:   systemctl daemon-reload && systemctl enable --now %s   # %s\n", UnitStandalone, o.Listen)
		fmt.Fprintf(w, "  FastCGI:      systemctl daemon-reload && systemctl enable --now %s   # %s (Apache daemon mode, lighttpd)\n", UnitFastCGISocket, o.FastCGIListen)
	}
	// The snippets' server{} is their own, so it serves only its address.
	serves := fmt.Sprintf("# its server{} listens on %s (--nginx-listen) and serves %s", o.NginxListen, site)
	if slices.Contains(parts, PartNginx) {
		fmt.Fprintf(w, "  nginx:        systemctl daemon-reload && systemctl enable --now %s && ln -s %s %s/ && nginx -t && systemctl reload nginx   %s\n",
			UnitNginx, filepath.Join(l.nginxSites(), NginxSite), filepath.Join(l.etc, "nginx", "sites-enabled"), serves)
	}
	if slices.Contains(parts, PartNginxModule) {
		fmt.Fprintf(w, "  nginx module: ln -s %s %s/ && ln -s %s %s/ && nginx -t && systemctl restart nginx   %s\n",
			filepath.Join(l.nginxModules(), NginxModuleLoad), filepath.Join(l.etc, "nginx", "modules-enabled"),
			filepath.Join(l.nginxSites(), NginxModuleSite), filepath.Join(l.etc, "nginx", "sites-enabled"), serves)
	}
	if slices.Contains(parts, PartApache) {
		fmt.Fprintln(w, "  Apache:       a2enmod anyhost && apache2ctl configtest && systemctl reload apache2")
	}
	fmt.Fprintf(w, "Remove it all again with: %s uninstall --prefix %s\n", l.binary(), o.Prefix)
}
