package main

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatOddComm(t *testing.T) {
	// The command name may contain spaces and ')'; fields count from the last ')'.
	line := "4242 (we ird) (x) S 17 4242 4242 0 -1 4194560 300 0 0 0 123 45 6 7 20 0 9 0 555 1000 200 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, statFields{ppid: 17, pgrp: 4242, utime: 123, stime: 45, cutime: 6, cstime: 7}, st)

	_, err = parseStat([]byte("4242 (x) S 1 2"))
	assert.Error(t, err)
}

func TestSampleTreeFindsDescendants(t *testing.T) {
	// sh -> sleep: the tree of sh must include sleep.
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var s procSample
	require.Eventually(t, func() bool {
		s = sampleTree([]int{cmd.Process.Pid})
		return len(s.PIDs) >= 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, s.PIDs, cmd.Process.Pid)
	assert.GreaterOrEqual(t, s.Threads, 2)
	assert.Positive(t, s.CtxVoluntary+s.CtxNonvoluntary)

	self := sampleTree([]int{os.Getpid()})
	assert.Contains(t, self.PIDs, os.Getpid())
	assert.Contains(t, self.PIDs, cmd.Process.Pid) // our child is our descendant
}

func TestCtxDeltaPerThread(t *testing.T) {
	before := procSample{Tasks: map[int]ctxCount{
		1: {10, 1}, // lives on
		2: {50, 5}, // exits during the run: its 55 earlier switches must not be subtracted
		3: {90, 9}, // TID reused by a new thread with lower counters
	}}
	after := procSample{Tasks: map[int]ctxCount{
		1: {15, 3},
		3: {4, 1},
		4: {7, 0}, // started during the run
	}}
	vol, nonvol := ctxDelta(before, after)
	assert.Equal(t, int64(5+4+7), vol)
	assert.Equal(t, int64(2+1+0), nonvol)
}
