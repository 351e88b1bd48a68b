package install

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// tree writes installed paths under a DestDir and remembers the
// directories it had to create under its roots (prefix, etc), so that an
// uninstall removes those and no other.
type tree struct {
	destDir string
	roots   []string
	created []string
}

// real is where an installed path is on this machine now. Paths are
// checked clean and absolute before they get here, so none leaves DestDir.
func (t *tree) real(path string) string { return filepath.Join("/", t.destDir, path) }

// mkdir makes dir and its missing parents, mode 0755 whatever the umask
// (the services' users read the demo site), recording each one made
// under the roots. The DestDir itself is never recorded: it is not part of
// the installed tree; nor is a parent of a root (the admin named it).
func (t *tree) mkdir(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(t.real(d)); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(t.real(missing[i]), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Chmod(t.real(missing[i]), 0o755); err != nil {
			return err
		}
		if underRoots(missing[i], t.roots, true) && !slices.Contains(t.created, missing[i]) {
			t.created = append(t.created, missing[i])
		}
	}
	return nil
}

// write puts data at path by rename from a temporary file beside it: a
// running binary or a loaded library is replaced, never overwritten in
// place (which crashes the processes using it).
func (t *tree) write(path string, data []byte, mode os.FileMode) error {
	if err := t.mkdir(filepath.Dir(path)); err != nil {
		return err
	}
	dst := t.real(path)
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".new-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// removeEmptyDirs removes the directories of dirs that are empty, deepest
// first, and returns those it could not (they hold something). Only
// directories under the roots are touched, never a symlink.
func (t *tree) removeEmptyDirs(dirs []string) (kept []string) {
	sorted := slices.Clone(dirs)
	slices.SortFunc(sorted, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range sorted {
		if !underRoots(d, t.roots, true) {
			kept = append(kept, d)
			continue
		}
		fi, err := os.Lstat(t.real(d))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || !fi.IsDir() || t.linkOnPath(d) {
			kept = append(kept, d)
			continue
		}
		if err := os.Remove(t.real(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			kept = append(kept, d)
		}
	}
	slices.Sort(kept)
	return kept
}

// linkOnPath reports whether a directory between path and its root is
// not a plain directory (a symlink would send a removal elsewhere).
func (t *tree) linkOnPath(path string) bool {
	for d := filepath.Dir(path); d != "/" && underRoots(d, t.roots, false); d = filepath.Dir(d) {
		fi, err := os.Lstat(t.real(d))
		if errors.Is(err, fs.ErrNotExist) {
			return false // nothing below it to remove
		}
		if err != nil || !fi.IsDir() {
			return true
		}
	}
	return false
}
