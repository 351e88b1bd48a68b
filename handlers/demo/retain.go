package demo

import (
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/anyhost/anyhost/core"
)

// retainer keeps the strings of every request it serves, as handlers may
// (a map key, a lock token, a late log line), and checks on request that
// none of them changed since: a host that hands out strings over memory it
// reuses fails the check. GET ...?check answers {"kept": N, "changed": M,
// "example": "..."} for what this process (Apache child) kept.
type retainer struct {
	mu   sync.Mutex
	kept []retained
	max  int
}

type retained struct {
	s   string
	sum [32]byte
}

func newRetainer(o core.Options) (core.Handler, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	return &retainer{max: 200000}, nil
}

// RetainReport is what a check answers.
type RetainReport struct {
	Kept    int    `json:"kept"`
	Changed int    `json:"changed"`
	Example string `json:"example,omitempty"`
}

func (h *retainer) Handle(r *core.Request) core.Status {
	if r.RawQuery == "check" {
		var rep RetainReport
		h.mu.Lock()
		rep.Kept = len(h.kept)
		for _, k := range h.kept {
			if sha256.Sum256([]byte(k.s)) != k.sum {
				if rep.Changed == 0 {
					rep.Example = k.s
				}
				rep.Changed++
			}
		}
		h.mu.Unlock()
		b, _ := json.Marshal(rep)
		r.ResponseHeader.Set("Content-Type", "application/json")
		r.Write(b)
		return core.OK
	}
	hr := r.HTTPRequest()
	keep := []string{r.Method, r.URI, r.Path, r.RawQuery, r.Host, r.RemoteAddr, r.User, r.AuthType,
		hr.URL.Path, hr.RequestURI, hr.Host}
	for k, vs := range r.Header {
		keep = append(keep, k)
		keep = append(keep, vs...)
	}
	for k, v := range r.Notes() {
		keep = append(keep, k, v)
	}
	h.mu.Lock()
	for _, s := range keep {
		if s != "" && len(h.kept) < h.max {
			h.kept = append(h.kept, retained{s, sha256.Sum256([]byte(s))})
		}
	}
	h.mu.Unlock()
	r.ResponseHeader["Content-Type"] = textPlain
	r.WriteString("kept")
	return core.OK
}
