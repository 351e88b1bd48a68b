package basic

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Scope, user and password are framed by their lengths: no pair of them
// gives another pair's key, whatever bytes they hold.
func TestCacheKeyFraming(t *testing.T) {
	c := &CredentialCache{Secret: []byte("0123456789abcdef0123"), Scope: "demo\x00htpasswd"}
	assert.NotEqual(t, c.key("a\x00b", "c"), c.key("a", "b\x00c"))
	assert.NotEqual(t, c.key("ab", "c"), c.key("a", "bc"))
	other := &CredentialCache{Secret: c.Secret, Scope: "demo\x00htpasswd\x00a"}
	assert.NotEqual(t, c.key("a\x00b", "c"), other.key("b", "c"))
	assert.Equal(t, c.key("demo", "pw"), c.key("demo", "pw"))
}
