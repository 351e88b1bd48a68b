package testhost

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/selfsigned"
)

// testCert is a certificate for 127.0.0.1 made once per test binary, which
// the package's client trusts: hosts started with TLS use it.
var testCert struct {
	once      sync.Once
	cert, key string
	pool      *x509.CertPool
	err       error
}

// tlsAddrs is the registry of the addresses serving TLS: Raw speaks TLS
// (HTTP/1.1 over it) to them.
var tlsAddrs sync.Map

// TestCert returns the test certificate and key files.
func TestCert(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	testCert.once.Do(func() {
		testCert.cert, testCert.key, testCert.pool, testCert.err = makeTestCert()
	})
	require.NoError(t, testCert.err)
	return testCert.cert, testCert.key
}

func makeTestCert() (certFile, keyFile string, pool *x509.CertPool, err error) {
	dir, err := os.MkdirTemp("", "anyhost-tls-")
	if err != nil {
		return "", "", nil, err
	}
	os.Chmod(dir, 0o755)
	certFile, keyFile, certPEM, err := selfsigned.Write(dir)
	if err != nil {
		return "", "", nil, err
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool, nil
}

// clientTLS is the client's TLS configuration: it trusts the test
// certificate only. The pool is made when a test first asks for the
// certificate, after the client exists, so it is read at each handshake.
func clientTLS(protos ...string) *tls.Config {
	return &tls.Config{
		NextProtos:         protos,
		InsecureSkipVerify: true, // verified below, against the test certificate
		VerifyConnection: func(cs tls.ConnectionState) error {
			if testCert.pool == nil || len(cs.PeerCertificates) == 0 {
				return errors.New("no test certificate to verify against")
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: testCert.pool, DNSName: cs.ServerName})
			return err
		},
	}
}

// newClientTransport is the package client's transport: HTTP/2 over TLS
// to hosts started with the test certificate.
func newClientTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = clientTLS("h2", "http/1.1")
	tr.ForceAttemptHTTP2 = true
	return tr
}

// dialRaw opens a connection for Raw: TLS (HTTP/1.1 over it) to an address
// started with TLS.
func dialRaw(addr string) (net.Conn, error) {
	if _, ok := tlsAddrs.Load(addr); ok {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: clientTLS("http/1.1")}
		d.Config.ServerName, _, _ = net.SplitHostPort(addr)
		return d.Dial("tcp", addr)
	}
	return net.DialTimeout("tcp", addr, 5*time.Second)
}
