// Package recipes runs the README's shell recipes as a new user would:
// their own lines, from the module root, with nothing made by hand first.
// Only /tmp and /run/anyhost move into a temporary directory.
package recipes_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// A recipe is one ```sh block of the README: the block under heading, the
// index-th of that section. Every line runs in order; a line ending in &,
// and the last line when it is a server in the foreground, start in the
// background. The last line's comment names the URL to fetch
// ("# curl 127.0.0.1:8081/hello"), and the answer must hold want.
type recipe struct {
	name, heading string
	index         int
	// lines, if not 0, takes only the block's first lines; url then
	// names what to fetch when the lines do not.
	lines int
	url   string
	// servers the recipe starts, which the test needs installed.
	needs []string
	want  string
	// then: more requests against the running recipe.
	then func(t *testing.T)
}

var recipes = []recipe{
	{name: "demo", heading: "## Two commands", index: 0, lines: 1, url: "http://127.0.0.1:8080/hello", want: "Hello!", then: demoCurls},
	{name: "greet", heading: "## Writing your own handler", index: 0, want: "Grüezi, Ada!\n"},
	{name: "apache", heading: "## Apache httpd, in-process", index: 0, needs: []string{"apache2", "apxs"}, want: "Hello!"},
	{name: "nginx", heading: "## nginx", index: 0, needs: []string{"nginx"}, want: "Hello!", then: func(t *testing.T) {
		r := get(t, "http://127.0.0.1:8080/echo", nil)
		assert.Contains(t, r, `"adapter": "nginx"`)
	}},
	{name: "nginx module", heading: "### nginx in-process (the module)", index: 0, needs: []string{"nginx"}, want: "Hello!", then: func(t *testing.T) {
		assert.Contains(t, get(t, "http://127.0.0.1:8080/echo", nil), `"adapter": "nginx-module"`)
	}},
	{name: "lighttpd", heading: "## Migrating CGI scripts", index: 1, needs: []string{"lighttpd"}, want: "Hello!"},
}

// notRun are the README's other sh blocks, and why this test leaves them
// to others: every block is either run here or named here, so a new
// recipe cannot go untried by accident.
var notRun = map[string]map[int]string{
	"## Two commands":             {1: "the demo's curl lines: run by demoCurls"},
	"## Migrating CGI scripts":    {0: "a wrapper script's text, not commands (adapters/cgi runs such wrappers)", 2: "writes into the system's /etc/lighttpd (adapters/lighttpd tests both modes)"},
	"## Apache httpd, in-process": {1: "sudo make install into the system (internal/install runs the same install, a2enmod and apache2ctl -t on a copy of /etc/apache2)"},
	"## Security model":           {0: "writes the secret under /etc/anyhost and serves daemon mode (adapters/apache's daemon tests run the same commands' code)"},
}

// Every sh block of the README is run here or named in notRun.
func TestEveryRecipeAccountedFor(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testhost.ModuleRoot(), "README.md"))
	require.NoError(t, err)
	run := map[string]map[int]bool{}
	for _, rc := range recipes {
		if run[rc.heading] == nil {
			run[rc.heading] = map[int]bool{}
		}
		run[rc.heading][rc.index] = true
	}
	for heading, blocks := range shellBlocks(string(readme)) {
		for i := range blocks {
			_, skipped := notRun[heading][i]
			assert.True(t, run[heading][i] != skipped, "README %q, sh block %d: run it in recipes or say in notRun why not (exactly one)", heading, i)
		}
	}
}

func TestREADMERecipes(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testhost.ModuleRoot(), "README.md"))
	require.NoError(t, err)
	blocks := shellBlocks(string(readme))
	for _, rc := range recipes {
		t.Run(rc.name, func(t *testing.T) {
			section := blocks[rc.heading]
			require.Greater(t, len(section), rc.index, "README has no sh block %d under %q", rc.index, rc.heading)
			for _, n := range rc.needs {
				testhost.NeedBinary(t, n)
			}
			lines := section[rc.index]
			if rc.lines > 0 {
				lines = lines[:rc.lines]
			}
			runRecipe(t, rc, lines)
		})
	}
}

