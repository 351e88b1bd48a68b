package systemd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Socket describes a .socket unit that listens for a SocketActivated
// Service of the same name: systemd holds the socket from boot (the web
// server can connect before the service runs, and a restart of the
// service drops no connection attempt) and starts the service at the
// first connection.
type Socket struct {
	// Comment lines open the file (without the "# ").
	Comment []string
	// Description is the unit's Description=.
	Description string
	// Listen is "HOST:PORT" or "unix:/path", as `serve --listen` takes it.
	Listen string
	// User and Group own a unix socket; Mode is its mode (default 0660).
	// User "" leaves it root's (a dynamic user does not exist yet when
	// the socket is made): Group is what gives the web server access.
	User, Group string
	Mode        os.FileMode
}

// Unit writes the socket unit. One socket, handed over without Accept (the
// service accepts its connections itself), as fd 0 by the service's
// StandardInput=socket.
func (s Socket) Unit() (string, error) {
	var listen string
	if path, ok := strings.CutPrefix(s.Listen, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("systemd socket: %q is not an absolute path", path)
		}
		listen = path
	} else if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		return "", fmt.Errorf("systemd socket: --listen %q: %w", s.Listen, err)
	} else {
		listen = s.Listen
	}
	if q, err := Arg(listen); err != nil || q != listen {
		return "", fmt.Errorf("systemd socket: %q has characters a unit cannot hold", listen)
	}
	mode := s.Mode
	if mode == 0 {
		mode = 0o660
	}
	var b strings.Builder
	p := unitHead(&b, s.Comment, s.Description)
	p("")
	p("[Socket]")
	p("ListenStream=%s", listen)
	if strings.HasPrefix(s.Listen, "unix:") {
		if s.User != "" && !IsName(s.User) || !IsName(s.Group) {
			return "", fmt.Errorf("systemd socket: user %q or group %q is not a user or group name", s.User, s.Group)
		}
		if s.User != "" {
			p("SocketUser=%s", s.User)
		}
		p("SocketGroup=%s", s.Group)
		p("SocketMode=%04o", mode)
		p("RemoveOnStop=yes")
	}
	p("Accept=no")
	p("")
	p("[Install]")
	p("WantedBy=sockets.target")
	return b.String(), nil
}
