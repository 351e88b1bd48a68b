package ldap_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/testhost"
)

func TestTLS(t *testing.T) {
	s := testhost.StartSlapd(t)
	for _, c := range []struct {
		name string
		opts map[string]string
		// wantErr is part of the error; "" means alice logs in.
		wantErr string
	}{
		{"starttls with ca_file", map[string]string{"starttls": "true", "ca_file": s.CAFile}, ""},
		{"starttls without the CA", map[string]string{"starttls": "true"}, "certificate"},
		{"starttls insecure_skip_verify", map[string]string{"starttls": "true", "insecure_skip_verify": "true"}, ""},
		{"ldaps with ca_file", map[string]string{"url": s.LDAPSURL, "ca_file": s.CAFile}, ""},
		{"ldaps without the CA", map[string]string{"url": s.LDAPSURL}, "certificate"},
		{"ldaps to the plain port", map[string]string{"url": strings.Replace(s.URL, "ldap:", "ldaps:", 1), "ca_file": s.CAFile}, "TLS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := searchMode(t, s)
			for k, v := range c.opts {
				opts[k] = v
			}
			p := newProvider(t, opts)
			res, err := p.CheckPassword(context.Background(), "alice", "alice-pw")
			if c.wantErr != "" {
				assert.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, core.Granted, res)
			g, err := p.Groups(context.Background(), "alice")
			require.NoError(t, err)
			assert.Equal(t, []string{"admins", "staff"}, g)
		})
	}
	// slapd's own log shows the StartTLS upgrades and TLS sessions.
	log := s.LogText()
	assert.Contains(t, log, "STARTTLS")
	assert.Contains(t, log, "TLS established")
}

// A directory that is down, or went down, is an error, never a "no"; once
// it is back, the broken pooled connection is dropped, not reused.
func TestDirectoryDown(t *testing.T) {
	s := testhost.StartSlapd(t)
	ctx := context.Background()
	for mode, opts := range map[string]map[string]string{"search": searchMode(t, s), "bind": bindMode(t, s)} {
		t.Run(mode, func(t *testing.T) {
			p := newProvider(t, opts)
			runChecks(t, p, []check{{"alice", "alice-pw", core.Granted}})
			s.Stop()
			for _, c := range []check{{"alice", "alice-pw", 0}, {"alice", "wrong", 0}, {"nobody", "x", 0}} {
				_, err := p.CheckPassword(ctx, c.user, c.pass)
				assert.Error(t, err, "%s/%s with slapd stopped", c.user, c.pass)
			}
			_, err := p.Groups(ctx, "alice")
			assert.Error(t, err)

			s.Restart(t)
			runChecks(t, p, []check{{"alice", "alice-pw", core.Granted}, {"bob", "wrong", core.Denied}})
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		opts := searchMode(t, s)
		opts["url"] = fmt.Sprintf("ldap://127.0.0.1:%d", testhost.FreePort(t))
		p := newProvider(t, opts)
		_, err := p.CheckPassword(ctx, "alice", "alice-pw")
		assert.ErrorContains(t, err, "connection refused")
	})
	// A slapd restarted while the pool holds connections: the first check
	// after the restart already succeeds.
	t.Run("restart with idle connections", func(t *testing.T) {
		p := newProvider(t, searchMode(t, s))
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { runChecks(t, p, []check{{"alice", "alice-pw", core.Granted}}) })
		}
		wg.Wait()
		s.Restart(t)
		runChecks(t, p, []check{{"bob", "bob-pw", core.Granted}})
	})
}

