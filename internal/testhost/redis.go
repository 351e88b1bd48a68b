package testhost

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server started for a test: no persistence, its own
// directory, loopback only.
type Redis struct {
	*Process
	// Addr is 127.0.0.1:PORT; URL is redis://Addr/0.
	Addr, URL string
	dir       string
	port      int
	bin       string
}

// StartRedis starts redis-server on a free loopback port.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{bin: NeedBinary(t, "redis-server"), dir: t.TempDir(), port: FreePort(t)}
	r.Addr = fmt.Sprintf("127.0.0.1:%d", r.port)
	r.URL = "redis://" + r.Addr + "/0"
	r.Start(t)
	return r
}

// Start (re)starts the server on the same port, e.g. after Stop.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.Process = Start(t, Spec{
		Args: []string{r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no", "--protected-mode", "yes"},
		Dir:   r.dir,
		Ready: func() error { return redisPing(r.Addr) },
	})
}

// Stop stops the server and waits until it is gone.
func (r *Redis) Stop() { r.Process.Stop(syscall.SIGTERM) }

// redisPing sends PING and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("redis answered %q", line)
	}
	return nil
}
