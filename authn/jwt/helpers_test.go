package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	jwtlib "github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/bearer"
	"github.com/anyhost/anyhost/core"
)

// signer is one algorithm with a freshly generated key pair (or secret).
type signer struct {
	alg    string
	method jwtlib.SigningMethod
	priv   any    // what SignedString takes
	pub    any    // the verification key
	pem    string // the public key as PEM; the secret itself for HMAC
	other  any    // another key of the same kind, for forged signatures
}

type fixtureSet struct {
	signers map[string]*signer
}

// fixtures generates the test keys once per test binary: RSA key
// generation is slow under the race detector.
var fixtures = sync.OnceValue(func() *fixtureSet {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	pemOf := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		must(err)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	secret := func() []byte {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		must(err)
		// Printable, as a secret file written by hand would be.
		const abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		for i := range b {
			b[i] = abc[int(b[i])%len(abc)]
		}
		return b
	}
	fs := &fixtureSet{signers: map[string]*signer{}}

	hs, hs2 := secret(), secret()
	fs.signers["HS256"] = &signer{alg: "HS256", method: jwtlib.SigningMethodHS256, priv: hs, pub: hs, pem: string(hs), other: hs2}

	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	rk2, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	fs.signers["RS256"] = &signer{alg: "RS256", method: jwtlib.SigningMethodRS256, priv: rk, pub: &rk.PublicKey, pem: pemOf(&rk.PublicKey), other: rk2}

	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	ek2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	fs.signers["ES256"] = &signer{alg: "ES256", method: jwtlib.SigningMethodES256, priv: ek, pub: &ek.PublicKey, pem: pemOf(&ek.PublicKey), other: ek2}

	epub, epriv, err := ed25519.GenerateKey(rand.Reader)
	must(err)
	_, epriv2, err := ed25519.GenerateKey(rand.Reader)
	must(err)
	fs.signers["EdDSA"] = &signer{alg: "EdDSA", method: jwtlib.SigningMethodEdDSA, priv: epriv, pub: epub, pem: pemOf(epub), other: epriv2}
	return fs
})

var algs = []string{"HS256", "RS256", "ES256", "EdDSA"}

func signerFor(alg string) *signer { return fixtures().signers[alg] }

// claims are a valid token's claims for user, with extra merged in (a nil
// value deletes the claim).
func claims(user string, extra map[string]any) jwtlib.MapClaims {
	now := time.Now()
	c := jwtlib.MapClaims{
		"sub": user,
		"iss": "https://idp.test",
		"aud": "api",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign makes a token with alg, kid (none when "") and key.
func sign(t testing.TB, method jwtlib.SigningMethod, key any, kid string, c jwtlib.MapClaims) string {
	t.Helper()
	tok := jwtlib.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func (s *signer) sign(t testing.TB, kid string, c jwtlib.MapClaims) string {
	return sign(t, s.method, s.priv, kid, c)
}

// jwk is s's public key (or secret) as a JWK.
func (s *signer) jwk(kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.pub, KeyID: kid, Algorithm: s.alg, Use: "sig"}
}

func jwksJSON(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	require.NoError(t, err)
	return b
}

func writeFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, content, 0o600))
	return p
}

// newVerifier builds a verifier through the registry, as the config does.
func newVerifier(t testing.TB, dir string, opts map[string]string) core.TokenVerifier {
	t.Helper()
	v, err := bearer.NewVerifier("jwt", core.Options{Values: opts, Dir: dir})
	require.NoError(t, err)
	return v
}

// jwksServer is a real HTTP server publishing a key set that the test may
// replace or break, counting the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	doc     []byte
	status  int
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		doc, status := s.doc, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(doc []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc, s.status = doc, status
}

// verify runs v with a plain context.
func verify(v core.TokenVerifier, token string) (*core.Identity, error) {
	return v.VerifyToken(context.Background(), token)
}
