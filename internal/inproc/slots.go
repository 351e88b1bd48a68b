package inproc

import "sync"

// Slots hold the states C keeps a handle to. A handle is the slot's index
// plus one in its low 32 bits and the slot's generation above them, so a
// handle C (or a queued notice) still has after its state was dropped
// finds nothing, never the request that reuses the slot.
type Slots[T any] struct {
	mu    sync.Mutex
	items []*T
	gens  []uint32
	free  []int
}

// Put stores v and returns its handle, never 0.
func (s *Slots[T]) Put(v *T) uintptr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var i int
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
		s.items[i] = v
	} else {
		i = len(s.items)
		s.items = append(s.items, v)
		s.gens = append(s.gens, 0)
	}
	return uintptr(s.gens[i])<<32 | uintptr(i+1)
}

func (s *Slots[T]) index(h uintptr) int {
	i := int(h&0xffffffff) - 1
	if i < 0 || i >= len(s.items) || s.items[i] == nil || uintptr(s.gens[i]) != h>>32 {
		return -1
	}
	return i
}

// Get returns the value behind h, or nil.
func (s *Slots[T]) Get(h uintptr) *T {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.index(h); i >= 0 {
		return s.items[i]
	}
	return nil
}

// Drop removes and returns the value behind h (nil if none).
func (s *Slots[T]) Drop(h uintptr) *T {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.index(h)
	if i < 0 {
		return nil
	}
	v := s.items[i]
	s.items[i] = nil
	s.gens[i]++
	s.free = append(s.free, i)
	return v
}
