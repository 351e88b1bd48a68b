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
	"strconv"
	"strings"
	"time"
)

// Options for a unix socket; TCP ignores them.
type Options struct {
	// Mode of the socket file. Default 0660: the owner and the group (the
	// web server's) only.
	Mode os.FileMode
	// Group owning the socket file; "" keeps the process's group.
	Group string
}

// Listen opens addr: "HOST:PORT", or "unix:/path". A socket file left by a
// process that died is replaced; one a live server answers on is refused.
func Listen(addr string, o Options) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return net.Listen("tcp", addr)
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
	return ln, nil
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
