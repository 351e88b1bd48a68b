package nginx

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// FuzzAuthRequest feeds the auth server's request reader arbitrary bytes:
// it must never panic, never let a body or Transfer-Encoding through as a
// request to serve, and never keep a connection after refusing.
func FuzzAuthRequest(f *testing.F) {
	f.Add([]byte(sub("/private/x")))
	f.Add([]byte(sub("/private/x") + sub("/next")))
	f.Add([]byte("GET / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n"))
	f.Add([]byte("GET  HTTP/1.1\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	s := &authServer{MaxHeader: 1024}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4<<10)
		for range 4 {
			req := &http.Request{Header: http.Header{}}
			code, keep := s.readRequest(br, req)
			if code != 0 {
				if keep {
					t.Fatalf("refused with %d but kept the connection", code)
				}
				return
			}
			if req.Header.Get("Transfer-Encoding") != "" {
				t.Fatal("a Transfer-Encoding request was accepted")
			}
			if cl := req.Header.Get("Content-Length"); cl != "" && cl != "0" {
				t.Fatalf("a body of Content-Length %q was accepted", cl)
			}
			if req.Method == "" || req.RequestURI == "" {
				t.Fatal("accepted without a method or target")
			}
			if !keep {
				return
			}
		}
	})
}
