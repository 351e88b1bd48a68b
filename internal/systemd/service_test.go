package systemd

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A dynamic user gets RemoveIPC, a static one does not (its other
// processes' IPC objects would go at stop); @chown is allowed back only
// for a process that makes unix sockets; no MemoryDenyWriteExecute (CGI
// interpreters with a JIT).
func TestServiceUnitUsersAndFilter(t *testing.T) {
	s := Service{Description: "d", Args: []string{"/usr/bin/anyhost", "serve"}, User: DynamicUserName, Group: "www-data", DynamicUser: true}
	text, err := s.Unit()
	require.NoError(t, err)
	assert.Contains(t, text, "\nDynamicUser=yes\nRemoveIPC=yes\nUser=anyhost\nGroup=www-data\n")
	for _, line := range []string{"ProtectProc=invisible", "ProcSubset=pid", "SystemCallFilter=~@privileged @resources", "SystemCallErrorNumber=EPERM"} {
		assert.Contains(t, text, "\n"+line+"\n")
	}
	assert.NotContains(t, text, "MemoryDenyWriteExecute")
	assert.NotContains(t, text, "SystemCallFilter=@chown", "no unix socket of its own")

	s = Service{Description: "d", Args: []string{"/usr/bin/anyhost", "serve"}, User: "www-data", Group: "www-data", Listen: []string{"unix:/run/a/s.sock"}}
	text, err = s.Unit()
	require.NoError(t, err)
	assert.NotContains(t, text, "DynamicUser")
	assert.NotContains(t, text, "RemoveIPC")
	assert.Contains(t, text, "\nSystemCallFilter=@chown\n", "serve chowns its sockets to --socket-group")
	assert.Less(t, strings.Index(text, "SystemCallFilter=~@privileged"), strings.Index(text, "SystemCallFilter=@chown"), "allowed back after the deny list")

	user, dynamic := ResolveUser("")
	assert.Equal(t, DynamicUserName, user)
	assert.True(t, dynamic)
	user, dynamic = ResolveUser("root")
	assert.Equal(t, "root", user)
	assert.False(t, dynamic)
}

// A socket without a user is root's, reached through its group.
func TestSocketUnitWithoutUser(t *testing.T) {
	text, err := Socket{Description: "d", Listen: "unix:/run/a/f.sock", Group: "www-data"}.Unit()
	require.NoError(t, err)
	assert.NotContains(t, text, "SocketUser=")
	assert.Contains(t, text, "SocketGroup=www-data\nSocketMode=0660\n")
	_, err = Socket{Description: "d", Listen: "unix:/run/a/f.sock", User: "a b", Group: "www-data"}.Unit()
	assert.Error(t, err)
	_, err = Socket{Description: "d", Listen: "unix:/run/a/f.sock"}.Unit()
	assert.Error(t, err, "a unix socket needs its group")
}
