package static

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
)

var modTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

const secret = "outside the root"

// newTree builds dir/root (served) and dir/outside (must never be served),
// and returns the root.
func newTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	outside := filepath.Join(dir, "outside")
	files := map[string]string{
		"root/index.html":         "root index",
		"root/hello.txt":          "hello world\n",
		"root/page.html":          "<p>page</p>",
		"root/image":              "\x89PNG\r\n\x1a\n0000",
		"root/sub/index.html":     "sub index",
		"root/sub/.htaccess":      "deny",
		"root/.secret":            "dotfile",
		"root/.hidden/file.txt":   "hidden dir",
		"root/noindex/other.txt":  "other",
		"outside/secret.txt":      secret,
		"outside/index.html":      secret,
		"root/sub/deeper/a b.txt": "spaced",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		require.NoError(t, os.Chtimes(p, modTime, modTime))
	}
	links := map[string]string{
		"root/link.txt":  "hello.txt",                             // inside: allowed
		"root/linkdir":   "sub",                                   // inside: allowed
		"root/out.txt":   "../outside/secret.txt",                 // relative, escapes
		"root/abs.txt":   filepath.Join(outside, "secret.txt"),    // absolute, escapes
		"root/outdir":    "../outside",                            // directory, escapes
		"root/sub/up":    "../../outside/secret.txt",              // escapes from below
		"root/loop":      "loop",                                  // never resolves
		"root/dangling":  "nothing-here",                          // target missing
		"root/sub/round": "../../root/hello.txt",                  // leaves and comes back
		"root/absin.txt": filepath.Join(root, "hello.txt"),        // absolute, inside
		"root/self":      ".",                                     // the root itself
		"root/parent":    "..",                                    // the root's parent
		"root/sub/root":  "..",                                    // up, still inside
		"root/sub/esc":   strings.Repeat("../", 8) + "etc/passwd", // far out
	}
	for name, target := range links {
		require.NoError(t, os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))))
	}
	return root
}

