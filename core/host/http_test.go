package host_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

func get(t *testing.T, c *http.Client, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHTTPHandlerHost(t *testing.T) {
	log, buf := hosttest.NewLogger()
	type done struct {
		adapter, path, user string
		status              int
		written             int64
		started             bool
		elapsed             bool
	}
	dones := make(chan done, 4)
	s, err := core.NewSite([]*core.Location{at("/", map[core.Phase][]core.Handler{
		core.Authn: {core.HandlerFunc(func(r *core.Request) core.Status { r.User = "u"; return core.OK })},
		core.Content: {core.HandlerFunc(func(r *core.Request) core.Status {
			r.Log().Info().Msg("from handler")
			r.Status = http.StatusAccepted
			r.WriteString(r.Adapter)
			return core.OK
		})},
	})})
	require.NoError(t, err)
	h := &host.HTTPHandler{Site: s, Adapter: "standalone", Log: log, Done: func(r *core.Request, start time.Time) {
		dones <- done{r.Adapter, r.Path, r.User, r.StatusCode(), r.BytesWritten(), r.ResponseStarted(),
			!start.IsZero() && time.Since(start) >= 0}
	}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	st, _, body := get(t, srv.Client(), srv.URL+"/x")
	assert.Equal(t, http.StatusAccepted, st)
	assert.Equal(t, "standalone", body)
	assert.Equal(t, done{"standalone", "/x", "u", 202, 10, true, true}, <-dones)
	assert.Contains(t, buf.String(), "from handler")
}
