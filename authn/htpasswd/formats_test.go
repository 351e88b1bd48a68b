package htpasswd_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/htpasswd"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/testhost"
)

// Files written by Debian's own htpasswd (apache2-utils), one per algorithm
// it offers, log in with the right password and not with a wrong one.
func TestDebianHtpasswdFormats(t *testing.T) {
	bin := testhost.NeedBinary(t, "htpasswd")
	for _, flag := range []string{"-B", "-m", "-s", "-2", "-5"} {
		t.Run(flag, func(t *testing.T) {
			out, err := exec.Command(bin, "-nb"+strings.TrimPrefix(flag, "-"), "ann", "s3cret:with colon").Output()
			require.NoError(t, err)
			f, err := htpasswd.Parse(strings.NewReader(string(out)))
			require.NoError(t, err, "%s", out)
			ctx := context.Background()
			res, err := f.CheckPassword(ctx, "ann", "s3cret:with colon")
			require.NoError(t, err)
			assert.Equal(t, core.Granted, res, "%s", out)
			res, _ = f.CheckPassword(ctx, "ann", "s3cret")
			assert.Equal(t, core.Denied, res)
			res, _ = f.CheckPassword(ctx, "bob", "s3cret:with colon")
			assert.Equal(t, core.UserNotFound, res)
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestReloadsChangedFileAndGroups(t *testing.T) {
	dir := t.TempDir()
	users, groups := filepath.Join(dir, "users"), filepath.Join(dir, "groups")
	line, err := htpasswd.Entry("ann", "one", 4)
	require.NoError(t, err)
	write(t, users, line+"\n")
	write(t, groups, "admins: ann\nstaff: ann bob\n")
	p, err := htpasswd.New(core.Options{Values: map[string]string{"file": "users", "groups": "groups"}, Dir: dir})
	require.NoError(t, err)
	ctx := context.Background()
	res, err := p.CheckPassword(ctx, "ann", "one")
	require.NoError(t, err)
	assert.Equal(t, core.Granted, res)
	g, err := p.(core.GroupLister).Groups(ctx, "ann")
	require.NoError(t, err)
	assert.Equal(t, []string{"admins", "staff"}, g)

	// A new password: the changed file is used without a restart.
	line2, err := htpasswd.Entry("ann", "two-longer", 4)
	require.NoError(t, err)
	write(t, users, line2+"\n# changed\n")
	time.Sleep(1100 * time.Millisecond) // reloads are checked at most once a second
	res, err = p.CheckPassword(ctx, "ann", "two-longer")
	require.NoError(t, err)
	assert.Equal(t, core.Granted, res, "the changed file is read without a restart")
	res, _ = p.CheckPassword(ctx, "ann", "one")
	assert.Equal(t, core.Denied, res)
}

func TestPlainTextOnlyWhenAllowed(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "users"), "ann:cleartext\n")
	_, err := htpasswd.New(core.Options{Values: map[string]string{"file": "users"}, Dir: dir})
	assert.ErrorContains(t, err, "allow_plain")
	p, err := htpasswd.New(core.Options{Values: map[string]string{"file": "users", "allow_plain": "true"}, Dir: dir})
	require.NoError(t, err)
	res, err := p.CheckPassword(context.Background(), "ann", "cleartext")
	require.NoError(t, err)
	assert.Equal(t, core.Granted, res)
}
