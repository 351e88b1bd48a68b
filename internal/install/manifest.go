package install

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Manifest is what an install wrote: each file with the part it belongs to
// and the sha256 it had when written (a file whose sum differs was changed
// by the admin since, and is not ours to delete), and the directories it
// created (removed again when empty). Paths are as installed, without
// DestDir.
type Manifest struct {
	Files []Entry
	Dirs  []string
}

// Entry is one installed file.
type Entry struct {
	Part   Part
	SHA256 string
	Path   string
}

const manifestHeader = "# anyhost install manifest: `anyhost uninstall` removes what it lists.\n" +
	"# file PART SHA256 PATH: a file install wrote; dir PATH: a directory it created.\n"

// String is the manifest's text: one line per file, then per directory.
func (m Manifest) String() string {
	var b strings.Builder
	b.WriteString(manifestHeader)
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

// readManifest reads the manifest at path; a missing one is an empty
// manifest and ok false.
func readManifest(path string) (m Manifest, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, false, nil
	}
	if err != nil {
		return Manifest{}, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "file":
			w := strings.SplitN(rest, " ", 3)
			if len(w) != 3 || len(w[1]) != 2*sha256.Size || !strings.HasPrefix(w[2], "/") {
				return Manifest{}, false, fmt.Errorf("%s:%d: not a file line: %q", path, n, line)
			}
			m.Files = append(m.Files, Entry{Part: Part(w[0]), SHA256: w[1], Path: w[2]})
		case "dir":
			if !strings.HasPrefix(rest, "/") {
				return Manifest{}, false, fmt.Errorf("%s:%d: not a dir line: %q", path, n, line)
			}
			m.Dirs = append(m.Dirs, rest)
		default:
			return Manifest{}, false, fmt.Errorf("%s:%d: unknown line: %q", path, n, line)
		}
	}
	return m, true, sc.Err()
}

// fileSum is the sha256 of a file's contents, or "" when it cannot be read
// (missing: nothing to keep or delete).
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
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
