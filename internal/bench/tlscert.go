package main

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/anyhost/anyhost/internal/selfsigned"
)

// benchCert writes a self-signed certificate for 127.0.0.1 and its key
// into workDir/tls, once per run, and returns their paths. h2load checks no
// certificate; the HTTP/2 rows only need TLS to negotiate h2 over ALPN.
func benchCert(workDir string) (cert, key string, err error) {
	dir := filepath.Join(workDir, "tls")
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_, err = buildOnce(cert, func() error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		_, _, _, err := selfsigned.Write(dir)
		return err
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
