package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// clockTicksPerSecond returns the kernel's USER_HZ (`getconf CLK_TCK`), the
// unit of the CPU times in /proc/PID/stat. It is 100 on every Linux build we
// know of, which is also the fallback.
func clockTicksPerSecond() (int64, error) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100, fmt.Errorf("getconf CLK_TCK: %w (assuming 100)", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100, fmt.Errorf("getconf CLK_TCK printed %q (assuming 100)", out)
	}
	return n, nil
}

// procSample is the summed CPU and scheduling counters of a process tree at
// one instant.
type procSample struct {
	// Ticks is utime+stime+cutime+cstime summed over the tree's processes.
	// cutime/cstime (the CPU of children that a process in the tree already
	// reaped) are included so that a worker process exiting during the run
	// keeps its CPU counted: its own utime+stime leave the tree, and its
	// parent's cutime+cstime grow by the same total.
	Ticks uint64
	// Context switches summed over every thread (/proc/PID/task/*/status) of
	// the tree's processes. Threads that exit during a run take their counts
	// with them; Go runtimes rarely retire threads, so this is a small error.
	CtxVoluntary    uint64
	CtxNonvoluntary uint64
	// Tasks holds each thread's counters by TID, for ctxDelta.
	Tasks   map[int]ctxCount
	PIDs    []int // the tree's processes, sorted
	Threads int
	// RSSKiB is the resident memory summed over the tree's processes
	// (VmRSS: shared pages count in each process that maps them).
	RSSKiB uint64
}

type ctxCount struct{ vol, nonvol uint64 }

// ctxDelta returns the context switches between two samples, thread by
// thread: a thread in after but not in before (started during the run)
// counts whole; a thread gone by after (a worker process or thread that
// exited) loses only its switches since before, where differencing the sums
// would lose all it ever had (and could go negative).
func ctxDelta(before, after procSample) (vol, nonvol int64) {
	for tid, a := range after.Tasks {
		b, ok := before.Tasks[tid]
		if !ok || a.vol < b.vol || a.nonvol < b.nonvol { // new, or a reused TID
			b = ctxCount{}
		}
		vol += int64(a.vol - b.vol)
		nonvol += int64(a.nonvol - b.nonvol)
	}
	return vol, nonvol
}

// sampleTree reads the counters of the given root processes and all their
// descendants. Processes that vanish while being read are skipped.
func sampleTree(roots []int) procSample {
	s := procSample{Tasks: map[int]ctxCount{}}
	for _, pid := range processTree(roots) {
		st, err := readStat(pid)
		if err != nil {
			continue // gone
		}
		s.Ticks += st.utime + st.stime + st.cutime + st.cstime
		s.PIDs = append(s.PIDs, pid)
		s.RSSKiB += readRSSKiB(pid)
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
		for _, t := range tasks {
			v, nv, err := readCtxSwitches(t)
			if err != nil {
				continue
			}
			if tid, err := strconv.Atoi(filepath.Base(filepath.Dir(t))); err == nil {
				s.Tasks[tid] = ctxCount{v, nv}
			}
			s.CtxVoluntary += v
			s.CtxNonvoluntary += nv
			s.Threads++
		}
	}
	return s
}

type statFields struct {
	ppid, pgrp                   int
	utime, stime, cutime, cstime uint64
}

// readStat parses /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func readStat(pid int) (statFields, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return statFields{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (statFields, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return statFields{}, fmt.Errorf("malformed stat %q", b)
	}
	// After ')': field 3 (state) is f[0], so field n is f[n-3].
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return statFields{}, fmt.Errorf("short stat %q", b)
	}
	var st statFields
	var err error
	if st.ppid, err = strconv.Atoi(f[4-3]); err != nil {
		return st, fmt.Errorf("stat ppid: %w", err)
	}
	if st.pgrp, err = strconv.Atoi(f[5-3]); err != nil {
		return st, fmt.Errorf("stat pgrp: %w", err)
	}
	for _, x := range []struct {
		field int
		dst   *uint64
	}{{14, &st.utime}, {15, &st.stime}, {16, &st.cutime}, {17, &st.cstime}} {
		if *x.dst, err = strconv.ParseUint(f[x.field-3], 10, 64); err != nil {
			return st, fmt.Errorf("stat field %d: %w", x.field, err)
		}
	}
	return st, nil
}

// readCtxSwitches reads voluntary_ctxt_switches and nonvoluntary_ctxt_switches
// from a /proc/.../status file.
func readCtxSwitches(path string) (vol, nonvol uint64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := 0
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch k {
		case "voluntary_ctxt_switches":
			dst = &vol
		case "nonvoluntary_ctxt_switches":
			dst = &nonvol
		default:
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s %s: %w", path, k, err)
		}
		*dst = n
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("%s: context switch counters missing", path)
	}
	return vol, nonvol, nil
}

// processTree returns roots plus all their live descendants (found by walking
// the ppid of every /proc/*/stat), sorted and without duplicates.
func processTree(roots []int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], pid)
	}
	seen := map[int]bool{}
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if pid <= 0 || seen[pid] {
			continue
		}
		seen[pid] = true
		queue = append(queue, children[pid]...)
	}
	out := make([]int, 0, len(seen))
	for pid := range seen {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// processGroupMembers returns the live processes whose process group is pgid.
func processGroupMembers(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.pgrp == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// readRSSKiB is a process's VmRSS, 0 when it is gone or has none (a kernel
// thread).
func readRSSKiB(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
