package app

import (
	"context"
	"os"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
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
	site, err := loadSite(rl.path)
	if err != nil {
		rl.log.Error().Err(err).Str("config", rl.path).Msg("reload failed: still serving the previous site")
		return
	}
	if site.Limits != rl.site.Limits {
		rl.log.Warn().Msg("reload: the site's limits changed; timeouts and the header size apply after a restart, the body limit now")
	}
	host.SetSite(site)
	rl.site = site
	rl.log.Info().Str("config", rl.path).Msg("reloaded the site")
}
