package nginx

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/internal/testhost"
)

// Legacy CGI scripts behind nginx, which has no CGI of its own: the cgi
// handler runs them in the FastCGI responder.
func TestCGIScripts(t *testing.T) {
	scripts := testhost.CGIScripts(t)
	cfg, err := config.Load(testhost.CGISite(t, scripts))
	require.NoError(t, err)
	s := startSiteStack(t, cfg, cfg, nil)
	testhost.RunCGICases(t, s.Target("nginx"), scripts)
}
