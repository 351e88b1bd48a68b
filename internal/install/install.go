package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/handlers/demo"
)

// pending is a file Install is about to write.
type pending struct {
	part Part
	path string // as installed
	data []byte
	mode os.FileMode
}

// Install writes o.Parts and the manifest. Over an earlier install it
// replaces the chosen parts' files, removes those of theirs it no longer
// writes, and keeps the other parts' entries, so `--part nginx-module`
// alone rebuilds the module. A configuration file that is not the one
// the earlier install wrote (the admin's own, or edited since) stops the
// install before anything is written, unless o.Force. It never enables or
// starts anything: it says in o.Log what to run.
func Install(ctx context.Context, o Options) (Manifest, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Manifest{}, err
	}
	l := layout{prefix: o.Prefix, etc: o.Etc}
	t := &tree{destDir: o.DestDir}
	old, _, err := readManifest(t.real(l.manifest()), []string{o.Prefix, o.Etc})
	if err != nil {
		return Manifest{}, err
	}
	// The old entries stay valid under the old roots (another --etc).
	t.roots = slices.Clone(old.Roots)
	for _, r := range []string{o.Prefix, o.Etc} {
		if !slices.Contains(t.roots, r) {
			t.roots = append(t.roots, r)
		}
	}
	parts, err := chooseParts(ctx, o)
	if err != nil {
		return Manifest{}, err
	}

	var files []pending
	usesSite := slices.ContainsFunc(parts, func(p Part) bool { return p != PartBin })
	var site *config.Site
	sitePath := o.Site
	if usesSite {
		if sitePath == "" {
			sitePath = l.demoSite()
			files = append(files, pending{partSite, sitePath, demo.SiteTOML, 0o644})
			site, err = config.Parse(sitePath, l.share(), demo.SiteTOML)
		} else {
			site, err = config.Load(sitePath)
		}
		if err == nil {
			_, err = site.Build()
		}
		if err != nil {
			return Manifest{}, err
		}
		parts = append(parts, partSite)
	}
	for _, p := range parts {
		more, err := partFiles(o, l, p, site, sitePath)
		if err != nil {
			return Manifest{}, err
		}
		files = append(files, more...)
	}
	moduleConfs := map[Part][]string{
		PartNginxModule: {filepath.Join(l.nginxModules(), NginxModuleLoad), filepath.Join(l.nginxSites(), NginxModuleSite)},
	}
	var check []pending
	for _, p := range parts {
		for _, path := range moduleConfs[p] {
			check = append(check, pending{part: p, path: path})
		}
	}
	if err := conflicts(o, t, old, append(check, files...)); err != nil {
		return Manifest{}, err
	}

	// The slow builds first: if one fails, nothing else has changed.
	var built []Entry
	for _, p := range []Part{PartApache, PartNginxModule} {
		if !slices.Contains(parts, p) {
			continue
		}
		dir := l.apacheLib()
		if p == PartNginxModule {
			dir = l.nginxLib()
		}
		paths, err := buildModule(ctx, o, t, p, dir)
		if err != nil {
			t.removeEmptyDirs(t.created)
			return Manifest{}, err
		}
		for _, path := range paths {
			s, err := fileSum(t.real(path))
			if err != nil {
				return Manifest{}, err
			}
			built = append(built, Entry{Part: p, SHA256: s, Path: path})
		}
	}
	if slices.Contains(parts, PartNginxModule) {
		load, conf, err := nginxModuleFiles(o, site, l)
		if err != nil {
			return Manifest{}, err
		}
		files = append(files, pending{PartNginxModule, moduleConfs[PartNginxModule][0], []byte(load), 0o644},
			pending{PartNginxModule, moduleConfs[PartNginxModule][1], []byte(conf), 0o644})
	}

	m := Manifest{Roots: t.roots, Uses: map[Part]string{}}
	for p, site := range old.Uses {
		if !slices.Contains(parts, p) {
			m.Uses[p] = site
		}
	}
	for _, p := range parts {
		if p != PartBin && p != partSite {
			m.Uses[p] = sitePath
		}
	}
	for _, f := range files {
		if err := t.write(f.path, f.data, f.mode); err != nil {
			return Manifest{}, err
		}
		m.Files = append(m.Files, Entry{Part: f.part, SHA256: sum(f.data), Path: f.path})
		fmt.Fprintf(o.Log, "wrote %s\n", t.real(f.path))
	}
	m.Files = append(m.Files, built...)
	for _, f := range old.Files {
		if slices.Contains(parts, f.Part) && f.Part != partSite {
			continue
		}
		if _, ok := m.file(f.Path); !ok && (f.Part != partSite || m.siteInUse(f.Path)) {
			m.Files = append(m.Files, f) // another part's, or a site file one still names: kept as it was
		}
	}
	// What the replaced parts wrote last time and no longer do.
	for _, f := range old.Files {
		if _, ok := m.file(f.Path); ok {
			continue
		}
		if why, err := removeFile(t, f, false); err != nil {
			return Manifest{}, err
		} else if why != "" {
			fmt.Fprintf(o.Log, "kept %s: %s\n", t.real(f.Path), why)
		}
	}
	if err := writeManifest(t, l, m, append(old.Dirs, t.created...)); err != nil {
		return Manifest{}, err
	}
	fmt.Fprintf(o.Log, "manifest: %s\n", t.real(l.manifest()))
	nextSteps(o, l, parts)
	return m, nil
}

