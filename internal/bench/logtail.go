package main

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// logFollower hands out the whole lines appended to a log file since the
// last call: the rows of an instance run one after another, so what a host
// logged belongs to the row just measured.
type logFollower struct {
	mu   sync.Mutex
	path string
	off  int64 // bytes already handed out
}

// newLines returns the complete lines written since the last call; a
// partial last line waits for the next call.
func (l *logFollower) newLines() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(l.off, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	l.off += int64(len(b))
	return b, nil
}
