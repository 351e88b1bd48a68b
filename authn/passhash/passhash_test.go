package passhash_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/anyhost/anyhost/authn/passhash"
)

func TestParse(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	for _, stored := range []string{
		string(b),
		"$apr1$7O6BBuja$YcwTLmJmErJ4Uo6nTa1Ip0", // htpasswd -m, password "s3cret"
		"{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=",     // htpasswd -s, password "s3cret"
	} {
		h, err := passhash.Parse(stored, false)
		require.NoError(t, err, stored)
		assert.True(t, h.MatchesPassword("s3cret"), stored)
		assert.False(t, h.MatchesPassword("s3cret "), stored)
		assert.False(t, h.MatchesPassword(""), stored)
	}
	_, err = passhash.Parse("s3cret", false)
	assert.ErrorContains(t, err, "plain text is refused")
	h, err := passhash.Parse("s3cret", true)
	require.NoError(t, err)
	assert.True(t, h.MatchesPassword("s3cret"))

	_, err = passhash.Parse("{SHA}not-base64-hunter2", false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "malformed hash")
	assert.NotContains(t, err.Error(), "hunter2", "the value is never repeated")

	c, ok := passhash.BcryptCost(string(b))
	assert.True(t, ok)
	assert.Equal(t, bcrypt.MinCost, c)
	_, ok = passhash.BcryptCost("{SHA}x")
	assert.False(t, ok)
}

func TestDummyCountsItsChecks(t *testing.T) {
	d, err := passhash.NewDummy(bcrypt.MinCost)
	require.NoError(t, err)
	assert.Equal(t, bcrypt.MinCost, d.Cost())
	assert.Zero(t, d.Checks())
	d.Check("anything")
	d.Check("anyhost timing guard")
	assert.EqualValues(t, 2, d.Checks())

	d, err = passhash.NewDummy(0)
	require.NoError(t, err)
	assert.Equal(t, bcrypt.DefaultCost, d.Cost())
}
