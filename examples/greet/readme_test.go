package greet_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README shows the example's files whole: each go block that follows a
// line naming "the whole of `FILE`" is that file, byte for byte.
func TestREADMEShowsTheRealFiles(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	text := string(readme)
	found := 0
	for _, part := range strings.Split(text, "the whole of `")[1:] {
		file, rest, ok := strings.Cut(part, "`")
		require.True(t, ok)
		_, block, ok := strings.Cut(rest, "```go\n")
		require.True(t, ok, "no go block after %s", file)
		block, _, ok = strings.Cut(block, "```")
		require.True(t, ok)
		want, err := os.ReadFile(filepath.Join(root, file))
		require.NoError(t, err)
		assert.Equal(t, string(want), block, "README's copy of %s", file)
		found++
	}
	assert.Equal(t, 2, found, "greet.go and its main")
}
