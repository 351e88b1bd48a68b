package ldap_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/ldap"
	"github.com/anyhost/anyhost/core"
)

// Bad configuration fails at start-up with an error naming the option.
func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("pw\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notpem"), []byte("hello"), 0o600))
	base := func(kv ...string) map[string]string {
		m := map[string]string{"url": "ldap://127.0.0.1", "base_dn": "dc=example,dc=org"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "-" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	for _, c := range []struct {
		opts map[string]string
		want string
	}{
		{base("url", "-"), "option url is required"},
		{base("url", "http://x"), `option url: scheme "http"`},
		{base("url", "ldap://x/dc=example,dc=org"), "option url:"},
		{base("url", "ldap:///"), "option url:"},
		{base("url", "ldaps://x", "starttls", "true"), "option starttls"},
		{base("starttls", "maybe"), "option starttls"},
		{base("ca_file", "notpem", "starttls", "true"), "option ca_file: no PEM certificate"},
		{base("ca_file", "missing", "starttls", "true"), "option ca_file"},
		{base("ca_file", "notpem"), "option ca_file: the url is ldap:// without starttls"},
		{base("insecure_skip_verify", "true"), "option insecure_skip_verify: the url is ldap:// without starttls"},
		{base("bind_dn", "cn=x"), "option bind_password is required"},
		{base("bind_password", "file:pw"), "option bind_password without bind_dn"},
		{base("bind_dn", "cn=x", "bind_password", "pw"), "option bind_password: a secret must be given as file:PATH or env:NAME"},
		{base("bind_dn", "cn=x", "bind_password", "file:empty"), "option bind_password: the secret is empty"},
		{base("bind_dn", "cn=x", "bind_password", "env:ANYHOST_LDAP_TEST_UNSET"), "option bind_password: secret env:ANYHOST_LDAP_TEST_UNSET"},
		{base("bind_dn", "not a dn", "bind_password", "file:pw"), "option bind_dn"},
		{base("base_dn", "-"), "option base_dn (search then bind) or user_dn (bind as the user) is required"},
		{base("base_dn", "nodn"), "option base_dn"},
		{base("user_dn", "uid={user},dc=x"), "option user_dn (bind as the user) excludes base_dn and filter"},
		{base("base_dn", "-", "user_dn", "uid={user},dc=x", "filter", "(uid={user})"), "excludes base_dn and filter"},
		{base("base_dn", "-", "user_dn", "uid=%s,dc=x"), `option user_dn: "uid=%s,dc=x" must contain {user} (not %s)`},
		{base("base_dn", "-", "user_dn", "{user}"), "option user_dn"},
		{base("filter", "(uid=%s)"), `option filter: "(uid=%s)" must contain {user} (not %s)`},
		{base("filter", "(uid={user}"), "option filter"},
		{base("group_filter", "(member={dn})"), "option group_filter needs group_base_dn"},
		{base("group_attr", "ou"), "option group_attr needs group_base_dn"},
		{base("group_base_dn", "ou=groups", "group_filter", "(objectClass=*)"), "option group_filter: \"(objectClass=*)\" must contain {dn} or {user}"},
		{base("group_base_dn", "ou=groups", "group_filter", "(member={dn}"), "option group_filter"},
		{base("group_base_dn", "ou=groups", "group_attr", ""), "option group_attr is empty"},
		{base("timeout", "5"), "option timeout"},
		{base("timeout", "0s"), "option timeout must be positive"},
		{base("pool_size", "-1"), "option pool_size must not be negative"},
		{base("pool_size", "many"), "option pool_size"},
		{base("password", "x"), "unknown option password"},
	} {
		_, err := ldap.New(core.Options{Values: c.opts, Dir: dir})
		assert.ErrorContains(t, err, c.want, "%v", c.opts)
	}
}

// Every option at once, and the registry entry.
func TestOptionsAccepted(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("pw\n"), 0o600))
	t.Setenv("ANYHOST_LDAP_TEST_PW", "pw")
	for _, opts := range []map[string]string{
		{"url": "ldap://ldap.example.org", "starttls": "true", "insecure_skip_verify": "true", "bind_dn": "cn=reader,dc=example,dc=org",
			"bind_password": "file:pw", "base_dn": "ou=people,dc=example,dc=org", "filter": "(&(objectClass=person)(|(uid={user})(mail={user})))",
			"group_base_dn": "ou=groups,dc=example,dc=org", "group_filter": "(member={dn})", "group_attr": "ou", "timeout": "2s", "pool_size": "0"},
		{"url": "ldaps://ldap.example.org:1636", "bind_dn": "cn=reader,dc=example,dc=org", "bind_password": "env:ANYHOST_LDAP_TEST_PW",
			"user_dn": "uid={user},ou=people,dc=example,dc=org"},
		{"url": "ldap://127.0.0.1", "user_dn": "uid={user},ou=people,dc=example,dc=org"},
	} {
		p, err := ldap.New(core.Options{Values: opts, Dir: dir})
		require.NoError(t, err, "%v", opts)
		require.NoError(t, p.(*ldap.Provider).Close())
	}
	p, err := core.NewProvider("ldap", core.Options{Values: map[string]string{"url": "ldap://127.0.0.1", "base_dn": "dc=x"}})
	require.NoError(t, err)
	_, ok := p.(core.GroupLister)
	assert.True(t, ok, "the ldap provider lists groups")
}
