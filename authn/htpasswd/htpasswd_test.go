package htpasswd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/anyhost/anyhost/core"
)

func hash(t *testing.T, pass, prefix string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pass), 4)
	require.NoError(t, err)
	return prefix + string(h)[4:]
}

func TestCheckPassword(t *testing.T) {
	// Apache's htpasswd -B writes $2y$; Go's bcrypt wrote $2a$.
	src := "# comment\n\nann:" + hash(t, "pw-a", "$2y$") + "\nbob:" + hash(t, "pw:b", "$2a$") + "\ncid:" + hash(t, "pw-c", "$2b$") + "\n"
	f, err := Parse(strings.NewReader(src))
	require.NoError(t, err)
	ctx := context.Background()
	for _, c := range []struct {
		user, pass string
		want       core.AuthResult
	}{
		{"ann", "pw-a", core.Granted},
		{"ann", "pw-b", core.Denied},
		{"bob", "pw:b", core.Granted},
		{"cid", "pw-c", core.Granted},
		{"cid", "", core.Denied},
		{"dan", "pw-a", core.UserNotFound},
	} {
		got, err := f.CheckPassword(ctx, c.user, c.pass)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "%s/%s", c.user, c.pass)
	}
}

func TestParseErrors(t *testing.T) {
	for src, want := range map[string]string{
		"ann\n":               "1: expected user:hash",
		"ok:$2y$x\n:nohash\n": "2: expected user:hash",
		"ann:{SHA}abc\n":      "1: user ann: a malformed hash",
		"\n\nann:cleartext\n": "3: user ann: not a known hash",
	} {
		_, err := Parse(strings.NewReader(src))
		require.Error(t, err, src)
		assert.Contains(t, err.Error(), want)
	}
}

func TestNewOptions(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users"), []byte("ann:"+hash(t, "x", "$2y$")+"\n"), 0o644))
	p, err := New(core.Options{Values: map[string]string{"file": "users"}, Dir: dir})
	require.NoError(t, err)
	res, err := p.CheckPassword(context.Background(), "ann", "x")
	require.NoError(t, err)
	assert.Equal(t, core.Granted, res)

	_, err = New(core.Options{Values: map[string]string{}})
	assert.ErrorContains(t, err, "option file is required")
	_, err = New(core.Options{Values: map[string]string{"file": "users", "fiel": "x"}, Dir: dir})
	assert.ErrorContains(t, err, "unknown option fiel")
	_, err = New(core.Options{Values: map[string]string{"file": "missing"}, Dir: dir})
	assert.ErrorContains(t, err, "no such file")
}

func TestSetPasswordKeepsOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	require.NoError(t, SetPassword(path, "a", "1", 4))
	require.NoError(t, SetPassword(path, "b", "2", 4))
	require.NoError(t, SetPassword(path, "a", "3", 4))
	f, err := Load(path)
	require.NoError(t, err)
	res, _ := f.CheckPassword(context.Background(), "a", "3")
	assert.Equal(t, core.Granted, res)
	res, _ = f.CheckPassword(context.Background(), "b", "2")
	assert.Equal(t, core.Granted, res)
	_, err = Entry("", "x", 4)
	assert.Error(t, err)
}

// An unknown user gets the answer a wrong password gets from the chain's
// point of view (no identity) and pays a dummy bcrypt comparison of the
// file's cost; counted, not timed.
func TestUnknownUserPaysTheDummyHash(t *testing.T) {
	src := "ann:" + hash(t, "pw-a", "$2y$") + "\n"
	f, err := Parse(strings.NewReader(src))
	require.NoError(t, err)
	assert.Zero(t, f.DummyChecks())
	res, err := f.CheckPassword(context.Background(), "ann", "wrong")
	require.NoError(t, err)
	assert.Equal(t, core.Denied, res)
	assert.Zero(t, f.DummyChecks(), "a known user checks the real hash")
	res, err = f.CheckPassword(context.Background(), "ghost", "pw-a")
	require.NoError(t, err)
	assert.Equal(t, core.UserNotFound, res)
	assert.EqualValues(t, 1, f.DummyChecks())
	assert.Equal(t, bcrypt.MinCost, f.dummy.Cost(), "the dummy has the cost of the file's hashes")
}
