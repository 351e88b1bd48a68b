// Package static is a content handler that serves files from a directory, as
// Apache's default handler does: GET and HEAD only, index files for
// directories, no listings, and no way out of the directory.
//
// Options:
//   - root: the directory to serve (required; relative to the site file).
//   - index: the file served for a directory URL ending in "/"
//     (default index.html; empty disables it).
//   - strip: a path prefix removed before mapping, usually the location's
//     own prefix ("/files" serves /files/a.txt from ROOT/a.txt).
package static

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/anyhost/anyhost/core"
)

func init() {
	core.Register("static", "serve files from a directory", New)
}

// Handler serves the files under one root directory.
type Handler struct {
	root  string // absolute
	index string
	strip string // cleaned, no trailing slash; "" strips nothing
}

// New builds a Handler from its options: root (required), index and strip.
func New(o core.Options) (core.Handler, error) {
	if err := o.Check("root", "index", "strip"); err != nil {
		return nil, err
	}
	if _, err := o.Required("root"); err != nil {
		return nil, err
	}
	// Absolute, so that a later chdir cannot move what we serve.
	root, err := filepath.Abs(o.Path("root"))
	if err != nil {
		return nil, fmt.Errorf("option root: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("option root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("option root: %s is not a directory", root)
	}
	// Fail at start-up, not on the first request, if it cannot be opened.
	rt, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("option root: %w", err)
	}
	rt.Close()

	index := o.String("index", "index.html")
	if index != "" && (strings.ContainsAny(index, "/\\\x00") || index[0] == '.') {
		return nil, fmt.Errorf("option index: %q must be a plain file name, not a path or dotfile", index)
	}
	strip := o.String("strip", "")
	if strip != "" {
		if strip[0] != '/' {
			return nil, fmt.Errorf("option strip: %q must start with /", strip)
		}
		strip = strings.TrimSuffix(core.CleanPath(strip), "/")
	}
	return &Handler{root: root, index: index, strip: strip}, nil
}

// Handle serves the file r.Path names under the root.
func (h *Handler) Handle(r *core.Request) core.Status {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		r.ErrHeader().Set("Allow", "GET, HEAD")
		return http.StatusMethodNotAllowed
	}
	// The host has decoded and cleaned r.Path, which hides what the client
	// sent: "/%2e%2e/x" arrives as "/x". Judge the raw URI as well.
	if st := checkURI(r.URI); st != core.OK {
		return st
	}
	if !safePath(r.Path) {
		return http.StatusNotFound
	}
	p := core.CleanPath(r.Path)
	rel, ok := h.relative(p)
	if !ok {
		return http.StatusNotFound
	}
	dirURL := strings.HasSuffix(rel, "/")
	name := strings.Trim(rel, "/")
	if name == "" {
		name = "."
	}

	// Opened per request rather than once: a deploy that swaps the root
	// (a "current" symlink, a recreated directory) takes effect at once.
	// os.Root refuses, by construction, any name or symlink leaving it.
	rt, err := os.OpenRoot(h.root)
	if err != nil {
		r.Log().Error().Err(err).Str("root", h.root).Msg("static: cannot open root")
		return http.StatusInternalServerError
	}
	defer rt.Close()

	// Stat before open: opening a FIFO would block the request forever.
	fi, err := rt.Stat(filepath.FromSlash(name))
	if err != nil {
		return h.fail(r, name, err)
	}
	switch {
	case fi.IsDir():
		if !dirURL {
			// Relative links in the directory's page resolve against the
			// URL, so it must end in "/" (Apache's mod_dir does the same).
			u := url.URL{Path: p + "/", RawQuery: r.RawQuery}
			r.ErrHeader().Set("Location", u.String())
			return http.StatusMovedPermanently
		}
		if h.index == "" {
			return http.StatusNotFound // no listings
		}
		name = path.Join(name, h.index)
		if fi, err = rt.Stat(filepath.FromSlash(name)); err != nil {
			return h.fail(r, name, err)
		}
		if !fi.Mode().IsRegular() {
			return http.StatusNotFound
		}
	case !fi.Mode().IsRegular(), dirURL:
		// Devices, sockets, FIFOs; and "file.txt/", which names no file.
		return http.StatusNotFound
	}

	f, err := rt.Open(filepath.FromSlash(name))
	if err != nil {
		return h.fail(r, name, err)
	}
	defer f.Close()
	// Stat what was opened: the name may have changed since the check.
	if fi, err = f.Stat(); err != nil {
		return h.fail(r, name, err)
	}
	if !fi.Mode().IsRegular() {
		return http.StatusNotFound
	}

	r.ResponseHeader.Set("ETag", etag(fi))
	// ServeContent does Content-Type, Content-Length, Last-Modified,
	// conditional requests and ranges.
	http.ServeContent(responseWriter{r}, r.HTTPRequest(), path.Base(name), fi.ModTime(), f)
	if !r.ResponseStarted() {
		// 304 and HEAD write no body: commit the status ServeContent chose
		// now, so no later handler or host default can change it.
		_ = r.Flush()
	}
	return core.OK
}

// relative maps a cleaned request path to the path under the root, removing
// the strip prefix on a segment boundary.
func (h *Handler) relative(p string) (string, bool) {
	if h.strip == "" {
		return p, true
	}
	rest, ok := strings.CutPrefix(p, h.strip)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	return rest, true
}

// fail maps a file system error to a status. Anything other than a plain
// miss is logged: it is a symlink leaving the root, a loop, or a broken disk.
func (h *Handler) fail(r *core.Request, name string, err error) core.Status {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	}
	r.Log().Warn().Err(err).Str("root", h.root).Str("name", name).Msg("static: refused")
	return http.StatusNotFound
}

// checkURI vets the path of the request target as the client sent it.
func checkURI(uri string) core.Status {
	if uri == "" {
		return core.OK // host gave no raw URI; r.Path is checked anyway
	}
	p := uri
	// Only "?" ends the path: clients never send a fragment, and a "#"
	// that arrives is part of the path the host decoded.
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		// Absolute form, "http://host/path": keep only the path.
		if _, after, ok := strings.Cut(p, "://"); ok {
			p = "/"
			if i := strings.IndexByte(after, '/'); i >= 0 {
				p = after[i:]
			}
		}
	}
	// An encoded slash would let one segment pass as two once decoded;
	// refuse it as Apache's AllowEncodedSlashes Off does.
	if strings.Contains(p, "%2f") || strings.Contains(p, "%2F") {
		return http.StatusNotFound
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return http.StatusBadRequest
	}
	if !safePath(dec) {
		return http.StatusNotFound
	}
	return core.OK
}

// safePath refuses NUL bytes, backslashes (a separator on Windows) and any
// segment starting with ".": dot segments and hidden files alike.
func safePath(p string) bool {
	if strings.ContainsAny(p, "\x00\\") {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return false
		}
	}
	return true
}

// etag is a strong validator from size and modification time, as Apache's
// FileETag MTime Size; strong so that If-Range works.
func etag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + `"`
}

// responseWriter lets http.ServeContent answer through the request. The
// status it picks (206, 304, 416) becomes r.Status, sent with the first
// Write or when Handle commits the response.
type responseWriter struct{ r *core.Request }

func (w responseWriter) Header() http.Header { return w.r.ResponseHeader }

func (w responseWriter) Write(p []byte) (int, error) { return w.r.Write(p) }

func (w responseWriter) WriteHeader(code int) {
	if !w.r.ResponseStarted() {
		w.r.Status = code
	}
}

// Interface guard.
var _ core.Handler = (*Handler)(nil)