// newServer serves the tree at "/" and again at "/files" with strip.
func newServer(t *testing.T, root string) *httptest.Server {
	t.Helper()
	h, err := New(core.Options{Values: map[string]string{"root": root}})
	require.NoError(t, err)
	hs, err := New(core.Options{Values: map[string]string{"root": root, "strip": "/files"}})
	require.NoError(t, err)
	site, err := core.NewSite([]*core.Location{
		{Prefix: "/", Handlers: [core.NumPhases][]core.Handler{core.Content: {h}}},
		{Prefix: "/files", Handlers: [core.NumPhases][]core.Handler{core.Content: {hs}}},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	return srv
}

// do sends target verbatim on the request line: Go's client would clean
// "/../" and re-encode "%2e%2e" before they reached the server.
func do(t *testing.T, srv *httptest.Server, method, target string, header map[string]string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", method, target)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	_, err = io.WriteString(conn, b.String())
	require.NoError(t, err)
	// ReadResponse needs the method to know a HEAD answer has no body.
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestServe(t *testing.T) {
	srv := newServer(t, newTree(t))
	lastMod := modTime.Format(http.TimeFormat)
	const (
		notFound = "404 Not Found\n"
		moved    = "301 Moved Permanently\n"
		txt      = "text/plain; charset=utf-8"
		html     = "text/html; charset=utf-8"
	)
	tests := []struct {
		name   string
		method string // GET when empty
		target string
		header map[string]string
		status int
		body   string
		want   map[string]string // response headers; "" means absent
	}{
		// Files.
		{name: "file", target: "/hello.txt", status: 200, body: "hello world\n",
			want: map[string]string{"Content-Type": txt, "Content-Length": "12", "Last-Modified": lastMod, "Accept-Ranges": "bytes"}},
		{name: "html by extension", target: "/page.html", status: 200, body: "<p>page</p>",
			want: map[string]string{"Content-Type": html}},
		{name: "type sniffed without extension", target: "/image", status: 200, body: "\x89PNG\r\n\x1a\n0000",
			want: map[string]string{"Content-Type": "image/png"}},
		{name: "encoded space", target: "/sub/deeper/a%20b.txt", status: 200, body: "spaced"},
		{name: "query ignored", target: "/hello.txt?x=1", status: 200, body: "hello world\n"},
		{name: "head has no body", method: "HEAD", target: "/hello.txt", status: 200, body: "",
			want: map[string]string{"Content-Type": txt, "Content-Length": "12"}},
		{name: "missing", target: "/missing.txt", status: 404, body: notFound},
		{name: "missing in subdir", target: "/sub/missing.html", status: 404, body: notFound},
		{name: "file with trailing slash", target: "/hello.txt/", status: 404, body: notFound},
		{name: "file as directory", target: "/hello.txt/x", status: 404, body: notFound},

		// Directories.
		{name: "root index", target: "/", status: 200, body: "root index", want: map[string]string{"Content-Type": html}},
		{name: "directory redirects", target: "/sub", status: 301, body: moved, want: map[string]string{"Location": "/sub/"}},
		{name: "redirect keeps query", target: "/sub?a=1&b=2", status: 301, body: moved, want: map[string]string{"Location": "/sub/?a=1&b=2"}},
		{name: "index served", target: "/sub/", status: 200, body: "sub index", want: map[string]string{"Content-Type": html}},
		{name: "index served to HEAD", method: "HEAD", target: "/sub/", status: 200, body: "", want: map[string]string{"Content-Length": "9"}},
		{name: "no listing", target: "/noindex/", status: 404, body: notFound},
		{name: "redirect re-encodes", target: "/sub/deeper", status: 301, body: moved, want: map[string]string{"Location": "/sub/deeper/"}},

		// Escapes through the URL.
		{name: "raw dot-dot", target: "/../outside/secret.txt", status: 404, body: notFound},
		{name: "raw dot-dot below", target: "/sub/../../outside/secret.txt", status: 404, body: notFound},
		{name: "raw dot", target: "/./hello.txt", status: 404, body: notFound},
		// These clean to an existing file: only the raw URI shows the dots.
		{name: "raw dot-dot to a file inside", target: "/sub/../hello.txt", status: 404, body: notFound},
		{name: "encoded dot-dot to a file inside", target: "/sub/%2e%2e/hello.txt", status: 404, body: notFound},
		{name: "encoded dot-dot twice to a file inside", target: "/a/%2e%2e/%2e%2e/hello.txt", status: 404, body: notFound},
		{name: "encoded dot to a file inside", target: "/%2e/hello.txt", status: 404, body: notFound},
		{name: "encoded dot-dot", target: "/%2e%2e/outside/secret.txt", status: 404, body: notFound},
		{name: "encoded dot-dot upper case", target: "/%2E%2E/outside/secret.txt", status: 404, body: notFound},
		{name: "encoded dot-dot to root index", target: "/%2e%2e/", status: 404, body: notFound},
		{name: "encoded dot-dot twice", target: "/a/%2e%2e/%2e%2e/outside/secret.txt", status: 404, body: notFound},
		{name: "half encoded dot-dot", target: "/.%2e/outside/secret.txt", status: 404, body: notFound},
		{name: "encoded slash", target: "/sub%2Findex.html", status: 404, body: notFound},
		{name: "encoded slash lower case", target: "/sub%2findex.html", status: 404, body: notFound},
		{name: "encoded slash with dot-dot", target: "/..%2Foutside%2Fsecret.txt", status: 404, body: notFound},
		{name: "encoded backslash", target: "/sub%5Cindex.html", status: 404, body: notFound},
		{name: "backslash dot-dot", target: "/sub/..%5C..%5Coutside%5Csecret.txt", status: 404, body: notFound},
		{name: "encoded NUL", target: "/hello.txt%00.html", status: 400}, // host.ParseTarget refuses it on every host
		{name: "absolute form", target: "http://x/%2e%2e/outside/secret.txt", status: 404, body: notFound},
		{name: "fragment does not hide dot-dot", target: "/a#/%2e%2e/%2e%2e/hello.txt", status: 404, body: notFound},
		{name: "bad escape", target: "/hello%zz.txt", status: 400},

		// Symlinks.
		{name: "symlink inside", target: "/link.txt", status: 200, body: "hello world\n", want: map[string]string{"Content-Type": txt}},
		{name: "symlinked directory inside", target: "/linkdir/", status: 200, body: "sub index"},
		{name: "symlink to the root", target: "/self/hello.txt", status: 200, body: "hello world\n"},
		{name: "symlink up but inside", target: "/sub/root/hello.txt", status: 200, body: "hello world\n"},
		{name: "symlink out", target: "/out.txt", status: 404, body: notFound},
		{name: "absolute symlink out", target: "/abs.txt", status: 404, body: notFound},
		{name: "absolute symlink inside", target: "/absin.txt", status: 404, body: notFound}, // os.Root refuses absolute links
		{name: "symlinked directory out", target: "/outdir/secret.txt", status: 404, body: notFound},
		{name: "symlinked directory out, index", target: "/outdir/", status: 404, body: notFound},
		{name: "symlink to parent", target: "/parent/outside/secret.txt", status: 404, body: notFound},
		{name: "symlink out from below", target: "/sub/up", status: 404, body: notFound},
		{name: "symlink far out", target: "/sub/esc", status: 404, body: notFound},
		{name: "symlink out and back", target: "/sub/round", status: 404, body: notFound},
		{name: "symlink loop", target: "/loop", status: 404, body: notFound},
		{name: "dangling symlink", target: "/dangling", status: 404, body: notFound},

		// Hidden files.
		{name: "dotfile", target: "/.secret", status: 404, body: notFound},
		{name: "dot directory", target: "/.hidden/file.txt", status: 404, body: notFound},
		{name: "dotfile in subdir", target: "/sub/.htaccess", status: 404, body: notFound},
		{name: "encoded dotfile", target: "/%2esecret", status: 404, body: notFound},

		// Conditional and partial requests.
		{name: "range", target: "/hello.txt", header: map[string]string{"Range": "bytes=1-4"}, status: 206, body: "ello",
			want: map[string]string{"Content-Range": "bytes 1-4/12", "Content-Length": "4", "Content-Type": txt}},
		{name: "suffix range", target: "/hello.txt", header: map[string]string{"Range": "bytes=-6"}, status: 206, body: "world\n",
			want: map[string]string{"Content-Range": "bytes 6-11/12"}},
		{name: "range not satisfiable", target: "/hello.txt", header: map[string]string{"Range": "bytes=100-"}, status: 416,
			want: map[string]string{"Content-Range": "bytes */12"}},
		{name: "not modified", target: "/hello.txt", header: map[string]string{"If-Modified-Since": lastMod}, status: 304, body: "",
			want: map[string]string{"Content-Type": "", "Content-Length": ""}},
		{name: "not modified, index", target: "/sub/", header: map[string]string{"If-Modified-Since": lastMod}, status: 304, body: ""},
		{name: "modified since", target: "/hello.txt", header: map[string]string{"If-Modified-Since": modTime.Add(-time.Hour).Format(http.TimeFormat)},
			status: 200, body: "hello world\n"},

		// Methods.
		{name: "POST", method: "POST", target: "/hello.txt", status: 405, body: "405 Method Not Allowed\n", want: map[string]string{"Allow": "GET, HEAD"}},
		{name: "PUT", method: "PUT", target: "/hello.txt", status: 405, want: map[string]string{"Allow": "GET, HEAD"}},
		{name: "DELETE missing", method: "DELETE", target: "/missing", status: 405, want: map[string]string{"Allow": "GET, HEAD"}},

		// strip, at location /files.
		{name: "strip file", target: "/files/hello.txt", status: 200, body: "hello world\n"},
		{name: "strip root redirects", target: "/files", status: 301, body: moved, want: map[string]string{"Location": "/files/"}},
		{name: "strip root index", target: "/files/", status: 200, body: "root index"},
		{name: "strip subdir redirects with full path", target: "/files/sub", status: 301, want: map[string]string{"Location": "/files/sub/"}},
		{name: "strip dot-dot", target: "/files/%2e%2e/outside/secret.txt", status: 404, body: notFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			resp, body := do(t, srv, method, tt.target, tt.header)
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.body != "" || tt.status == 200 || tt.status == 304 || method == "HEAD" {
				assert.Equal(t, tt.body, body)
			}
			assert.NotContains(t, body, secret)
			for k, v := range tt.want {
				assert.Equal(t, v, resp.Header.Get(k), "header %s", k)
			}
		})
	}
}

// TestETag checks that the ETag given with a file brings a 304 back.
func TestETag(t *testing.T) {
	srv := newServer(t, newTree(t))
	resp, _ := do(t, srv, "GET", "/hello.txt", nil)
	require.Equal(t, 200, resp.StatusCode)
	tag := resp.Header.Get("ETag")
	require.NotEmpty(t, tag)

	tests := []struct {
		name   string
		header map[string]string
		status int
		body   string
	}{
		{"same tag", map[string]string{"If-None-Match": tag}, 304, ""},
		{"other tag", map[string]string{"If-None-Match": `"other"`}, 200, "hello world\n"},
		{"if-range matches", map[string]string{"Range": "bytes=0-4", "If-Range": tag}, 206, "hello"},
		{"if-range stale", map[string]string{"Range": "bytes=0-4", "If-Range": `"stale"`}, 200, "hello world\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, "GET", "/hello.txt", tt.header)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.body, body)
		})
	}
}

// TestSwappedRoot checks that a root replaced after New is the one served:
// deploys swap directories under a running server.
func TestSwappedRoot(t *testing.T) {
	root := newTree(t)
	srv := newServer(t, root)
	require.NoError(t, os.Rename(root, root+".old"))
	require.NoError(t, os.Mkdir(root, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "hello.txt"), []byte("new"), 0o644))

	resp, body := do(t, srv, "GET", "/hello.txt", nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "new", body)
}

