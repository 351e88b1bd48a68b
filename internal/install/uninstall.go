package install

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// UninstallOptions says what Uninstall removes.
type UninstallOptions struct {
	// Prefix and DestDir locate the manifest, as given to Install.
	Prefix, DestDir string
	// Parts to remove; nil is all of them.
	Parts []Part
	// Force removes files changed since they were installed too.
	Force bool
	// Log receives what was removed, kept, and still enabled.
	Log io.Writer
}

// Uninstall removes the files the manifest lists for o.Parts, keeping
// (and saying so) any the admin changed since install, then the
// directories install created that are now empty, then the manifest
// (which stays, shorter, while other parts remain). It returns the files
// it kept. A link that still enables a removed file (a2enmod's, a
// sites-enabled link, systemctl enable's) is reported, not touched: it is
// the admin's.
func Uninstall(o UninstallOptions) (kept []string, err error) {
	if o.Prefix == "" {
		o.Prefix = "/usr/local"
	}
	o.Prefix = filepath.Clean(o.Prefix)
	if o.DestDir != "" {
		o.DestDir = filepath.Clean(o.DestDir)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	l := layout{prefix: o.Prefix}
	t := &tree{destDir: o.DestDir}
	m, ok, err := readManifest(t.real(l.manifest()), []string{o.Prefix})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no install manifest at %s: nothing was installed with this --prefix", t.real(l.manifest()))
	}
	t.roots = m.Roots
	chosen := func(p Part) bool { return len(o.Parts) == 0 || slices.Contains(o.Parts, p) }
	rest := Manifest{Roots: m.Roots}
	for p, site := range m.Uses {
		if !chosen(p) {
			if rest.Uses == nil {
				rest.Uses = map[Part]string{}
			}
			rest.Uses[p] = site
		}
	}
	for _, f := range m.Files {
		if !chosen(f.Part) {
			rest.Files = append(rest.Files, f)
		}
	}
	// The demo site goes with the last part that serves it.
	rest.Files = slices.DeleteFunc(rest.Files, func(f Entry) bool { return f.Part == partSite && !rest.siteInUse(f.Path) })
	for _, f := range m.Files {
		if _, stays := rest.file(f.Path); stays {
			continue
		}
		why, err := removeFile(t, f, o.Force)
		if err != nil {
			return kept, err
		}
		if why != "" {
			kept = append(kept, t.real(f.Path))
			fmt.Fprintf(o.Log, "kept %s: %s (remove it yourself%s)\n", t.real(f.Path), why, forceHint(why))
			continue
		}
		fmt.Fprintf(o.Log, "removed %s\n", t.real(f.Path))
		for _, link := range enablingLinks(t, f.Path) {
			fmt.Fprintf(o.Log, "still enabled: %s links to the removed %s (%s)\n", link, t.real(f.Path), disableHint(f.Path))
		}
	}
	if len(rest.Files) > 0 {
		return kept, writeManifest(t, l, rest, m.Dirs)
	}
	if err := os.Remove(t.real(l.manifest())); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return kept, err
	}
	for _, d := range t.removeEmptyDirs(m.Dirs) {
		fmt.Fprintf(o.Log, "kept %s: not empty\n", t.real(d))
	}
	return kept, nil
}

// Why removeFile keeps a file.
const (
	keptChanged    = "changed since it was installed"
	keptNotRegular = "not a regular file (a symlink is never followed)"
	keptLinkOnPath = "a directory on its path is not a plain directory"
)

func forceHint(why string) string {
	if why == keptChanged {
		return ", or uninstall with --force"
	}
	return ""
}

// removeFile removes an installed file unless it was changed since (and
// not force), is not a regular file, or is reached through a symlinked
// directory; why says why it stayed. A file already gone is not an error.
func removeFile(t *tree, f Entry, force bool) (why string, err error) {
	if t.linkOnPath(f.Path) {
		return keptLinkOnPath, nil
	}
	fi, err := os.Lstat(t.real(f.Path))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return keptNotRegular, nil
	}
	s, err := fileSum(t.real(f.Path))
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", nil
	}
	if s != f.SHA256 && !force {
		return keptChanged, nil
	}
	if err := os.Remove(t.real(f.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return "", nil
}

// enablingLinks are the links by Debian's and systemd's conventions that
// enable path: DIR-enabled/NAME for DIR-available/NAME, and
// *.wants/NAME beside a unit.
func enablingLinks(t *tree, path string) []string {
	dir, name := filepath.Dir(path), filepath.Base(path)
	var candidates []string
	if base, ok := strings.CutSuffix(filepath.Base(dir), "-available"); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(dir), base+"-enabled", name))
	}
	if filepath.Base(dir) == "system" && filepath.Base(filepath.Dir(dir)) == "systemd" {
		wants, _ := filepath.Glob(filepath.Join(t.real(dir), "*.wants", name))
		for _, w := range wants {
			rel, _ := filepath.Rel(t.real(dir), w)
			candidates = append(candidates, filepath.Join(dir, rel))
		}
	}
	var links []string
	for _, c := range candidates {
		if fi, err := os.Lstat(t.real(c)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			links = append(links, t.real(c))
		}
	}
	return links
}

// disableHint is the command that removes an enabling link.
func disableHint(path string) string {
	name := filepath.Base(path)
	switch {
	case strings.Contains(path, "/apache2/mods-available/"):
		return "a2dismod " + strings.TrimSuffix(strings.TrimSuffix(name, ".load"), ".conf")
	case strings.Contains(path, "/systemd/system/"):
		return "systemctl disable " + name
	}
	return "remove the link"
}
