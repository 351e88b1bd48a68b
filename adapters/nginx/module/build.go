// Package module runs anyhost's Go handlers inside nginx's workers: the C
// module ngx_http_anyhost_module (built against Debian's nginx-dev) loads
// a Go handler library in each worker and runs the phases on goroutines,
// resuming requests from the event loop. This package builds both; the
// cgo side is package bridge, and `anyhost nginx conf --mode module`
// writes the configuration.
package module

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/anyhost/anyhost/internal/inproc"
)

//go:embed ngx/ngx_http_anyhost_module.c ngx/config bridge/anyhost_ngx.h
var moduleSource embed.FS

// File names inside a library directory.
const (
	ModuleFile  = "ngx_http_anyhost_module.so"
	LibraryFile = inproc.LibraryFile
	NamesFile   = inproc.NamesFile
)

// DefaultSource is where Debian's nginx-dev puts the headers and build
// scripts a dynamic module is built with.
const DefaultSource = "/usr/share/nginx/src"

// BuildOptions says what `anyhost nginx build` builds.
type BuildOptions struct {
	// OutDir receives the module, the library and its names file.
	OutDir string
	// Packages are the user's handler packages to link in.
	Packages []string
	// Source is nginx's build tree (default DefaultSource); it is copied,
	// never written to.
	Source string
	// Nginx is the nginx binary the module must load into (default: nginx
	// on PATH, or /usr/sbin/nginx).
	Nginx string
	// Log receives the build's progress and tool output. Default: discard.
	Log io.Writer
}

// Build compiles the module against the nginx sources and the Go library
// with -buildmode=c-shared, and installs both into OutDir by atomic
// rename: workers that load the library after a reload get the new one,
// running ones keep theirs.
func Build(ctx context.Context, o BuildOptions) error {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Source == "" {
		o.Source = DefaultSource
	}
	srcVersion, err := SourceVersion(o.Source)
	if err != nil {
		return err
	}
	bin := o.Nginx
	if bin == "" {
		bin = nginxBinary()
	}
	if bin != "" {
		runVersion, err := BinaryVersion(ctx, bin)
		if err != nil {
			return err
		}
		if runVersion != srcVersion {
			return fmt.Errorf("%s is nginx %s but %s is for nginx %s: nginx refuses a module built for another version "+
				"(\"module ... is not binary compatible\" / \"version %s instead of %s\"); install the nginx-dev that matches "+
				"(apt-get install nginx-dev=$(dpkg-query -W -f '${Version}' nginx)) and build again",
				bin, runVersion, o.Source, srcVersion, srcVersion, runVersion)
		}
	}
	err = inproc.BuildInto(o.OutDir, func(tmp string) error {
		fmt.Fprintf(o.Log, "building %s against nginx %s (%s)\n", ModuleFile, srcVersion, o.Source)
		if err := buildModule(ctx, o.Source, tmp, o.Log); err != nil {
			return err
		}
		lib := inproc.GoLibrary{Command: "anyhost nginx build", Bridge: "github.com/anyhost/anyhost/adapters/nginx/module/bridge",
			Packages: o.Packages, Log: o.Log}
		return lib.Build(ctx, tmp)
	}, NamesFile, LibraryFile, ModuleFile)
	if err == nil {
		fmt.Fprintf(o.Log, "installed %s, %s and %s in %s\n", ModuleFile, LibraryFile, NamesFile, o.OutDir)
	}
	return err
}

// buildModule configures a copy of nginx's build tree with the flags the
// packaged nginx was configured with (nginx-dev's conf_flags: the same
// --with-compat signature) and builds only the dynamic module.
func buildModule(ctx context.Context, source, tmp string, log io.Writer) error {
	tree := filepath.Join(tmp, "nginx")
	if err := inproc.Run(ctx, tmp, log, "cp", "-r", source, tree); err != nil {
		return err
	}
	mod := filepath.Join(tmp, "module")
	if err := os.Mkdir(mod, 0o755); err != nil {
		return err
	}
	if err := inproc.WriteSources(moduleSource, mod, "ngx/ngx_http_anyhost_module.c", "ngx/config", "bridge/anyhost_ngx.h"); err != nil {
		return err
	}
	flags := ""
	if _, err := os.Stat(filepath.Join(tree, "conf_flags")); err == nil {
		flags = `. ./conf_flags && `
	} else {
		flags = `NGX_CONF_FLAGS=(--with-compat) && `
	}
	script := flags + `./configure "${NGX_CONF_FLAGS[@]}" --with-cc-opt='-O2 -fPIC -Wall' --add-dynamic-module="$1" && make -f objs/Makefile modules`
	if err := inproc.Run(ctx, tree, log, "bash", "-c", script, "configure", mod); err != nil {
		return fmt.Errorf("building the nginx module: %w", err)
	}
	return os.Rename(filepath.Join(tree, "objs", ModuleFile), filepath.Join(tmp, ModuleFile))
}

var versionRE = regexp.MustCompile(`#define\s+NGINX_VERSION\s+"([^"]+)"`)

// SourceVersion is the nginx version a build tree is for.
func SourceVersion(source string) (string, error) {
	b, err := os.ReadFile(filepath.Join(source, "src", "core", "nginx.h"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s holds no nginx build tree: install nginx's development files (Debian: apt-get install nginx-dev) or give --nginx-src", source)
		}
		return "", err
	}
	m := versionRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s: no NGINX_VERSION in src/core/nginx.h", source)
	}
	return string(m[1]), nil
}

// BinaryVersion is what `nginx -v` says of itself ("1.22.1").
func BinaryVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -v: %w: %s", bin, err, out)
	}
	s := strings.TrimSpace(string(out))
	i := strings.Index(s, "nginx/")
	if i < 0 {
		return "", fmt.Errorf("%s -v said %q", bin, s)
	}
	v, _, _ := strings.Cut(s[i+len("nginx/"):], " ")
	return v, nil
}

func nginxBinary() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}
