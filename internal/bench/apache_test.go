package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectTargetsByGroup(t *testing.T) {
	all := targets()
	require.NoError(t, validateTargets(all))
	names := func(re string) []string {
		var out []string
		for _, t := range selectTargets(all, regexp.MustCompile(re)) {
			out = append(out, t.FullName())
		}
		return out
	}
	event := names("apache event")
	// 6: the seed's table; 4, 4, 5: the AnyhostSite, daemon and cgi hosts.
	assert.Len(t, event, 5+2*len(apacheAnchors)+6+4+4+5)
	for _, n := range event {
		assert.True(t, strings.HasPrefix(n, "apache event: "), n)
	}
	assert.Equal(t, []string{"apache prefork: mod_perl2: static file", "apache prefork: mod_perl2: mod_perl2 response handler"},
		names("^apache prefork: mod_perl2"))
	// Name-only patterns still work, anchored too.
	assert.Equal(t, []string{"standalone: anyhost standalone /hello", "standalone: anyhost standalone /hello, access log",
		"standalone-http/2: anyhost standalone /hello"}, names("^anyhost standalone /hello"))
}

func TestApacheConfs(t *testing.T) {
	base := apacheBaseConf("/r", "127.0.0.1:1234", "prefork")
	for _, want := range []string{`ServerRoot "/r"`, "Listen 127.0.0.1:1234", `PidFile "/r/httpd.pid"`, "Mutex file:/r default",
		`LoadModule mpm_prefork_module "/usr/lib/apache2/modules/mod_mpm_prefork.so"`, "User www-data", "KeepAlive On"} {
		assert.Contains(t, base, want)
	}
	assert.NotContains(t, base, "CustomLog")
	assert.Contains(t, apacheTail("prefork"), "MaxRequestWorkers 40\n")
	assert.Contains(t, apacheTail("event"), "ThreadsPerChild 25\n")
	assert.Contains(t, apacheTail("event"), "EnableMMAP Off\n")

	gen := "LogFormat \"%h\" common\nCustomLog \"/r/access.log\" common\nTimeout 60\n"
	assert.Equal(t, "LogFormat \"%h\" common\nTimeout 60\n", customLogRe.ReplaceAllString(gen, ""))
}

// apacheTestSpec is an instance with no language module: the static file only.
func apacheTestSpec(t *testing.T, mpm string) apacheSpec {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("Apache with User www-data needs root")
	}
	if _, err := exec.LookPath(apacheBinary()); err != nil {
		t.Skip("apache2 not installed")
	}
	return apacheSpec{label: "test", mpm: mpm, conf: func(_ context.Context, _, root, listen, _ string) (string, *Running, error) {
		return apacheBaseConf(root, listen, mpm), nil, nil
	}}
}

// traversableTempDir is a temporary work directory that Apache's www-data
// children can reach (t.TempDir's parent is private to root).
func traversableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "anyhost-bench-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestApacheInstanceStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts apache2")
	}
	for _, mpm := range apacheMPMs {
		t.Run(mpm, func(t *testing.T) {
			s := &apacheShared{spec: apacheTestSpec(t, mpm)}
			workDir := traversableTempDir(t)
			ctx := context.Background()
			r1, err := s.row("/static.txt", "")(ctx, workDir)
			require.NoError(t, err)
			r2, err := s.row("/static.txt", "")(ctx, workDir)
			require.NoError(t, err)
			inst := s.inst
			defer func() {
				if s.inst != nil {
					_ = inst.stop()
				}
			}()
			assert.Equal(t, r1.URL, r2.URL, "one instance for both rows")
			pids := r1.PIDs()
			require.Len(t, pids, 1)
			tree := sampleTree(pids).PIDs
			assert.Greater(t, len(tree), 1, "httpd has children")
			if r1.Cgroup != "" {
				_, err := cgroupUsageUs(r1.Cgroup)
				require.NoError(t, err)
				assert.Subset(t, cgroupProcs(r1.Cgroup), tree)
			}
			conf, err := os.ReadFile(filepath.Join(inst.root, "httpd.conf"))
			require.NoError(t, err)
			assert.Contains(t, string(conf), "EnableSendfile Off")

			require.NoError(t, r1.Stop())
			assert.NoError(t, syscall.Kill(pids[0], 0), "still serving the second row")
			require.NoError(t, r2.Stop())
			for _, pid := range tree {
				if st, ok := procStartTime(pid); ok {
					t.Errorf("process %d (start %d) survived Stop", pid, st)
				}
			}
			if r1.Cgroup != "" {
				assert.NoDirExists(t, r1.Cgroup)
			}
		})
	}
}

func TestApacheMissingModule(t *testing.T) {
	a := apacheAnchor{label: "nope", module: "nope_module", so: "mod_no_such_module.so", pkg: "libapache2-mod-nope",
		row: "nope", conf: func(string) (string, error) { return "", nil }}
	if os.Geteuid() != 0 {
		t.Skip("Apache with User www-data needs root")
	}
	ts := apacheAnchorGroup("event", a)
	_, err := ts[0].Start(context.Background(), t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mod_no_such_module.so is missing: install Debian's libapache2-mod-nope (make bench-deps)")
	_, err2 := ts[1].Start(context.Background(), t.TempDir())
	assert.Equal(t, err, err2, "the group's rows share the start error")
}

func TestApacheCheckCrashes(t *testing.T) {
	root := t.TempDir()
	log := filepath.Join(root, "error.log")
	a := &apacheInstance{root: root, errorLog: &logFollower{path: filepath.Join(root, "error.log")}}
	require.NoError(t, os.WriteFile(log, []byte("[mpm_event:notice] AH00489: configured\n"), 0o644))
	require.NoError(t, a.checkCrashes())

	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, _ = f.WriteString("[core:notice] AH00052: child pid 42 exit signal Segmentation fault (11)\n[core:notice] AH00052: child pid 43 exit")
	err = a.checkCrashes()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "child pid 42 exit signal")
	assert.NotContains(t, err.Error(), "pid 43", "a partial line waits for the next check")

	_, _ = f.WriteString(" signal Bus error (7)\n")
	err = a.checkCrashes()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pid 43 exit signal Bus error")
	assert.NotContains(t, err.Error(), "pid 42", "reported once")
	require.NoError(t, a.checkCrashes())
}
