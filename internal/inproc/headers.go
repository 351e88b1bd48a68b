package inproc

import (
	"net/http"
	"net/textproto"
)

// Headers fills an http.Header from a request record's pairs. Values are
// slices of one reused array, so filling allocates nothing once the
// arrays have grown.
type Headers struct {
	Map  http.Header
	vals []string
}

// Reset empties the header for the next record.
func (h *Headers) Reset() {
	if h.Map == nil {
		h.Map = make(http.Header)
	}
	clear(h.Map)
	h.vals = h.vals[:0]
}

// Add adds a request header, keeping Host out of the map as net/http does.
func (h *Headers) Add(k, v string) {
	k = textproto.CanonicalMIMEHeaderKey(k)
	if k == "Host" {
		return
	}
	h.vals = append(h.vals, v)
	n := len(h.vals)
	if old, ok := h.Map[k]; ok {
		// A repeated header is rare: its own array.
		h.Map[k] = append(old[:len(old):len(old)], v)
		return
	}
	h.Map[k] = h.vals[n-1 : n : n]
}
