package listen

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeConn struct {
	busy   atomic.Bool
	closed atomic.Bool
}

func (c *fakeConn) CloseIfIdle() {
	if !c.busy.Load() {
		c.closed.Store(true)
	}
}

func (c *fakeConn) Close() error { c.closed.Store(true); return nil }

func TestConnsShutdown(t *testing.T) {
	var s Conns[*fakeConn]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.True(t, s.AddListener(ln))
	idle, busy := &fakeConn{}, &fakeConn{}
	busy.busy.Store(true)
	require.True(t, s.Add(idle))
	require.True(t, s.Add(busy))

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	<-s.Closing()
	assert.True(t, s.ShuttingDown())
	require.Eventually(t, idle.closed.Load, 5*time.Second, time.Millisecond, "idle connections close at once")
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "listeners are closed")
	assert.False(t, s.Add(&fakeConn{}), "no connection joins a shutdown")
	assert.False(t, busy.closed.Load(), "a busy connection is waited for")

	busy.busy.Store(false)
	s.Remove(idle)
	require.Eventually(t, busy.closed.Load, 5*time.Second, time.Millisecond)
	s.Remove(busy)
	assert.NoError(t, <-done)
}

func TestConnsShutdownDeadline(t *testing.T) {
	var s Conns[*fakeConn]
	busy := &fakeConn{}
	busy.busy.Store(true)
	require.True(t, s.Add(busy))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.Shutdown(ctx), context.Canceled)
	assert.True(t, busy.closed.Load(), "when time is up every connection is closed")
	assert.False(t, s.AddListener(nil))
}
