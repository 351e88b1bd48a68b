package basic

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/core"
)

// ThrottleMode is what happens to an attempt once the failures counted for
// its user or client reach the limit.
type ThrottleMode int

const (
	// ThrottleReject answers 429 Too Many Requests with Retry-After, without
	// checking the password.
	ThrottleReject ThrottleMode = iota
	// ThrottleForbid answers 403 without checking the password: the only
	// refusal besides 401 that nginx's auth_request passes on.
	ThrottleForbid
	// ThrottleDelay waits Delay, then checks the password as usual: a
	// legitimate user still gets in, a guesser gets one try per Delay per
	// connection.
	ThrottleDelay
)

// ParseThrottleMode reads "429", "403" or "delay".
func ParseThrottleMode(s string) (ThrottleMode, error) {
	switch s {
	case "429", "":
		return ThrottleReject, nil
	case "403":
		return ThrottleForbid, nil
	case "delay":
		return ThrottleDelay, nil
	}
	return 0, fmt.Errorf("throttle mode %q: use \"429\", \"403\" or \"delay\"", s)
}

// Throttle counts failed logins per user name and per client address and
// slows down or refuses attempts past a limit.
type Throttle struct {
	Store store.FailureCounter
	// MaxUser and MaxClient are the failures allowed per user name and per
	// client address; 0 turns that count off.
	MaxUser, MaxClient int64
	// Window: counts are forgotten this long after the last failure.
	Window time.Duration
	Mode   ThrottleMode
	// Delay is the wait of ThrottleDelay.
	Delay time.Duration
	// FailOpen decides what happens when the store cannot be reached: false
	// (the default) answers 503, true checks passwords without throttling.
	// Never a grant without a check either way.
	FailOpen bool
	// Trusted decides whose X-Forwarded-For is believed for the client
	// address.
	Trusted TrustedProxies
}

// ErrThrottled is wrapped by the StatusError of a throttled attempt.
var ErrThrottled = errors.New("basic: too many failed attempts")

// counts are the failure counters of one attempt, computed once per login.
type counts struct {
	client        string
	user, address string // store keys
}

func (t *Throttle) counts(r *core.Request, user string) counts {
	client := ClientIP(r, t.Trusted)
	return counts{client: client, user: "fail:u:" + user, address: "fail:c:" + client}
}

// limitKey is a store key and the failures allowed under it (0: not
// counted).
type limitKey struct {
	key string
	max int64
}

// keys are the counts an attempt is throttled by: its user's and its
// client address's.
func (t *Throttle) keys(c counts) [2]limitKey {
	return [2]limitKey{{c.user, t.MaxUser}, {c.address, t.MaxClient}}
}

// admit decides whether an attempt for user may be checked. It returns a
// StatusError to answer with instead, or nil.
func (t *Throttle) admit(r *core.Request, user string, c counts) error {
	ctx := r.Context()
	over := false
	for _, k := range t.keys(c) {
		if k.max <= 0 {
			continue
		}
		n, err := t.Store.Failures(ctx, k.key)
		if err != nil {
			if t.FailOpen {
				r.Log().Warn().Err(err).Msg("throttle store unavailable; checking the password without throttling (fail open)")
				return nil
			}
			return &authn.StatusError{Status: http.StatusServiceUnavailable, Err: fmt.Errorf("throttle store unavailable (fail closed): %w", err)}
		}
		if n >= k.max {
			over = true
		}
	}
	if !over {
		return nil
	}
	r.Observer().Throttled(t.Mode != ThrottleDelay)
	switch t.Mode {
	case ThrottleDelay:
		timer := time.NewTimer(t.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		r.Log().Info().Str("user", user).Str("client", c.client).Stringer("delay", t.Delay).Msg("authentication throttled: attempt delayed")
		return nil
	case ThrottleForbid:
		return &authn.StatusError{Status: http.StatusForbidden, Err: ErrThrottled}
	}
	h := http.Header{"Retry-After": {strconv.Itoa(int((t.Window + time.Second - 1) / time.Second))}}
	return &authn.StatusError{Status: http.StatusTooManyRequests, Header: h, Err: ErrThrottled}
}

// failed counts a failed attempt; store errors are logged (the attempt is
// refused anyway).
func (t *Throttle) failed(r *core.Request, c counts) {
	for _, k := range t.keys(c) {
		if k.max <= 0 {
			continue
		}
		if _, err := t.Store.AddFailure(r.Context(), k.key, t.Window); err != nil {
			r.Log().Warn().Err(err).Msg("throttle store unavailable; failure not counted")
		}
	}
}

// succeeded forgets the user's failures. The client's count stays: one
// account of its own must not let a guesser reset its address's count.
func (t *Throttle) succeeded(r *core.Request, c counts) {
	if t.MaxUser <= 0 {
		return
	}
	if err := t.Store.ResetFailures(r.Context(), c.user); err != nil {
		r.Log().Warn().Err(err).Msg("throttle store unavailable; failures not reset")
	}
}
