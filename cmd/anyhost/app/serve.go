package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/anyhost/anyhost/adapters/cgi"
	"github.com/anyhost/anyhost/adapters/fastcgi"
	"github.com/anyhost/anyhost/adapters/nginx"
	"github.com/anyhost/anyhost/adapters/standalone"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/listen"
	"github.com/anyhost/anyhost/internal/logbuf"
	"github.com/anyhost/anyhost/internal/metrics"
	"github.com/anyhost/anyhost/internal/ratelog"
)

// adapter runs a site on one kind of host until ctx ends; it hands its
// host to rl.start so that SIGHUP reloads the site.
type adapter struct {
	usage string
	run   func(ctx context.Context, c *cli.Context, site *core.Site, log zerolog.Logger, rl *reloader) error
}

// adapters is the table `serve --adapter` chooses from.
var adapters = map[string]adapter{
	"standalone": {"Go's net/http server runs every phase (HTTP/1.1, HTTP/2 with TLS)", runStandalone},
	"fastcgi":    {"FastCGI responder and authorizer (nginx fastcgi_pass, Apache mod_proxy_fcgi / mod_authnz_fcgi)", runFastCGI},
	"nginx":      {"FastCGI responder on --listen plus the auth_request endpoint on --auth-listen (see `anyhost nginx conf`)", runNginx},
	"cgi":        {"one request as a CGI/1.1 program (mod_cgi, lighttpd); chosen by itself when GATEWAY_INTERFACE is set", runCGI},
}

// runCGI answers the one request in the environment. The site file is
// --config or ANYHOST_CONFIG (a cgi-bin wrapper sets either).
func runCGI(_ context.Context, _ *cli.Context, site *core.Site, log zerolog.Logger, _ *reloader) error {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return cgi.Serve(site, env, os.Stdin, os.Stdout, log)
}

func adapterNames() string {
	var names []string
	for n := range adapters {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve a site (the embedded demo site when no --config is given)",
		UsageText: "anyhost serve [--adapter " + strings.ReplaceAll(adapterNames(), ", ", "|") + "] [--listen ADDR] [--config FILE] [--log-level LEVEL] ...",
		Flags: append(logFlags(),
			&cli.StringFlag{Name: "adapter", Value: "standalone", Usage: "host to serve on: " + adapterNames()},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "HOST:PORT or unix:/path/to.sock"},
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "site file (TOML); default: the embedded demo site"},
			&cli.StringFlag{Name: "tls-cert", Usage: "certificate file (PEM); with --tls-key turns on TLS and HTTP/2"},
			&cli.StringFlag{Name: "tls-key", Usage: "private key file (PEM)"},
			&cli.BoolFlag{Name: "access-log", Value: true, Usage: "log one line per request"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 30e9, Usage: "how long in-flight requests may take to finish on SIGTERM/SIGINT"},
			&cli.StringFlag{Name: "socket-mode", Value: "0660", Usage: "mode of a unix socket (--listen unix:PATH)"},
			&cli.StringFlag{Name: "socket-group", Usage: "group of a unix socket, to let the web server's user in"},
			&cli.StringFlag{Name: "auth-listen", Usage: "--adapter nginx: the auth_request endpoint, unix:/path (HTTP)"},
			&cli.StringSliceFlag{Name: "secret", Usage: "--adapter fastcgi|nginx: file:PATH or env:NAME holding the web server's secret " +
				"(one per line: current, then previous; re-read on SIGHUP; see 'anyhost secret'); repeatable"},
			&cli.StringSliceFlag{Name: "socket-peer", Usage: "only this user may connect to the unix sockets (SO_PEERCRED), " +
				"in addition to the socket's mode and the secret; repeatable"},
			&cli.StringFlag{Name: "metrics-listen", Usage: "serve Prometheus metrics at /metrics on this HOST:PORT or unix:PATH (a listener of its own)"},
		),
		Action: func(c *cli.Context) error {
			a, ok := adapters[c.String("adapter")]
			if !ok {
				return cli.Exit(fmt.Sprintf("unknown adapter %q; available: %s", c.String("adapter"), adapterNames()), 2)
			}
			log, out, err := newLogger(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			defer out.Close()
			// Before anything slow: SIGHUP's default action ends the
			// process.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			config := c.String("config")
			if config == "" && c.String("adapter") == "cgi" {
				config = os.Getenv("ANYHOST_CONFIG")
			}
			site, err := loadSite(config)
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			rl := &reloader{path: config, hup: hup, log: log, logOut: out, site: site, grace: c.Duration("shutdown-timeout")}
			if addr := c.String("metrics-listen"); addr != "" {
				if c.String("adapter") == "cgi" {
					return cli.Exit("--metrics-listen: a CGI program answers one request and exits; nothing would be scraped", 2)
				}
				rl.metrics = metrics.New(c.String("adapter"), Version())
				site.SetObserver(rl.metrics)
				if err := serveMetrics(ctx, addr, rl.metrics, log); err != nil {
					return cli.Exit("--metrics-listen: "+err.Error(), 1)
				}
			}
			if rl.secretRefs = c.StringSlice("secret"); len(rl.secretRefs) > 0 {
				if err := rl.loadSecrets(); err != nil {
					return cli.Exit("--secret: "+err.Error(), 1)
				}
			}
			err = a.run(ctx, c, site, log, rl)
			rl.close()
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			return nil
		},
	}
}

