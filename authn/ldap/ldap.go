// Package ldap checks passwords against an LDAP directory, the counterpart
// of Apache's mod_authnz_ldap. Two ways to find the user:
//
//   - search then bind: a search under base_dn with filter (bound as
//     bind_dn, or anonymously) finds the user's entry, then a bind as that
//     entry's DN checks the password;
//   - bind as the user: user_dn is a DN template; the bind checks the
//     password. A failed bind is Denied, since directories answer "invalid
//     credentials" for unknown DNs too; with bind_dn set, the service
//     account looks the entry up so that unknown users are UserNotFound and
//     fall through the chain (bind_dn must be able to read user entries).
//
// With group_base_dn set, the provider lists the user's groups for
// `require group`. Connections are pooled, bound as the service identity
// (bind_dn, or anonymous); a user bind happens on a pooled connection,
// which is bound back to the service identity before it returns to the
// pool. A directory that is down, slow or refuses the service account is an
// error (the host answers 5xx), never a "no".
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/anyhost/anyhost/core"
)

func init() {
	core.RegisterProvider("ldap", "users in an LDAP directory, search then bind or bind as the user, groups for require group "+
		"(options url, base_dn, filter, user_dn, bind_dn, bind_password, starttls, ca_file, group_base_dn, ...)", New)
}

// Placeholders in filter, user_dn and group_filter. They are replaced in
// one pass, each value escaped for where it goes (RFC 4515 in filters,
// RFC 4514 in DNs), so a user name can neither widen a filter nor name
// another entry.
const (
	userPH = "{user}"
	dnPH   = "{dn}"
)

// Defaults.
const (
	DefaultFilter      = "(uid={user})"
	DefaultGroupFilter = "(|(member={dn})(uniqueMember={dn})(memberUid={user}))"
	DefaultGroupAttr   = "cn"
	DefaultTimeout     = 5 * time.Second
	DefaultPoolSize    = 4
)

// Provider is a configured LDAP directory. It is safe for concurrent use.
type Provider struct {
	// addr is host:port; ldaps is TLS from the first byte, startTLS
	// upgrades a plain connection before anything else is sent.
	addr            string
	ldaps, startTLS bool
	tls             *tls.Config

	// bindDN and bindPW are the service identity; "" is anonymous.
	bindDN, bindPW string
	// Search then bind: baseDN and filter. Bind as the user: userDN.
	baseDN, filter string
	userDN         string

	groupBaseDN, groupFilter, groupAttr string

	// timeout bounds one CheckPassword or Groups call, dial included.
	timeout time.Duration
	pool    pool

	// dummyBinds counts the binds paid for users the search did not find.
	dummyBinds atomic.Int64
}

// New builds a provider from options:
//
//	url                  ldap://host[:389] or ldaps://host[:636] (required)
//	starttls             upgrade an ldap:// connection with StartTLS (default false)
//	ca_file              PEM CA certificates to trust instead of the system's
//	insecure_skip_verify do not check the server's certificate (default false)
//	bind_dn              service account for searches (default: anonymous)
//	bind_password        its password, as file:PATH or env:NAME (required with bind_dn)
//	base_dn              search then bind: where users are searched (subtree)
//	filter               search filter, {user} = the escaped user name (default (uid={user}))
//	user_dn              bind as the user: DN template, e.g. uid={user},ou=people,dc=example,dc=org
//	group_base_dn        where groups are searched (subtree); unset: no groups
//	group_filter         {dn} = the user's DN, {user} = the user name, both escaped
//	                     (default (|(member={dn})(uniqueMember={dn})(memberUid={user})))
//	group_attr           the attribute naming a group (default cn)
//	timeout              bound on one check, dial included (default 5s)
//	pool_size            idle connections kept (default 4; 0 closes each after use)
//
// Exactly one of base_dn and user_dn is required. A filter that matches
// more than one entry for a user is an error (500), not a guess: fix the
// filter or the directory.
func New(o core.Options) (core.PasswordProvider, error) {
	if err := o.Check("url", "starttls", "ca_file", "insecure_skip_verify", "bind_dn", "bind_password",
		"base_dn", "filter", "user_dn", "group_base_dn", "group_filter", "group_attr", "timeout", "pool_size"); err != nil {
		return nil, err
	}
	p := &Provider{}
	if err := p.configureConn(o); err != nil {
		return nil, err
	}
	if err := p.configureUsers(o); err != nil {
		return nil, err
	}
	if err := p.configureGroups(o); err != nil {
		return nil, err
	}
	var err error
	if p.timeout, err = o.Duration("timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	if p.timeout <= 0 {
		return nil, fmt.Errorf("option timeout must be positive")
	}
	size, err := o.Int("pool_size", DefaultPoolSize)
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("option pool_size must not be negative")
	}
	p.pool.max = size
	return p, nil
}

