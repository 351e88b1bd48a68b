package standalone_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestGracefulShutdownFinishesInFlightRequest(t *testing.T) {
	a := testhost.StartAnyhost(t)
	c, err := net.Dial("tcp", a.Addr)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// Half a request: the server is now in the middle of reading its body.
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello")
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, a.Signal(syscall.SIGTERM))
	time.Sleep(300 * time.Millisecond)
	// New connections are refused while the in-flight request finishes.
	_, err = net.DialTimeout("tcp", a.Addr, time.Second)
	assert.Error(t, err, "a server shutting down must stop accepting")
	io.WriteString(c, "world")
	resp, err := http.ReadResponse(bufioReader(c), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"body_length": 10`)
	select {
	case <-a.Done():
		assert.NoError(t, a.ExitErr(), "a graceful stop exits 0")
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit after the in-flight request finished")
	}
}

func TestTLSAndHTTP2(t *testing.T) {
	cert, key := testhost.TestCert(t)
	a := testhost.StartAnyhostTLS(t, cert, key)
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(cert)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(pem))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + a.Addr + "/echo")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, 2, resp.ProtoMajor, "TLS clients get HTTP/2")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"adapter": "standalone"`)
}

func TestUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "anyhost.sock")
	// A stale socket file from a dead process is replaced.
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	p := testhost.Start(t, testhost.Spec{
		Args:  []string{testhost.AnyhostBinary(t), "serve", "--listen", "unix:" + sock},
		Dir:   dir,
		Ready: testhost.DialReady("unix", sock),
	})
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://anyhost/hello")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "Hello!", string(body))

	// A live socket is not stolen by a second server.
	second := exec(t, dir, "serve", "--listen", "unix:"+sock)
	assert.Contains(t, second, "another server is listening")
	_ = p
}

func TestBodyLimit(t *testing.T) {
	dir := t.TempDir()
	site := writeFile(t, dir, "site.toml", `
[limits]
max_body = "1KiB"

[[location]]
path = "/echo"
content = ["demo.echo"]
`)
	a := testhost.StartAnyhost(t, "--config", site)
	ok := testhost.Do(t, "POST", a.URL+"/echo", strings.NewReader(strings.Repeat("a", 1024)), nil)
	assert.Equal(t, http.StatusOK, ok.Status)
	r := testhost.Do(t, "POST", a.URL+"/echo", strings.NewReader(strings.Repeat("a", 2048)), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	// Chunked: the limit bites while the handler reads.
	r = testhost.Do(t, "POST", a.URL+"/echo", io.MultiReader(strings.NewReader(strings.Repeat("a", 4096))), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	assert.Equal(t, http.StatusOK, testhost.Do(t, "POST", a.URL+"/echo", strings.NewReader("small"), nil).Status)
}

func TestBadConfigFailsToStart(t *testing.T) {
	dir := t.TempDir()
	site := writeFile(t, dir, "site.toml", "[[location]]\npath = \"/x\"\ncontent = [\"no.such.handler\"]\n")
	out := exec(t, dir, "serve", "--listen", "127.0.0.1:0", "--config", site)
	assert.Contains(t, out, site+":3: unknown handler \"no.such.handler\"")
}

// Every built-in provider behind the standalone host: the same table runs
// behind nginx and Apache.
func TestAuthProviders(t *testing.T) {
	site := testhost.WriteAuthSite(t, t.TempDir(), testhost.StartSlapd(t), true)
	a := testhost.StartAnyhost(t, "--config", site.Path, "--log-level", "debug")
	testhost.RunAuthConformance(t, testhost.Target{URL: a.URL, Addr: a.Addr, Adapter: "standalone"}, site)
	logs := a.SettledLog(t)
	assert.Contains(t, logs, "authentication failure", "failures are logged (at debug level everything is)")
	for _, secret := range site.Secrets() {
		assert.NotContains(t, logs, secret, "no password, token or key in any log line")
	}
	assert.NotContains(t, logs, "eyJ", "no bearer token in any log line")
}
