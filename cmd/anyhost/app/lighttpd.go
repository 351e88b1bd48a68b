package app

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/anyhost/anyhost/adapters/lighttpd"
)

func lighttpdCommand() *cli.Command {
	return &cli.Command{
		Name:  "lighttpd",
		Usage: "run a site behind lighttpd: as a CGI program (mod_cgi) or over FastCGI (mod_fastcgi)",
		Subcommands: []*cli.Command{{
			Name:  "conf",
			Usage: "print lighttpd configuration to include, or with --full a complete lighttpd.conf",
			UsageText: "anyhost lighttpd conf --mode cgi --program /usr/lib/cgi-bin/anyhost.cgi [--config FILE]\n" +
				"anyhost lighttpd conf --mode fastcgi --socket /run/anyhost/fcgi.sock [--spawn 'anyhost serve --adapter fastcgi --config FILE']\n" +
				"anyhost lighttpd conf ... --full --root DIR --listen 127.0.0.1:8080",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "mode", Required: true, Usage: "cgi or fastcgi"},
				&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "site file (TOML) the limits come from; default: the embedded demo site"},
				&cli.StringFlag{Name: "program", Usage: "--mode cgi: the executable lighttpd runs per request (anyhost, or a wrapper setting ANYHOST_CONFIG)"},
				&cli.StringFlag{Name: "socket", Usage: "--mode fastcgi: the unix socket of 'serve --adapter fastcgi --listen unix:PATH'"},
				&cli.StringFlag{Name: "spawn", Usage: "--mode fastcgi: the command lighttpd starts itself, the socket as fd 0 (no --listen)"},
				&cli.BoolFlag{Name: "full", Usage: "a complete lighttpd.conf that 'lighttpd -D -f' runs as is"},
				&cli.StringFlag{Name: "root", Usage: "with --full: directory for logs and the document root"},
				&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "with --full: lighttpd's own address"},
			},
			Action: func(c *cli.Context) error {
				site, err := loadSite(c.String("config"))
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				defer site.Close()
				out, err := lighttpd.Conf(lighttpd.ConfOptions{
					Site: site, Mode: c.String("mode"), Program: c.String("program"), Socket: c.String("socket"),
					Spawn: c.String("spawn"), Full: c.Bool("full"), Root: c.String("root"), Listen: c.String("listen"),
				})
				if err != nil {
					return cli.Exit("lighttpd conf: "+err.Error(), 1)
				}
				fmt.Fprint(c.App.Writer, out)
				return nil
			},
		}},
	}
}
