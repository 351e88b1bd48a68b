package cgi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// slots bound the scripts running at once for one handler across every
// process that serves it: Apache's children each build their own handler,
// so a count in memory would allow max_concurrent per child. A slot is an
// exclusive flock on one of n files; the kernel drops it when its process
// ends, so a crashed child frees its slots.
type slots struct {
	dir string
	n   int
}

func newSlots(key string, n int) (*slots, error) {
	sum := sha256.Sum256([]byte(key))
	dir := filepath.Join(os.TempDir(), "anyhost-cgi-slots", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("max_concurrent: %w", err)
	}
	// Every user the handler may run as (root at start, www-data in
	// Apache's children) takes slots in the same files.
	os.Chmod(filepath.Dir(dir), 0o777)
	os.Chmod(dir, 0o777)
	return &slots{dir: dir, n: n}, nil
}

// take returns a slot's release, or false when all n are taken.
func (s *slots) take() (release func(), ok bool) {
	for i := range s.n {
		name := filepath.Join(s.dir, fmt.Sprintf("slot-%d", i))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			continue
		}
		os.Chmod(name, 0o666)
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue
		}
		return func() { f.Close() }, true // closing drops the lock
	}
	return nil, false
}
