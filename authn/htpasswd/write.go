package htpasswd

import (
	"os"
	"path/filepath"
	"strings"
)

// SetPassword adds or replaces user's entry in the file at path (bcrypt),
// creating it if needed, and writes the result by atomic rename so a reader
// never sees half a file.
func SetPassword(path, user, password string, cost int) error {
	entry, err := Entry(user, password, cost)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var out []string
	replaced := false
	for _, line := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if line == "" {
			continue
		}
		if u, _, _ := strings.Cut(line, ":"); u == user {
			line, replaced = entry, true
		}
		out = append(out, line)
	}
	if !replaced {
		out = append(out, entry)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".htpasswd-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(strings.Join(out, "\n") + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
