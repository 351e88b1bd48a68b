// Package listen opens the listening sockets every host adapter takes:
// "HOST:PORT" for TCP, or "unix:/path" for a unix socket whose mode and
// group decide which web server may connect.
package listen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Options for a unix socket; TCP ignores them.
type Options struct {
	// Mode of the socket file. Default 0660: the owner and the group (the
	// web server's) only.
	Mode os.FileMode
	// Group owning the socket file; "" keeps the process's group.
	Group string
	// PeerUsers, if any, are the only users whose processes may connect
	// (SO_PEERCRED, read at accept): a connection from any other is
	// closed at once. An extra check beside the mode and the web server's
	// secret, never instead of them: on Debian www-data runs nginx and
	// Apache, but also PHP and CGI scripts.
	PeerUsers []string
	// Refused, if set, is told of each connection PeerUsers closed.
	Refused func(uid uint32)
}

// Listen opens addr: "HOST:PORT", or "unix:/path". A socket file left by a
// process that died is replaced; one a live server answers on is refused.
func Listen(addr string, o Options) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return net.Listen("tcp", addr)
	}
	if err := makeSocketDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := setOwnership(path, o); err != nil {
		ln.Close()
		return nil, err
	}
	if len(o.PeerUsers) == 0 {
		return ln, nil
	}
	uids := map[uint32]bool{}
	for _, name := range o.PeerUsers {
		u, err := user.Lookup(name)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("socket peer: %w", err)
		}
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("socket peer %s: %w", name, err)
		}
		uids[uint32(uid)] = true
	}
	return &peerListener{Listener: ln, uids: uids, refused: o.Refused}, nil
}

// peerListener accepts only connections whose peer runs as one of uids.
type peerListener struct {
	net.Listener
	uids    map[uint32]bool
	refused func(uint32)
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, ok := peerUID(c)
		if ok && l.uids[uid] {
			return c, nil
		}
		c.Close()
		if l.refused != nil {
			l.refused(uid)
		}
	}
}

// peerUID is the user id of the process at the other end of a unix
// socket connection.
func peerUID(c net.Conn) (uint32, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, false
	}
	return cred.Uid, true
}

func setOwnership(path string, o Options) error {
	mode := o.Mode
	if mode == 0 {
		mode = 0o660
	}
	if o.Group != "" {
		g, err := user.LookupGroup(o.Group)
		if err != nil {
			return fmt.Errorf("socket group: %w", err)
		}
		gid, err := strconv.Atoi(g.Gid)
		if err != nil {
			return fmt.Errorf("socket group %s: %w", o.Group, err)
		}
		if err := os.Chown(path, -1, gid); err != nil {
			return err
		}
	}
	return os.Chmod(path, mode)
}

func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s: another server is listening on this socket", path)
	}
	return os.Remove(path)
}

// makeSocketDir creates a socket's missing directory (and its parents),
// as a runtime directory like /run/anyhost is after a reboot: mode 0755,
// so that the web server's user can reach the socket, whose own mode and
// group decide who may connect. An existing directory is left as it is,
// but refused where someone else could replace the socket: between the
// bind and the chmod/chown below (which would then apply to their file),
// or later, to receive the web server's requests and its secret. That is
// a directory owned by another user, or writable by group or others
// without the sticky bit (as /tmp has, which keeps others from renaming
// or removing the socket).
func makeSocketDir(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("the socket's directory: %w", err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("the socket's directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if euid := uint32(os.Geteuid()); st.Uid != euid && st.Uid != 0 {
		return fmt.Errorf("the socket's directory %s belongs to uid %d: that user could replace the socket; use a directory of root's or this user's", dir, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
		return fmt.Errorf("the socket's directory %s is writable by others (mode %04o): they could replace the socket; make it 0755 or 0750", dir, fi.Mode().Perm())
	}
	return nil
}