// shellBlocks are the README's ```sh blocks by the heading they are under.
func shellBlocks(readme string) map[string][][]string {
	out := map[string][][]string{}
	heading := ""
	var block []string
	in := false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case !in && strings.HasPrefix(line, "#"):
			heading = line
		case !in && line == "```sh":
			in, block = true, nil
		case in && line == "```":
			in = false
			out[heading] = append(out[heading], block)
		case in:
			block = append(block, line)
		}
	}
	return out
}

var comment = regexp.MustCompile(`\s+#\s.*$`)

func runRecipe(t *testing.T, rc recipe, lines []string) {
	tmp, err := os.MkdirTemp("", "recipe-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	// As /tmp and /run are: nginx's and Apache's workers (www-data) must
	// reach the sockets under it.
	require.NoError(t, os.Chmod(tmp, 0o755))
	moved := strings.NewReplacer("/tmp/", tmp+"/", "/run/anyhost", tmp+"/run/anyhost")
	for _, port := range []string{"8080", "8081", "8082"} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			t.Fatalf("127.0.0.1:%s is taken: the README's recipes listen there; stop what runs on it", port)
		}
	}
	url := rc.url
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if m := regexp.MustCompile(`#\s+curl\s+'?([^'\s:]+:\d+[^'\s]*)`).FindStringSubmatch(line); m != nil {
			url = "http://" + m[1]
		}
		line = moved.Replace(strings.TrimSpace(comment.ReplaceAllString(line, "")))
		background := strings.HasSuffix(line, "&")
		last := i == len(lines)-1
		if background || last && url != "" {
			start(t, strings.TrimSpace(strings.TrimSuffix(line, "&")), tmp)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", line)
		cmd.Dir = testhost.ModuleRoot()
		out, err := cmd.CombinedOutput()
		cancel()
		require.NoError(t, err, "README line %q:\n%s", raw, out)
	}
	require.NotEmpty(t, url, "the recipe names no URL to try (# curl ...)")
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "GET %s", url)
	assert.Contains(t, body, rc.want)
	if rc.then != nil {
		rc.then(t)
	}
}

// start runs a recipe's server line in the background, in a process group
// of its own: on cleanup the whole group gets SIGTERM (a go run and the
// server it built, an nginx and its workers).
func start(t *testing.T, line, tmp string) {
	p := testhost.Start(t, testhost.Spec{Args: []string{"bash", "-c", "cd " + testhost.ModuleRoot() + " && " + line}, Dir: tmp})
	t.Cleanup(func() {
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		}
	})
}

// demoCurls runs the README's curl lines against the demo, each with what
// its comment promises.
func demoCurls(t *testing.T) {
	want := []string{"Hello!", "401", "Hello, demo!", `"query": "q=1"`, "500"}
	readme, err := os.ReadFile(filepath.Join(testhost.ModuleRoot(), "README.md"))
	require.NoError(t, err)
	curls := shellBlocks(string(readme))["## Two commands"][1]
	require.Len(t, curls, len(want))
	for i, line := range curls {
		out, err := exec.Command("bash", "-c", comment.ReplaceAllString(line, "")).CombinedOutput()
		require.NoError(t, err, "%s: %s", line, out)
		assert.Contains(t, string(out), want[i], line)
	}
	assert.Contains(t, get(t, "http://127.0.0.1:8080/hello", nil), "Hello!", "the server kept serving after the panic")
}

func get(t *testing.T, url string, h http.Header) string {
	t.Helper()
	r := testhost.Do(t, "GET", url, nil, h)
	require.Equal(t, http.StatusOK, r.Status, "GET %s: %s", url, r.Body)
	return fmt.Sprint(string(r.Body))
}
