package jwt_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
)

// The provider rotates its keys: a token with the new kid makes the set be
// fetched again, once for all the requests that carry it, and tokens naming
// kids that do not exist cannot make the verifier fetch again and again.
func TestKeyRotationRefetchesOnceNoStorm(t *testing.T) {
	old, next := signerFor("RS256"), signerFor("ES256")
	srv := newJWKSServer(t, jwksJSON(t, old.jwk("2024")))
	v := newVerifier(t, "", map[string]string{"jwks": srv.URL})
	assert.EqualValues(t, 0, srv.fetches.Load(), "fetched on first use, not at start-up")

	for range 3 {
		_, err := verify(v, old.sign(t, "2024", claims("alice", nil)))
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, srv.fetches.Load())

	srv.set(jwksJSON(t, next.jwk("2025"), old.jwk("2024")), http.StatusOK)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = verify(v, next.sign(t, "2025", claims("alice", nil)))
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.EqualValues(t, 2, srv.fetches.Load(), "one refetch for the new kid")

	for i := range 50 {
		_, err := verify(v, next.sign(t, fmt.Sprintf("forged-%d", i), claims("alice", nil)))
		assert.ErrorIs(t, err, core.ErrInvalidToken)
		assert.ErrorContains(t, err, "unknown key id")
	}
	assert.EqualValues(t, 2, srv.fetches.Load(), "unknown kids are rate-limited")
	_, err := verify(v, old.sign(t, "2024", claims("alice", nil)))
	assert.NoError(t, err, "the old key is still in the set")
}

// With nothing cached, a key set that cannot be fetched is a back-end
// error (the host answers 500), never a refused token; once it answers
// again the next request succeeds.
func TestJWKSDownWithoutCacheIsAnError(t *testing.T) {
	rs := signerFor("RS256")
	tok := rs.sign(t, "k1", claims("alice", nil))

	srv := newJWKSServer(t, []byte("overloaded"))
	srv.set([]byte("overloaded"), http.StatusInternalServerError)
	v := newVerifier(t, "", map[string]string{"jwks": srv.URL})
	_, err := verify(v, tok)
	require.Error(t, err)
	assert.NotErrorIs(t, err, core.ErrInvalidToken)
	assert.ErrorContains(t, err, "500")

	gone := newJWKSServer(t, nil)
	url := gone.URL
	gone.Close()
	_, err = verify(newVerifier(t, "", map[string]string{"jwks": url, "timeout": "2s"}), tok)
	require.Error(t, err)
	assert.NotErrorIs(t, err, core.ErrInvalidToken)

	srv.set([]byte(`{"keys":"not a list"}`), http.StatusOK)
	_, err = verify(v, tok)
	require.Error(t, err)
	assert.NotErrorIs(t, err, core.ErrInvalidToken, "a broken document is the back end's fault too")

	srv.set(jwksJSON(t, rs.jwk("k1")), http.StatusOK)
	id, err := verify(v, tok)
	require.NoError(t, err)
	assert.Equal(t, "alice", id.User)
}

// With keys cached, a refresh that fails keeps them in service, warns
// through the context's logger, and is not retried on every request.
func TestCachedKeysServeWhileTheURLIsDown(t *testing.T) {
	rs := signerFor("RS256")
	tok := rs.sign(t, "k1", claims("alice", nil))
	srv := newJWKSServer(t, jwksJSON(t, rs.jwk("k1")))
	v := newVerifier(t, "", map[string]string{"jwks": srv.URL, "jwks_refresh": "1ns"})
	_, err := verify(v, tok)
	require.NoError(t, err)
	require.EqualValues(t, 1, srv.fetches.Load())

	srv.set([]byte("down"), http.StatusServiceUnavailable)
	var buf bytes.Buffer
	ctx := zerolog.New(&buf).WithContext(context.Background())
	for range 3 {
		id, err := v.VerifyToken(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, "alice", id.User)
	}
	assert.EqualValues(t, 2, srv.fetches.Load(), "one failed refresh, then the cached set without retrying at once")
	assert.Contains(t, buf.String(), `"level":"warn"`)
	assert.Contains(t, buf.String(), "still using the cached keys")
	assert.Contains(t, buf.String(), "503")
	assert.NotContains(t, buf.String(), tok)
}
