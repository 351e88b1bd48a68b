package metrics_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The libraries Apache and nginx load (a bridge, the built-ins and the
// user's packages) must not link the Prometheus client: it would start
// its collectors in every child for nothing a child can serve. serve's
// binary does link it, which shows the check can fail.
func TestOnlyServeBinariesLinkPrometheus(t *testing.T) {
	deps := func(pkgs ...string) string {
		out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	const client = "github.com/prometheus/client_golang/prometheus\n"
	libraries := deps("github.com/anyhost/anyhost/adapters/apache/bridge", "github.com/anyhost/anyhost/adapters/nginx/module/bridge",
		"github.com/anyhost/anyhost/builtin")
	assert.NotContains(t, libraries, client)
	assert.True(t, strings.Contains(deps("github.com/anyhost/anyhost/cmd/anyhost"), client))
}