// configureConn reads url, starttls, ca_file, insecure_skip_verify,
// bind_dn and bind_password.
func (p *Provider) configureConn(o core.Options) error {
	raw, err := o.Required("url")
	if err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("option url: %q is not ldap://host[:port] or ldaps://host[:port]", raw)
	}
	port := u.Port()
	switch u.Scheme {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		p.ldaps = true
		if port == "" {
			port = "636"
		}
	default:
		return fmt.Errorf("option url: scheme %q is not ldap or ldaps", u.Scheme)
	}
	p.addr = net.JoinHostPort(u.Hostname(), port)
	if p.startTLS, err = o.Bool("starttls", false); err != nil {
		return err
	}
	if p.startTLS && p.ldaps {
		return fmt.Errorf("option starttls: an ldaps:// url is TLS already")
	}
	skip, err := o.Bool("insecure_skip_verify", false)
	if err != nil {
		return err
	}
	for k, set := range map[string]bool{"ca_file": o.Values["ca_file"] != "", "insecure_skip_verify": skip} {
		if set && !p.ldaps && !p.startTLS {
			return fmt.Errorf("option %s: the url is ldap:// without starttls, there is no TLS to configure", k)
		}
	}
	p.tls = &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: skip, MinVersion: tls.VersionTLS12}
	if f := o.Path("ca_file"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("option ca_file: %w", err)
		}
		p.tls.RootCAs = x509.NewCertPool()
		if !p.tls.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("option ca_file: no PEM certificate in %s", f)
		}
	}
	p.bindDN = o.String("bind_dn", "")
	_, hasPW := o.Values["bind_password"]
	switch {
	case p.bindDN != "" && !hasPW:
		return fmt.Errorf("option bind_password is required with bind_dn")
	case p.bindDN == "" && hasPW:
		return fmt.Errorf("option bind_password without bind_dn")
	case hasPW:
		if _, err := goldap.ParseDN(p.bindDN); err != nil {
			return fmt.Errorf("option bind_dn: %w", err)
		}
		if p.bindPW, err = o.Secret("bind_password"); err != nil {
			return fmt.Errorf("option bind_password: %w", err)
		}
		// An empty password would be an unauthenticated bind: the
		// service account would silently be anonymous.
		if p.bindPW == "" {
			return fmt.Errorf("option bind_password: the secret is empty")
		}
	}
	return nil
}

// configureUsers reads base_dn and filter, or user_dn.
func (p *Provider) configureUsers(o core.Options) error {
	p.baseDN, p.userDN = o.String("base_dn", ""), o.String("user_dn", "")
	_, hasFilter := o.Values["filter"]
	switch {
	case p.userDN != "" && (p.baseDN != "" || hasFilter):
		return fmt.Errorf("option user_dn (bind as the user) excludes base_dn and filter (search then bind)")
	case p.userDN != "":
		if err := checkTemplate("user_dn", p.userDN, userPH); err != nil {
			return err
		}
		if _, err := goldap.ParseDN(strings.ReplaceAll(p.userDN, userPH, "x")); err != nil {
			return fmt.Errorf("option user_dn: %w", err)
		}
		return nil
	case p.baseDN == "":
		return fmt.Errorf("option base_dn (search then bind) or user_dn (bind as the user) is required")
	}
	if _, err := goldap.ParseDN(p.baseDN); err != nil {
		return fmt.Errorf("option base_dn: %w", err)
	}
	p.filter = o.String("filter", DefaultFilter)
	if err := checkTemplate("filter", p.filter, userPH); err != nil {
		return err
	}
	if _, err := goldap.CompileFilter(strings.ReplaceAll(p.filter, userPH, "x")); err != nil {
		return fmt.Errorf("option filter: %w", err)
	}
	return nil
}

