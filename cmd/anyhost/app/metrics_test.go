package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/anyhost/anyhost/internal/testhost"
)

// `serve --metrics-listen` exposes what it served: after a known set of
// requests (answers, refusals, logins through a two-provider chain, cache
// hits, a throttled guesser, reloads), Prometheus' own parser reads the
// exact counts, and no label holds a user name.
func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), 4)
	require.NoError(t, err)
	site := filepath.Join(dir, "site.toml")
	text := fmt.Sprintf(`[auth.cache]
ttl = "5m"

[auth.throttle]
max_user_failures = 2
max_client_failures = 0

[[location]]
path = "/hello"
content = ["demo.hello"]

[[location]]
path = "/private"
content = ["demo.private"]

  [location.auth]
  realm = "metrics"
  providers = [{name = "static", options = {alice = %q}}, "demo.users"]
  require = ["valid-user"]
`, hash)
	require.NoError(t, os.WriteFile(site, []byte(text), 0o644))
	sock := filepath.Join(dir, "metrics.sock")
	a := testhost.StartAnyhost(t, "--config", site, "--metrics-listen", "unix:"+sock)

	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm(), "scrapers get their own socket mode, never --socket-group's")

	// The start-up probe's request is counted: measure from here.
	before := counts(scrape(t, sock), "anyhost_requests_total", "location", "code", "phase")
	get := func(path string, h http.Header) int { return testhost.Do(t, "GET", a.URL+path, nil, h).Status }
	for range 3 {
		require.Equal(t, 200, get("/hello", nil))
	}
	require.Equal(t, 404, get("/nope", nil))
	require.Equal(t, 401, get("/private/", nil))
	demo := testhost.BasicHeader("demo", "demo")
	require.Equal(t, 200, get("/private/", demo)) // static: not_found, demo.users: granted; cache miss
	require.Equal(t, 200, get("/private/", demo)) // cache hit
	wrong := testhost.BasicHeader("alice", "guess")
	require.Equal(t, 401, get("/private/", wrong)) // static: denied
	require.Equal(t, 401, get("/private/", wrong))
	require.Equal(t, 429, get("/private/", wrong)) // throttled: no provider asked

	require.NoError(t, a.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(a.LogText(), "reloaded the site") }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 200, get("/hello", nil)) // counted on the reloaded site too
	require.NoError(t, os.WriteFile(site, []byte(text+"path = 1\n"), 0o644))
	require.NoError(t, a.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(a.LogText(), "reload failed") }, 10*time.Second, 10*time.Millisecond)

	fams := scrape(t, sock)
	requests := counts(fams, "anyhost_requests_total", "location", "code", "phase")
	var probes float64
	for k, v := range before {
		requests[k] -= v
		probes += v
		if requests[k] == 0 {
			delete(requests, k)
		}
	}
	assert.Equal(t, map[string]float64{
		"/hello 200 content":   4,
		"/ 404 content":        1,
		"/private 200 content": 2,
		"/private 401 authn":   3, // no credentials, and the wrong password twice
		"/private 429 authn":   1,
	}, requests)

	assert.Equal(t, map[string]float64{
		"static not_found":   1,
		"demo.users granted": 1,
		"static denied":      2,
	}, counts(fams, "anyhost_auth_answers_total", "provider", "result"))

	assert.Equal(t, map[string]float64{"hit": 1, "miss": 3}, counts(fams, "anyhost_credential_cache_lookups_total", "result"))
	assert.Equal(t, map[string]float64{"refused": 1, "delayed": 0}, counts(fams, "anyhost_throttled_logins_total", "action"))
	assert.Equal(t, map[string]float64{"ok": 1, "failed": 1}, counts(fams, "anyhost_site_reloads_total", "result"))
	assert.Equal(t, 0.0, fams["anyhost_requests_in_flight"].GetMetric()[0].GetGauge().GetValue())

	var observed uint64
	for _, m := range fams["anyhost_request_duration_seconds"].GetMetric() {
		observed += m.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, 11+uint64(probes), observed, "one latency sample per request")
	assert.Contains(t, fams, "go_goroutines")
	assert.Contains(t, fams, "process_cpu_seconds_total")

	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				assert.NotContains(t, []string{"demo", "alice"}, l.GetValue(), "%s: a user name as a label", name)
			}
		}
	}
}

// scrape fetches /metrics over the unix socket and parses it with
// Prometheus' text parser.
func scrape(t *testing.T, sock string) map[string]*dto.MetricFamily {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: 10 * time.Second}
	resp, err := c.Get("http://metrics/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

func labels(m *dto.Metric, names ...string) string {
	var vals []string
	for _, n := range names {
		for _, l := range m.GetLabel() {
			if l.GetName() == n {
				vals = append(vals, l.GetValue())
			}
		}
	}
	return strings.Join(vals, " ")
}

// counts are a counter family's values by their label values, joined
// with spaces.
func counts(fams map[string]*dto.MetricFamily, family string, label ...string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fams[family].GetMetric() {
		out[labels(m, label...)] = m.GetCounter().GetValue()
	}
	return out
}
