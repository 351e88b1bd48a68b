package install

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/anyhost/anyhost/adapters/nginx"
	"github.com/anyhost/anyhost/internal/secret"
	"github.com/anyhost/anyhost/internal/systemd"
)

// units writes the systemd units of every `serve` mode, by file name. Each
// comment says how to enable it; none is enabled here.
func units(o Options, l layout, site string) (map[string]string, error) {
	bin := l.binary()
	var secretFile string
	if o.SecretDir != "" {
		secretFile = filepath.Join(o.SecretDir, secret.File)
	}
	serve := func(adapter string, extra ...string) []string {
		args := []string{bin, "serve", "--adapter", adapter}
		args = append(args, extra...)
		args = append(args, "--config", site, "--shutdown-timeout", o.ShutdownTimeout.String(), "--log-format", "json")
		return args
	}
	header := func(name, what string) []string {
		return []string{
			fmt.Sprintf("Installed by `anyhost install` (%s): %s.", name, what),
			"Enable: systemctl daemon-reload && systemctl enable --now " + name,
			"`systemctl reload` re-reads the site file without dropping requests.",
		}
	}
	out := map[string]string{}
	var err error
	user, dynamic := systemd.ResolveUser(o.User)
	sockUser := user
	if dynamic {
		sockUser = "" // root's: the dynamic user exists only while the service runs
	}

	standalone := systemd.Service{
		Comment:         header(UnitStandalone, "the site on Go's own HTTP server, "+o.Listen),
		Description:     "anyhost site (standalone HTTP server)",
		Args:            serve("standalone", standaloneListen(o)...),
		User:            user,
		DynamicUser:     dynamic,
		Group:           o.Group,
		Listen:          []string{o.Listen},
		ShutdownTimeout: o.ShutdownTimeout,
	}
	if out[UnitStandalone], err = standalone.Unit(); err != nil {
		return nil, err
	}

	// No --listen: `serve --adapter fastcgi` takes the socket systemd hands
	// over as fd 0 (StandardInput=socket).
	fcgi := systemd.Service{
		Comment: append(header(UnitFastCGI, "the FastCGI responder and authorizer on "+UnitFastCGISocket),
			"Started by its socket: systemctl enable --now "+UnitFastCGISocket),
		Description:     "anyhost site over FastCGI (Apache mod_proxy_fcgi / mod_authnz_fcgi, lighttpd)",
		Args:            serve("fastcgi"),
		User:            user,
		DynamicUser:     dynamic,
		Group:           o.Group,
		SecretFile:      secretFile,
		Socket:          UnitFastCGISocket,
		ShutdownTimeout: o.ShutdownTimeout,
		Before:          []string{"apache2.service"},
	}
	if out[UnitFastCGI], err = fcgi.Unit(); err != nil {
		return nil, err
	}
	sock := systemd.Socket{
		Comment: []string{
			fmt.Sprintf("Installed by `anyhost install` (%s): where %s listens.", UnitFastCGISocket, UnitFastCGI),
			"Enable: systemctl daemon-reload && systemctl enable --now " + UnitFastCGISocket,
			"Apache's daemon mode: anyhost apache conf --mode fastcgi --fastcgi " + o.FastCGIListen,
		},
		Description: "anyhost FastCGI socket",
		Listen:      o.FastCGIListen,
		User:        sockUser,
		Group:       o.Group,
	}
	if out[UnitFastCGISocket], err = sock.Unit(); err != nil {
		return nil, err
	}

	fcgiSock, authSock := nginxSockets()
	if out[UnitNginx], err = nginx.Unit(nginx.UnitOptions{
		Binary: bin, Config: site, FastCGI: fcgiSock, Auth: authSock,
		SocketGroup: o.Group, User: o.User, ShutdownTimeout: o.ShutdownTimeout, SecretDir: o.SecretDir,
		Comment: header(UnitNginx, "the site behind nginx, for "+filepath.Join(l.nginxSites(), NginxSite)),
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// standaloneListen is the standalone unit's --listen, with the group the
// web server in front needs when it is a unix socket.
func standaloneListen(o Options) []string {
	if strings.HasPrefix(o.Listen, "unix:") {
		return []string{"--listen", o.Listen, "--socket-group", o.Group}
	}
	return []string{"--listen", o.Listen}
}

// nginxSockets are where the nginx mode's service listens and nginx
// connects: in the service's RuntimeDirectory.
func nginxSockets() (fcgi, auth string) {
	return "unix:" + nginxRunDir + "/fcgi.sock", "unix:" + nginxRunDir + "/auth.sock"
}
