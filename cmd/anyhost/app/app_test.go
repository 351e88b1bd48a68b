package app_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/anyhost/anyhost/authn/htpasswd"
	"github.com/anyhost/anyhost/cmd/anyhost/app"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// run executes the real anyhost binary and returns its output and exit code.
func run(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testhost.AnyhostBinary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestCheck(t *testing.T) {
	good := write(t, "good.toml", "[[location]]\npath = \"/hello\"\ncontent = [\"demo.hello\"]\n")
	out, code := run(t, "", "check", "--config", good)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "ok")

	bad := write(t, "bad.toml", "[[location]]\npath = \"/hello\"\ncontent = [\n  \"demo.hello\",\n  \"demo.nope\",\n]\n")
	out, code = run(t, "", "check", "--config", bad)
	assert.Equal(t, 1, code, out)
	assert.True(t, strings.HasPrefix(out, bad+":5: "), "want FILE:LINE: first, got %q", out)
	assert.Contains(t, out, `unknown handler "demo.nope"`)
	assert.Contains(t, out, "link that package into this binary", "the hint for a package not linked in")

	out, code = run(t, "", "check", "--config", filepath.Join(t.TempDir(), "missing.toml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "no such file")
}

func TestUnknownAdapterListsAvailable(t *testing.T) {
	out, code := run(t, "", "serve", "--adapter", "iis")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, `unknown adapter "iis"; available: cgi, fastcgi, nginx, standalone`)
}

func TestList(t *testing.T) {
	out, code := run(t, "", "list")
	require.Equal(t, 0, code, out)
	for _, name := range []string{"demo.hello", "demo.echo", "static", "htpasswd", "demo.users", "standalone",
		"ldap", "sqlstore", "jwt", "memory", "redis", "token verifiers", "auth stores"} {
		assert.Contains(t, out, name)
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, code := run(t, "", "version")
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "anyhost "), out)
	for _, cmd := range []string{"serve", "check", "list", "htpasswd", "version"} {
		out, code = run(t, "", cmd, "--help")
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, out, "anyhost "+cmd, cmd)
	}
}

func TestHtpasswd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	out, code := run(t, "s3cret\n", "htpasswd", "--cost", "4", file, "alice")
	require.Equal(t, 0, code, out)
	out, code = run(t, "other\n", "htpasswd", "--cost", "4", file, "bob")
	require.Equal(t, 0, code, out)
	// Updating keeps one line per user.
	out, code = run(t, "n3w\n", "htpasswd", "--cost", "4", file, "alice")
	require.Equal(t, 0, code, out)

	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	assert.Len(t, lines, 2)
	p, err := htpasswd.Load(file)
	require.NoError(t, err)
	ctx := context.Background()
	res, err := p.CheckPassword(ctx, "alice", "n3w")
	require.NoError(t, err)
	assert.Equal(t, core.Granted, res)
	res, _ = p.CheckPassword(ctx, "alice", "s3cret")
	assert.Equal(t, core.Denied, res)
	res, _ = p.CheckPassword(ctx, "bob", "other")
	assert.Equal(t, core.Granted, res)

	out, code = run(t, "", "htpasswd", file, "carol")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "no password")
	out, code = run(t, "x\n", "htpasswd", file, "bad:name")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "user name")
}

func TestVersion(t *testing.T) {
	out, code := run(t, "", "--version")
	require.Equal(t, 0, code, out)
	assert.Regexp(t, `^anyhost version \S+\n$`, out)
}

// Flag usages never hold backticks: urfave/cli takes the first backticked
// words for the flag's value name (`--lib-dir anyhost apache build -o`).
func TestFlagUsagesHaveNoValueNameAccidents(t *testing.T) {
	var walk func(path string, cmds []*cli.Command)
	check := func(path string, flags []cli.Flag) {
		for _, f := range flags {
			if d, ok := f.(cli.DocGenerationFlag); ok {
				assert.NotContains(t, d.GetUsage(), "`", "%s --%s", path, f.Names()[0])
			}
		}
	}
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			check(path+" "+c.Name, c.Flags)
			walk(path+" "+c.Name, c.Subcommands)
		}
	}
	a := app.New()
	check("anyhost", a.Flags)
	walk("anyhost", a.Commands)
}

// The completion scripts ask the binary for the next words: bash's,
// run in a real bash, completes a subcommand and a flag.
func TestCompletion(t *testing.T) {
	bin := testhost.AnyhostBinary(t)
	script, code := run(t, "", "completion", "bash")
	require.Equal(t, 0, code, script)
	complete := func(words ...string) string {
		cmd := exec.Command("bash", "-c", `source /dev/stdin; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _anyhost_complete; echo "${COMPREPLY[*]}"`, "bash", bin)
		cmd.Args = append(cmd.Args, words...)
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, "nginx", complete("ng"))
	assert.Equal(t, "--adapter", complete("serve", "--ad"))
	assert.Contains(t, strings.Fields(complete("apache", "")), "build")

	for shell, check := range map[string][]string{"zsh": {"-n"}, "fish": {"--no-execute"}} {
		out, code := run(t, "", "completion", shell)
		require.Equal(t, 0, code, out)
		assert.Contains(t, out, "anyhost", shell)
		cmd := exec.Command(testhost.NeedBinary(t, shell), append(check, write(t, "anyhost."+shell, out))...)
		msg, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s rejects the script: %s", shell, msg)
	}
	fish, _ := run(t, "", "completion", "fish")
	assert.Contains(t, fish, "-n '__fish_anyhost_no_subcommand' -a 'serve' -d")
	out, code := run(t, "", "completion", "tcsh")
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "bash, zsh or fish")
}

// The man page is generated from the CLI and formats without a warning.
func TestManPage(t *testing.T) {
	page, code := run(t, "", "man")
	require.Equal(t, 0, code, page)
	assert.True(t, strings.HasPrefix(page, ".nh\n.TH anyhost 1"), page[:min(len(page), 40)])
	man := testhost.NeedBinary(t, "man")
	file := write(t, "anyhost.1", page)
	cmd := exec.Command(man, "--warnings", "-l", file)
	cmd.Env = append(os.Environ(), "MANWIDTH=100", "MANPAGER=cat", "PAGER=cat")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	assert.Empty(t, stderr.String())
	for _, want := range []string{"serve", "--metrics-listen", "apache", "nginx", "completion"} {
		assert.Contains(t, string(out), want)
	}
}

// apache conf refuses a --lib-dir without the module and library, which
// Apache would report only at its next start.
func TestApacheConfChecksLibDir(t *testing.T) {
	dir := t.TempDir()
	out, code := run(t, "", "apache", "conf", "--lib-dir", dir)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "holds no mod_anyhost.so: run `anyhost apache build -o "+dir+"` first")
	for _, f := range []string{"mod_anyhost.so", "anyhost-app.so"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o644))
	}
	out, code = run(t, "", "apache", "conf", "--lib-dir", dir)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "AnyhostLibrary")
}
