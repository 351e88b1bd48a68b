package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/anyhost/anyhost/adapters/nginx"
)

func nginxCommand() *cli.Command {
	return &cli.Command{
		Name:  "nginx",
		Usage: "run handlers behind nginx: print the nginx configuration for `serve --adapter nginx`",
		Subcommands: []*cli.Command{{
			Name: "conf",
			Usage: "print nginx configuration: upstreams and a server{} to include in http{}, or with --full a " +
				"complete nginx.conf; takes the same --listen/--auth-listen as `serve --adapter nginx`",
			UsageText: "anyhost nginx conf --listen unix:FCGI.sock --auth-listen unix:AUTH.sock [--secret-dir DIR] [--config FILE] [--server-listen ADDR]\n" +
				"anyhost nginx conf ... --full --prefix DIR\n" +
				"anyhost nginx conf ... --systemd [--socket-group www-data] [--service-user www-data] [--binary PATH]\n" +
				"   (the unit follows the nginx configuration after a line starting with \"" + unitMarker + "\")",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "listen", Required: true, Usage: "where serve --adapter nginx listens for FastCGI"},
				&cli.StringFlag{Name: "auth-listen", Required: true, Usage: "where it serves the auth_request endpoint"},
				&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "site file (TOML); default: the embedded demo site"},
				&cli.StringFlag{Name: "server-listen", Value: "127.0.0.1:8080", Usage: "nginx's own listen address"},
				&cli.BoolFlag{Name: "full", Usage: "a complete nginx.conf that `nginx -p DIR -c nginx.conf` starts as is"},
				&cli.StringFlag{Name: "prefix", Usage: "with --full: directory for pid file, logs and temp paths"},
				&cli.BoolFlag{Name: "systemd", Usage: "also print a systemd unit running `anyhost serve --adapter nginx` with these flags (reload on SIGHUP)"},
				&cli.StringFlag{Name: "socket-mode", Value: "0660", Usage: "with --systemd: mode of the unix sockets"},
				&cli.StringFlag{Name: "socket-group", Value: "www-data", Usage: "with --systemd: group of the unix sockets (nginx's workers) and of the service"},
				&cli.StringFlag{Name: "service-user", Value: "www-data", Usage: "with --systemd: user the Go process runs as"},
				&cli.StringFlag{Name: "binary", Usage: "with --systemd: the anyhost executable (default: this one)"},
				&cli.DurationFlag{Name: "shutdown-timeout", Value: 30e9, Usage: "with --systemd: serve's --shutdown-timeout"},
				&cli.StringFlag{Name: "secret-dir", Usage: "the directory `anyhost secret new` wrote: nginx proves itself to `serve --secret`, which then believes the user auth_request found"},
			},
			Action: func(c *cli.Context) error {
				site, err := loadCheckedSite(c.String("config"))
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				out, err := nginx.Conf(nginx.ConfOptions{
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
