// Package app is the anyhost command line. A binary with its own handlers
// calls Main after importing their packages, and gets the same CLI.
package app

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	_ "github.com/anyhost/anyhost/builtin" // registers from init()
)

// Main runs the CLI with os.Args and exits with its status.
func Main() {
	if err := New().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "anyhost:", err)
		os.Exit(1)
	}
}

// New returns the CLI application.
func New() *cli.App {
	return &cli.App{
		Name:  "anyhost",
		Usage: "one handler API, many hosts: serve Go handlers standalone, behind nginx, or inside Apache",
		Commands: []*cli.Command{
			serveCommand(),
			checkCommand(),
			listCommand(),
			htpasswdCommand(),
			apacheCommand(),
			nginxCommand(),
			secretCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "anyhost %s (%s %s/%s)\n", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
					return nil
				},
			},
		},
		HideHelpCommand: false,
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
