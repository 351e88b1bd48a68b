package app

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/anyhost/anyhost/adapters/apache"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/handlers/demo"
)

func apacheCommand() *cli.Command {
	return &cli.Command{
		Name:  "apache",
		Usage: "run handlers inside Apache httpd: build the module and library, write httpd.conf",
		Subcommands: []*cli.Command{
			{
				Name:      "build",
				Usage:     "build mod_anyhost.so (apxs) and the Go handler library into DIR, replacing a deployed library by atomic rename",
				UsageText: "anyhost apache build [--pkg IMPORT/PATH]... -o DIR",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "directory for mod_anyhost.so, anyhost-app.so and anyhost-app.so.names"},
					&cli.StringSliceFlag{Name: "pkg", Usage: "your handler packages to link in (import paths in the current module); the built-ins are always in"},
					&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show the build tools' output"},
				},
				Action: func(c *cli.Context) error {
					o := apache.BuildOptions{OutDir: c.String("out"), Packages: c.StringSlice("pkg")}
					if c.Bool("verbose") {
						o.Log = c.App.ErrWriter
					}
					if err := apache.Build(c.Context, o); err != nil {
						return cli.Exit("apache build: "+err.Error(), 1)
					}
					fmt.Fprintf(c.App.ErrWriter, "built %s and %s in %s\n", apache.ModuleFile, apache.LibraryFile, c.String("out"))
					return nil
				},
			},
			{
				Name:  "conf",
				Usage: "print Apache configuration for a site: a fragment to Include, or with --full a complete httpd.conf",
				UsageText: "anyhost apache conf --lib-dir DIR [--config FILE]\n" +
					"anyhost apache conf --lib-dir DIR --full --root DIR2 [--listen 127.0.0.1:8081] [--mpm prefork] [--config FILE]\n" +
					"anyhost apache conf --mode fastcgi --fastcgi 127.0.0.1:PORT [--secret-dir DIR] [--full --root DIR2 ...] [--config FILE]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "lib-dir", Usage: "where 'anyhost apache build -o' put the module and library (required in inprocess mode)"},
					&cli.StringFlag{Name: "mode", Value: apache.ModeInProcess, Usage: "inprocess (mod_anyhost loads the Go library) or fastcgi (mod_proxy_fcgi + mod_authnz_fcgi to 'anyhost serve --adapter fastcgi')"},
					&cli.StringFlag{Name: "fastcgi", Usage: "with --mode fastcgi: the TCP address the Go process listens on, 127.0.0.1:PORT"},
					&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "site file (TOML); default: the embedded demo site"},
					&cli.BoolFlag{Name: "full", Usage: "a complete httpd.conf that 'apache2 -f' starts as is"},
					&cli.StringFlag{Name: "root", Usage: "with --full: ServerRoot for pid file, logs, runtime files"},
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8081", Usage: "with --full: Listen address"},
					&cli.StringFlag{Name: "mpm", Value: "event", Usage: "with --full: event or prefork"},
					&cli.IntFlag{Name: "go-max-procs", Usage: "AnyhostGoMaxProcs: GOMAXPROCS in each child (0: Go's default)"},
					&cli.StringFlag{Name: "secret-dir", Usage: "with --mode fastcgi: the directory 'anyhost secret new' wrote; Apache then proves itself to 'serve --secret', which believes the user it authenticated"},
				},
				Action: func(c *cli.Context) error {
					site, err := loadCheckedSite(c.String("config"))
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					out, err := apache.Conf(apache.ConfOptions{
						LibDir: c.String("lib-dir"), Site: site, Full: c.Bool("full"), Root: c.String("root"),
						Listen: c.String("listen"), MPM: c.String("mpm"), GoMaxProcs: c.Int("go-max-procs"),
						Mode: c.String("mode"), FastCGI: c.String("fastcgi"), SecretDir: c.String("secret-dir"),
					})
					if err != nil {
						return cli.Exit("apache conf: "+err.Error(), 1)
					}
					if dir := c.String("lib-dir"); dir != "" && c.String("mode") == apache.ModeInProcess {
						// Apache would only say so at its next start, as
						// a failed LoadModule.
						for _, f := range []string{apache.ModuleFile, apache.LibraryFile} {
							if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
								return cli.Exit(fmt.Sprintf("apache conf: --lib-dir %s holds no %s: run `anyhost apache build -o %s` first", dir, f, dir), 1)
							}
						}
					}
					fmt.Fprint(c.App.Writer, out)
					return nil
				},
			},
		},
	}
}

// loadCheckedSite parses the site file and builds it once, so that a bad
// handler name or option fails when the configuration is generated, not in
// the web server's processes.
func loadCheckedSite(path string) (*config.Site, error) {
	site, err := loadSiteFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := site.Build(); err != nil {
		return nil, err
	}
	return site, nil
}

// loadSiteFile parses the site file, or the embedded demo site for "".
func loadSiteFile(path string) (*config.Site, error) {
	if path == "" {
		wd, _ := os.Getwd()
		return config.Parse("demo site (embedded)", wd, demo.SiteTOML)
	}
	return config.Load(path)
}
