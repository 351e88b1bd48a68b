package inproc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host/hosttest"
	_ "github.com/anyhost/anyhost/handlers/demo"
)

// SiteNeeds lets a host skip a phase without a request: it must never say
// "nothing" where Plan would run a handler or answer (auth skipped).
func TestSiteNeedsAgreesWithPlan(t *testing.T) {
	cs, err := config.Parse("site.toml", ".", []byte(`
[site]
post-read-request = ["demo.hello"]

[[location]]
path = "/private"
content = ["demo.private"]
  [location.auth]
  realm = "r"
  providers = ["demo.users"]

[[location]]
path = "/a/b"
fixup = ["demo.hello"]
log = ["demo.hello"]

[limits]
max_body = "1KiB"
`))
	require.NoError(t, err)
	site, err := cs.Build()
	require.NoError(t, err)
	lib := &Library{Site: site, siteID: 0}
	var buf []core.Handler
	for _, path := range []string{"/", "/private", "/private/", "/private/x", "//private", "/privatex", "/a/b", "/a/b/c", "/a/bc", "/a/./b", "/x/../private", "/hello"} {
		for _, cl := range []int64{0, -1, 2048} {
			for p := core.PostReadRequest; p < core.NumPhases; p++ {
				r, _ := hosttest.NewRequest("GET", "/", nil)
				r.Path = core.CleanPath(path)
				r.ContentLength = cl
				job := lib.Plan(p, r, nil, &buf)
				want := job.Runs() || job.Status() != core.Declined
				assert.Equal(t, want, lib.SiteNeeds(p, path, cl), "%s %s cl=%d", p, path, cl)
			}
		}
	}
}
