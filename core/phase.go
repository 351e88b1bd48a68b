package core

import "fmt"

// Phase is one step of request processing, in Apache's order. mod_python let a
// handler run in each; so does anyhost, on every host that has the phase.
type Phase int

const (
	PostReadRequest Phase = iota // right after the request line and headers are read
	Translate                    // URI to resource; the first non-Declined wins
	HeaderParser                 // early look at headers, once the location is known
	Access                       // host/IP-style checks that need no user
	Authn                        // who is the user (check_user_id)
	Authz                        // may that user have this (auth_checker)
	Fixup                        // last changes before content
	Content                      // the response
	Log                          // after the response; always runs
)

// NumPhases is the number of phases; Phase values are 0..NumPhases-1.
const NumPhases = 9

var phaseNames = [NumPhases]string{
	"post-read-request", "translate", "header-parser", "access", "authn",
	"authz", "fixup", "content", "log",
}

// Phases lists every phase in the order they run.
func Phases() []Phase {
	return []Phase{PostReadRequest, Translate, HeaderParser, Access, Authn, Authz, Fixup, Content, Log}
}

// String returns the phase's name as used in site files ("header-parser").
func (p Phase) String() string {
	if p < 0 || p >= NumPhases {
		return fmt.Sprintf("Phase(%d)", int(p))
	}
	return phaseNames[p]
}

// ParsePhase is the inverse of String.
func ParsePhase(name string) (Phase, error) {
	for i, n := range phaseNames {
		if n == name {
			return Phase(i), nil
		}
	}
	return 0, fmt.Errorf("unknown phase %q", name)
}

// SiteOnly reports whether the phase runs before any location is matched, so
// it can only be configured for the whole site (as Apache allows
// PythonPostReadRequestHandler and PythonTransHandler only at server level).
func (p Phase) SiteOnly() bool { return p == PostReadRequest || p == Translate }

// Stacking says how the handlers stacked on one phase run.
type Stacking int

const (
	// RunAll runs every handler in order; the first status other than OK or
	// Declined ends the phase (post-read-request, header-parser, access,
	// fixup, content).
	RunAll Stacking = iota
	// FirstWins runs handlers until one returns something other than Declined
	// (translate, authn, authz), as Apache's RUN_FIRST hooks do.
	FirstWins
	// Always runs every handler and ignores what they return (log).
	Always
)

// Stacking returns the phase's stacking rule.
func (p Phase) Stacking() Stacking {
	switch p {
	case Translate, Authn, Authz:
		return FirstWins
	case Log:
		return Always
	}
	return RunAll
}
