package testhost

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cgiScripts are the legacy scripts the cgi handler runs in tests: one
// shell, one Python and one Perl script that report what they got, and
// scripts that misbehave.
var cgiScripts = map[string]string{
	"hello.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nHello from sh\\n'\n",
	"echo.py": `#!/usr/bin/python3
import hashlib, os, sys
body = sys.stdin.buffer.read()
sys.stdout.write("Content-Type: text/plain\r\nX-Script: python\r\n\r\n")
for k in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_LENGTH", "REMOTE_USER", "HTTP_AUTHORIZATION", "HTTP_PROXY", "HTTP_X_EVIL", "HTTP_HOST", "HTTP_X_FORWARDED_USER"):
    sys.stdout.write("%s=%s\n" % (k, os.environ.get(k, "")))
sys.stdout.write("body_length=%d\nbody_sha256=%s\n" % (len(body), hashlib.sha256(body).hexdigest()))
`,
	"env.pl": `#!/usr/bin/perl
opendir(my $d, "/proc/self/fd"); my @fds = sort { $a <=> $b } grep { /^\d+$/ } readdir($d); closedir($d);
open(my $s, "<", "/proc/self/status"); my ($blk, $ign) = ("", "");
while (<$s>) { $blk = $1 if /^SigBlk:\s*(\S+)/; $ign = $1 if /^SigIgn:\s*(\S+)/; }
print "Content-Type: text/plain\r\nStatus: 201 Made\r\n\r\n";
# Perl ignores SIGFPE itself (PERL_FPU_INIT); 32 and 33 are glibc's own.
my $foreign = hex($ign) & ~((1 << 7) | (1 << 31) | (1 << 32));
print "fds=", join(",", @fds), "\nsigblk=$blk\nsigign_not_perls=$foreign\n";
print "env=", join(",", sort keys %ENV), "\n";
`,
	"hang.sh":     "#!/bin/sh\necho $$ > \"$DOCUMENT_ROOT/hang.pid\"\nsleep 600 &\necho $! >> \"$DOCUMENT_ROOT/hang.pid\"\nwait\n",
	"noheader.sh": "#!/bin/sh\necho 'no header here'\n",
	"big.sh":      "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nhead -c 10485760 /dev/zero\n",
	"local.sh":    "#!/bin/sh\nprintf 'Location: /private/\\r\\n\\r\\n'\n",
	"away.sh":     "#!/bin/sh\nprintf 'Location: http://example.test/elsewhere\\r\\n\\r\\n'\n",
	"late.sh":     "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nwc -c\n",
	// held.sh holds its slot until the test creates "release" (at most 30 s).
	"held.sh":   "#!/bin/sh\ni=0\nwhile [ ! -e \"$DOCUMENT_ROOT/release\" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\nprintf 'Content-Type: text/plain\\r\\n\\r\\nheld\\n'\n",
	"plain.txt": "not executable\n",
}

// CGIScripts writes the test scripts into a fresh directory and returns it.
func CGIScripts(t testing.TB) string {
	t.Helper()
	// Outside t.TempDir, whose parent only root may enter: Apache's
	// children (www-data) run these, and hang.sh writes its pids here.
	dir, err := os.MkdirTemp("", "anyhost-cgi-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	for name, text := range cgiScripts {
		mode := os.FileMode(0o755)
		if strings.HasSuffix(name, ".txt") {
			mode = 0o644
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), mode))
	}
	// A symlink out of root must not run.
	require.NoError(t, os.Symlink("/bin/sh", filepath.Join(dir, "escape")))
	return dir
}

// CGISite is a site file serving scripts under /cgi (timeout 2s),
// /cgi-long (timeout 60s) and /cgi-held (at most 3 at once), one script
// under /one, and the demo's /private.
func CGISite(t testing.TB, scripts string) string {
	t.Helper()
	site := fmt.Sprintf(`[[location]]
path = "/cgi"
content = [{handler = "cgi", options = {root = %[1]q, timeout = "2s"}}]

# The same scripts with time for 10 MiB on a busy machine.
[[location]]
path = "/cgi-long"
content = [{handler = "cgi", options = {root = %[1]q, timeout = "60s"}}]

[[location]]
path = "/cgi-held"
content = [{handler = "cgi", options = {root = %[1]q, timeout = "60s", max_concurrent = "3"}}]

[[location]]
path = "/one"
content = [{handler = "cgi", options = {script = %[2]q}}]

[[location]]
path = "/private"
content = ["demo.private"]
  [location.auth]
  realm = "anyhost demo"
  providers = ["demo.users"]
  require = ["valid-user"]
`, scripts, filepath.Join(scripts, "echo.py"))
	p := filepath.Join(scripts, "cgi-site.toml")
	require.NoError(t, os.WriteFile(p, []byte(site), 0o644))
	return p
}

