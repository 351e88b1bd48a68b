package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/anyhost/anyhost/adapters/nginx"
	"github.com/anyhost/anyhost/adapters/nginx/module"
	"github.com/anyhost/anyhost/config"
)

func nginxCommand() *cli.Command {
	return &cli.Command{
		Name:  "nginx",
		Usage: "run handlers behind nginx (FastCGI) or inside it (module): build the module, print the configuration",
		Subcommands: []*cli.Command{{
			Name:      "build",
			Usage:     "build ngx_http_anyhost_module.so (against nginx-dev) and the Go handler library into DIR, replacing a deployed library by atomic rename",
			UsageText: "anyhost nginx build [--pkg IMPORT/PATH]... -o DIR",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "directory for the module, anyhost-app.so and anyhost-app.so.names"},
				&cli.StringSliceFlag{Name: "pkg", Usage: "your handler packages to link in (import paths in the current module); the built-ins are always in"},
				&cli.StringFlag{Name: "nginx-src", Value: module.DefaultSource, Usage: "nginx's build tree (Debian: the nginx-dev package)"},
				&cli.StringFlag{Name: "nginx", Usage: "the nginx binary the module is for (default: nginx on PATH); its version must match the build tree's"},
				&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show the build tools' output"},
			},
			Action: func(c *cli.Context) error {
				o := module.BuildOptions{OutDir: c.String("out"), Packages: c.StringSlice("pkg"),
					Source: c.String("nginx-src"), Nginx: c.String("nginx")}
				if c.Bool("verbose") {
					o.Log = c.App.ErrWriter
				}
				if err := module.Build(c.Context, o); err != nil {
					return cli.Exit("nginx build: "+err.Error(), 1)
				}
				fmt.Fprintf(c.App.ErrWriter, "built %s and %s in %s\n", module.ModuleFile, module.LibraryFile, c.String("out"))
				return nil
			},
		}, {
			Name: "conf",
			Usage: "print nginx configuration: upstreams and a server{} to include in http{}, or with --full a " +
				"complete nginx.conf; takes the same --listen/--auth-listen as `serve --adapter nginx`",
			UsageText: "anyhost nginx conf --listen unix:FCGI.sock --auth-listen unix:AUTH.sock [--secret-dir DIR] [--config FILE] [--server-listen ADDR]\n" +
				"anyhost nginx conf --mode module --lib-dir DIR [--config FILE] [--full --prefix DIR] [--server-listen ADDR]\n" +
				"anyhost nginx conf ... --full --prefix DIR\n" +
				"anyhost nginx conf ... --systemd [--socket-group www-data] [--service-user USER] [--binary PATH]\n" +
				"   (the unit follows the nginx configuration after a line starting with \"" + unitMarker + "\")",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "mode", Value: nginx.ModeFastCGI, Usage: "fastcgi (anyhost serve --adapter nginx runs beside nginx) or module (the Go library runs inside nginx's workers)"},
				&cli.StringFlag{Name: "listen", Usage: "fastcgi mode: where serve --adapter nginx listens for FastCGI"},
				&cli.StringFlag{Name: "auth-listen", Usage: "fastcgi mode: where it serves the auth_request endpoint"},
				&cli.StringFlag{Name: "lib-dir", Usage: "module mode: the directory anyhost nginx build -o wrote (module and library)"},
				&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "site file (TOML); default: the embedded demo site"},
				&cli.StringFlag{Name: "server-listen", Value: "127.0.0.1:8080", Usage: "nginx's own listen address"},
				&cli.BoolFlag{Name: "full", Usage: "a complete nginx.conf that 'nginx -p DIR -c nginx.conf' starts as is"},
				&cli.StringFlag{Name: "prefix", Usage: "with --full: directory for pid file, logs and temp paths"},
				&cli.BoolFlag{Name: "systemd", Usage: "also print a systemd unit running 'anyhost serve --adapter nginx' with these flags (reload on SIGHUP)"},
				&cli.StringFlag{Name: "socket-mode", Value: "0660", Usage: "with --systemd: mode of the unix sockets"},
				&cli.StringFlag{Name: "socket-group", Value: "www-data", Usage: "with --systemd: group of the unix sockets (nginx's workers) and of the service"},
				&cli.StringFlag{Name: "service-user", Usage: "with --systemd: user the Go process runs as (default: a DynamicUser anyhost of its own, not the uid of PHP and CGI scripts)"},
				&cli.StringFlag{Name: "binary", Usage: "with --systemd: the anyhost executable (default: this one)"},
				&cli.DurationFlag{Name: "shutdown-timeout", Value: 30e9, Usage: "with --systemd: serve's --shutdown-timeout"},
				&cli.StringFlag{Name: "secret-dir", Usage: "the directory 'anyhost secret new' wrote: nginx proves itself to 'serve --secret' with every request, which refuses requests without it"},
			},
			Action: func(c *cli.Context) error {
				module := c.String("mode") == nginx.ModeModule
				if !module && (c.String("listen") == "" || c.String("auth-listen") == "") {
					return cli.Exit("nginx conf: --listen and --auth-listen are required (or --mode module)", 1)
				}
				if module && c.Bool("systemd") {
					return cli.Exit("nginx conf: --systemd runs `anyhost serve`, which module mode does not need: nginx runs the handlers", 1)
				}
				var site *config.Site
				var err error
				if module && c.String("lib-dir") == "" {
					return cli.Exit("nginx conf: --mode module needs --lib-dir, the directory anyhost nginx build -o wrote", 1)
				}
				if module {
					site, err = loadSiteForLibrary(c.String("config"), c.String("lib-dir"))
				} else {
					site, err = loadCheckedSite(c.String("config"))
				}
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				out, err := nginx.Conf(nginx.ConfOptions{
					Mode: c.String("mode"), LibDir: c.String("lib-dir"),
					Site: site, FastCGI: c.String("listen"), Auth: c.String("auth-listen"),
					ServerListen: c.String("server-listen"), Full: c.Bool("full"), Prefix: c.String("prefix"),
					SecretDir: c.String("secret-dir"),
				})
				if err != nil {
					return cli.Exit("nginx conf: "+err.Error(), 1)
				}
				fmt.Fprint(c.App.Writer, out)
				if !c.Bool("systemd") {
					return nil
				}
				unit, err := systemdUnit(c)
				if err != nil {
					return cli.Exit("nginx conf: "+err.Error(), 1)
				}
				fmt.Fprintf(c.App.Writer, "\n%s (save as /etc/systemd/system/anyhost.service)\n%s", unitMarker, unit)
				return nil
			},
		}},
	}
}

