package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// conn is a directory connection bound as the service identity between
// uses.
type conn struct {
	*goldap.Conn
	// nc is the TCP connection under any TLS: its deadline bounds every
	// operation, StartTLS and the handshake included, which go-ldap's own
	// request timeout does not.
	nc net.Conn
	// bad marks a connection that must not go back to the pool.
	bad bool
}

// pool keeps up to max idle connections.
type pool struct {
	mu     sync.Mutex
	idle   []*conn
	max    int
	closed bool
}

// get returns an idle connection, or nil. Connections the server closed
// while they were idle (go-ldap's reader saw EOF) are dropped.
func (p *pool) get() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosing() {
			return c
		}
		c.Close()
	}
	return nil
}

// put keeps c for reuse, or closes it when the pool is full or closed.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.max {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// do runs f on a connection bound as the service identity, all within
// timeout (and ctx). A connection f failed on is closed, never pooled. If
// a pooled connection turns out dead (the directory restarted, an idle
// timeout closed it), f runs once more on a new one; an answer the
// directory gave is never retried.
func (p *Provider) do(ctx context.Context, f func(*conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	for retried := false; ; retried = true {
		// A retry dials: the pool's other idle connections are as old.
		var c *conn
		pooled := !retried
		if pooled {
			c = p.pool.get()
		}
		if c == nil {
			var err error
			if c, err = p.dial(ctx); err != nil {
				return fmt.Errorf("ldap server %s: %w", p.addr, err)
			}
			pooled = false
		}
		err := run(ctx, c, f)
		if err == nil && !c.bad {
			p.pool.put(c)
			return nil
		}
		dead := c.IsClosing() // go-ldap's reader lost the connection
		c.Close()
		if err == nil || !pooled || !dead || retried || ctx.Err() != nil {
			if err != nil {
				err = fmt.Errorf("ldap server %s: %w", p.addr, err)
			}
			return err
		}
	}
}

// run calls f with c's deadline set from ctx; cancelling ctx aborts the
// operation in flight by moving the deadline to the past.
func run(ctx context.Context, c *conn, f func(*conn) error) error {
	deadline, _ := ctx.Deadline()
	c.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	err := f(c)
	if !stop() {
		// The deadline was moved to the past: the connection is spent.
		c.bad = true
	} else {
		c.nc.SetDeadline(time.Time{})
	}
	if err != nil {
		c.bad = true
		return ctxErr(ctx, err)
	}
	return nil
}

// ctxErr adds why ctx ended to err. go-ldap reports a connection that hit
// its deadline as a read error in words only; errors.Is should still find
// context.DeadlineExceeded. The connection's deadline may fire a moment
// before ctx's own timer does.
func ctxErr(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if d, ok := ctx.Deadline(); cause == nil && ok && !time.Now().Before(d) {
		cause = context.DeadlineExceeded
	}
	if cause == nil || errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, cause)
}

// dial connects, upgrades with StartTLS if asked, and binds as the
// service identity, all before ctx's deadline.
func (p *Provider) dial(ctx context.Context) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	var lc *goldap.Conn
	if p.ldaps {
		tc := tls.Client(nc, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS: %w", ctxErr(ctx, err))
		}
		lc = goldap.NewConn(tc, true)
	} else {
		lc = goldap.NewConn(nc, false)
	}
	lc.Start()
	c := &conn{Conn: lc, nc: nc}
	err = run(ctx, c, func(c *conn) error {
		if p.startTLS {
			if err := c.StartTLS(p.tls); err != nil {
				return fmt.Errorf("StartTLS: %w", err)
			}
		}
		return p.bindService(c)
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// bindService binds c as the service identity: bind_dn, or anonymous.
func (p *Provider) bindService(c *conn) error {
	if p.bindDN == "" {
		// An anonymous bind (RFC 4513 5.1.1): empty name and password.
		if err := c.UnauthenticatedBind(""); err != nil {
			return fmt.Errorf("anonymous bind: %w", err)
		}
		return nil
	}
	if err := c.Bind(p.bindDN, p.bindPW); err != nil {
		return fmt.Errorf("service bind as %s: %w", p.bindDN, err)
	}
	return nil
}
