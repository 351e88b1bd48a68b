package demo

import (
	"fmt"
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
}

func newStatus(o core.Options) (core.Handler, error) {
	if err := o.Check("status", "write", "user"); err != nil {
		return nil, err
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
	return fixedStatus{st, o.String("write", ""), o.String("user", "")}, nil
}

func (f fixedStatus) Handle(r *core.Request) core.Status {
	if f.user != "" {
		r.User, r.AuthType = f.user, "Demo"
	}
	if f.write != "" {
		r.WriteString(f.write)
	}
	return f.st
}
