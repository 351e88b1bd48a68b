package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/anyhost/anyhost/adapters/apache"
	"github.com/anyhost/anyhost/adapters/nginx/module"
)

// missingTools says why a module part cannot be built here ("" when it
// can): the builds need Go inside a Go module (they generate a package
// main there), and apxs or nginx's build tree.
func missingTools(ctx context.Context, p Part) string {
	var why []string
	switch p {
	case PartApache:
		if _, err := exec.LookPath("apxs"); err != nil {
			if _, err := exec.LookPath("apxs2"); err != nil {
				why = append(why, "apxs not found (Debian: apt-get install apache2-dev)")
			}
		}
	case PartNginxModule:
		if _, err := module.SourceVersion(module.DefaultSource); err != nil {
			why = append(why, fmt.Sprintf("no nginx build tree in %s (Debian: apt-get install nginx-dev, the version of nginx)", module.DefaultSource))
		}
	default:
		return ""
	}
	if _, err := exec.LookPath("go"); err != nil {
		why = append(why, "go not on PATH (sudo's secure_path has none: sudo env \"PATH=$PATH\" ...)")
	} else if out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output(); err != nil ||
		strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		why = append(why, "not inside a Go module (run it in the anyhost checkout, or in your module that requires it)")
	}
	return strings.Join(why, "; ")
}

// buildModule builds part's module and library into dir (installed path)
// with the adapters' own build, which installs by rename, and returns the
// files it wrote, in dir.
func buildModule(ctx context.Context, o Options, t *tree, p Part, dir string) ([]string, error) {
	if err := t.mkdir(dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "building the %s module and library into %s (a c-shared Go build: a minute or more)\n", p, dir)
	switch p {
	case PartApache:
		err := apache.Build(ctx, apache.BuildOptions{OutDir: t.real(dir), Packages: o.Packages, Log: o.BuildLog})
		if err != nil {
			return nil, fmt.Errorf("apache build: %w", err)
		}
		return libFiles(dir, apache.NamesFile, apache.LibraryFile, apache.ModuleFile), nil
	case PartNginxModule:
		err := module.Build(ctx, module.BuildOptions{OutDir: t.real(dir), Packages: o.Packages, Log: o.BuildLog})
		if err != nil {
			return nil, fmt.Errorf("nginx build: %w", err)
		}
		return libFiles(dir, module.NamesFile, module.LibraryFile, module.ModuleFile), nil
	}
	return nil, errors.New("no module for part " + string(p))
}

func libFiles(dir string, names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(dir, n))
	}
	return out
}
