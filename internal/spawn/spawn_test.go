package spawn

import (
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The child starts clean whatever its parent holds: here the test blocks
// SIGTERM, ignores SIGPIPE and holds an inheritable descriptor, as Apache and
// nginx do; the child sees none of that, nor the parent's environment.
func TestStartsClean(t *testing.T) {
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGPIPE)
	leak, err := os.Open("/dev/null")
	require.NoError(t, err)
	defer leak.Close()
	_, _, e := syscall.Syscall(syscall.SYS_FCNTL, leak.Fd(), syscall.F_SETFD, 0) // inheritable
	require.Zero(t, e)
	t.Setenv("ANYHOST_TEST_SECRET_DSN", "postgres://secret")
	// Block SIGTERM and SIGHUP on the thread that spawns, as Apache's
	// child_init leaves Go's threads.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	block := uint64(1<<(syscall.SIGTERM-1) | 1<<(syscall.SIGHUP-1))
	var old uint64
	_, _, e = syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 0 /* SIG_BLOCK */, uintptr(unsafe.Pointer(&block)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	require.Zero(t, e)
	defer syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 2 /* SIG_SETMASK */, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)

	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	inW.Close()
	script := "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; grep -E '^Sig(Blk|Ign)' /proc/self/status; env; echo pgid $(ps -o pgid= $$)"
	p, err := Start("/bin/sh", []string{"sh", "-c", script}, []string{"PATH=/usr/bin:/bin"}, "/", inR, outW, outW)
	require.NoError(t, err)
	inR.Close()
	outW.Close()
	out, _ := io.ReadAll(outR)
	st, err := p.Wait()
	require.NoError(t, err)
	require.True(t, st.Success(), "%s", out)
	lines := strings.Split(string(out), "\n")
	assert.Equal(t, "0 1 2 3 ", lines[0], "only 0-2, and 3 for ls's own reading of /proc/self/fd")
	assert.Contains(t, string(out), "SigBlk:\t0000000000000000")
	// 32 and 33 are glibc's own (NPTL), which posix_spawn leaves alone.
	assert.Regexp(t, "SigIgn:\t0000000[01]80000000", string(out), "no signal a script could meet is ignored")
	assert.NotContains(t, string(out), "SECRET_DSN")
	assert.Contains(t, string(out), "pgid "+strconv.Itoa(p.Pid), "a process group of its own")
}
