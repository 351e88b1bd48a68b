// Package static checks passwords against users written in the site file
// itself, for a handful of accounts where a separate file is one file too
// many:
//
//	providers = [{ name = "static", options = { alice = "$2y$10$...", bob = "$apr1$..." } }]
//
// Every option is a user name and its stored hash, in any format Apache's
// htpasswd writes (make one with `anyhost htpasswd` or `htpasswd -nB`).
// Plain text is refused: a site file is copied, committed and shown around.
package static

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/anyhost/anyhost/authn/passhash"
	"github.com/anyhost/anyhost/core"
)

func init() {
	core.RegisterProvider("static", "users written in the site file: options NAME = \"HASH\" (bcrypt, APR1, SHA, crypt; never plain)", New)
}

// Provider holds the users of one options table.
type Provider struct {
	users map[string]passhash.Hash
	dummy *passhash.Dummy
}

// New builds a provider from options, each a user name and its hash.
func New(o core.Options) (core.PasswordProvider, error) {
	if len(o.Values) == 0 {
		return nil, fmt.Errorf("no users: give options = { NAME = \"HASH\", ... }")
	}
	names := make([]string, 0, len(o.Values))
	for name := range o.Values {
		names = append(names, name)
	}
	sort.Strings(names)
	p := &Provider{users: make(map[string]passhash.Hash, len(names))}
	var errs []string
	cost := 0
	for _, name := range names {
		stored := o.Values[name]
		if strings.ContainsAny(name, ":\n") {
			errs = append(errs, fmt.Sprintf("user %q: a name must not contain ':' or a newline", name))
			continue
		}
		h, err := passhash.Parse(stored, false)
		if err != nil {
			// Never repeat the value: it may be a password typed in clear.
			errs = append(errs, fmt.Sprintf("user %s: %v; make a hash with `anyhost htpasswd` or `htpasswd -nB %s`", name, err, name))
			continue
		}
		if c, ok := passhash.BcryptCost(stored); ok && c > cost {
			cost = c
		}
		p.users[name] = h
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	var err error
	if p.dummy, err = passhash.NewDummy(cost); err != nil {
		return nil, err
	}
	return p, nil
}

// CheckPassword implements core.PasswordProvider. An unknown user pays a
// dummy bcrypt comparison, so timing does not tell which users exist.
func (p *Provider) CheckPassword(_ context.Context, user, password string) (core.AuthResult, error) {
	h, ok := p.users[user]
	if !ok {
		p.dummy.Check(password)
		return core.UserNotFound, nil
	}
	if !h.MatchesPassword(password) {
		return core.Denied, nil
	}
	return core.Granted, nil
}

// DummyChecks counts the dummy comparisons paid for unknown users (for
// tests and metrics).
func (p *Provider) DummyChecks() int64 { return p.dummy.Checks() }

var _ core.PasswordProvider = (*Provider)(nil)