// RunCGICases runs the cgi handler's cases against a host serving
// CGISite(scripts).
func RunCGICases(t *testing.T, tg Target, scripts string) {
	get := func(path string, hdr ...string) Response {
		h := http.Header{}
		for i := 0; i+1 < len(hdr); i += 2 {
			h.Set(hdr[i], hdr[i+1])
		}
		return Do(t, "GET", tg.URL+path, nil, h)
	}
	t.Run("shell", func(t *testing.T) {
		r := get("/cgi/hello.sh")
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, "Hello from sh\n", string(r.Body))
	})
	t.Run("python GET with PATH_INFO", func(t *testing.T) {
		r := get("/cgi/echo.py/extra/path?a=1&b=2", "Authorization", "Basic ZGVtbzpkZW1v", "Proxy", "http://evil.test")
		require.Equal(t, 200, r.Status, "%s", r.Body)
		assert.Equal(t, "python", r.Header.Get("X-Script"))
		body := string(r.Body)
		for _, want := range []string{"REQUEST_METHOD=GET\n", "SCRIPT_NAME=/cgi/echo.py\n", "PATH_INFO=/extra/path\n",
			"QUERY_STRING=a=1&b=2\n", "HTTP_AUTHORIZATION=\n", "HTTP_PROXY=\n", "body_length=0\n"} {
			assert.Contains(t, body, want)
		}
	})
	t.Run("python POST 1 MiB binary", func(t *testing.T) {
		body := make([]byte, 1<<20)
		for i := range body {
			body[i] = byte(i*7 + i>>8)
		}
		sum := sha256.Sum256(body)
		r := Do(t, "POST", tg.URL+"/cgi/echo.py", bytes.NewReader(body), http.Header{"Content-Type": {"application/octet-stream"}})
		require.Equal(t, 200, r.Status, "%s", r.Body)
		assert.Contains(t, string(r.Body), "CONTENT_LENGTH=1048576\n")
		assert.Contains(t, string(r.Body), "body_sha256="+hex.EncodeToString(sum[:])+"\n")
	})
	t.Run("a script that answers before it reads gets the whole body", func(t *testing.T) {
		// Regression (security review): net/http dropped the unread body
		// once the response started, and the script read a truncated one.
		r := Do(t, "POST", tg.URL+"/cgi-long/late.sh", bytes.NewReader(make([]byte, 1000000)), nil)
		require.Equal(t, 200, r.Status, "%s", r.Body)
		assert.Equal(t, "1000000", strings.TrimSpace(string(r.Body)))
	})
	t.Run("one script for the location", func(t *testing.T) {
		r := get("/one/sub?x")
		require.Equal(t, 200, r.Status, "%s", r.Body)
		assert.Contains(t, string(r.Body), "SCRIPT_NAME=/one\n")
		assert.Contains(t, string(r.Body), "PATH_INFO=/sub\n")
	})
	t.Run("perl: clean start", func(t *testing.T) {
		r := get("/cgi/env.pl")
		require.Equal(t, 201, r.Status, "%s", r.Body)
		body := string(r.Body)
		assert.Contains(t, body, "fds=0,1,2,3\n", "only 0-2 (3 is perl's own opendir)")
		assert.Contains(t, body, "sigblk=0000000000000000\n")
		assert.Contains(t, body, "sigign_not_perls=0\n", "no signal ignored that the script did not ignore itself")
		assert.NotContains(t, body, "ANYHOST", "none of the host's environment")
	})
	t.Run("local redirect runs the new location's auth", func(t *testing.T) {
		r := get("/cgi/local.sh")
		assert.Equal(t, 401, r.Status)
		assert.Contains(t, r.Header.Get("WWW-Authenticate"), `realm="anyhost demo"`)
		r = get("/cgi/local.sh", "Authorization", "Basic ZGVtbzpkZW1v")
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, "Hello, demo!", strings.TrimSpace(string(r.Body)))
	})
	t.Run("client redirect", func(t *testing.T) {
		req, err := http.NewRequest("GET", tg.URL+"/cgi/away.sh", nil)
		require.NoError(t, err)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 302, resp.StatusCode)
		assert.Equal(t, "http://example.test/elsewhere", resp.Header.Get("Location"))
	})
	t.Run("no header block is 500", func(t *testing.T) {
		assert.Equal(t, 500, get("/cgi/noheader.sh").Status)
	})
	t.Run("10 MiB streamed", func(t *testing.T) {
		r := get("/cgi-long/big.sh")
		assert.Equal(t, 200, r.Status)
		assert.Len(t, r.Body, 10<<20)
	})
	t.Run("hostile paths", func(t *testing.T) {
		for _, p := range []string{"/cgi/plain.txt", "/cgi/escape", "/cgi/", "/cgi/nothing", "/cgi/..%2fcgi/hello.sh",
			"/cgi/%2e%2e/%2e%2e/bin/sh", "/cgi/hello.sh%2fx"} {
			st := rawStatus(t, tg.Addr, p)
			assert.Contains(t, []int{400, 403, 404}, st, p)
		}
	})
	t.Run("hostile header values reach no shell", func(t *testing.T) {
		marker := filepath.Join(scripts, "pwned")
		evil := "$(touch " + marker + "); `touch " + marker + "`; x' \" | touch " + marker
		r := get("/cgi/echo.py/;touch%20"+filepath.Base(marker)+"?;touch%20x", "X-Evil", evil)
		require.Equal(t, 200, r.Status, "%s", r.Body)
		assert.Contains(t, string(r.Body), "HTTP_X_EVIL="+evil+"\n", "passed as data, unchanged")
		assert.NoFileExists(t, marker)
	})
	t.Run("an underscore header cannot pass for a dashed one", func(t *testing.T) {
		r := get("/cgi/echo.py", "X_Forwarded_User", "admin")
		require.Equal(t, 200, r.Status, "%s", r.Body)
		assert.Contains(t, string(r.Body), "HTTP_X_FORWARDED_USER=\n")
		assert.Regexp(t, `HTTP_HOST=\S+\n`, string(r.Body))
	})
	t.Run("timeout kills the process group", func(t *testing.T) {
		pidFile := filepath.Join(scripts, "hang.pid")
		os.Remove(pidFile)
		start := time.Now()
		r := get("/cgi/hang.sh")
		assert.Equal(t, 504, r.Status)
		assert.Less(t, time.Since(start), 10*time.Second)
		b, err := os.ReadFile(pidFile)
		require.NoError(t, err)
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return gone(pid) }, 5*time.Second, 50*time.Millisecond, "pid %d left running or a zombie", pid)
		}
	})
	t.Run("past max_concurrent is 503", func(t *testing.T) {
		// Counted, not timed: the three that get a slot hold it until
		// the other three have been refused.
		release := filepath.Join(scripts, "release")
		os.Remove(release)
		t.Cleanup(func() { os.Remove(release) })
		codes := make(chan int, 6)
		for range 6 {
			go func() { codes <- get("/cgi-held/held.sh").Status }()
		}
		got := map[int]int{}
		for range 3 {
			got[<-codes]++
		}
		assert.Equal(t, 3, got[503], "the first three answers, while three scripts hold every slot: %v", got)
		require.NoError(t, os.WriteFile(release, nil, 0o644))
		for range 3 {
			got[<-codes]++
		}
		assert.Equal(t, 3, got[200], "%v", got)
		assert.Equal(t, 3, got[503], "%v", got)
	})
}

// gone reports that pid no longer runs: no /proc entry, or a zombie that
// is not ours to reap (re-parented to init).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true
	}
	s := string(b)
	return strings.Contains(s, "State:\tZ") && strings.Contains(s, "\nPPid:\t1\n")
}

// rawStatus sends GET path as written (no client normalising it) and
// returns the status.
func rawStatus(t *testing.T, addr, path string) int {
	t.Helper()
	resp, err := rawRequest(addr, "GET "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	var code int
	_, err = fmt.Sscanf(resp, "HTTP/1.1 %d", &code)
	require.NoError(t, err, "%q", resp)
	return code
}
