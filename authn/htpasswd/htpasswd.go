// Package htpasswd checks passwords against files in the format Apache's
// htpasswd writes ("user:hash" lines: bcrypt, APR1-MD5, {SHA}, {SSHA},
// crypt SHA-256/512, and plain text only when allowed), reloads them when
// they change, and reads AuthGroupFile-style group files for `require group`.
package htpasswd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/anyhost/anyhost/authn/passhash"
	"github.com/anyhost/anyhost/core"
)

func init() {
	core.RegisterProvider("htpasswd", "users from an Apache htpasswd file (options file, groups, allow_plain)", New)
}

// New builds a provider from options: file (required), groups (an
// AuthGroupFile-style file, optional), allow_plain (default false: a line
// that is no known hash is an error, since it would be a password in clear).
func New(o core.Options) (core.PasswordProvider, error) {
	if err := o.Check("file", "groups", "allow_plain"); err != nil {
		return nil, err
	}
	if _, err := o.Required("file"); err != nil {
		return nil, err
	}
	plain, err := o.Bool("allow_plain", false)
	if err != nil {
		return nil, err
	}
	p := &Provider{path: o.Path("file"), groupsPath: o.Path("groups"), allowPlain: plain}
	if err := p.load(); err != nil {
		return nil, err
	}
	return p, nil
}

// Provider serves one htpasswd file, reloaded when its modification time
// or size changes (checked at most once a second).
type Provider struct {
	path, groupsPath string
	allowPlain       bool

	mu      sync.RWMutex
	file    *File
	groups  map[string][]string
	stamp   string
	checked time.Time
}

func stampOf(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return b.String()
}

func (p *Provider) load() error {
	stamp := stampOf(p.path, p.groupsPath)
	b, err := os.ReadFile(p.path)
	if err != nil {
		return err
	}
	f, err := parse(bytes.NewReader(b), p.allowPlain)
	if err != nil {
		return fmt.Errorf("%s:%w", p.path, err)
	}
	var groups map[string][]string
	if p.groupsPath != "" {
		if groups, err = loadGroups(p.groupsPath); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.file, p.groups, p.stamp, p.checked = f, groups, stamp, time.Now()
	p.mu.Unlock()
	return nil
}

// current reloads the files if they changed; a file that became unreadable
// or invalid keeps the last good version in service and is reported.
func (p *Provider) current() (*File, error) {
	p.mu.RLock()
	f, checked, stamp := p.file, p.checked, p.stamp
	p.mu.RUnlock()
	if time.Since(checked) < time.Second {
		return f, nil
	}
	p.mu.Lock()
	p.checked = time.Now()
	p.mu.Unlock()
	if stampOf(p.path, p.groupsPath) == stamp {
		return f, nil
	}
	if err := p.load(); err != nil {
		return f, fmt.Errorf("reloading failed, still serving the previous version: %w", err)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.file, nil
}

// CheckPassword implements core.PasswordProvider.
func (p *Provider) CheckPassword(ctx context.Context, user, password string) (core.AuthResult, error) {
	f, err := p.current()
	if err != nil && f == nil {
		return core.Denied, err
	}
	return f.CheckPassword(ctx, user, password)
}

// Groups implements core.GroupLister from the groups file.
func (p *Provider) Groups(_ context.Context, user string) ([]string, error) {
	if _, err := p.current(); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.groups[user], nil
}

// loadGroups reads "group: user1 user2" lines into user -> groups.
func loadGroups(path string) (map[string][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		group, users, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(group) == "" {
			return nil, fmt.Errorf("%s:%d: expected \"group: user1 user2\"", path, n)
		}
		for _, u := range strings.Fields(users) {
			out[u] = append(out[u], strings.TrimSpace(group))
		}
	}
	return out, sc.Err()
}

// File is a parsed htpasswd file.
type File struct {
	users map[string]passhash.Hash
	// dummy is checked for unknown users so that a miss costs about what a
	// wrong password costs and timing does not reveal which users exist.
	dummy *passhash.Dummy
}

// Parse reads htpasswd lines (bcrypt only, plain text refused). Errors name
// the line as "LINE: what".
func Parse(r io.Reader) (*File, error) { return parse(r, false) }

func parse(r io.Reader, allowPlain bool) (*File, error) {
	f := &File{users: map[string]passhash.Hash{}}
	bcryptCost := bcrypt.DefaultCost
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
		pw, err := passhash.Parse(hash, allowPlain)
		if err != nil {
			if errors.Is(err, passhash.ErrNotAHash) {
				err = fmt.Errorf("%w; allow_plain = true accepts it", err)
			}
			return nil, fmt.Errorf("%d: user %s: %w", n, user, err)
		}
		if c, ok := passhash.BcryptCost(hash); ok {
			bcryptCost = c
		}
		f.users[user] = pw
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var err error
	if f.dummy, err = passhash.NewDummy(bcryptCost); err != nil {
		return nil, err
	}
	return f, nil
}

// CheckPassword implements core.PasswordProvider.
func (f *File) CheckPassword(_ context.Context, user, password string) (core.AuthResult, error) {
	pw, ok := f.users[user]
	if !ok {
		f.dummy.Check(password)
		return core.UserNotFound, nil
	}
	if !pw.MatchesPassword(password) {
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

// Load reads and parses an htpasswd file (plain text refused).
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

// Interface guards.
var (
	_ core.PasswordProvider = (*File)(nil)
	_ core.PasswordProvider = (*Provider)(nil)
	_ core.GroupLister      = (*Provider)(nil)
)

// DummyChecks counts the dummy hash comparisons paid for unknown users
// (exposed for tests and metrics).
func (f *File) DummyChecks() int64 { return f.dummy.Checks() }

// DummyChecks counts the dummy hash comparisons paid for unknown users by
// the file in service.
func (p *Provider) DummyChecks() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.file.DummyChecks()
}
