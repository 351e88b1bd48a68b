package testhost

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RecordingSite returns a site file: the demo site plus, for the location
// /rec (content demo.hello), demo.record stacked on every phase, writing to
// file. A request with header X-Request-Id: ID then leaves one "ID PHASE" line
// per phase that ran.
func RecordingSite(file string) string {
	rec := fmt.Sprintf(`{handler = "demo.record", options = {file = %q}}`, file)
	return fmt.Sprintf(`
[site]
post-read-request = [%[1]s]
translate = [%[1]s]

[[location]]
path = "/rec"
header-parser = [%[1]s]
access = [%[1]s]
authn = [%[1]s, {handler = "demo.status", options = {status = "ok", user = "recorder"}}]
authz = [%[1]s, {handler = "demo.status", options = {status = "ok"}}]
fixup = [%[1]s]
content = [%[1]s, "demo.hello"]
log = [%[1]s]

[[location]]
path = "/hello"
content = ["demo.hello"]
`, rec)
}

// RecordedPhases returns the phases recorded for request id, in order.
func RecordedPhases(t testing.TB, file, id string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var phases []string
	for _, line := range strings.Split(string(b), "\n") {
		if rid, phase, ok := strings.Cut(line, " "); ok && rid == id {
			phases = append(phases, phase)
		}
	}
	return phases
}

// AllPhases is every phase's name in order, as the recorder writes them.
var AllPhases = []string{"post-read-request", "translate", "header-parser", "access", "authn", "authz", "fixup", "content", "log"}

// phaseDiffers are the hosts whose phases differ from AllPhases, and why.
var phaseDiffers = map[string]string{
	"nginx-module": "nginx maps URIs to locations itself, so translate has no nginx phase to run in " +
		"([ngx_http_anyhost_module.c](../adapters/nginx/module/ngx/ngx_http_anyhost_module.c#L19)): " +
		"a site's translate handlers do not run there",
}

// RunPhases checks that a host serving RecordingSite(file) runs every phase
// once, in order, for one request (file must be writable by its workers).
func RunPhases(t *testing.T, tg Target, file string) {
	want := AllPhases
	if tg.ID == "nginx-module" {
		want = slices.DeleteFunc(slices.Clone(AllPhases), func(p string) bool { return p == "translate" })
	}
	runCase(t, tg, "phases", "every phase once, in order", phaseDiffers[tg.ID], func(t *testing.T) {
		id := "req-" + strings.NewReplacer("/", "-").Replace(tg.ID)
		r := Do(t, "GET", tg.URL+"/rec", nil, http.Header{"X-Request-Id": {id}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, "Hello!", string(r.Body))
		// The log phase may end after the response (nginx's LOG phase).
		require.Eventually(t, func() bool { return len(RecordedPhases(t, file, id)) >= len(want) },
			5*time.Second, 20*time.Millisecond, "%v", RecordedPhases(t, file, id))
		assert.Equal(t, want, RecordedPhases(t, file, id))
	})
}
