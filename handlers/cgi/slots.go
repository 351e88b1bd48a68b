package cgi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// slots bound the scripts running at once for one handler across every
// process that serves it: Apache's children each build their own handler,
// so a count in memory would allow max_concurrent per child. A slot is an
// exclusive flock on one of n files; the kernel drops it when its process
// ends, so a crashed child frees its slots.
//
// The files live in a directory of the user the handler runs as (Apache's
// children all run as one), mode 0700: no other user can hold a slot, or
// plant a symlink where a slot file is created.
type slots struct {
	dir string
	n   int
}

func newSlots(key string, n int) (*slots, error) {
	sum := sha256.Sum256([]byte(key))
	base := filepath.Join(os.TempDir(), "anyhost-cgi-slots-"+strconv.Itoa(os.Getuid()))
	if err := ownDir(base); err != nil {
		return nil, fmt.Errorf("max_concurrent: %w", err)
	}
	dir := filepath.Join(base, hex.EncodeToString(sum[:8]))
	if err := ownDir(dir); err != nil {
		return nil, fmt.Errorf("max_concurrent: %w", err)
	}
	return &slots{dir: dir, n: n}, nil
}

// ownDir makes dir (mode 0700) or checks that the one there is a real
// directory of ours that nobody else can write.
func ownDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is not a directory of this user's with mode 0700", dir)
	}
	return nil
}

// take returns a slot's release, or false when all n are taken.
func (s *slots) take() (release func(), ok bool) {
	for i := range s.n {
		name := filepath.Join(s.dir, "slot-"+strconv.Itoa(i))
		fd, err := syscall.Open(name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			continue
		}
		if syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			syscall.Close(fd)
			continue
		}
		return func() { syscall.Close(fd) }, true // closing drops the lock
	}
	return nil, false
}
