package core

import (
	"net/http"
	"strconv"
)

// Status is what a handler returns: one of the three mod_python verdicts or an
// HTTP status code. The verdicts keep mod_python's (and Apache's) values, so a
// port from mod_python reads the same.
type Status int

const (
	// OK means the handler did its work; what happens next depends on the
	// phase's stacking rule (see Phase.Stacking).
	OK Status = 0
	// Declined means the handler did not act; the next handler (or the
	// host's default) gets the chance.
	Declined Status = -1
	// Done means the response is complete: every remaining phase except log is
	// skipped.
	Done Status = -2
)

// IsHTTP reports whether s is an HTTP status code (100-599) rather than a
// verdict.
func (s Status) IsHTTP() bool { return s >= 100 && s <= 599 }

// String names verdicts and formats HTTP codes as "404 Not Found".
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Declined:
		return "DECLINED"
	case Done:
		return "DONE"
	}
	if s.IsHTTP() {
		if text := http.StatusText(int(s)); text != "" {
			return strconv.Itoa(int(s)) + " " + text
		}
		return strconv.Itoa(int(s))
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}