// A wrong service password is an error naming the service account, and the
// password appears in no error.
func TestBadServicePassword(t *testing.T) {
	s := testhost.StartSlapd(t)
	for mode, opts := range map[string]map[string]string{"search": searchMode(t, s), "bind": bindMode(t, s)} {
		t.Run(mode, func(t *testing.T) {
			opts["bind_password"] = secret(t, "not-the-reader-pw")
			p := newProvider(t, opts)
			for _, c := range []check{{"alice", "alice-pw", 0}, {"alice", "wrong-pw", 0}, {"nobody", "nobodys-pw", 0}} {
				_, err := p.CheckPassword(context.Background(), c.user, c.pass)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "service bind as "+testhost.SlapdReaderDN)
				assert.NotContains(t, err.Error(), "not-the-reader-pw")
				assert.NotContains(t, err.Error(), c.pass)
			}
			_, err := p.Groups(context.Background(), "alice")
			assert.ErrorContains(t, err, "Invalid Credentials")
		})
	}
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// The timeout option bounds dial, StartTLS, the TLS handshake and every
// operation, against a server that accepts and never answers.
func TestTimeout(t *testing.T) {
	addr := silentListener(t)
	for _, c := range []struct {
		name string
		opts map[string]string
	}{
		{"bind", map[string]string{"url": "ldap://" + addr}},
		{"starttls", map[string]string{"url": "ldap://" + addr, "starttls": "true", "insecure_skip_verify": "true"}},
		{"ldaps handshake", map[string]string{"url": "ldaps://" + addr, "insecure_skip_verify": "true"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := map[string]string{"base_dn": testhost.SlapdPeople, "bind_dn": testhost.SlapdReaderDN,
				"bind_password": secret(t, "pw"), "group_base_dn": testhost.SlapdGroups, "timeout": "300ms"}
			for k, v := range c.opts {
				opts[k] = v
			}
			p := newProvider(t, opts)
			errs := make(chan error, 2)
			go func() {
				_, err := p.CheckPassword(context.Background(), "alice", "alice-pw")
				errs <- err
				_, err = p.Groups(context.Background(), "alice")
				errs <- err
			}()
			for range 2 {
				select {
				case err := <-errs:
					assert.ErrorIs(t, err, context.DeadlineExceeded)
				case <-time.After(time.Minute): // a hang guard, not a speed check
					t.Fatal("the timeout option was not honoured")
				}
			}
		})
	}
	t.Run("cancelled context", func(t *testing.T) {
		p := newProvider(t, map[string]string{"url": "ldap://" + addr, "base_dn": testhost.SlapdPeople, "timeout": "1h"})
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 1)
		go func() {
			_, err := p.CheckPassword(ctx, "alice", "alice-pw")
			errs <- err
		}()
		cancel()
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(time.Minute):
			t.Fatal("cancelling the context did not stop the check")
		}
	})
}

// Sequential checks share one connection, counted by slapd itself; a user
// bind on a pooled connection is undone (the next search needs the reader
// account, which alice or an anonymous connection could not replace).
func TestPoolReuse(t *testing.T) {
	s := testhost.StartSlapd(t)
	admin := s.Admin(t)
	ctx := context.Background()
	checks := []check{
		{"alice", "alice-pw", core.Granted},
		{"bob", "bob-pw", core.Granted},
		{"alice", "wrong", core.Denied},
		{"bob", "bob-pw", core.Granted},
		{"nobody", "x", core.UserNotFound},
		{"alice", "alice-pw", core.Granted},
	}
	for mode, opts := range map[string]map[string]string{"search": searchMode(t, s), "bind": bindMode(t, s)} {
		t.Run(mode, func(t *testing.T) {
			opts["pool_size"] = "1"
			p := newProvider(t, opts)
			before := s.Connections(t, admin)
			for range 3 {
				runChecks(t, p, checks)
				g, err := p.Groups(ctx, "bob")
				require.NoError(t, err)
				assert.Equal(t, []string{"auditors", "devs", "staff"}, g)
			}
			assert.Equal(t, before+1, s.Connections(t, admin), "one connection for %d checks", 3*(len(checks)+1))
		})
		t.Run(mode+" pool_size 0", func(t *testing.T) {
			opts["pool_size"] = "0"
			p := newProvider(t, opts)
			before := s.Connections(t, admin)
			runChecks(t, p, checks)
			assert.Equal(t, before+len(checks), s.Connections(t, admin), "one connection per check")
		})
	}
	t.Run("concurrent", func(t *testing.T) {
		opts := searchMode(t, s)
		opts["pool_size"] = "2"
		p := newProvider(t, opts)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 5 {
					runChecks(t, p, checks)
					g, err := p.Groups(ctx, "alice")
					assert.NoError(t, err)
					assert.Equal(t, []string{"admins", "staff"}, g)
				}
			})
		}
		wg.Wait()
	})
}
