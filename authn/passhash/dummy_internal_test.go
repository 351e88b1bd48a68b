package passhash

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// TestDummyIsARealBcryptHash: the dummy is made of random bytes, so check
// that bcrypt reads it as a hash of its cost and computes a comparison
// (a mismatch, not a malformed-hash error that would return at once and
// give unknown users away by their speed).
func TestDummyIsARealBcryptHash(t *testing.T) {
	for _, cost := range []int{bcrypt.MinCost, 6, bcrypt.DefaultCost} {
		d, err := NewDummy(cost)
		require.NoError(t, err)
		c, err := bcrypt.Cost([]byte(d.stored))
		require.NoError(t, err)
		assert.Equal(t, cost, c)
		if cost <= 6 { // the comparison runs the full cost
			assert.ErrorIs(t, bcrypt.CompareHashAndPassword([]byte(d.stored), []byte("guess")), bcrypt.ErrMismatchedHashAndPassword)
		}
	}
	a, err := NewDummy(bcrypt.MinCost)
	require.NoError(t, err)
	b, err := NewDummy(bcrypt.MinCost)
	require.NoError(t, err)
	assert.NotEqual(t, a.stored, b.stored, "random salt and digest")

	// No hash is computed to make one: the largest cost is made as fast
	// as the smallest (bcrypt at cost 31 would take days).
	_, err = NewDummy(bcrypt.MaxCost)
	require.NoError(t, err)
	_, err = NewDummy(bcrypt.MaxCost + 1)
	assert.ErrorContains(t, err, "outside")
}
