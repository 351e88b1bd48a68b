// Package apache binds anyhost to Apache httpd 2.4, in-process: the C
// module mod_anyhost (built with apxs) loads a Go handler library in each
// child and runs Go handlers from Apache's hooks. This package builds both
// and writes the httpd.conf that wires them; the cgo side is package
// bridge.
package apache

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/anyhost/anyhost/internal/inproc"
)

//go:embed module/mod_anyhost.c bridge/anyhost_bridge.h
var moduleSource embed.FS

// File names inside a library directory.
const (
	ModuleFile  = "mod_anyhost.so"
	LibraryFile = inproc.LibraryFile
	// NamesFile lists the handler and provider names the library
	// registers; mod_anyhost reads it at config time so `apache2 -t`
	// rejects an unknown name.
	NamesFile = inproc.NamesFile
)

// BuildOptions says what `anyhost apache build` builds.
type BuildOptions struct {
	// OutDir receives mod_anyhost.so, anyhost-app.so and its names file.
	OutDir string
	// Packages are extra import paths linked into the library (the user's
	// handlers); the built-ins are always in.
	Packages []string
	// Log receives the build's progress and tool output. Default: discard.
	Log io.Writer
}

// Build compiles mod_anyhost.so with apxs and the Go library with
// -buildmode=c-shared, and installs both into OutDir by atomic rename:
// overwriting a loaded .so in place crashes every Apache child using it.
// It must run inside a Go module that requires github.com/anyhost/anyhost
// (or this repository), where the generated package main is written.
func Build(ctx context.Context, o BuildOptions) error {
	if o.Log == nil {
		o.Log = io.Discard
	}
	err := inproc.BuildInto(o.OutDir, func(tmp string) error {
		fmt.Fprintln(o.Log, "building mod_anyhost.so with apxs")
		if err := buildModule(ctx, tmp, o.Log); err != nil {
			return err
		}
		lib := inproc.GoLibrary{Command: "anyhost apache build", Bridge: "github.com/anyhost/anyhost/adapters/apache/bridge",
			Packages: o.Packages, Log: o.Log}
		return lib.Build(ctx, tmp)
	}, NamesFile, LibraryFile, ModuleFile)
	if err == nil {
		fmt.Fprintf(o.Log, "installed %s, %s and %s in %s\n", ModuleFile, LibraryFile, NamesFile, o.OutDir)
	}
	return err
}

func buildModule(ctx context.Context, dir string, log io.Writer) error {
	apxs, err := findApxs()
	if err != nil {
		return err
	}
	if err := inproc.WriteSources(moduleSource, dir, "module/mod_anyhost.c", "bridge/anyhost_bridge.h"); err != nil {
		return err
	}
	if err := inproc.Run(ctx, dir, log, apxs, "-c", "-Wc,-Wall", "-Wc,-Werror", "mod_anyhost.c"); err != nil {
		return err
	}
	return os.Rename(filepath.Join(dir, ".libs", ModuleFile), filepath.Join(dir, ModuleFile))
}

func findApxs() (string, error) {
	for _, name := range []string{"apxs", "apxs2"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("apxs not found: install Apache's development files (Debian: apt-get install apache2-dev)")
}
