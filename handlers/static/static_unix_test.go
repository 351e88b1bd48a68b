//go:build unix

package static

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFIFO checks that a FIFO under the root is refused rather than opened:
// opening one blocks until a writer appears, holding the request forever.
func TestFIFO(t *testing.T) {
	root := newTree(t)
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "sub", "pipe.html"), 0o644))
	srv := newServer(t, root)
	for _, target := range []string{"/pipe", "/sub/pipe.html"} {
		t.Run(target, func(t *testing.T) {
			resp, _ := do(t, srv, "GET", target, nil)
			assert.Equal(t, 404, resp.StatusCode)
		})
	}
}
