package testhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// Postgres is a PostgreSQL server started for a test: its own cluster made
// by initdb under a temp dir, listening on 127.0.0.1 on a free port and on a
// unix socket in that dir, with fsync off. TCP connections need the
// password (scram-sha-256); the socket trusts the superuser.
type Postgres struct {
	*Process
	// Addr is 127.0.0.1:PORT.
	Addr string
	Port int
	// Dir holds the cluster (Dir/data) and the unix socket.
	Dir string
	// User is the superuser, Password its password; Database is the
	// database initdb creates.
	User, Password, Database string

	bin   string
	runAs []string // setpriv prefix when we are root; PostgreSQL refuses root
}

// DSN is a pgx URL connection string for the server over TCP, password
// included.
func (p *Postgres) DSN() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(p.User, p.Password),
		Host:     p.Addr,
		Path:     "/" + p.Database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// StartPostgres makes a cluster and starts the server, stopped by pid
// (SIGINT: PostgreSQL's fast shutdown) and removed in t.Cleanup. Start one
// per top-level test and share it between subtests: initdb takes a second
// or two.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := NeedBinary(t, "postgres")
	initdb := filepath.Join(filepath.Dir(bin), "initdb")
	p := &Postgres{bin: bin, User: "anyhost", Database: "postgres", Password: randomHex(t)}

	// t.TempDir()'s parents are 0700 root; the server's user needs its
	// own dir on a path it can walk, so make one under the system's.
	dir, err := os.MkdirTemp("", "anyhost-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	p.Dir = dir
	uid, gid := -1, -1 // os.Chown: unchanged
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "PostgreSQL refuses to run as root and there is no postgres user (install postgresql)")
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
		require.NoError(t, walkable(filepath.Dir(dir)), "the postgres user must be able to reach %s", dir)
		setpriv := NeedBinary(t, "setpriv")
		p.runAs = []string{setpriv, "--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups", "--"}
	}

	pwfile := filepath.Join(dir, "pwfile")
	require.NoError(t, os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o600))
	require.NoError(t, os.Chown(pwfile, uid, gid))
	args := append(append([]string{}, p.runAs...), initdb,
		"-D", filepath.Join(dir, "data"), "-U", p.User, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	os.Remove(pwfile)

	for attempt := 0; ; attempt++ {
		p.Port = FreePort(t)
		p.Addr = fmt.Sprintf("127.0.0.1:%d", p.Port)
		if p.start(t) {
			return p
		}
		if attempt == 2 {
			t.Fatalf("postgres could not bind a port after 3 tries: %s", p.LogText())
		}
	}
}

// Restart starts the server again on the same cluster and port after Stop,
// for tests of a back end that comes back. The new process is stopped in
// t's Cleanup: pass the test that outlives its users (not a subtest that
// ends before them).
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	if !p.start(t) {
		t.Fatalf("postgres could not bind %s again: %s", p.Addr, p.LogText())
	}
}

// start runs the server and waits for a successful connect; false means the
// port was taken meanwhile.
func (p *Postgres) start(t testing.TB) bool {
	t.Helper()
	args := append(append([]string{}, p.runAs...), p.bin,
		"-D", filepath.Join(p.Dir, "data"),
		"-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+p.Dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=50",
		"-c", "log_min_messages=warning")
	p.Process = Start(t, Spec{Args: args, Dir: p.Dir, StopSignal: syscall.SIGINT})
	return waitReady(t, p.Process, "postgres", p.ping, 30*time.Second,
		func() bool { return strings.Contains(p.LogText(), "already in use") })
}

// ping connects over TCP with the password: ready means a client can log in.
func (p *Postgres) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// Stop shuts the server down (fast shutdown) and waits for it to exit.
func (p *Postgres) Stop() { p.Process.Stop(syscall.SIGINT) }

func randomHex(t testing.TB) string {
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// walkable checks that every directory from dir up to / can be searched by
// others, so an unprivileged server can reach what is below.
func walkable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by other users (mode %v); set TMPDIR to a directory that is", d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
