package demo

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/core"
)

// The recorder lets tests see which phases ran, in which order, on any host:
// stack it on every phase; each run appends "ID PHASE" to the file, where ID
// is the request's X-Request-Id header. It returns Declined, so it never
// changes a phase's outcome.

type recorder struct{ path string }

func newRecorder(o core.Options) (core.Handler, error) {
	if err := o.Check("file"); err != nil {
		return nil, err
	}
	if _, err := o.Required("file"); err != nil {
		return nil, err
	}
	return recorder{o.Path("file")}, nil
}

func (rec recorder) Handle(r *core.Request) core.Status {
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		return core.Declined
	}
	// O_APPEND keeps whole short lines intact when several processes (Apache
	// prefork children) record into one file.
	f, err := os.OpenFile(rec.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		r.Log().Error().Err(err).Msg("demo.record: cannot open the record file")
		return core.Declined
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s\n", id, r.Phase())
	return core.Declined
}

// fixedStatus returns one status; tests stack it to check each phase's
// stacking rule on every host.
type fixedStatus struct {
	st    core.Status
	write string
	user  string
	// code is the response's status for a handler that answers (OK,
	// Done); header and errHeader are added to ResponseHeader and
	// ErrHeader.
	code              int
	header, errHeader http.Header
}

func newStatus(o core.Options) (core.Handler, error) {
	if err := o.Check("status", "write", "user", "code", "header", "err_header"); err != nil {
		return nil, err
	}
	code, err := o.Int("code", 0)
	if err != nil {
		return nil, err
	}
	header, err := headerLines(o.String("header", ""))
	if err != nil {
		return nil, fmt.Errorf("option header: %w", err)
	}
	errHeader, err := headerLines(o.String("err_header", ""))
	if err != nil {
		return nil, fmt.Errorf("option err_header: %w", err)
	}
	s, err := o.Required("status")
	if err != nil {
		return nil, err
	}
	var st core.Status
	switch strings.ToLower(s) {
	case "ok":
		st = core.OK
	case "declined":
		st = core.Declined
	case "done":
		st = core.Done
	default:
		n, err := strconv.Atoi(s)
		if err != nil || !core.Status(n).IsHTTP() {
			return nil, fmt.Errorf("option status: %q is not ok, declined, done or an HTTP code", s)
		}
		st = core.Status(n)
	}
	return fixedStatus{st: st, write: o.String("write", ""), user: o.String("user", ""), code: code, header: header, errHeader: errHeader}, nil
}

// headerLines reads "Name: value" items separated by "||", one header
// each (a name may repeat). Not newlines: Apache's configuration, which
// carries the options in-process, cannot hold them.
func headerLines(s string) (http.Header, error) {
	h := http.Header{}
	for _, line := range strings.Split(s, "||") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is not a \"Name: value\" line", line)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return h, nil
}

func (f fixedStatus) Handle(r *core.Request) core.Status {
	if f.user != "" {
		r.User, r.AuthType = f.user, "Demo"
	}
	for k, vs := range f.header {
		r.ResponseHeader[k] = append(r.ResponseHeader[k], vs...)
	}
	for k, vs := range f.errHeader {
		r.ErrHeader()[k] = append(r.ErrHeader()[k], vs...)
	}
	if f.code != 0 {
		r.Status = f.code
	}
	if f.write != "" {
		r.WriteString(f.write)
	}
	return f.st
}
