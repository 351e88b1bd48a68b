package testhost

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An attacker's view of the FastCGI sockets: another local user (nobody)
// connects and sends params of its choosing, as any process on the machine
// can. The test binary re-runs itself as that user (net/http/cgi's
// TestMain pattern); Main dispatches to the child.

// childEnv names what the re-run test binary does.
const childEnv = "ANYHOST_TEST_CHILD"

// FastCGIAsNobody sends one FastCGI Responder request with params (name,
// value, name, value...) to addr ("unix:/path" or HOST:PORT) from a process
// running as nobody, and returns what came back on STDOUT, or the text of
// the error that stopped it ("dial: ... permission denied").
func FastCGIAsNobody(t testing.TB, addr string, params ...string) string {
	t.Helper()
	return asNobody(t, "fastcgi", append([]string{addr}, params...)...)
}

// HTTPAsNobody writes request (raw bytes) to addr ("unix:/path" or
// HOST:PORT) from a process running as nobody and returns what came back
// until the server closed, or the text of the error that stopped it.
func HTTPAsNobody(t testing.TB, addr, request string) string {
	t.Helper()
	return asNobody(t, "http", addr, request)
}

func asNobody(t testing.TB, mode string, args ...string) string {
	t.Helper()
	u, err := user.Lookup("nobody")
	require.NoError(t, err)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The test binary lives in a directory only its owner may enter.
	self, err := os.Executable()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "anyhost-forge-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	exe := filepath.Join(dir, "forge")
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(exe, b, 0o755))
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{childEnv + "=" + mode}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

// runChild runs what childEnv asks for and exits; it returns if nothing.
func runChild() {
	switch os.Getenv(childEnv) {
	case "":
		return
	case "fastcgi":
		out, err := fastcgiRequest(os.Args[1], os.Args[2:])
		if err != nil {
			fmt.Print(err.Error())
		} else {
			fmt.Print(out)
		}
		os.Exit(0)
	case "http":
		out, err := rawRequest(os.Args[1], os.Args[2])
		if err != nil {
			fmt.Print(err.Error())
		} else {
			fmt.Print(out)
		}
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", childEnv, os.Getenv(childEnv))
		os.Exit(2)
	}
}

func dialAddr(addr string) (net.Conn, error) {
	network := "tcp"
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, nil
}

func rawRequest(addr, request string) (string, error) {
	c, err := dialAddr(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, request); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// fastcgiRequest is a bare FastCGI client: BEGIN_REQUEST (Responder),
// PARAMS, empty STDIN, then STDOUT until END_REQUEST.
func fastcgiRequest(addr string, kv []string) (string, error) {
	c, err := dialAddr(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	rec := func(typ byte, content []byte) []byte {
		pad := (8 - len(content)%8) % 8
		h := []byte{1, typ, 0, 1, 0, 0, byte(pad), 0}
		binary.BigEndian.PutUint16(h[4:], uint16(len(content)))
		return append(append(h, content...), make([]byte, pad)...)
	}
	var params []byte
	for i := 0; i+1 < len(kv); i += 2 {
		for _, s := range []string{kv[i], kv[i+1]} {
			if len(s) < 128 {
				params = append(params, byte(len(s)))
			} else {
				params = binary.BigEndian.AppendUint32(params, uint32(len(s))|1<<31)
			}
		}
		params = append(append(params, kv[i]...), kv[i+1]...)
	}
	var out []byte
	out = append(out, rec(1, []byte{0, 1, 0, 0, 0, 0, 0, 0})...)
	out = append(out, rec(4, params)...)
	out = append(out, rec(4, nil)...)
	out = append(out, rec(5, nil)...)
	if _, err := c.Write(out); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	br := bufio.NewReader(c)
	var stdout []byte
	for {
		var h [8]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return string(stdout), fmt.Errorf("read: %w (after %q)", err, stdout)
		}
		content := make([]byte, int(binary.BigEndian.Uint16(h[4:]))+int(h[6]))
		if _, err := io.ReadFull(br, content); err != nil {
			return string(stdout), fmt.Errorf("read: %w", err)
		}
		switch h[1] {
		case 6:
			stdout = append(stdout, content[:binary.BigEndian.Uint16(h[4:])]...)
		case 3:
			return string(stdout), nil
		}
	}
}
