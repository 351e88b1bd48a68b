package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sink is an output that records its writes and can be made to block.
type sink struct {
	mu      sync.Mutex
	b       bytes.Buffer
	writes  int
	gate    chan struct{} // when set, each write waits for a receive
	entered chan struct{} // with gate: told when a write waits
}

func (s *sink) Write(p []byte) (int, error) {
	if s.gate != nil {
		s.entered <- struct{}{}
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *sink) text() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.writes
}

func dropLine(n int) []byte { return fmt.Appendf(nil, "dropped %d\n", n) }

func TestLinesArriveInOneWriteWithinTheDelay(t *testing.T) {
	out := &sink{}
	w := New(out, 20*time.Millisecond, 1<<20, dropLine)
	defer w.Close()
	for i := range 100 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	text, _ := out.text()
	assert.Empty(t, text, "nothing written by the caller")
	assert.Eventually(t, func() bool { s, _ := out.text(); return strings.Count(s, "\n") == 100 },
		time.Second, 5*time.Millisecond)
	text, writes := out.text()
	assert.Equal(t, 1, writes, "one batch")
	assert.True(t, strings.HasPrefix(text, "line 0\nline 1\n") && strings.HasSuffix(text, "line 99\n"), "in order")
}

func TestFlushWritesEverythingBeforeIt(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour, 1<<20, dropLine)
	defer w.Close()
	fmt.Fprint(w, "a\n")
	fmt.Fprint(w, "b\n")
	w.Flush()
	text, _ := out.text()
	assert.Equal(t, "a\nb\n", text)
}

func TestCloseFlushesThenWritesThrough(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour, 1<<20, dropLine)
	fmt.Fprint(w, "before\n")
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "twice is harmless")
	fmt.Fprint(w, "after\n")
	text, _ := out.text()
	assert.Equal(t, "before\nafter\n", text)
}

func TestStalledOutputDropsAndCounts(t *testing.T) {
	out := &sink{gate: make(chan struct{}), entered: make(chan struct{}, 3)}
	w := New(out, time.Millisecond, 64, dropLine)
	fmt.Fprint(w, "first\n")
	// The goroutine takes "first" and blocks in out.Write; the queue then
	// holds 64 bytes and no more, and the callers never wait.
	<-out.entered
	line := strings.Repeat("x", 15) + "\n"
	done := make(chan struct{})
	go func() {
		for range 10 {
			fmt.Fprint(w, line)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a Write waited for the stalled output")
	}
	go func() {
		for range 3 {
			out.gate <- struct{}{}
		}
	}()
	require.NoError(t, w.Close())
	text, _ := out.text()
	assert.Equal(t, "first\n"+strings.Repeat(line, 4)+"dropped 6\n", text)
}
