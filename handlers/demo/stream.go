package demo

import (
	"fmt"

	"github.com/anyhost/anyhost/core"
)

// StreamByte is the content of byte i of what demo.stream sends, so a
// client can check every byte without holding a copy.
func StreamByte(i int) byte { return byte(i % 251) }

// newStream answers with chunks × size bytes, flushing after each chunk:
// a streamed response, as a handler writing a large export would send it.
func newStream(o core.Options) (core.Handler, error) {
	if err := o.Check("chunks", "size"); err != nil {
		return nil, err
	}
	chunks, err := o.Int("chunks", 64)
	if err != nil {
		return nil, err
	}
	size, err := o.Int("size", 64<<10)
	if err != nil {
		return nil, err
	}
	if chunks < 1 || size < 1 || chunks*size > 1<<30 {
		return nil, fmt.Errorf("options chunks and size: %d x %d is not 1 byte to 1 GiB", chunks, size)
	}
	return core.HandlerFunc(func(r *core.Request) core.Status {
		r.ResponseHeader.Set("Content-Type", "application/octet-stream")
		buf := make([]byte, size)
		for c := range chunks {
			for i := range buf {
				buf[i] = StreamByte(c*size + i)
			}
			if _, err := r.Write(buf); err != nil {
				return core.Done // the client went away
			}
			if err := r.Flush(); err != nil {
				return core.Done
			}
		}
		return core.OK
	}), nil
}
