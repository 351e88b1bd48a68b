package wire

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Regression (out-of-bounds read): mod_anyhost.c read an op's key and value
// lengths before checking the record's end, so a truncated record made it
// read past the buffer. The C reader in anyhost_wire.h, which every C module
// now uses, runs here under AddressSanitizer on every truncation of a valid
// record and on lengths that lie; the measuring and writing passes of the
// packer must agree to the byte, in a buffer of exactly the measured size.
func TestCHalfUnderAddressSanitizer(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		if os.Getenv("ANYHOST_REQUIRE_SERVERS") != "" {
			t.Fatal("gcc is needed to test the C half of the wire formats")
		}
		t.Skip("gcc not installed")
	}
	bin := filepath.Join(t.TempDir(), "harness")
	out, err := exec.Command(gcc, "-std=c99", "-Wall", "-Werror", "-g", "-O1",
		"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
		"-I.", "-o", bin, "testdata/harness.c").CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "ok\n", string(out))
}
