// Package htpasswd checks passwords against files in the format Apache's
// htpasswd writes: one "user:hash" line per user.
package htpasswd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/anyhost/anyhost/core"
)

func init() {
	core.RegisterProvider("htpasswd", "users and bcrypt hashes from an Apache htpasswd file (option file)", New)
}

// New builds a provider from options: file (required), the htpasswd path.
func New(o core.Options) (core.PasswordProvider, error) {
	if err := o.Check("file"); err != nil {
		return nil, err
	}
	if _, err := o.Required("file"); err != nil {
		return nil, err
	}
	return Load(o.Path("file"))
}

// File is a parsed htpasswd file.
type File struct {
	users map[string][]byte
}

// Load reads and parses an htpasswd file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return f, nil
}

// Parse reads htpasswd lines. Errors name the line as "LINE: what".
func Parse(r io.Reader) (*File, error) {
	f := &File{users: map[string][]byte{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%d: expected user:hash", n)
		}
		if !isBcrypt(hash) {
			return nil, fmt.Errorf("%d: user %s: only bcrypt hashes ($2y$, $2a$, $2b$) are supported", n, user)
		}
		f.users[user] = []byte(hash)
	}
	return f, sc.Err()
}

func isBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2y$") || strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$")
}

// dummyHash is compared against for unknown users so that a miss costs the
// same as a wrong password and timing does not reveal which users exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("anyhost timing guard"), bcrypt.DefaultCost)

// CheckPassword implements core.PasswordProvider.
func (f *File) CheckPassword(_ context.Context, user, password string) (core.AuthResult, error) {
	hash, ok := f.users[user]
	if !ok {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return core.UserNotFound, nil
	}
	// Go's bcrypt reads $2y$ as $2a$: both are the fixed algorithm.
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil {
		return core.Denied, nil
	}
	return core.Granted, nil
}

// Entry returns an htpasswd line for user with a bcrypt hash of password.
func Entry(user, password string, cost int) (string, error) {
	if user == "" || strings.ContainsAny(user, ":\n") {
		return "", fmt.Errorf("user name must be non-empty and contain no ':' or newline")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", err
	}
	return user + ":" + string(h), nil
}

// SetPassword adds or replaces user's entry in the file at path, creating
// it if needed, and writes the result by atomic rename so a reader never
// sees half a file.
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
	tmp, err := os.CreateTemp(dirOf(path), ".htpasswd-*")
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

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1]
	}
	return "."
}

var _ core.PasswordProvider = (*File)(nil)
