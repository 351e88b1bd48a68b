package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// benchCert writes a self-signed certificate for 127.0.0.1 and its key
// into workDir, once per run, and returns their paths. h2load checks no
// certificate; the HTTP/2 rows only need TLS to negotiate h2 over ALPN.
func benchCert(workDir string) (cert, key string, err error) {
	cert, key = filepath.Join(workDir, "tls-cert.pem"), filepath.Join(workDir, "tls-key.pem")
	_, err = buildOnce(cert, func() error {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "anyhost bench"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalECPrivateKey(priv)
		if err != nil {
			return err
		}
		if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			return err
		}
		return os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	})
	return cert, key, err
}

// checkClient is the client of the start-up checks: over TLS it trusts the
// bench's own certificate (any, as h2load does) and asks for HTTP/2, so an
// HTTP/2 row is checked as it is measured.
func checkClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true, // a check leaves no idle connection to the row it checked
	}}
}
