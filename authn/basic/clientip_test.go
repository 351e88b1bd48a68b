package basic_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

func TestParseTrustedProxies(t *testing.T) {
	tp, err := basic.ParseTrustedProxies([]string{"127.0.0.1", "10.0.0.0/8", "::1", " 192.168.1.7/24 "})
	require.NoError(t, err)
	assert.Len(t, tp, 4)
	assert.Equal(t, "192.168.1.0/24", tp[3].String())
	_, err = basic.ParseTrustedProxies([]string{"proxy.example.org"})
	assert.ErrorContains(t, err, `"proxy.example.org" is neither an address nor a CIDR prefix`)
}

func TestClientIP(t *testing.T) {
	trusted, err := basic.ParseTrustedProxies([]string{"127.0.0.1", "10.0.0.0/8"})
	require.NoError(t, err)
	tests := []struct {
		name    string
		peer    string
		xff     []string
		realIP  string
		trusted basic.TrustedProxies
		want    string
	}{
		{"no proxies: the peer", "127.0.0.1:4000", []string{"1.2.3.4"}, "", nil, "127.0.0.1"},
		{"untrusted peer: its header is ignored", "203.0.113.9:4000", []string{"1.2.3.4"}, "5.6.7.8", trusted, "203.0.113.9"},
		{"trusted peer: right-most untrusted hop", "127.0.0.1:4000", []string{"6.6.6.6, 198.51.100.2, 10.1.2.3"}, "", trusted, "198.51.100.2"},
		{"a forged left-most entry is not believed", "127.0.0.1:4000", []string{"1.1.1.1", "198.51.100.2"}, "", trusted, "198.51.100.2"},
		{"every hop trusted: the left-most", "127.0.0.1:4000", []string{"10.0.0.1, 10.0.0.2"}, "", trusted, "10.0.0.1"},
		{"malformed hop stops the walk", "127.0.0.1:4000", []string{"198.51.100.2, garbage"}, "", trusted, "127.0.0.1"},
		{"X-Real-IP when no X-Forwarded-For", "127.0.0.1:4000", nil, "198.51.100.7", trusted, "198.51.100.7"},
		{"bad X-Real-IP: the peer", "127.0.0.1:4000", nil, "nope", trusted, "127.0.0.1"},
		{"v6 peer", "[::1]:4000", nil, "", trusted, "::1"},
		{"bare address peer", "198.51.100.3", nil, "", trusted, "198.51.100.3"},
		{"v4-mapped hop", "127.0.0.1:4000", []string{"::ffff:198.51.100.4"}, "", trusted, "198.51.100.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := hosttest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.realIP != "" {
				r.Header.Set("X-Real-Ip", tt.realIP)
			}
			assert.Equal(t, tt.want, basic.ClientIP(r, tt.trusted))
		})
	}
}
