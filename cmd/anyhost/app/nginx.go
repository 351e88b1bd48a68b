package app

import (
	"fmt"

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
			UsageText: "anyhost nginx conf --listen unix:FCGI.sock --auth-listen unix:AUTH.sock [--config FILE] [--server-listen ADDR]\n" +
				"anyhost nginx conf ... --full --prefix DIR",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "listen", Required: true, Usage: "where serve --adapter nginx listens for FastCGI"},
				&cli.StringFlag{Name: "auth-listen", Required: true, Usage: "where it serves the auth_request endpoint"},
				&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "site file (TOML); default: the embedded demo site"},
				&cli.StringFlag{Name: "server-listen", Value: "127.0.0.1:8080", Usage: "nginx's own listen address"},
				&cli.BoolFlag{Name: "full", Usage: "a complete nginx.conf that `nginx -p DIR -c nginx.conf` starts as is"},
				&cli.StringFlag{Name: "prefix", Usage: "with --full: directory for pid file, logs and temp paths"},
			},
			Action: func(c *cli.Context) error {
				site, err := loadCheckedSite(c.String("config"))
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				out, err := nginx.Conf(nginx.ConfOptions{
					Site: site, FastCGI: c.String("listen"), Auth: c.String("auth-listen"),
					ServerListen: c.String("server-listen"), Full: c.Bool("full"), Prefix: c.String("prefix"),
				})
				if err != nil {
					return cli.Exit("nginx conf: "+err.Error(), 1)
				}
				fmt.Fprint(c.App.Writer, out)
				return nil
			},
		}},
	}
}
