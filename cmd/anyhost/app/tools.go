package app

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/anyhost/anyhost/authn/bearer"
	"github.com/anyhost/anyhost/authn/htpasswd"
	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "check a site file: syntax, keys, handler and provider names, options; exit 1 with FILE:LINE messages",
		UsageText: "anyhost check --config FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "site file (TOML)"},
		},
		Action: func(c *cli.Context) error {
			path := c.String("config")
			if path == "" {
				path = c.Args().First()
			}
			if path == "" {
				return cli.Exit("check: --config FILE is required", 2)
			}
			if err := config.Check(path); err != nil {
				return cli.Exit(err.Error(), 1)
			}
			fmt.Fprintf(c.App.Writer, "%s: ok\n", path)
			return nil
		},
	}
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the handlers, password providers, token verifiers and auth stores this binary has registered",
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			section := func(title string, names []string, doc func(string) string) {
				fmt.Fprintln(w, title)
				for _, n := range names {
					fmt.Fprintf(w, "  %-16s %s\n", n, doc(n))
				}
			}
			section("handlers:", core.Handlers.Names(), core.Handlers.Doc)
			section("providers:", core.Providers.Names(), core.Providers.Doc)
			section("token verifiers (auth type bearer):", bearer.Verifiers.Names(), bearer.Verifiers.Doc)
			section("auth stores ([auth] store, for the cache and throttle):", store.Stores.Names(), store.Stores.Doc)
			section("adapters:", strings.Split(adapterNames(), ", "), func(n string) string { return adapters[n].usage })
			return nil
		},
	}
}

func htpasswdCommand() *cli.Command {
	return &cli.Command{
		Name:      "htpasswd",
		Usage:     "add or update a user in an htpasswd file (bcrypt); the password is read from stdin, or prompted for on a terminal",
		UsageText: "anyhost htpasswd [--cost N] FILE USER",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "cost", Value: bcrypt.DefaultCost, Usage: "bcrypt cost (4-31)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return cli.Exit("htpasswd: need FILE and USER", 2)
			}
			pass, err := readPassword()
			if err != nil {
				return cli.Exit("htpasswd: "+err.Error(), 1)
			}
			if err := htpasswd.SetPassword(c.Args().Get(0), c.Args().Get(1), pass, c.Int("cost")); err != nil {
				return cli.Exit("htpasswd: "+err.Error(), 1)
			}
			fmt.Fprintf(c.App.ErrWriter, "user %s set in %s\n", c.Args().Get(1), c.Args().Get(0))
			return nil
		},
	}
}

func readPassword() (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password on standard input")
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", errors.New("empty password")
		}
		return line, nil
	}
	fmt.Fprint(os.Stderr, "New password: ")
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(os.Stderr, "Re-type new password: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", errors.New("passwords do not match")
	}
	if len(p1) == 0 {
		return "", errors.New("empty password")
	}
	return string(p1), nil
}
