package basic

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/anyhost/anyhost/core"
)

// TrustedProxies are the peers whose X-Forwarded-For / X-Real-IP headers
// are believed. Anyone else could write any address there, so with no
// trusted proxies the peer's own address is the client.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads addresses and CIDR prefixes ("127.0.0.1",
// "10.0.0.0/8", "::1").
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (t TrustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address of the client that sent r. When the peer is a
// trusted proxy, X-Forwarded-For is read from the right (the entries a
// proxy appended) and the first address that is not itself a trusted proxy
// is the client; without X-Forwarded-For, X-Real-IP is used. Left-most
// entries are never believed: the client writes them.
func ClientIP(r *core.Request, trusted TrustedProxies) string {
	peer := hostOf(r.RemoteAddr)
	addr, err := netip.ParseAddr(peer)
	if err != nil || len(trusted) == 0 || !trusted.contains(addr) {
		return peer
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(hostOf(strings.TrimSpace(hops[i])))
			if err != nil {
				// A malformed hop: stop at the last address we could trust.
				return client
			}
			client = a.Unmap().String()
			if !trusted.contains(a) {
				return client
			}
		}
		return client
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-Ip"))); err == nil {
		return a.Unmap().String()
	}
	return peer
}

// hostOf strips a port from "ip:port" or "[v6]:port"; a bare address is
// returned as it is.
func hostOf(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