// configureGroups reads group_base_dn, group_filter and group_attr.
func (p *Provider) configureGroups(o core.Options) error {
	p.groupBaseDN = o.String("group_base_dn", "")
	p.groupFilter = o.String("group_filter", DefaultGroupFilter)
	p.groupAttr = o.String("group_attr", DefaultGroupAttr)
	if p.groupBaseDN == "" {
		for _, k := range []string{"group_filter", "group_attr"} {
			if _, ok := o.Values[k]; ok {
				return fmt.Errorf("option %s needs group_base_dn", k)
			}
		}
		return nil
	}
	if _, err := goldap.ParseDN(p.groupBaseDN); err != nil {
		return fmt.Errorf("option group_base_dn: %w", err)
	}
	if err := checkTemplate("group_filter", p.groupFilter, dnPH, userPH); err != nil {
		return err
	}
	if _, err := goldap.CompileFilter(strings.NewReplacer(dnPH, "x", userPH, "x").Replace(p.groupFilter)); err != nil {
		return fmt.Errorf("option group_filter: %w", err)
	}
	if p.groupAttr == "" {
		return fmt.Errorf("option group_attr is empty")
	}
	return nil
}

// checkTemplate requires one of the placeholders in a template, and points
// printf-style users to them.
func checkTemplate(key, v string, placeholders ...string) error {
	if slices.ContainsFunc(placeholders, func(ph string) bool { return strings.Contains(v, ph) }) {
		return nil
	}
	hint := ""
	if strings.Contains(v, "%s") {
		hint = " (not %s)"
	}
	return fmt.Errorf("option %s: %q must contain %s%s", key, v, strings.Join(placeholders, " or "), hint)
}

// validName reports whether user can name a directory entry at all: LDAP
// strings are UTF-8 and never contain NUL. Other names are unknown users,
// answered without asking the directory.
func validName(user string) bool {
	return user != "" && utf8.ValidString(user) && !strings.ContainsRune(user, 0)
}

// CheckPassword implements core.PasswordProvider.
func (p *Provider) CheckPassword(ctx context.Context, user, password string) (core.AuthResult, error) {
	// An empty password would make the bind an "unauthenticated" one
	// (RFC 4513 5.1.2), which many directories answer with success for
	// any DN (CVE-2017-14623). Refuse it before any network I/O.
	if password == "" {
		return core.Denied, nil
	}
	if !validName(user) {
		return core.UserNotFound, nil
	}
	var res core.AuthResult
	err := p.do(ctx, func(c *conn) (err error) {
		res, err = p.check(c, user, password)
		return err
	})
	if err != nil {
		return core.Denied, err
	}
	return res, nil
}

// check finds the user's DN and binds as it, then binds c back to the
// service identity.
func (p *Provider) check(c *conn, user, password string) (core.AuthResult, error) {
	dn, ok := p.userDNFor(user)
	if !ok {
		var err error
		if dn, ok, err = p.search(c, user); err != nil {
			return core.UserNotFound, err
		}
		if !ok {
			p.dummyBind(c, password)
			return core.UserNotFound, nil
		}
	}
	bindErr := c.Bind(dn, password)
	// Whatever the user bind said, the connection goes back to the pool as
	// the service identity, or not at all. If rebinding fails, the user's
	// answer still stands; the next dial reports the broken service account.
	if err := p.bindService(c); err != nil {
		c.bad = true
	}
	switch {
	case bindErr == nil:
		return core.Granted, nil
	case goldap.IsErrorWithCode(bindErr, goldap.LDAPResultInvalidCredentials):
		if p.userDN != "" && p.bindDN != "" && !c.bad {
			// A directory answers "invalid credentials" for unknown DNs
			// too: look the entry up so that unknown users fall through.
			return p.exists(c, dn)
		}
		return core.Denied, nil
	}
	return core.Denied, fmt.Errorf("binding as %s: %w", dn, bindErr)
}

