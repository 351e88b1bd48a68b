// Package demo is the demo site: the handlers behind `anyhost serve` with no
// configuration, which the conformance suite checks on every host.
package demo

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"

	"github.com/anyhost/anyhost/core"
)

// SiteTOML is the demo site's configuration, served when no site file is
// given.
//
//go:embed site.toml
var SiteTOML []byte

//go:embed demo.htpasswd
var users []byte

// IndexHTML is the page at / listing the demo paths.
//
//go:embed index.html
var IndexHTML []byte

func init() {
	core.Register("demo.index", "the page at / listing the demo paths (other paths: declined, so 404)", noOptions(index))
	core.Register("demo.hello", `answers "Hello!" as text/plain`, noOptions(hello))
	core.Register("demo.echo", "answers JSON describing the request as the handler saw it", noOptions(echo))
	core.Register("demo.private", `answers "Hello, USER!" to the authenticated user`, noOptions(private))
	core.Register("demo.panic", "panics, to show the host survives", noOptions(panicking))
	core.Register("demo.record", "appends the request id and phase to a file (option file)", newRecorder)
	core.Register("demo.status", "returns a fixed status (option status: ok, declined, done or a code; write: text; code: the response status; header, err_header: \"Name: value\" items joined by ||)", newStatus)
	core.Register("demo.stream", "streams chunks x size bytes (options chunks, 64; size, 65536), flushing after each", newStream)
	core.Register("demo.mux", "a net/http ServeMux (/admin/ and /) run through core.FromHTTPHandler", newMux)
	core.Register("demo.retain", "keeps every request's strings; ?check reports whether any changed since", newRetainer)
	core.RegisterProvider("demo.users", "the demo user demo:demo (bcrypt; option record: a file getting one line per password check)", newUsers)
}

func noOptions(f core.HandlerFunc) core.HandlerFactory {
	return func(o core.Options) (core.Handler, error) {
		if err := o.Check(); err != nil {
			return nil, err
		}
		return f, nil
	}
}

var helloBody = []byte("Hello!")

// textPlain is shared, never modified: setting the header map entry directly
// saves the allocation Header.Set would make on every request.
var textPlain = []string{"text/plain; charset=utf-8"}

func hello(r *core.Request) core.Status {
	r.ResponseHeader["Content-Type"] = textPlain
	r.Write(helloBody)
	return core.OK
}

var textHTML = []string{"text/html; charset=utf-8"}

// index answers / only: under a "/" location every path no other location
// takes reaches it, and those stay 404.
func index(r *core.Request) core.Status {
	if r.Path != "/" {
		return core.Declined
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		r.ErrHeader().Set("Allow", "GET, HEAD")
		return http.StatusMethodNotAllowed
	}
	r.ResponseHeader["Content-Type"] = textHTML
	r.Write(IndexHTML)
	return core.OK
}

func private(r *core.Request) core.Status {
	r.ResponseHeader["Content-Type"] = textPlain
	r.WriteString("Hello, " + r.User + "!")
	return core.OK
}

func panicking(r *core.Request) core.Status {
	panic("demo.panic: this handler always panics")
}

// Echo is the JSON /echo answers with.
type Echo struct {
	Method     string      `json:"method"`
	URI        string      `json:"uri"`
	Path       string      `json:"path"`
	Query      string      `json:"query"`
	Headers    http.Header `json:"headers"`
	BodyLength int64       `json:"body_length"`
	BodySHA256 string      `json:"body_sha256"`
	User       string      `json:"user"`
	AuthType   string      `json:"auth_type"`
	RemoteAddr string      `json:"remote_addr"`
	Adapter    string      `json:"adapter"`
}

func echo(r *core.Request) core.Status {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		r.Log().Warn().Err(err).Msg("echo: reading the request body failed")
		return core.StatusForError(err)
	}
	e := Echo{
		Method: r.Method, URI: r.URI, Path: r.Path, Query: r.RawQuery,
		Headers: r.Header, BodyLength: n, BodySHA256: hex.EncodeToString(h.Sum(nil)),
		User: r.User, AuthType: r.AuthType, RemoteAddr: r.RemoteAddr, Adapter: r.Adapter,
	}
	if e.Headers == nil {
		e.Headers = http.Header{}
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return http.StatusInternalServerError
	}
	r.ResponseHeader.Set("Content-Type", "application/json")
	r.Write(append(b, '\n'))
	return core.OK
}
