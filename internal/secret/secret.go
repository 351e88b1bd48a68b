// Package secret is the proof that a request comes from the web server: a
// value the generated Apache and nginx configurations send with every
// request (the FastCGI param ANYHOST_SECRET, the auth socket's header
// X-Anyhost-Secret), which `anyhost serve` compares with the values it was
// given. Without it, any local process that reaches a socket could claim a
// user (AJP's `secret` answers the same problem for Tomcat).
//
// A secret file holds one value per line: the first is the current one,
// which web servers send; a second is the previous one, still accepted
// while web servers are reloaded onto the new (rotation).
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/anyhost/anyhost/core"
)

// Param and Header carry the secret: a FastCGI param (Apache's
// subprocess_env, nginx's fastcgi_param) and an HTTP header on nginx's
// auth socket.
const (
	Param  = "ANYHOST_SECRET"
	Header = "X-Anyhost-Secret"
)

// File is the name of the secret file in a secret directory (`anyhost
// secret new --dir DIR`), for `anyhost serve --secret file:DIR/secret`.
const File = "secret"

// minLength is the shortest value accepted: Generate makes 43 characters
// (32 random bytes).
const minLength = 32

// Set is the secrets a server accepts. The zero Set (and a nil *Set) has
// none: nothing is proven. It is safe for concurrent use; Replace swaps the values while
// requests are checked (a reload).
type Set struct {
	sums atomic.Pointer[[][sha256.Size]byte]
}

// Replace makes values the accepted secrets.
func (s *Set) Replace(values []string) {
	sums := make([][sha256.Size]byte, len(values))
	for i, v := range values {
		sums[i] = sha256.Sum256([]byte(v))
	}
	s.sums.Store(&sums)
}

// Configured reports whether any secret is accepted.
func (s *Set) Configured() bool {
	if s == nil {
		return false
	}
	p := s.sums.Load()
	return p != nil && len(*p) > 0
}

// Valid reports whether v is one of the accepted secrets. The comparison
// takes the same time whichever secret matches, or none: v is hashed, and
// every hash compared in constant time, so neither the value nor its length
// leaks through timing.
func (s *Set) Valid(v string) bool {
	if s == nil {
		return false
	}
	p := s.sums.Load()
	if p == nil || v == "" {
		return false
	}
	sum := sha256.Sum256([]byte(v))
	ok := 0
	for _, want := range *p {
		ok |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	return ok == 1
}

// Admits reports whether a request carrying v may go on: with no secret
// configured nothing is proven and nothing refused (the caller believes no
// identity); with some, v must be one of them.
func (s *Set) Admits(v string) bool { return !s.Configured() || s.Valid(v) }

// Load resolves references (file:PATH or env:NAME, relative paths against
// dir) and returns the secrets they hold, one per line, checked.
func Load(refs []string, dir string) ([]string, error) {
	var out []string
	for _, ref := range refs {
		v, err := core.ResolveSecret(ref, dir)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, line := range strings.Split(v, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if err := Check(line); err != nil {
				return nil, fmt.Errorf("secret %s, line %d: %w", ref, n+1, err)
			}
			out = append(out, line)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("secret %s holds no value", ref)
		}
	}
	return out, nil
}

// Check says whether v may be a secret: long enough, and only characters
// that need no quoting in Apache's and nginx's configuration (base64url).
// The error never repeats the value.
func Check(v string) error {
	if len(v) < minLength {
		return fmt.Errorf("too short: %d characters, at least %d (make one with `anyhost secret new`)", len(v), minLength)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("character %d is not a letter, digit, '-' or '_'", i+1)
		}
	}
	return nil
}

// Generate returns a new random secret.
func Generate() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