// dummyBind pays for a user the search did not find what a wrong password
// pays (a bind and the rebind to the service identity), so the answer's
// timing does not tell which users exist. The DN is a valid one under
// base_dn that names no entry, so the directory looks it up as it would a
// user's before answering "invalid credentials".
func (p *Provider) dummyBind(c *conn, password string) {
	_ = c.Bind("cn=anyhost-timing-guard,"+p.baseDN, password)
	if err := p.bindService(c); err != nil {
		c.bad = true
	}
	p.dummyBinds.Add(1)
}

// DummyBinds counts the binds paid for unknown users (for tests and
// metrics).
func (p *Provider) DummyBinds() int64 { return p.dummyBinds.Load() }

// userDNFor fills the user_dn template; ok is false in search mode.
func (p *Provider) userDNFor(user string) (string, bool) {
	if p.userDN == "" {
		return "", false
	}
	return strings.ReplaceAll(p.userDN, userPH, goldap.EscapeDN(user)), true
}

// search finds the one entry filter matches for user under base_dn.
func (p *Provider) search(c *conn, user string) (dn string, found bool, err error) {
	f := strings.ReplaceAll(p.filter, userPH, goldap.EscapeFilter(user))
	// A size limit of 2 is enough to see that the filter is ambiguous.
	req := goldap.NewSearchRequest(p.baseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 2, 0, false,
		f, []string{"1.1"}, nil)
	res, err := c.Search(req)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || (err == nil && len(res.Entries) > 1) {
		return "", false, fmt.Errorf("%w: user %q under %s", ErrAmbiguous, user, p.baseDN)
	}
	if err != nil {
		return "", false, fmt.Errorf("searching %s for %s: %w", p.baseDN, f, err)
	}
	if len(res.Entries) == 0 {
		return "", false, nil
	}
	return res.Entries[0].DN, true, nil
}

// exists tells an unknown DN (UserNotFound) from a wrong password (Denied)
// in bind-as-the-user mode, as the service account sees it.
func (p *Provider) exists(c *conn, dn string) (core.AuthResult, error) {
	_, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	switch {
	case err == nil, goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights):
		return core.Denied, nil
	case goldap.IsErrorAnyOf(err, goldap.LDAPResultNoSuchObject, goldap.LDAPResultInvalidDNSyntax):
		return core.UserNotFound, nil
	}
	return core.Denied, fmt.Errorf("looking up %s: %w", dn, err)
}

// ErrAmbiguous is returned when the filter matches several entries for one
// user name: the provider does not guess which one is meant.
var ErrAmbiguous = errors.New("ldap: the filter matches more than one entry")

// Groups implements core.GroupLister: the group_attr values of the groups
// under group_base_dn that group_filter matches for the user, sorted.
func (p *Provider) Groups(ctx context.Context, user string) ([]string, error) {
	if p.groupBaseDN == "" || !validName(user) {
		return nil, nil
	}
	var groups []string
	err := p.do(ctx, func(c *conn) error {
		dn, ok := p.userDNFor(user)
		if !ok {
			var err error
			if dn, ok, err = p.search(c, user); err != nil || !ok {
				return err
			}
		}
		// One pass: a {dn} inside the user name is not replaced again.
		f := strings.NewReplacer(dnPH, goldap.EscapeFilter(dn), userPH, goldap.EscapeFilter(user)).Replace(p.groupFilter)
		res, err := c.Search(goldap.NewSearchRequest(p.groupBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			f, []string{p.groupAttr}, nil))
		if err != nil {
			return fmt.Errorf("searching %s for %s: %w", p.groupBaseDN, f, err)
		}
		for _, e := range res.Entries {
			groups = append(groups, e.GetAttributeValues(p.groupAttr)...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// Close closes the pooled connections; later calls dial afresh and do not
// pool.
func (p *Provider) Close() error {
	p.pool.close()
	return nil
}

// Interface guards.
var (
	_ core.PasswordProvider = (*Provider)(nil)
	_ core.GroupLister      = (*Provider)(nil)
)
