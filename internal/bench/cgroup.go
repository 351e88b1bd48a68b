package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A target's processes can run in a cgroup (v2) of their own. Its cpu.stat
// counts the CPU of every process that was ever in it, also of those that
// exited and were reaped without a wait() that would add their time to a
// parent's cutime/cstime: mod_cgid's CGI programs are such processes, and
// the /proc tree sums of procstat.go never see them. usage_usec is also
// exact where /proc counts 10 ms ticks.

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems).
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) >= 5 && len(qf) >= 1 && qf[0] == "cgroup2" {
			return pf[4], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup2 file system mounted")
}

// newCgroup creates an empty cgroup for one target (name must be unique in
// the run) and returns its directory.
func newCgroup(name string) (string, error) {
	mnt, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(mnt, fmt.Sprintf("anyhost-bench-%d-%s", os.Getpid(), slugRe.ReplaceAllString(name, "_")))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	if _, err := cgroupUsageUs(dir); err != nil {
		_ = os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// cgroupUsageUs reads usage_usec from the cgroup's cpu.stat: the CPU time,
// in microseconds, of all processes that have run in it.
func cgroupUsageUs(dir string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s/cpu.stat: no usage_usec", dir)
}

// cgroupProcs lists the live processes in the cgroup.
func cgroupProcs(dir string) []int {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeCgroup removes an empty cgroup, waiting a moment for exiting
// processes to leave it.
func removeCgroup(dir string) error {
	var err error
	for deadline := time.Now().Add(2 * time.Second); ; {
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup: %w (processes left: %v)", err, cgroupProcs(dir))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settleCgroup waits (up to 10 s) until the processes in cgroup are idle:
// after a bcrypt row, requests wrk gave up on are still being hashed, and
// that CPU belongs to no other row. A Running.Check calls it.
func settleCgroup(cgroup string) {
	if cgroup == "" {
		return
	}
	prev, err := cgroupUsageUs(cgroup)
	for deadline := time.Now().Add(10 * time.Second); err == nil && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		var cur int64
		if cur, err = cgroupUsageUs(cgroup); err == nil && cur-prev < 10_000 { // < 10% of a core
			return
		}
		prev = cur
	}
}
