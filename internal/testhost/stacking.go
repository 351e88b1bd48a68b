package testhost

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// StackingSite puts one verdict on one phase per location, so every host can
// be checked for the documented effect of OK, Declined, Done and an HTTP
// status on each phase (DESIGN.md's stacking table).
const StackingSite = `
[[location]]
path = "/hp-forbidden"
header-parser = [{handler = "demo.status", options = {status = "403"}}]
content = ["demo.hello"]

[[location]]
path = "/hp-done"
header-parser = [{handler = "demo.status", options = {status = "done", write = "done early"}}]
content = ["demo.hello"]

[[location]]
path = "/access-forbidden"
access = [{handler = "demo.status", options = {status = "403"}}]
content = ["demo.hello"]

[[location]]
path = "/access-declined"
access = [{handler = "demo.status", options = {status = "declined"}}, {handler = "demo.status", options = {status = "ok"}}]
content = ["demo.hello"]

[[location]]
path = "/authn"
authn = [{handler = "demo.status", options = {status = "declined"}}, {handler = "demo.status", options = {status = "ok", user = "stacker"}}, {handler = "demo.status", options = {status = "403"}}]
authz = [{handler = "demo.status", options = {status = "ok"}}]
content = ["demo.private"]

[[location]]
path = "/authn-nouser"
authn = [{handler = "demo.status", options = {status = "ok"}}]
authz = [{handler = "demo.status", options = {status = "ok"}}]
content = ["demo.hello"]

[[location]]
path = "/authz-forbidden"
authn = [{handler = "demo.status", options = {status = "ok", user = "stacker"}}]
authz = [{handler = "demo.status", options = {status = "403"}}, {handler = "demo.status", options = {status = "ok"}}]
content = ["demo.hello"]

[[location]]
path = "/fixup-conflict"
fixup = [{handler = "demo.status", options = {status = "409"}}]
content = ["demo.hello"]

[[location]]
path = "/content-declined"
content = [{handler = "demo.status", options = {status = "declined"}}]

[[location]]
path = "/content-stack"
content = [{handler = "demo.status", options = {status = "ok", write = "a"}}, {handler = "demo.status", options = {status = "declined"}}, {handler = "demo.status", options = {status = "ok", write = "b"}}]

[[location]]
path = "/content-stop"
content = [{handler = "demo.status", options = {status = "403"}}, "demo.hello"]

[[location]]
path = "/log-error"
content = ["demo.hello"]
log = [{handler = "demo.status", options = {status = "500"}}]
`

// StackingCases are the answers StackingSite must give on every host.
var StackingCases = []struct {
	Path   string
	Status int
	Body   string // "" means not checked (the host's error page)
}{
	{"/hp-forbidden", http.StatusForbidden, ""},
	{"/hp-done", http.StatusOK, "done early"},
	{"/access-forbidden", http.StatusForbidden, ""},
	{"/access-declined", http.StatusOK, "Hello!"},
	{"/authn", http.StatusOK, "Hello, stacker!"},
	{"/authn-nouser", http.StatusInternalServerError, ""},
	{"/authz-forbidden", http.StatusForbidden, ""},
	{"/fixup-conflict", http.StatusConflict, ""},
	{"/content-declined", http.StatusNotFound, ""},
	{"/content-stack", http.StatusOK, "ab"},
	{"/content-stop", http.StatusForbidden, ""},
	{"/log-error", http.StatusOK, "Hello!"},
}

// RunStacking checks StackingCases against a host serving StackingSite.
func RunStacking(t *testing.T, tg Target) {
	for _, c := range StackingCases {
		runCase(t, tg, "stacking", c.Path, "", func(t *testing.T) {
			r := Do(t, "GET", tg.URL+c.Path, nil, nil)
			assert.Equal(t, c.Status, r.Status, "body: %s", r.Body)
			if c.Body != "" {
				assert.Equal(t, c.Body, string(r.Body))
			}
		})
	}
}
