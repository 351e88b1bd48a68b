package jwt

// This file keeps a JSON Web Key Set (RFC 7517) from a file or a URL. The
// set is fetched on demand by the request that needs it, one fetch at a time
// (the others wait for it or keep using the keys they have), so there is no
// background goroutine to stop.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"
)

// minRefetch is how often a token with an unknown kid, or a failed refresh,
// may cause another fetch: key rotation is picked up at once, while a stream
// of forged kids cannot turn the verifier into a load generator against the
// identity provider.
const minRefetch = 30 * time.Second

// maxJWKSSize bounds what is read from a JWKS URL.
const maxJWKSSize = 1 << 20

// jwks is a cached key set.
type jwks struct {
	src     string                                    // the file or URL, for messages
	load    func(ctx context.Context) ([]byte, error) // reads the document
	refresh time.Duration                             // age after which the set is fetched again
	timeout time.Duration                             // bound on one fetch

	mu       sync.Mutex
	keys     []key         // nil until a fetch succeeded
	loaded   bool          // keys holds a fetched set
	dueAt    time.Time     // when the next regular fetch is due
	forcedAt time.Time     // the last fetch caused by an unknown kid
	running  chan struct{} // closed when the fetch under way ends
	lastErr  error         // why the last fetch failed
}

func newFileJWKS(path string, refresh time.Duration) *jwks {
	return &jwks{src: path, refresh: refresh, timeout: time.Minute, load: func(context.Context) ([]byte, error) {
		return os.ReadFile(path)
	}}
}

func newURLJWKS(url string, refresh, timeout time.Duration) *jwks {
	client := &http.Client{Timeout: timeout}
	return &jwks{src: url, refresh: refresh, timeout: timeout, load: func(ctx context.Context) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("answered %s", resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxJWKSSize {
			return nil, fmt.Errorf("larger than %d bytes", maxJWKSSize)
		}
		return b, nil
	}}
}

// get returns the current keys, fetching them when none are loaded or they
// are older than refresh, or (at most once per minRefetch) when unknownKid
// says a token named a key the set does not have. An error means no keys
// could be had: with keys cached, a failed fetch keeps serving them.
func (j *jwks) get(ctx context.Context, unknownKid bool) ([]key, error) {
	j.mu.Lock()
	now := time.Now()
	forced := unknownKid && now.Sub(j.forcedAt) >= minRefetch
	due := !j.loaded || forced || !now.Before(j.dueAt)
	if ch := j.running; ch != nil && (unknownKid || !j.loaded) {
		// The fetch under way may bring the key asked for: wait for it.
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if !j.loaded {
			return nil, j.lastErr
		}
		return j.keys, nil
	}
	if !due || j.running != nil {
		// Fresh, or stale while another request refreshes them.
		defer j.mu.Unlock()
		return j.keys, nil
	}
	if forced {
		j.forcedAt = now
	}
	ch := make(chan struct{})
	j.running = ch
	j.mu.Unlock()

	// The fetch is shared by every request waiting for it, so the client
	// that started it going away must not cancel it; the timeout bounds it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.timeout)
	keys, err := j.fetch(fctx)
	cancel()

	j.mu.Lock()
	defer j.mu.Unlock()
	j.running = nil
	close(ch)
	if err != nil {
		j.lastErr = err
		j.dueAt = time.Now().Add(minRefetch)
		if !j.loaded {
			return nil, err
		}
		zerolog.Ctx(ctx).Warn().Err(err).Str("jwks", j.src).Msg("jwt: refreshing the key set failed, still using the cached keys")
		return j.keys, nil
	}
	j.keys, j.loaded, j.lastErr = keys, true, nil
	j.dueAt = time.Now().Add(j.refresh)
	return keys, nil
}

func (j *jwks) fetch(ctx context.Context) ([]key, error) {
	b, err := j.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", j.src, err)
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", j.src, err)
	}
	return keys, nil
}

// parseJWKS reads a key set. Each key is parsed on its own (with go-jose's
// JSONWebKey, the element type of jose.JSONWebKeySet) so that one key of a
// type this verifier cannot use (an encryption key, an unsupported curve)
// does not take the whole set down; a set without one usable signature key
// is an error.
func parseJWKS(b []byte) ([]key, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	var keys []key
	var skipped []error
	for i, raw := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			continue
		}
		pub := jwk.Key
		if !jwk.IsPublic() {
			if _, secret := jwk.Key.([]byte); !secret {
				pub = jwk.Public().Key // a private key published by mistake: use its public half
			}
		}
		k := key{id: jwk.KeyID, alg: jwk.Algorithm, pub: pub}
		if k.defaultAlg() == "" {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %s is not supported", i, jwk.KeyID, k.kind()))
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.Join(append([]error{errors.New("no usable signature key")}, skipped...)...)
	}
	return keys, nil
}
