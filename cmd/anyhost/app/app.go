// Package app is the anyhost command line. A binary with its own handlers
// calls Main after importing their packages, and gets the same CLI.
package app

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	_ "github.com/anyhost/anyhost/builtin" // registers from init()
)

// Main runs the CLI with os.Args and exits with its status.
func Main() {
	if err := New().Run(cgiArgs(os.Args, os.Getenv("GATEWAY_INTERFACE"), os.Getenv("QUERY_STRING"))); err != nil {
		fmt.Fprintln(os.Stderr, "anyhost:", err)
		os.Exit(1)
	}
}

// cgiArgs is the command line to run under a web server's CGI
// (GATEWAY_INTERFACE is CGI/1.x): `serve --adapter cgi`, with the site from
// ANYHOST_CONFIG. A wrapper's own `serve --adapter cgi ...` is kept only
// when the server cannot have written argv: servers pass the words of a
// query without '=' as arguments (RFC 3875 4.4), so for such a query argv
// is the client's (`?serve+--adapter+cgi+--config+/dev/stdin`) and is
// ignored whole.
func cgiArgs(argv []string, gateway, query string) []string {
	if !strings.HasPrefix(gateway, "CGI/") || len(argv) == 0 {
		return argv
	}
	forced := []string{argv[0], "serve", "--adapter", "cgi"}
	if query != "" && !strings.Contains(query, "=") {
		return forced
	}
	if len(argv) > 1 && argv[1] == "serve" {
		for i, a := range argv[2:] {
			if a == "--adapter=cgi" || a == "-adapter=cgi" || (a == "--adapter" || a == "-adapter") && i+3 < len(argv) && argv[i+3] == "cgi" {
				return argv
			}
		}
	}
	return forced
}

// version is the module's version, or its VCS revision for a build from a
// checkout ("devel" when the build recorded neither).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

// New returns the CLI application.
func New() *cli.App {
	return &cli.App{
		Name:    "anyhost",
		Version: version(),
		Usage:   "one handler API, many hosts: serve Go handlers standalone, behind nginx, or inside Apache",
		Commands: []*cli.Command{
			serveCommand(),
			checkCommand(),
			listCommand(),
			htpasswdCommand(),
			apacheCommand(),
			nginxCommand(),
			lighttpdCommand(),
			secretCommand(),
			installCommand(),
			uninstallCommand(),
			completionCommand(),
			manCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "anyhost %s (%s %s/%s)\n", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
					return nil
				},
			},
		},
		HideHelpCommand:      false,
		EnableBashCompletion: true,
	}
}

// Version is the module version, or the VCS revision for a development build.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "devel", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if len(s.Value) > 12 {
				rev = s.Value[:12]
			} else {
				rev = s.Value
			}
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	return rev + dirty
}
