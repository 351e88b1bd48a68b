package jwt

// This file ties every verification key to the algorithms it may check.
// Algorithm confusion (an HS256 token "signed" with the bytes of an RSA
// public key, an RS256 key asked to check ES256) is impossible because a
// key is only ever handed to the parser for an algorithm of its own family.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// minRSABits is RFC 7518 section 3.3's floor for RS* and PS* keys.
const minRSABits = 2048

// allAlgorithms are the signature algorithms this verifier knows; "none" is
// never among them.
var allAlgorithms = []string{
	"HS256", "HS384", "HS512",
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// key is one verification key: an HMAC secret ([]byte), *rsa.PublicKey,
// *ecdsa.PublicKey or ed25519.PublicKey.
type key struct {
	id  string // kid; "" for a static key
	alg string // the JWK's "alg"; "" allows the whole family
	pub any
}

// fits reports whether k may check a signature made with alg.
func (k key) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch p := k.pub.(type) {
	case []byte:
		n := hmacMinLen(alg)
		return n > 0 && len(p) >= n
	case *rsa.PublicKey:
		return p.N.BitLen() >= minRSABits && (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS"))
	case *ecdsa.PublicKey:
		return alg == curveAlg(p.Curve)
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// defaultAlg is the algorithm assumed for a static key when the algorithms
// option is not set.
func (k key) defaultAlg() string {
	switch p := k.pub.(type) {
	case []byte:
		return "HS256"
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		return curveAlg(p.Curve)
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

func (k key) kind() string {
	switch p := k.pub.(type) {
	case []byte:
		return fmt.Sprintf("an HMAC secret of %d bytes", len(p))
	case *rsa.PublicKey:
		return fmt.Sprintf("an RSA public key of %d bits", p.N.BitLen())
	case *ecdsa.PublicKey:
		return "an ECDSA " + p.Curve.Params().Name + " public key"
	case ed25519.PublicKey:
		return "an Ed25519 public key"
	}
	return fmt.Sprintf("a %T", k.pub)
}

// hmacMinLen is the shortest secret RFC 7518 section 3.2 allows for alg (the
// hash's size), or 0 when alg is no HMAC algorithm.
func hmacMinLen(alg string) int {
	switch alg {
	case "HS256":
		return 32
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 0
}

func curveAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// parseKey reads the key option's resolved value: a PEM public key (PKIX
// "PUBLIC KEY", PKCS #1 "RSA PUBLIC KEY" or an X.509 "CERTIFICATE") or else
// the bytes of an HMAC secret.
func parseKey(s string) (key, error) {
	if !strings.HasPrefix(strings.TrimSpace(s), "-----BEGIN ") {
		return key{pub: []byte(s)}, nil
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return key{}, errors.New("not a valid PEM block")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = c.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return key{}, fmt.Errorf("PEM %q is a private key: give the public key (a verifier never needs the private one)", block.Type)
		}
		return key{}, fmt.Errorf("PEM %q is no public key", block.Type)
	}
	if err != nil {
		return key{}, fmt.Errorf("PEM %q: %w", block.Type, err)
	}
	k := key{pub: pub}
	if k.defaultAlg() == "" {
		return key{}, fmt.Errorf("%s is not supported (RSA, ECDSA P-256/P-384/P-521 or Ed25519)", k.kind())
	}
	return k, nil
}

// parseAlgorithms reads the algorithms option: a comma-separated list of
// names from allAlgorithms.
func parseAlgorithms(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !slices.Contains(allAlgorithms, a) {
			return nil, fmt.Errorf("option algorithms: unknown algorithm %q (known: %s)", a, strings.Join(allAlgorithms, ", "))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("option algorithms: empty list")
	}
	return out, nil
}
