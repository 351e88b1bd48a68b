package standalone_test

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/adapters/standalone"
	"github.com/anyhost/anyhost/authn/htpasswd"
	_ "github.com/anyhost/anyhost/builtin"
	"github.com/anyhost/anyhost/config"
)

// authBenchSite has the same content handler behind no auth (/open), Basic
// auth against a bcrypt cost-10 htpasswd file (/private), and the same with
// the credential cache on, in a second site (the cache is site-wide).
func authBenchSite(b *testing.B, cache bool) string {
	dir := b.TempDir()
	e, err := htpasswd.Entry("demo", "demo-password", 10)
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(filepath.Join(dir, "users"), []byte(e+"\n"), 0o644))
	site := `
[[location]]
path = "/open"
content = ["demo.hello"]

[[location]]
path = "/private"
content = ["demo.hello"]
  [location.auth]
  realm = "bench"
  providers = [{ name = "htpasswd", options = { file = "users" } }]
`
	if cache {
		site = "[auth.cache]\nttl = \"5m\"\n" + site
	}
	s, err := config.Parse("bench.toml", dir, []byte(site))
	require.NoError(b, err)
	built, err := s.Build()
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	srv := &standalone.Server{Site: built, Listen: "127.0.0.1:0", Log: zerolog.Nop(), Ready: func(a net.Addr) { addr <- a }}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return "http://" + (<-addr).String()
}

// benchGet sends GET url on keep-alive connections from GOMAXPROCS
// goroutines, a real HTTP client over loopback TCP.
func benchGet(b *testing.B, url string, user, pass string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	// Encoded once: the client's base64 is not the server's cost.
	var auth []string
	if user != "" {
		auth = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	get := func() error {
		req, _ := http.NewRequest("GET", url, nil)
		if auth != nil {
			req.Header["Authorization"] = auth
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Errorf("GET %s: %d", url, resp.StatusCode)
		}
		return nil
	}
	require.NoError(b, get()) // warm: connection, and the cache where on
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAuth compares an authenticated request (Basic, bcrypt cost 10)
// with the credential cache off and on against the same request without
// auth, through the standalone host over real TCP. The goal: cache on >=
// 0.9x the unauthenticated request rate.
func BenchmarkAuth(b *testing.B) {
	plain := authBenchSite(b, false)
	cached := authBenchSite(b, true)
	b.Run("unauthenticated", func(b *testing.B) { benchGet(b, plain+"/open", "", "") })
	b.Run("bcrypt10-cache-off", func(b *testing.B) { benchGet(b, plain+"/private", "demo", "demo-password") })
	b.Run("bcrypt10-cache-on", func(b *testing.B) { benchGet(b, cached+"/private", "demo", "demo-password") })
}
