package standalone_test

import (
	"bufio"
	"net"
	osexec "os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// exec runs the anyhost binary to completion and returns its combined
// output, requiring a non-zero exit.
func exec(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := osexec.Command(testhost.AnyhostBinary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "expected anyhost %v to fail; output:\n%s", args, out)
	return string(out)
}
