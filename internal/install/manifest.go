package install

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Manifest is what an install wrote: each file with the part it belongs to
// and the sha256 it had when written (a file whose sum differs was changed
// by the admin since, and is not ours to delete), the directories it
// created (removed again when empty), the site file each part's files
// name, and the roots (prefix, etc) every path lies under. Paths are as
// installed, without DestDir.
type Manifest struct {
	Roots []string
	Files []Entry
	Dirs  []string
	Uses  map[Part]string
}

// Entry is one installed file.
type Entry struct {
	Part   Part
	SHA256 string
	Path   string
}

const manifestHeader = "# anyhost install manifest: `anyhost uninstall` removes what it lists.\n" +
	"# root PATH: every path below lies under one; uses PART SITE: the site file a part's files name;\n" +
	"# file PART SHA256 PATH: a file install wrote; dir PATH: a directory it created.\n"

// String is the manifest's text: the roots, the sites in use, one line per
// file, then per directory.
func (m Manifest) String() string {
	var b strings.Builder
	b.WriteString(manifestHeader)
	for _, r := range m.Roots {
		fmt.Fprintf(&b, "root %s\n", r)
	}
	for _, p := range slices.Sorted(maps.Keys(m.Uses)) {
		fmt.Fprintf(&b, "uses %s %s\n", p, m.Uses[p])
	}
	for _, f := range m.Files {
		fmt.Fprintf(&b, "file %s %s %s\n", f.Part, f.SHA256, f.Path)
	}
	for _, d := range m.Dirs {
		fmt.Fprintf(&b, "dir %s\n", d)
	}
	return b.String()
}

// file returns the entry for path, if any.
func (m Manifest) file(path string) (Entry, bool) {
	i := slices.IndexFunc(m.Files, func(f Entry) bool { return f.Path == path })
	if i < 0 {
		return Entry{}, false
	}
	return m.Files[i], true
}

// siteInUse reports whether a part left in m names the site file path. A
// manifest without uses lines keeps it while any part but the binary is.
func (m Manifest) siteInUse(path string) bool {
	if len(m.Uses) == 0 {
		return slices.ContainsFunc(m.Files, func(f Entry) bool { return f.Part != PartBin && f.Part != partSite })
	}
	for _, site := range m.Uses {
		if site == path {
			return true
		}
	}
	return false
}

// under reports whether path lies under root (or is it, when orEqual).
func under(path, root string, orEqual bool) bool {
	return orEqual && path == root || strings.HasPrefix(path, strings.TrimSuffix(root, "/")+"/")
}

// underRoots reports whether path is absolute, clean, and under one of
// roots: what a manifest entry must be before anything acts on it.
func underRoots(path string, roots []string, orEqual bool) bool {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return false
	}
	return slices.ContainsFunc(roots, func(r string) bool { return under(path, r, orEqual) })
}

// readManifest reads the manifest at path (on this machine); a missing
// one is an empty manifest and ok false. Run as root, it trusts only a
// regular file owned by root that nobody else may write: uninstall
// deletes what it lists. Every entry must lie under the manifest's roots
// (roots when it records none).
func readManifest(path string, roots []string) (m Manifest, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, false, nil
	}
	if err != nil {
		return Manifest{}, false, fmt.Errorf("install manifest: %w (a symlink is not followed)", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Manifest{}, false, err
	}
	if !fi.Mode().IsRegular() {
		return Manifest{}, false, fmt.Errorf("install manifest %s is not a regular file", path)
	}
	if st, isUnix := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && isUnix && (st.Uid != 0 || fi.Mode().Perm()&0o022 != 0) {
		return Manifest{}, false, fmt.Errorf("not trusting the install manifest %s: owned by uid %d, mode %04o (root's and writable by root alone, or anyone could make uninstall delete a file)",
			path, st.Uid, fi.Mode().Perm())
	}
	sc := bufio.NewScanner(f)
	type line struct {
		n    int
		text string
	}
	var files, dirs []line
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		kind, rest, _ := strings.Cut(text, " ")
		switch kind {
		case "root":
			if !filepath.IsAbs(rest) || filepath.Clean(rest) != rest || rest == "/" {
				return Manifest{}, false, fmt.Errorf("%s:%d: not a root line: %q", path, n, text)
			}
			m.Roots = append(m.Roots, rest)
		case "uses":
			p, site, _ := strings.Cut(rest, " ")
			if m.Uses == nil {
				m.Uses = map[Part]string{}
			}
			m.Uses[Part(p)] = site
		case "file":
			w := strings.SplitN(rest, " ", 3)
			if len(w) != 3 || len(w[1]) != 2*sha256.Size {
				return Manifest{}, false, fmt.Errorf("%s:%d: not a file line: %q", path, n, text)
			}
			m.Files = append(m.Files, Entry{Part: Part(w[0]), SHA256: w[1], Path: w[2]})
			files = append(files, line{n, text})
		case "dir":
			m.Dirs = append(m.Dirs, rest)
			dirs = append(dirs, line{n, text})
		default:
			return Manifest{}, false, fmt.Errorf("%s:%d: unknown line: %q", path, n, text)
		}
	}
	if err := sc.Err(); err != nil {
		return Manifest{}, false, err
	}
	if len(m.Roots) == 0 {
		m.Roots = roots
	}
	for i, e := range m.Files {
		if !underRoots(e.Path, m.Roots, false) {
			return Manifest{}, false, fmt.Errorf("%s:%d: %s is not a clean path under the manifest's roots (%s): not acting on it",
				path, files[i].n, e.Path, strings.Join(m.Roots, ", "))
		}
	}
	for i, d := range m.Dirs {
		if !underRoots(d, m.Roots, true) {
			return Manifest{}, false, fmt.Errorf("%s:%d: %s is not a clean path under the manifest's roots (%s): not acting on it",
				path, dirs[i].n, d, strings.Join(m.Roots, ", "))
		}
	}
	return m, true, nil
}

// fileSum is the sha256 of a file's contents, or "" when it cannot be read
// (missing: nothing to keep or delete). A symlink is not followed.
func fileSum(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
