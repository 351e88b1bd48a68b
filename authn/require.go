package authn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/core"
)

// Require is one require rule, as Apache writes them: "valid-user",
// "user NAME...", "group NAME...", "claim KEY=VALUE...".
type Require struct {
	Kind   string
	Values []string
}

// ParseRequire parses a rule.
func ParseRequire(rule string) (Require, error) {
	f := strings.Fields(rule)
	if len(f) == 0 {
		return Require{}, fmt.Errorf("empty require rule")
	}
	rq := Require{Kind: f[0], Values: f[1:]}
	switch rq.Kind {
	case "valid-user":
		if len(rq.Values) > 0 {
			return rq, fmt.Errorf("require valid-user takes no arguments")
		}
	case "user", "group":
		if len(rq.Values) == 0 {
			return rq, fmt.Errorf("require %s needs at least one name", rq.Kind)
		}
	case "claim":
		if len(rq.Values) == 0 {
			return rq, fmt.Errorf("require claim needs KEY=VALUE")
		}
		for _, v := range rq.Values {
			if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
				return rq, fmt.Errorf("require claim: %q is not KEY=VALUE", v)
			}
		}
	default:
		return rq, fmt.Errorf("unknown require rule %q (valid-user, user, group, claim)", rq.Kind)
	}
	return rq, nil
}

// Authorize implements core.Authorizer for one rule.
func (rq Require) Authorize(r *core.Request) (bool, error) {
	if r.User == "" {
		return false, nil
	}
	switch rq.Kind {
	case "valid-user":
		return true, nil
	case "user":
		return slices.Contains(rq.Values, r.User), nil
	case "group":
		if r.Identity != nil {
			for _, g := range r.Identity.Groups {
				if slices.Contains(rq.Values, g) {
					return true, nil
				}
			}
		}
		return false, nil
	case "claim":
		if r.Identity == nil {
			return false, nil
		}
		for _, kv := range rq.Values {
			k, want, _ := strings.Cut(kv, "=")
			if claimHas(r.Identity.Claims[k], want) {
				return true, nil
			}
		}
	}
	return false, nil
}

func claimHas(v any, want string) bool {
	switch c := v.(type) {
	case string:
		return c == want
	case []string:
		return slices.Contains(c, want)
	case []any:
		for _, e := range c {
			if claimHas(e, want) {
				return true
			}
		}
		return false
	case float64:
		// JSON numbers: 1000000, not fmt's 1e+06.
		return strconv.FormatFloat(c, 'f', -1, 64) == want
	case nil:
		return false
	}
	return fmt.Sprint(v) == want
}

var _ core.Authorizer = Require{}
