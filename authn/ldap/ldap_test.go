package ldap_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/ldap"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// secret writes pw to a file and returns the file: reference to it.
func secret(t *testing.T, pw string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(f, []byte(pw+"\n"), 0o600))
	return "file:" + f
}

func newProvider(t *testing.T, values map[string]string) *ldap.Provider {
	t.Helper()
	p, err := ldap.New(core.Options{Values: values, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { p.(*ldap.Provider).Close() })
	return p.(*ldap.Provider)
}

// searchMode finds users under ou=people as the reader account.
func searchMode(t *testing.T, s *testhost.Slapd) map[string]string {
	return map[string]string{
		"url":           s.URL,
		"base_dn":       testhost.SlapdPeople,
		"bind_dn":       testhost.SlapdReaderDN,
		"bind_password": secret(t, testhost.SlapdReaderPW),
		"group_base_dn": testhost.SlapdGroups,
	}
}

// bindMode binds as uid={user},ou=people, with the reader account to tell
// unknown users from wrong passwords.
func bindMode(t *testing.T, s *testhost.Slapd) map[string]string {
	return map[string]string{
		"url":           s.URL,
		"user_dn":       "uid={user}," + testhost.SlapdPeople,
		"bind_dn":       testhost.SlapdReaderDN,
		"bind_password": secret(t, testhost.SlapdReaderPW),
		"group_base_dn": testhost.SlapdGroups,
	}
}

type check struct {
	user, pass string
	want       core.AuthResult
}

func runChecks(t *testing.T, p *ldap.Provider, checks []check) {
	t.Helper()
	for _, c := range checks {
		// assert, not require: concurrent tests call this from goroutines.
		got, err := p.CheckPassword(context.Background(), c.user, c.pass)
		if assert.NoError(t, err, "%q/%q", c.user, c.pass) {
			assert.Equal(t, c.want, got, "%q/%q", c.user, c.pass)
		}
	}
}

// Names a filter or DN built without escaping would turn into something
// else: a wildcard, an OR, another attribute, another RDN.
var injections = []string{
	"*",
	"ali*",
	"*)(uid=*",
	"admin)(|(uid=*",
	"alice)(|(objectClass=*",
	"alice)(uid=bob",
	"alice,ou=people",
	"alice+cn=alice",
	"alice\\",
	"{dn}",
	"{user}",
	" alice\x00",
	"\xff\xfe",
}

func TestPasswords(t *testing.T) {
	s := testhost.StartSlapd(t)
	// A user whose name needs escaping in filters and in DNs both.
	s.AddUser(t, "x*(y),z+w\\", "odd-pw")
	for mode, opts := range map[string]map[string]string{"search": searchMode(t, s), "bind": bindMode(t, s)} {
		t.Run(mode, func(t *testing.T) {
			p := newProvider(t, opts)
			runChecks(t, p, []check{
				{"alice", "alice-pw", core.Granted},
				{"bob", "bob-pw", core.Granted},
				{"alice", "bob-pw", core.Denied},
				{"alice", "alice-pw ", core.Denied},
				{"bob", "wrong", core.Denied},
				{"nobody", "alice-pw", core.UserNotFound},
				{"x*(y),z+w\\", "odd-pw", core.Granted},
				{"x*(y),z+w\\", "alice-pw", core.Denied},
			})
			// Injection attempts are unknown users, with the right
			// password of the user they aim at and with a wrong one.
			for _, u := range injections {
				runChecks(t, p, []check{{u, "alice-pw", core.UserNotFound}, {u, "bob-pw", core.UserNotFound}})
			}
			if mode == "search" {
				// An unknown user the search did not find pays a bind, as
				// a wrong password does: counted, not timed.
				before := p.DummyBinds()
				runChecks(t, p, []check{{"nobody", "alice-pw", core.UserNotFound}, {"alice", "wrong", core.Denied}})
				assert.EqualValues(t, before+1, p.DummyBinds())
				runChecks(t, p, []check{{"alice", "alice-pw", core.Granted}})
			}
		})
	}
}

// The injection list is not toothless: without escaping, "ali*" finds alice.
func TestUnescapedFilterWouldMatch(t *testing.T) {
	s := testhost.StartSlapd(t)
	admin := s.Admin(t)
	res, err := admin.Search(goldap.NewSearchRequest(testhost.SlapdPeople, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, "(uid=ali*)", []string{"1.1"}, nil))
	require.NoError(t, err)
	assert.Len(t, res.Entries, 1)
	res, err = admin.Search(goldap.NewSearchRequest(testhost.SlapdPeople, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, "(uid="+goldap.EscapeFilter("ali*")+")", []string{"1.1"}, nil))
	require.NoError(t, err)
	assert.Empty(t, res.Entries)
}

// An empty password is refused before any network I/O, although this slapd
// accepts unauthenticated binds (CVE-2017-14623).
func TestEmptyPasswordNeverBinds(t *testing.T) {
	s := testhost.StartSlapd(t)
	admin := s.Admin(t)
	aliceDN := "uid=alice," + testhost.SlapdPeople

	// The server side: a DN with an empty password binds.
	raw, err := goldap.DialURL(s.URL)
	require.NoError(t, err)
	defer raw.Close()
	require.NoError(t, raw.UnauthenticatedBind(aliceDN), "slapd accepts an unauthenticated bind")
	_, err = raw.SimpleBind(&goldap.SimpleBindRequest{Username: aliceDN, AllowEmptyPassword: true})
	require.NoError(t, err, "slapd accepts a simple bind with an empty password")

	for mode, opts := range map[string]map[string]string{"search": searchMode(t, s), "bind": bindMode(t, s)} {
		t.Run(mode, func(t *testing.T) {
			p := newProvider(t, opts)
			before := s.Connections(t, admin)
			for _, u := range []string{"alice", "bob", "nobody", "*"} {
				res, err := p.CheckPassword(context.Background(), u, "")
				require.NoError(t, err)
				assert.Equal(t, core.Denied, res, u)
			}
			assert.Equal(t, before, s.Connections(t, admin), "no connection was opened for an empty password")
			// The counter moves when the provider does talk to slapd.
			res, err := p.CheckPassword(context.Background(), "alice", "alice-pw")
			require.NoError(t, err)
			assert.Equal(t, core.Granted, res)
			assert.Equal(t, before+1, s.Connections(t, admin))
			// And an empty password stays refused on a pooled connection.
			res, err = p.CheckPassword(context.Background(), "alice", "")
			require.NoError(t, err)
			assert.Equal(t, core.Denied, res)
		})
	}
}

func TestGroups(t *testing.T) {
	s := testhost.StartSlapd(t)
	for mode, opts := range map[string]map[string]string{"search": searchMode(t, s), "bind": bindMode(t, s)} {
		t.Run(mode, func(t *testing.T) {
			p := newProvider(t, opts)
			ctx := context.Background()
			for user, want := range map[string][]string{
				"alice":  {"admins", "staff"},           // groupOfNames
				"bob":    {"auditors", "devs", "staff"}, // groupOfUniqueNames, posixGroup, groupOfNames
				"nobody": nil,
				"*":      nil,
				"{dn}":   nil,
			} {
				got, err := p.Groups(ctx, user)
				require.NoError(t, err, user)
				assert.Equal(t, want, got, user)
			}
		})
	}
	t.Run("group_attr and group_filter", func(t *testing.T) {
		opts := searchMode(t, s)
		opts["group_filter"] = "(&(objectClass=posixGroup)(memberUid={user}))"
		opts["group_attr"] = "gidNumber"
		p := newProvider(t, opts)
		got, err := p.Groups(context.Background(), "bob")
		require.NoError(t, err)
		assert.Equal(t, []string{"20001"}, got)
	})
	t.Run("no group_base_dn", func(t *testing.T) {
		opts := searchMode(t, s)
		delete(opts, "group_base_dn")
		p := newProvider(t, opts)
		got, err := p.Groups(context.Background(), "alice")
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}

// Several entries for one name are an error, never a guess.
func TestAmbiguousUser(t *testing.T) {
	s := testhost.StartSlapd(t)
	s.Add(t, "ou=others,"+testhost.SlapdBaseDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"others"}})
	s.Add(t, "uid=alice,ou=others,"+testhost.SlapdBaseDN, map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {"alice"}, "cn": {"alice"}, "sn": {"other"}, "userPassword": {testhost.SSHA("other-pw")},
	})
	opts := searchMode(t, s)
	opts["bind_dn"], opts["bind_password"] = testhost.SlapdRootDN, secret(t, testhost.SlapdRootPW)
	opts["base_dn"] = testhost.SlapdBaseDN
	p := newProvider(t, opts)
	for _, pw := range []string{"alice-pw", "other-pw", "wrong"} {
		_, err := p.CheckPassword(context.Background(), "alice", pw)
		assert.ErrorIs(t, err, ldap.ErrAmbiguous)
		assert.NotContains(t, err.Error(), pw)
	}
	_, err := p.Groups(context.Background(), "alice")
	assert.ErrorIs(t, err, ldap.ErrAmbiguous)
	// bob is still unique.
	runChecks(t, p, []check{{"bob", "bob-pw", core.Granted}})
}

// Without bind_dn, bind-as-the-user cannot look entries up: a failed bind
// is Denied whether or not the user exists, and groups are searched
// anonymously.
func TestBindAsUserAnonymous(t *testing.T) {
	s := testhost.StartSlapd(t)
	opts := bindMode(t, s)
	delete(opts, "bind_dn")
	delete(opts, "bind_password")
	p := newProvider(t, opts)
	runChecks(t, p, []check{
		{"alice", "alice-pw", core.Granted},
		{"alice", "wrong", core.Denied},
		{"nobody", "alice-pw", core.Denied},
		{"bob", "bob-pw", core.Granted},
	})
	g, err := p.Groups(context.Background(), "alice")
	require.NoError(t, err)
	assert.Equal(t, []string{"admins", "staff"}, g)
}
