package demo_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core/host/hosttest"
	"github.com/anyhost/anyhost/handlers/demo"
)

// Every link of the index page is a location of the demo site, and every
// location but / is linked: the page cannot fall behind the site.
func TestIndexListsTheDemoSite(t *testing.T) {
	cfg, err := config.Parse("demo", ".", demo.SiteTOML)
	require.NoError(t, err)
	var paths []string
	for _, l := range cfg.Locations {
		if l.Path != "/" {
			paths = append(paths, strings.TrimSuffix(l.Path, "/"))
		}
	}
	var linked []string
	for _, m := range regexp.MustCompile(`href="([^"?]*)`).FindAllStringSubmatch(string(demo.IndexHTML), -1) {
		linked = append(linked, strings.TrimSuffix(m[1], "/"))
	}
	assert.ElementsMatch(t, paths, linked)

	site, err := cfg.Build()
	require.NoError(t, err)
	r, rec := hosttest.NewRequest("GET", "/", nil)
	site.Serve(r)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), `<a href="/hello">`)
	r, rec = hosttest.NewRequest("GET", "/nope", nil)
	site.Serve(r)
	assert.Equal(t, http.StatusNotFound, rec.Code, "only / is the index")
}
