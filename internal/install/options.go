// Package install lays anyhost out the way a Debian admin expects it: the
// binary under a prefix, systemd units for `anyhost serve`, Apache's
// mods-available pair, nginx's sites-available snippet and dynamic module,
// and a manifest of every file written, so that Uninstall removes exactly
// those. Nothing is enabled or started: the admin decides which mode runs,
// and Install says how.
package install

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Part is one thing Install can lay out.
type Part string

// The parts, in the order Install writes them.
const (
	// PartBin is the anyhost binary, PREFIX/bin/anyhost.
	PartBin Part = "bin"
	// PartSystemd is the units for `anyhost serve`: standalone
	// (anyhost.service), FastCGI (anyhost-fastcgi.socket + .service, for
	// Apache's daemon mode and lighttpd) and nginx (anyhost-nginx.service).
	PartSystemd Part = "systemd"
	// PartApache is mod_anyhost and its Go library (built with apxs) and
	// mods-available/anyhost.load + anyhost.conf.
	PartApache Part = "apache"
	// PartNginx is sites-available/anyhost, nginx in front of
	// anyhost-nginx.service over FastCGI.
	PartNginx Part = "nginx"
	// PartNginxModule is the in-process nginx module and its Go library
	// (built against nginx-dev), modules-available/50-mod-http-anyhost.conf
	// and sites-available/anyhost-module.
	PartNginxModule Part = "nginx-module"
	// partSite is the demo site's file, written when no site file is
	// given and a part needs one. Not chosen by the admin.
	partSite Part = "site"
)

// AllParts are the parts an admin may choose, in install order.
func AllParts() []Part {
	return []Part{PartBin, PartSystemd, PartApache, PartNginx, PartNginxModule}
}

// ParseParts reads a list of part names ("apache,nginx" or repeated
// flags); empty means every part.
func ParseParts(names []string) ([]Part, error) {
	var parts []Part
	for _, n := range names {
		for _, w := range strings.Split(n, ",") {
			p := Part(strings.TrimSpace(w))
			if p == "" {
				continue
			}
			if !slices.Contains(AllParts(), p) {
				return nil, fmt.Errorf("unknown part %q: the parts are %s", p, partList(AllParts()))
			}
			if !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
	}
	return parts, nil
}

func partList(parts []Part) string {
	var s []string
	for _, p := range parts {
		s = append(s, string(p))
	}
	return strings.Join(s, ", ")
}

// Options says what Install writes and where. Paths are the installed
// ones; DestDir, if set, is prefixed to every one of them when writing.
type Options struct {
	// Prefix holds the binary, the libraries and the manifest. Default
	// /usr/local.
	Prefix string
	// Etc is the configuration root (systemd/system, apache2, nginx under
	// it). Default /etc.
	Etc string
	// DestDir stages the whole tree under another root (a package build);
	// the files still name the installed paths.
	DestDir string
	// Site is the site file the units and configurations serve, an
	// absolute path; "" installs the embedded demo site as
	// PREFIX/share/anyhost/demo-site.toml. The Apache part needs one: the
	// demo's index page at / would take every URL of every virtual host.
	Site string
	// Parts to install; nil is every part, each of the module parts left
	// out (and said so) when its build tools are missing. A part named
	// here whose tools are missing is an error.
	Parts []Part
	// Binary is the executable installed as PREFIX/bin/anyhost. Default:
	// the running one.
	Binary string
	// Packages are the user's handler packages linked into the Apache and
	// nginx libraries (import paths in the current module).
	Packages []string
	// User runs the services: an existing user as is, any other name
	// (default "anyhost") a DynamicUser=yes of their own, never the uid
	// of the web server's PHP and CGI scripts. Group is theirs and their
	// sockets' (the web server's workers are in it). Default www-data.
	User, Group string
	// Listen is the standalone unit's address. Default 127.0.0.1:8080.
	Listen string
	// FastCGIListen is where anyhost-fastcgi.socket listens. Default
	// 127.0.0.1:9000 (Apache's mod_authnz_fcgi speaks TCP only).
	FastCGIListen string
	// NginxListen is the listen address of the nginx server{} snippets.
	// Default 127.0.0.1:8081.
	NginxListen string
	// SecretDir is the directory `anyhost secret new` wrote; the units
	// and the nginx snippet then use the web server's secret.
	SecretDir string
	// ShutdownTimeout is the services' --shutdown-timeout. Default 30s.
	ShutdownTimeout time.Duration
	// Force overwrites configuration files that are not the ones a
	// previous install wrote (the admin's, or edited since).
	Force bool
	// Log receives progress, what was left out, and the commands that
	// enable what was installed. Default: discard.
	Log io.Writer
	// BuildLog receives the module builds' tool output. Default: discard.
	BuildLog io.Writer
}

// withDefaults fills in the defaults and checks the paths.
func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = "/usr/local"
	}
	if o.Etc == "" {
		o.Etc = "/etc"
	}
	for _, v := range []struct{ flag, path string }{
		{"--prefix", o.Prefix}, {"--etc", o.Etc}, {"--destdir", o.DestDir}, {"--config", o.Site}, {"--secret-dir", o.SecretDir},
	} {
		if v.path != "" && !strings.HasPrefix(v.path, "/") {
			return o, fmt.Errorf("%s %q: an absolute path is needed (the installed files name it)", v.flag, v.path)
		}
	}
	// Cleaned, so that every comparison of paths (the admin-file check,
	// the manifest's roots) sees one spelling.
	o.Prefix, o.Etc = filepath.Clean(o.Prefix), filepath.Clean(o.Etc)
	for _, p := range []*string{&o.DestDir, &o.Site, &o.SecretDir} {
		if *p != "" {
			*p = filepath.Clean(*p)
		}
	}
	if o.DestDir == "/" {
		o.DestDir = ""
	}
	if o.Prefix == "/" || o.Etc == "/" {
		return o, fmt.Errorf("--prefix and --etc cannot be /: uninstall acts only under them")
	}
	if o.Group == "" {
		o.Group = "www-data"
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.FastCGIListen == "" {
		o.FastCGIListen = "127.0.0.1:9000"
	}
	if o.NginxListen == "" {
		o.NginxListen = "127.0.0.1:8081"
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.BuildLog == nil {
		o.BuildLog = io.Discard
	}
	if o.Binary == "" {
		bin, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("the running binary: %w", err)
		}
		o.Binary = bin
	}
	return o, nil
}