// chooseParts is o.Parts, or every part whose build tools are here.
func chooseParts(ctx context.Context, o Options) ([]Part, error) {
	parts := o.Parts
	explicit := len(parts) > 0
	if !explicit {
		parts = AllParts()
	}
	var out []Part
	for _, p := range parts {
		if p == PartApache && o.Site == "" {
			// a2enmod makes anyhost.conf's <Location>s server-wide: the
			// demo's index at / would hand every URL of every virtual
			// host to anyhost, /echo, /panic and /private with them.
			why := "it needs your site file (--config SITE.toml): the demo site's <Location \"/\"> would take every URL of every virtual host"
			if explicit {
				return nil, fmt.Errorf("part %s: %s", p, why)
			}
			fmt.Fprintf(o.Log, "skipping %s: %s\n", p, why)
			continue
		}
		if why := missingTools(ctx, p); why != "" {
			if explicit {
				return nil, fmt.Errorf("part %s: %s", p, why)
			}
			fmt.Fprintf(o.Log, "skipping %s: %s\n", p, why)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// partFiles are the files of part p that need no build.
func partFiles(o Options, l layout, p Part, site *config.Site, sitePath string) ([]pending, error) {
	switch p {
	case PartBin:
		b, err := os.ReadFile(o.Binary)
		if err != nil {
			return nil, fmt.Errorf("the binary to install: %w", err)
		}
		return []pending{{p, l.binary(), b, 0o755}}, nil
	case PartSystemd:
		us, err := units(o, l, sitePath)
		if err != nil {
			return nil, err
		}
		var out []pending
		for _, name := range []string{UnitStandalone, UnitFastCGI, UnitFastCGISocket, UnitNginx} {
			out = append(out, pending{p, filepath.Join(l.unitDir(), name), []byte(us[name]), 0o644})
		}
		return out, nil
	case PartApache:
		load, conf, err := apacheModule(site, l)
		if err != nil {
			return nil, err
		}
		return []pending{
			{p, filepath.Join(l.apacheMods(), "anyhost.load"), []byte(load), 0o644},
			{p, filepath.Join(l.apacheMods(), "anyhost.conf"), []byte(conf), 0o644},
		}, nil
	case PartNginx:
		conf, err := nginxSite(o, site, l)
		if err != nil {
			return nil, err
		}
		return []pending{{p, filepath.Join(l.nginxSites(), NginxSite), []byte(conf), 0o644}}, nil
	}
	return nil, nil // the module's files come after its build; the site's are already listed
}

// conflicts refuses to overwrite a configuration file (under o.Etc) that
// this install did not write as it is now, unless o.Force. Files under the
// prefix are ours to replace.
func conflicts(o Options, t *tree, old Manifest, files []pending) error {
	if o.Force {
		return nil
	}
	var bad []string
	for _, f := range files {
		if !under(filepath.Clean(f.path), o.Etc, false) {
			continue
		}
		s, err := fileSum(t.real(f.path))
		if errors.Is(err, syscall.ELOOP) {
			bad = append(bad, t.real(f.path)+" (a symlink)")
			continue
		}
		if err != nil {
			return err
		}
		if s == "" || f.data != nil && s == sum(f.data) {
			continue
		}
		if e, ok := old.file(f.path); ok && e.SHA256 == s {
			continue
		}
		bad = append(bad, t.real(f.path))
	}
	if len(bad) > 0 {
		return fmt.Errorf("not overwriting files an earlier install did not write, or that were changed since: %s (move them away, or install with --force)",
			strings.Join(bad, ", "))
	}
	return nil
}

// writeManifest writes m with the directories of dirs that still exist,
// after removing those left empty (the manifest's own stays).
func writeManifest(t *tree, l layout, m Manifest, dirs []string) error {
	var others []string
	for _, d := range dirs {
		if d == l.share() || strings.HasPrefix(l.share(), d+"/") {
			continue
		}
		others = append(others, d)
	}
	kept := t.removeEmptyDirs(others)
	if err := t.mkdir(l.share()); err != nil {
		return err
	}
	for _, d := range append(dirs, t.created...) {
		if (d == l.share() || strings.HasPrefix(l.share(), d+"/") || slices.Contains(kept, d)) && !slices.Contains(m.Dirs, d) {
			m.Dirs = append(m.Dirs, d)
		}
	}
	slices.Sort(m.Dirs)
	if len(m.Roots) == 0 {
		m.Roots = t.roots
	}
	return t.write(l.manifest(), []byte(m.String()), 0o644)
}
