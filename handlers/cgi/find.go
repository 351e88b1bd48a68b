package cgi

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/anyhost/anyhost/core"
)

// target is the script a request names, split as Apache splits it.
type target struct {
	file       string // absolute path of the script
	scriptName string // SCRIPT_NAME: the location's prefix plus the script's path below it
	pathInfo   string // PATH_INFO: the rest of the path
	docRoot    string // DOCUMENT_ROOT: root, or the single script's directory
}

// find maps r's path to a script: 404 for no script (a directory, a
// missing or non-executable file, a symlink that leaves root), 403 for an
// encoded slash, which would name another split than the one the path
// shows (Apache's AllowEncodedSlashes Off answers 404 too).
func (h *Handler) find(r *core.Request) (target, core.Status) {
	rest := r.Path
	if h.prefix != "" {
		rest = strings.TrimPrefix(rest, h.prefix)
	}
	if p, _, _ := strings.Cut(r.URI, "?"); strings.Contains(strings.ToLower(p), "%2f") {
		return target{}, http.StatusNotFound
	}
	if h.script != "" {
		return target{file: h.script, scriptName: h.prefix, pathInfo: rest, docRoot: filepath.Dir(h.script)}, core.OK
	}
	// The first segment that is a file is the script; the path is clean
	// (no dot segments, no empty ones), so joining cannot climb out, and
	// symlinks are resolved and held to root.
	segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	file := h.root
	for i, seg := range segs {
		if seg == "" {
			break
		}
		if seg[0] == '.' {
			return target{}, http.StatusNotFound // .git, .htaccess, editor files: never run
		}
		file = filepath.Join(file, seg)
		fi, err := os.Lstat(file)
		if err != nil {
			return target{}, http.StatusNotFound
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			real, err := filepath.EvalSymlinks(file)
			if err != nil || (real != h.root && !strings.HasPrefix(real, h.root+string(filepath.Separator))) {
				return target{}, http.StatusNotFound
			}
			if fi, err = os.Stat(real); err != nil {
				return target{}, http.StatusNotFound
			}
			file = real
		}
		if fi.IsDir() {
			continue
		}
		if runnable(file) != nil {
			return target{}, http.StatusNotFound
		}
		name := "/" + strings.Join(segs[:i+1], "/")
		info := ""
		if i+1 < len(segs) {
			info = "/" + strings.Join(segs[i+1:], "/")
		}
		return target{file: file, scriptName: h.prefix + name, pathInfo: info, docRoot: h.root}, core.OK
	}
	return target{}, http.StatusNotFound
}