// loadSite reads the site file, or the embedded demo site for "".
func loadSite(path string) (*core.Site, error) {
	s, err := loadSiteFile(path)
	if err != nil {
		return nil, err
	}
	return s.Build()
}

func runStandalone(ctx context.Context, c *cli.Context, site *core.Site, log zerolog.Logger, rl *reloader) error {
	if (c.String("tls-cert") == "") != (c.String("tls-key") == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	sock, err := serveSocketOptions(c, log)
	if err != nil {
		return err
	}
	srv := &standalone.Server{
		Socket:          sock,
		Site:            site,
		Listen:          c.String("listen"),
		CertFile:        c.String("tls-cert"),
		KeyFile:         c.String("tls-key"),
		Log:             log,
		AccessLog:       c.Bool("access-log"),
		ShutdownTimeout: c.Duration("shutdown-timeout"),
	}
	rl.start(ctx, srv)
	return srv.Run(ctx)
}

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: "auto", Usage: "json, console, or auto (console on a terminal)"},
	}
}

// newLogger is serve's logger. Its lines go through a logbuf.Writer
// (close it before exiting): a request never waits for stderr.
func newLogger(c *cli.Context) (zerolog.Logger, *logbuf.Writer, error) {
	level, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil || level == zerolog.NoLevel {
		return zerolog.Logger{}, nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", c.String("log-level"))
	}
	format := c.String("log-format")
	switch format {
	case "json", "console":
	case "auto":
		format = "json"
		if term.IsTerminal(int(os.Stderr.Fd())) {
			format = "console"
		}
	default:
		return zerolog.Logger{}, nil, fmt.Errorf("--log-format: %q is not json, console or auto", format)
	}
	logTo := func(w io.Writer) zerolog.Logger {
		if format == "console" {
			w = zerolog.ConsoleWriter{Out: w}
		}
		return zerolog.New(w).Level(level).With().Timestamp().Logger()
	}
	dropLine := func(n int) []byte {
		var b bytes.Buffer
		l := logTo(&b)
		l.Warn().Int("lines", n).Msg("log: lines dropped: stderr did not take them fast enough")
		return b.Bytes()
	}
	out := logbuf.New(os.Stderr, logDelay, logQueueMax, dropLine)
	return logTo(out), out, nil
}