// unitMarker starts the line between the nginx configuration and the
// systemd unit in `nginx conf --systemd` output (for csplit).
const unitMarker = "# ---- systemd unit"

func systemdUnit(c *cli.Context) (string, error) {
	mode, err := socketOptions(c)
	if err != nil {
		return "", err
	}
	bin := c.String("binary")
	if bin == "" {
		if bin, err = os.Executable(); err != nil || strings.Contains(bin, "/go-build") {
			// `go run` builds into a temporary directory.
			bin = "/usr/local/bin/anyhost"
		}
	}
	config := c.String("config")
	if config != "" {
		if config, err = filepath.Abs(config); err != nil {
			return "", err
		}
	}
	secretDir := c.String("secret-dir")
	if secretDir != "" {
		if secretDir, err = filepath.Abs(secretDir); err != nil {
			return "", err
		}
	}
	return nginx.Unit(nginx.UnitOptions{
		Binary: bin, Config: config, FastCGI: c.String("listen"), Auth: c.String("auth-listen"),
		SocketMode: mode.Mode, SocketGroup: mode.Group, User: c.String("service-user"),
		ShutdownTimeout: c.Duration("shutdown-timeout"), SecretDir: secretDir,
	})
}

// loadSiteForLibrary parses the site and checks its handler and provider
// names against what the library in libDir registers (its names file):
// the library, not this binary, runs them, and may hold the user's own.
func loadSiteForLibrary(path, libDir string) (*config.Site, error) {
	site, err := loadSiteFile(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(libDir, module.NamesFile))
	if err != nil {
		return nil, fmt.Errorf("--lib-dir: %w (run anyhost nginx build -o %s first)", err, libDir)
	}
	known := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		known[line] = true
	}
	var errs []string
	check := func(kind string, refs []config.HandlerRef) {
		for _, r := range refs {
			if !known[kind+" "+r.Name] {
				errs = append(errs, fmt.Sprintf("%s: %s %q is not in %s: link its package in with anyhost nginx build --pkg IMPORT/PATH",
					r.Pos, kind, r.Name, filepath.Join(libDir, module.LibraryFile)))
			}
		}
	}
	for _, hs := range site.SiteHandlers {
		check("handler", hs)
	}
	for _, l := range site.Locations {
		for _, hs := range l.Handlers {
			check("handler", hs)
		}
		if l.Auth != nil && l.Auth.Type != "bearer" {
			check("provider", l.Auth.Providers)
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return site, nil
}
