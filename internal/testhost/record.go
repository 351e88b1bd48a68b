package testhost

import (
	"fmt"
	"os"
	"strings"
	"testing"

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
