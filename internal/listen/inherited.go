package listen

import (
	"net"
	"os"
	"syscall"
)

// Inherited returns the listening socket a parent handed over as fd 0, as
// spawn-fcgi and lighttpd's mod_fastcgi (bin-path) do, and as
// net/http/fcgi expects; ok is false when fd 0 is no listening socket (a
// terminal, a pipe, /dev/null).
func Inherited() (ln net.Listener, ok bool) {
	v, err := syscall.GetsockoptInt(0, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if err != nil || v == 0 {
		return nil, false
	}
	f := os.NewFile(0, "inherited listener")
	ln, err = net.FileListener(f)
	f.Close() // FileListener holds its own descriptor
	if err != nil {
		return nil, false
	}
	return ln, true
}
