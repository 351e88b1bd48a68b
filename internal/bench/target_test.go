package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func setRepoRoot(t *testing.T) {
	t.Helper()
	root, err := findRepoRoot()
	require.NoError(t, err)
	repoRoot = root
}

func TestGoServerBareHello(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts barehello")
	}
	setRepoRoot(t)
	ctx := context.Background()
	workDir := t.TempDir()
	start := GoServer("./internal/bench/barehello", "barehello",
		func(addr string) []string { return []string{"--listen", addr} }, "/hello")
	r, err := start(ctx, workDir)
	require.NoError(t, err)
	stopped := false
	defer func() {
		if !stopped {
			_ = r.Stop()
		}
	}()

	resp, err := http.Get(r.URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "Hello!", string(body))

	pids := r.PIDs()
	require.Len(t, pids, 1)
	assert.Contains(t, sampleTree(pids).PIDs, pids[0])

	require.NoError(t, r.Stop())
	stopped = true
	assert.Empty(t, r.PIDs())
	assert.ErrorIs(t, syscall.Kill(pids[0], 0), syscall.ESRCH)
	require.NoError(t, r.Stop(), "Stop twice is fine")
	assert.FileExists(t, filepath.Join(workDir, "barehello"))
}

func TestGoServerBuildFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	setRepoRoot(t)
	start := GoServer("./internal/bench/no-such-package", "nope",
		func(addr string) []string { return nil }, "/")
	_, err := start(context.Background(), t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go build")
	assert.Contains(t, err.Error(), "no-such-package")
}

func TestWaitAnswersChildExits(t *testing.T) {
	workDir := t.TempDir()
	c, err := StartChild(workDir, "dies", "sh", "-c", "echo boom >&2; exit 3")
	require.NoError(t, err)
	defer c.Stop()
	port, err := FreePort()
	require.NoError(t, err)
	err = WaitAnswers(context.Background(), "http://127.0.0.1:"+itoa(port)+"/", 10*time.Second, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited before answering")
	assert.Contains(t, err.Error(), "boom")
}

func TestChildStopEscalatesToKill(t *testing.T) {
	workDir := t.TempDir()
	c, err := StartChild(workDir, "stubborn", "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(c.StdoutPath)
		return string(b) == "ready\n"
	}, 5*time.Second, 10*time.Millisecond)
	t0 := time.Now()
	err = c.stop(300 * time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ignored SIGTERM")
	assert.Less(t, time.Since(t0), 5*time.Second)
	assert.True(t, c.Exited())
}

func itoa(n int) string { return fmt.Sprint(n) }

func TestChildStopKillsLeftoverDescendants(t *testing.T) {
	// The leader exits on SIGTERM but leaves a child behind that ignores it.
	workDir := t.TempDir()
	c, err := StartChild(workDir, "leaves", "sh", "-c",
		"sh -c 'trap \"\" TERM; echo $$ > grandchild; while :; do sleep 0.1; done' & wait")
	require.NoError(t, err)
	var gc int
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(c.Dir, "grandchild"))
		_, err := fmt.Sscan(string(b), &gc)
		return err == nil && gc > 0
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, c.Stop())
	require.Eventually(t, func() bool {
		st, err := readStat(gc)
		return err != nil || st.pgrp != c.Cmd.Process.Pid // gone (or reaped and reused)
	}, 5*time.Second, 10*time.Millisecond)
}