// How long a log line may wait to be written in a batch, and how much may
// wait (beyond it, lines are dropped and counted: stderr is stalled).
const (
	logDelay    = 50 * time.Millisecond
	logQueueMax = 4 << 20
)

func socketOptions(c *cli.Context) (listen.Options, error) {
	mode, err := strconv.ParseUint(c.String("socket-mode"), 8, 32)
	if err != nil || mode > 0o777 {
		return listen.Options{}, fmt.Errorf("--socket-mode: %q is not an octal file mode like 0660", c.String("socket-mode"))
	}
	return listen.Options{Mode: os.FileMode(mode), Group: c.String("socket-group")}, nil
}

// serveSocketOptions are socketOptions with serve's --socket-peer users.
func serveSocketOptions(c *cli.Context, log zerolog.Logger) (listen.Options, error) {
	o, err := socketOptions(c)
	o.PeerUsers = c.StringSlice("socket-peer")
	var refusals ratelog.Limiter
	o.Refused = func(uid uint32) {
		if ok, more := refusals.Allow(); ok {
			log.Warn().Uint32("uid", uid).Int("more_since_last_line", more).Msg("connection from a user not in --socket-peer closed")
		}
	}
	return o, err
}

// needSecret refuses to listen where any host of the network could send
// requests claiming a user unless a secret proves the web server: a TCP
// address other than loopback. On loopback every local user still can,
// which the secret (or a unix socket's mode) answers; the README's
// security model says so.
func needSecret(addr, flag string, rl *reloader) error {
	if rl.secrets.Configured() || strings.HasPrefix(addr, "unix:") {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if loopback(addr) {
		return nil
	}
	return fmt.Errorf("%s %s: a FastCGI socket reachable from other hosts needs --secret (see `anyhost secret new`): "+
		"anyone who reaches it could claim any user", flag, addr)
}

// addrFlag writes a listener's address as --listen takes it.
func addrFlag(a net.Addr) string {
	if a.Network() == "unix" {
		return "unix:" + a.String()
	}
	return a.String()
}

func runFastCGI(ctx context.Context, c *cli.Context, site *core.Site, log zerolog.Logger, rl *reloader) error {
	sock, err := serveSocketOptions(c, log)
	if err != nil {
		return err
	}
	ln, inherited := net.Listener(nil), false
	if !c.IsSet("listen") {
		// Spawned by the web server (lighttpd's bin-path, spawn-fcgi):
		// the socket it listens on for us is fd 0.
		ln, inherited = listen.Inherited()
	}
	if !inherited {
		if err := needSecret(c.String("listen"), "--listen", rl); err != nil {
			return err
		}
		if ln, err = listen.Listen(c.String("listen"), sock); err != nil {
			return err
		}
	} else if err := needSecret(addrFlag(ln.Addr()), "the socket on fd 0", rl); err != nil {
		return err
	}
	srv := &fastcgi.Server{Site: site, Log: log, Secrets: rl.secrets}
	rl.start(ctx, srv)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info().Str("listen", ln.Addr().String()).Msg("serving FastCGI")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, fastcgi.ErrServerClosed) {
		return err
	}
	return nil
}

func runNginx(ctx context.Context, c *cli.Context, site *core.Site, log zerolog.Logger, rl *reloader) error {
	sock, err := serveSocketOptions(c, log)
	if err != nil {
		return err
	}
	if c.String("auth-listen") == "" {
		return fmt.Errorf("--adapter nginx needs --auth-listen unix:/path for the auth_request endpoint")
	}
	for _, f := range []string{"listen", "auth-listen"} {
		if err := needSecret(c.String(f), "--"+f, rl); err != nil {
			return err
		}
	}
	h := &nginx.Host{
		Site: site, Log: log, FastCGI: c.String("listen"), Auth: c.String("auth-listen"),
		Socket: sock, ShutdownTimeout: c.Duration("shutdown-timeout"), Secrets: rl.secrets,
	}
	rl.start(ctx, h)
	return h.Run(ctx)
}
