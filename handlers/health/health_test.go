package health_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host/hosttest"
	_ "github.com/anyhost/anyhost/handlers/health"
)

func TestHealth(t *testing.T) {
	h, err := core.NewHandler("health", core.Options{})
	require.NoError(t, err)
	r, w := hosttest.NewRequest("GET", "/healthz", nil)
	assert.Equal(t, core.OK, h.Handle(r))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, "ok\n", w.Body.String())
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))

	r, w = hosttest.NewRequest("HEAD", "/healthz", nil)
	assert.Equal(t, core.OK, h.Handle(r))
	assert.Equal(t, 200, w.Code)
	assert.Empty(t, w.Body.String())

	r, _ = hosttest.NewRequest("POST", "/healthz", nil)
	assert.Equal(t, core.Status(405), h.Handle(r))
	assert.Equal(t, "GET, HEAD", r.ErrHeader().Get("Allow"))

	_, err = core.NewHandler("health", core.Options{Values: map[string]string{"deep": "1"}})
	assert.ErrorContains(t, err, "takes no options")
}
