package app

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/anyhost/anyhost/internal/install"
)

// partFlag chooses parts for install and uninstall alike.
func partFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "part", Aliases: []string{"only"},
		Usage: "only these parts (repeatable or comma-separated): " + partNames() + "; default: all (install leaves out a module whose build tools are missing)"}
}

func partNames() string {
	var s []string
	for _, p := range install.AllParts() {
		s = append(s, string(p))
	}
	return strings.Join(s, ", ")
}

func installCommand() *cli.Command {
	return &cli.Command{
		Name: "install",
		Usage: "install the binary, systemd units, Apache's mods-available/anyhost.{load,conf} and nginx's snippets and module " +
			"(Debian's layout); enables nothing, and prints what to run",
		UsageText: "anyhost install [--prefix /usr/local] [--etc /etc] [--destdir DIR] [--config SITE.toml] [--part PART]...\n" +
			"   (the Apache and nginx modules are built with Go: run it in the anyhost checkout or your module, with go on PATH)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "prefix", Value: "/usr/local", Usage: "bin/anyhost, lib/anyhost/{apache,nginx}, share/anyhost/" + install.ManifestFile},
			&cli.StringFlag{Name: "etc", Value: "/etc", Usage: "configuration root: systemd/system, apache2/mods-available, nginx/sites-available and modules-available"},
			&cli.StringFlag{Name: "destdir", Usage: "stage the tree under DIR (packaging); the files still name the installed paths"},
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "the site file the units and configurations serve (made absolute); default: the demo site, installed in share/anyhost (not for the apache part, which needs yours)"},
			partFlag(),
			&cli.StringFlag{Name: "binary", Usage: "the executable to install as bin/anyhost (default: this one)"},
			&cli.StringSliceFlag{Name: "pkg", Usage: "your handler packages to link into the Apache and nginx libraries (import paths in the current module)"},
			&cli.StringFlag{Name: "user", Usage: "the services' user, if it exists; default: anyhost, a DynamicUser=yes of their own (never the uid of PHP and CGI scripts)"},
			&cli.StringFlag{Name: "group", Value: "www-data", Usage: "the services' and their unix sockets' group (the web server's workers)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "the standalone unit's --listen"},
			&cli.StringFlag{Name: "fastcgi-listen", Value: "127.0.0.1:9000", Usage: "where " + install.UnitFastCGISocket + " listens (TCP for Apache's mod_authnz_fcgi, or unix:PATH)"},
			&cli.StringFlag{Name: "nginx-listen", Value: "127.0.0.1:8081", Usage: "the listen address of the nginx snippets' server{}"},
			&cli.StringFlag{Name: "secret-dir", Usage: "the directory 'anyhost secret new' wrote: the units and the nginx snippet then use the web server's secret"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 30e9, Usage: "the services' --shutdown-timeout"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite configuration files an earlier install did not write, or that were changed since"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show the module builds' output"},
		},
		Action: func(c *cli.Context) error {
			parts, err := install.ParseParts(c.StringSlice("part"))
			if err != nil {
				return cli.Exit("install: "+err.Error(), 2)
			}
			site := c.String("config")
			if site != "" {
				if site, err = filepath.Abs(site); err != nil {
					return cli.Exit("install: "+err.Error(), 1)
				}
			}
			o := install.Options{
				Prefix: c.String("prefix"), Etc: c.String("etc"), DestDir: c.String("destdir"), Site: site, Parts: parts,
				Binary: c.String("binary"), Packages: c.StringSlice("pkg"), User: c.String("user"), Group: c.String("group"),
				Listen: c.String("listen"), FastCGIListen: c.String("fastcgi-listen"), NginxListen: c.String("nginx-listen"),
				SecretDir: c.String("secret-dir"), ShutdownTimeout: c.Duration("shutdown-timeout"), Force: c.Bool("force"),
				Log: c.App.ErrWriter,
			}
			if c.Bool("verbose") {
				o.BuildLog = c.App.ErrWriter
			}
			if _, err := install.Install(c.Context, o); err != nil {
				return cli.Exit("install: "+err.Error(), 1)
			}
			return nil
		},
	}
}

func uninstallCommand() *cli.Command {
	return &cli.Command{
		Name:      "uninstall",
		Usage:     "remove exactly what `anyhost install` wrote (its manifest); files changed since are kept and named",
		UsageText: "anyhost uninstall [--prefix /usr/local] [--destdir DIR] [--part PART]... [--force]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "prefix", Value: "/usr/local", Usage: "the --prefix of the install (its manifest is share/anyhost/" + install.ManifestFile + ")"},
			&cli.StringFlag{Name: "destdir", Usage: "the --destdir of the install"},
			partFlag(),
			&cli.BoolFlag{Name: "force", Usage: "remove files changed since install too"},
		},
		Action: func(c *cli.Context) error {
			parts, err := install.ParseParts(c.StringSlice("part"))
			if err != nil {
				return cli.Exit("uninstall: "+err.Error(), 2)
			}
			kept, err := install.Uninstall(install.UninstallOptions{
				Prefix: c.String("prefix"), DestDir: c.String("destdir"), Parts: parts, Force: c.Bool("force"), Log: c.App.ErrWriter,
			})
			if err != nil {
				return cli.Exit("uninstall: "+err.Error(), 1)
			}
			if len(kept) > 0 {
				fmt.Fprintf(c.App.ErrWriter, "%d changed file(s) kept\n", len(kept))
			}
			return nil
		},
	}
}
