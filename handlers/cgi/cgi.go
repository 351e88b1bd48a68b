// Package cgi is a content handler that runs existing CGI/1.1 scripts
// (RFC 3875) of any language behind every host, nginx included: what
// mod_python's cgihandler was for old scripts, and what fcgiwrap is for
// nginx.
//
// Options:
//   - root: a directory of scripts; the path below the location names the
//     script, and what follows it is PATH_INFO, as Apache splits them.
//   - script: one script for the whole location; the path below the
//     location is PATH_INFO. Exactly one of root and script.
//   - timeout: how long a script may run (default 30s); then its whole
//     process group is killed and the answer is 504.
//   - max_concurrent: scripts running at once (default 16), counted over
//     every process serving the location (each Apache child builds its
//     own handler); past it, 503 with Retry-After.
//   - pass_auth: pass HTTP_AUTHORIZATION to scripts (default false, as
//     Apache without CGIPassAuth).
//
// Scripts start with an empty signal mask, default signal dispositions, no
// descriptor but 0-2, a process group of their own and only the CGI
// variables plus PATH as environment (internal/spawn): whatever the host
// process holds (Apache's blocked signals, nginx's sockets, a DSN in the
// environment) never reaches them. No shell runs and nothing from the
// request reaches an argv.
package cgi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anyhost/anyhost/core"
)

func init() {
	core.Register("cgi", "run CGI/1.1 scripts (options root or script, timeout, max_concurrent, pass_auth)", New)
}

// Handler runs the scripts of one location.
type Handler struct {
	root     string // absolute, symlinks resolved; "" with script
	script   string // absolute; "" with root
	prefix   string // the location's prefix, SCRIPT_NAME's start
	timeout  time.Duration
	slots    *slots
	passAuth bool
}

// New builds a Handler from its options.
func New(o core.Options) (core.Handler, error) {
	if err := o.Check("root", "script", "timeout", "max_concurrent", "pass_auth"); err != nil {
		return nil, err
	}
	h := &Handler{prefix: strings.TrimSuffix(o.Location, "/")}
	var err error
	if h.timeout, err = o.Duration("timeout", 30*time.Second); err != nil {
		return nil, err
	}
	n, err := o.Int("max_concurrent", 16)
	if err != nil {
		return nil, err
	}
	if n <= 0 || h.timeout <= 0 {
		return nil, errors.New("timeout and max_concurrent must be positive")
	}
	if h.passAuth, err = o.Bool("pass_auth", false); err != nil {
		return nil, err
	}
	root, script := o.Path("root"), o.Path("script")
	switch {
	case (root == "") == (script == ""):
		return nil, errors.New("give exactly one of the options root and script")
	case root != "":
		if root, err = filepath.Abs(root); err == nil {
			root, err = filepath.EvalSymlinks(root)
		}
		if err != nil {
			return nil, fmt.Errorf("option root: %w", err)
		}
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("option root: %s is not a directory", root)
		}
		h.root = root
	default:
		if script, err = filepath.Abs(script); err != nil {
			return nil, fmt.Errorf("option script: %w", err)
		}
		if err := runnable(script); err != nil {
			return nil, fmt.Errorf("option script: %w", err)
		}
		h.script = script
	}
	if h.slots, err = newSlots(h.root+"\x00"+h.script+"\x00"+h.prefix, n); err != nil {
		return nil, err
	}
	return h, nil
}

// runnable checks that path is an executable regular file.
func runnable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

// Handle implements core.Handler.
func (h *Handler) Handle(r *core.Request) core.Status {
	s, st := h.find(r)
	if st != core.OK {
		return st
	}
	stdin, st := spool(r)
	if st != core.OK {
		return st
	}
	defer stdin.Close()
	release, ok := h.slots.take()
	if !ok {
		r.ErrHeader().Set("Retry-After", "1")
		r.Log().Warn().Int("max_concurrent", h.slots.n).Str("script", s.file).Msg("cgi: too many scripts running: 503")
		return http.StatusServiceUnavailable
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	return h.run(ctx, r, s, stdin)
}

// Interface guard.
var _ core.Handler = (*Handler)(nil)
