// Package passhash verifies stored password hashes in the formats Apache's
// htpasswd writes, for every provider that keeps hashes (htpasswd files,
// users in the site file, SQL tables), and pays the cost of a hash for users
// that do not exist.
package passhash

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"

	gohtpasswd "github.com/tg123/go-htpasswd"
	"golang.org/x/crypto/bcrypt"
)

// Hash is a parsed stored hash. Every format compares in constant time.
type Hash interface {
	MatchesPassword(password string) bool
}

var parsers = []gohtpasswd.PasswdParser{
	gohtpasswd.AcceptBcrypt, gohtpasswd.AcceptMd5, gohtpasswd.AcceptSha,
	gohtpasswd.AcceptSsha, gohtpasswd.AcceptCryptSha,
}

// Formats names the accepted formats, for error messages.
const Formats = "bcrypt $2y$/$2a$/$2b$, APR1 $apr1$, {SHA}, {SSHA}, crypt $5$/$6$"

// ErrNotAHash is returned for a value in no known format: plain text,
// refused unless allowed.
var ErrNotAHash = errors.New("not a known hash (" + Formats + "); plain text is refused")

// Parse reads a stored hash. Anything that is no known hash is refused
// unless allowPlain, since it would be a password in clear.
func Parse(stored string, allowPlain bool) (Hash, error) {
	for _, accept := range parsers {
		h, err := accept(stored)
		if err != nil {
			// The parser's own message quotes the value: never repeat
			// a stored hash (or a password pasted by mistake).
			return nil, fmt.Errorf("a malformed hash (it starts like one of: %s)", Formats)
		}
		if h != nil {
			return h, nil
		}
	}
	if !allowPlain {
		return nil, ErrNotAHash
	}
	return gohtpasswd.AcceptPlain(stored)
}

// BcryptCost returns the cost of a bcrypt hash, or ok=false for another format.
func BcryptCost(stored string) (cost int, ok bool) {
	c, err := bcrypt.Cost([]byte(stored))
	return c, err == nil
}

// Dummy is a bcrypt hash checked for users that do not exist, so that a
// miss costs what a wrong password costs and the answer's timing does not
// tell which users exist.
type Dummy struct {
	hash   Hash
	stored string // the hash as written, for tests
	cost   int
	checks atomic.Int64
}

// NewDummy makes a dummy hash of the given bcrypt cost (bcrypt.DefaultCost
// when cost is 0); providers pass the cost of the hashes they hold.
//
// Its salt and digest are random bytes, not the hash of anything: a
// comparison costs the same (bcrypt's work depends on the cost alone) and
// always fails, and making it costs nothing. Hashing a password here would
// cost one bcrypt per provider at every start, which a CGI program pays on
// every request.
func NewDummy(cost int) (*Dummy, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	// bcrypt's modular crypt form: a 16-byte salt and a 23-byte digest in
	// its own base64 alphabet, unpadded (22 and 31 characters).
	raw := make([]byte, 16+23)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	stored := fmt.Sprintf("$2y$%02d$%s%s", cost, bcryptBase64.EncodeToString(raw[:16]), bcryptBase64.EncodeToString(raw[16:]))
	h, err := gohtpasswd.AcceptBcrypt(stored)
	if err != nil {
		return nil, err
	}
	return &Dummy{hash: h, stored: stored, cost: cost}, nil
}

var bcryptBase64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// Check pays one hash comparison for password, and always fails.
func (d *Dummy) Check(password string) {
	d.hash.MatchesPassword(password)
	d.checks.Add(1)
}

// Cost is the bcrypt cost of the dummy hash.
func (d *Dummy) Cost() int { return d.cost }

// Checks counts the dummy comparisons made, so tests can prove an unknown
// user paid for one without timing anything.
func (d *Dummy) Checks() int64 { return d.checks.Load() }
