package wire

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packer writes records the way mod_anyhost.c does.
type packer struct{ b []byte }

func (p *packer) u32(v uint32) { p.b = binary.NativeEndian.AppendUint32(p.b, v) }
func (p *packer) str(s string) { p.u32(uint32(len(s))); p.b = append(p.b, s...) }

func TestReadRequest(t *testing.T) {
	var p packer
	p.u32(2)
	p.u32(7)
	p.b = binary.NativeEndian.AppendUint64(p.b, uint64(12345))
	for _, s := range []string{"POST", "/echo?x=1", "/echo", "x=1", "HTTP/1.1", "example.org", "http", "127.0.0.1:40000", "ann", "Basic", "anyhost"} {
		p.str(s)
	}
	p.u32(2)
	p.str("Accept")
	p.str("*/*")
	p.str("X-Multi")
	p.str("a, b")
	p.u32(1)
	p.str("note")
	p.str("value")

	r := NewReader(p.b)
	var q Request
	r.ReadRequest(&q)
	assert.Equal(t, Request{Kind: 2, LogLevel: 7, ContentLength: 12345, Method: "POST",
		URI: "/echo?x=1", Path: "/echo", Args: "x=1", Proto: "HTTP/1.1", Host: "example.org", Scheme: "http",
		RemoteAddr: "127.0.0.1:40000", User: "ann", AuthType: "Basic", Handler: "anyhost"}, q)
	var hdrs, notes [][2]string
	r.Pairs(func(k, v string) { hdrs = append(hdrs, [2]string{k, v}) })
	r.Pairs(func(k, v string) { notes = append(notes, [2]string{k, v}) })
	require.NoError(t, r.Err())
	assert.Equal(t, [][2]string{{"Accept", "*/*"}, {"X-Multi", "a, b"}}, hdrs)
	assert.Equal(t, [][2]string{{"note", "value"}}, notes)
}

func TestTruncatedRecords(t *testing.T) {
	var p packer
	p.u32(0)
	p.u32(0)
	p.b = binary.NativeEndian.AppendUint64(p.b, 0)
	p.str("GET")
	full := append([]byte(nil), p.b...)
	for n := 0; n < len(full); n++ {
		r := NewReader(full[:n])
		var q Request
		r.ReadRequest(&q)
		assert.ErrorIs(t, r.Err(), ErrTruncated, "cut at %d", n)
	}
	// A string longer than what is left.
	r := NewReader([]byte{0xff, 0, 0, 0, 'a'})
	assert.Equal(t, "", r.String())
	assert.ErrorIs(t, r.Err(), ErrTruncated)
}

func TestWriter(t *testing.T) {
	var w Writer
	w.Status(404)
	w.Op(OpHeaderAdd, "Content-Type", "text/plain")
	w.Body([]byte("hi"))
	r := NewReader(w.Buf)
	var ops []string
	for len(r.b) > 0 {
		op := r.b[0]
		r.b = r.b[1:]
		k, v := r.String(), r.String()
		ops = append(ops, string(op)+"|"+k+"|"+v)
	}
	require.NoError(t, r.Err())
	assert.Equal(t, []string{"S||404", "H|Content-Type|text/plain", "B||hi"}, ops)
	w.Reset()
	assert.Empty(t, w.Buf)
}

func TestReadSpecs(t *testing.T) {
	var p packer
	p.str("/etc/apache2")
	p.u32(2)
	p.u32(0)
	p.u32(SpecHandler)
	p.u32(7)
	p.str("demo.hello")
	p.str("/cgi")
	p.u32(1)
	p.str("k")
	p.str("v")
	p.u32(1)
	p.u32(SpecProvider)
	p.u32(4)
	p.str("staff")
	p.str("")
	p.u32(2)
	p.str("provider")
	p.str("htpasswd?file=a")
	p.str("provider")
	p.str("demo.users")
	root, specs, err := ReadSpecs(p.b)
	require.NoError(t, err)
	assert.Equal(t, "/etc/apache2", root)
	assert.Equal(t, []Spec{
		{ID: 0, Kind: SpecHandler, Phase: 7, Name: "demo.hello", Location: "/cgi", Options: [][2]string{{"k", "v"}}},
		{ID: 1, Kind: SpecProvider, Phase: 4, Name: "staff", Options: [][2]string{{"provider", "htpasswd?file=a"}, {"provider", "demo.users"}}},
	}, specs)
	_, _, err = ReadSpecs(p.b[:len(p.b)-3])
	assert.ErrorIs(t, err, ErrTruncated)
}
