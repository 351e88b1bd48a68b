package greet_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/config"
	_ "github.com/anyhost/anyhost/examples/greet"
)

func TestGreetSite(t *testing.T) {
	s, err := config.Load("site.toml")
	require.NoError(t, err)
	site, err := s.Build()
	require.NoError(t, err)
	srv := httptest.NewServer(site)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/greet?name=Ada")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "Grüezi, Ada!\n", string(body))

	resp, err = http.Get(srv.URL + "/greet")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}
