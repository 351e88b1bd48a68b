package main

import (
	"fmt"
	"sync"
)

// shared is one server instance that all rows of a group use: the first
// row's Start starts it, the last row's Stop stops it. A failed start is
// not retried: every row of the group reports the same error.
type shared[T interface {
	comparable
	stop() error
}] struct {
	mu      sync.Mutex
	started bool
	inst    T
	err     error
	refs    int
}

// acquire returns the instance, starting it with start on first use.
func (s *shared[T]) acquire(start func() (T, error)) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		s.inst, s.err = start()
	}
	if s.err != nil {
		var zero T
		return zero, s.err
	}
	s.refs++
	return s.inst, nil
}

// release stops the instance when the last row lets go of it.
func (s *shared[T]) release(what string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	var zero T
	if s.refs > 0 || s.inst == zero {
		return nil
	}
	inst := s.inst
	s.inst, s.err = zero, fmt.Errorf("%s instance already stopped", what)
	return inst.stop()
}
