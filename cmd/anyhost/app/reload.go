package app

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/metrics"
	"github.com/anyhost/anyhost/internal/secret"
)

// siteSetter is a host whose site can be replaced while it serves.
type siteSetter interface{ SetSite(*core.Site) }

// reloader re-reads the site file when a signal arrives on hup (SIGHUP:
// `systemctl reload`) and hands the new site to the host, which swaps it
// in for new requests while those in progress finish on the old one. A
// file that does not load or build is logged with its FILE:LINE errors and
// the old site keeps serving.
type reloader struct {
	path string // "" is the embedded demo site
	hup  <-chan os.Signal
	log  zerolog.Logger
	// logOut is flushed on every SIGHUP: an operator who reloads sees
	// every line logged before it.
	logOut interface{ Flush() }
	// grace is how long a replaced site stays open for the requests still
	// using it before its pools (LDAP, SQL, Redis) are closed.
	grace time.Duration

	// secrets, when set, are re-read from secretRefs on every reload
	// (rotation: the new secret beside the previous one).
	secrets    *secret.Set
	secretRefs []string

	// metrics, when set, observe every site loaded and count reloads.
	metrics *metrics.Metrics

	mu   sync.Mutex
	site *core.Site // the one serving
}

// start runs the reload loop for host until ctx ends.
func (rl *reloader) start(ctx context.Context, host siteSetter) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-rl.hup:
				rl.reload(host)
			}
		}
	}()
}

func (rl *reloader) reload(host siteSetter) {
	if rl.logOut != nil {
		rl.logOut.Flush()
	}
	if len(rl.secretRefs) > 0 {
		if err := rl.loadSecrets(); err != nil {
			rl.log.Error().Err(err).Msg("reload: the secrets did not load: still accepting the previous ones")
		} else {
			rl.log.Info().Msg("reloaded the web server's secrets")
		}
	}
	site, err := loadSite(rl.path)
	if err != nil {
		// Counted before the line, so that whoever reads the line sees
		// the count.
		if rl.metrics != nil {
			rl.metrics.Reloaded(false)
		}
		rl.log.Error().Err(err).Str("config", rl.path).Msg("reload failed: still serving the previous site")
		return
	}
	if rl.metrics != nil {
		site.SetObserver(rl.metrics)
		rl.metrics.Reloaded(true)
	}
	rl.mu.Lock()
	old := rl.site
	rl.site = site
	rl.mu.Unlock()
	if site.Limits != old.Limits {
		rl.log.Warn().Msg("reload: the site's limits changed; timeouts and the header size apply after a restart, the body limit now")
	}
	host.SetSite(site)
	rl.log.Info().Str("config", rl.path).Msg("reloaded the site")
	time.AfterFunc(rl.grace, func() {
		if err := old.Close(); err != nil {
			rl.log.Warn().Err(err).Msg("closing the replaced site's connections")
		}
	})
}

// loadSecrets reads secretRefs into secrets, which it makes on first use;
// on an error the secrets accepted so far stay.
func (rl *reloader) loadSecrets() error {
	values, err := secret.Load(rl.secretRefs, ".")
	if err != nil {
		return err
	}
	if rl.secrets == nil {
		rl.secrets = new(secret.Set)
	}
	rl.secrets.Replace(values)
	return nil
}

// close releases the serving site's connections, once the host stopped.
func (rl *reloader) close() {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if err := rl.site.Close(); err != nil {
		rl.log.Warn().Err(err).Msg("closing the site's connections")
	}
}
