package nginx

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

// The deployment as a user runs it: `anyhost serve --adapter nginx` and
// `anyhost nginx conf --full` with the same flags, then nginx itself.
func TestServeAndConfCommands(t *testing.T) {
	bin := testhost.AnyhostBinary(t)
	dir := testhost.NewNginxPrefix(t)
	fcgi, auth := filepath.Join(dir, "fcgi.sock"), filepath.Join(dir, "auth.sock")
	flags := []string{"--listen", "unix:" + fcgi, "--auth-listen", "unix:" + auth}
	testhost.Start(t, testhost.Spec{
		Args:  append([]string{bin, "serve", "--adapter", "nginx", "--socket-group", "www-data"}, flags...),
		Dir:   dir,
		Ready: testhost.DialReady("unix", auth),
	})
	conf, err := exec.Command(bin, append(append([]string{"nginx", "conf"}, flags...),
		"--full", "--prefix", testhost.NginxPrefix, "--server-listen", testhost.NginxListen)...).Output()
	require.NoError(t, err)
	n := testhost.StartNginx(t, string(conf))

	r := testhost.Do(t, "GET", n.URL+"/hello", nil, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello!", string(r.Body))
	r = testhost.Do(t, "GET", n.URL+"/private/", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, []string{`Basic realm="anyhost demo"`}, r.Header.Values("WWW-Authenticate"))
	r = testhost.Do(t, "GET", n.URL+"/private/", nil, testhost.BasicHeader("demo", "demo"))
	assert.Equal(t, "Hello, demo!", string(r.Body))
}