func TestRegistered(t *testing.T) {
	_, ok := core.Handlers.Lookup("static")
	assert.True(t, ok)
	assert.Equal(t, "serve files from a directory", core.Handlers.Doc("static"))
}

func TestOptions(t *testing.T) {
	root := newTree(t)
	dir := filepath.Dir(root)
	tests := []struct {
		name    string
		dir     string
		values  map[string]string
		wantErr string // "" means New succeeds
	}{
		{name: "root only", values: map[string]string{"root": root}},
		{name: "relative root", dir: dir, values: map[string]string{"root": "root"}},
		{name: "all options", values: map[string]string{"root": root, "index": "home.html", "strip": "/files/"}},
		{name: "index disabled", values: map[string]string{"root": root, "index": ""}},
		{name: "missing root", values: map[string]string{}, wantErr: "option root is required"},
		{name: "empty root", values: map[string]string{"root": ""}, wantErr: "option root is required"},
		{name: "unknown option", values: map[string]string{"root": root, "listing": "on"}, wantErr: "unknown option listing"},
		{name: "root does not exist", values: map[string]string{"root": filepath.Join(dir, "nope")}, wantErr: "no such file or directory"},
		{name: "root not a directory", values: map[string]string{"root": filepath.Join(root, "hello.txt")}, wantErr: "is not a directory"},
		{name: "relative root missing", dir: root, values: map[string]string{"root": "root"}, wantErr: "no such file or directory"},
		{name: "index with slash", values: map[string]string{"root": root, "index": "sub/index.html"}, wantErr: "option index"},
		{name: "index dotfile", values: map[string]string{"root": root, "index": ".."}, wantErr: "option index"},
		{name: "strip relative", values: map[string]string{"root": root, "strip": "files"}, wantErr: "option strip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(core.Options{Values: tt.values, Dir: tt.dir})
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.NotNil(t, h)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Nil(t, h)
		})
	}
}

// TestIndexOption checks a custom index name and a disabled index.
func TestIndexOption(t *testing.T) {
	root := newTree(t)
	require.NoError(t, os.WriteFile(filepath.Join(root, "sub", "home.html"), []byte("home"), 0o644))
	tests := []struct {
		name   string
		index  string
		status int
		body   string
	}{
		{"custom", "home.html", 200, "home"},
		{"custom missing", "nope.html", 404, "404 Not Found\n"},
		{"disabled", "", 404, "404 Not Found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(core.Options{Values: map[string]string{"root": root, "index": tt.index}})
			require.NoError(t, err)
			site, err := core.NewSite([]*core.Location{{Prefix: "/", Handlers: [core.NumPhases][]core.Handler{core.Content: {h}}}})
			require.NoError(t, err)
			srv := httptest.NewServer(site)
			defer srv.Close()
			resp, body := do(t, srv, "GET", "/sub/", nil)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.body, body)
		})
	}
}
