package testhost

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// HostSite is what a matrix host is asked to serve.
type HostSite struct {
	// File is the site file; "" is the demo site.
	File string
	// Whole asks for the site as one unit where a host also has a
	// directive form: Apache in-process serves it with AnyhostSite, since
	// its directives carry neither Bearer nor the credential cache.
	Whole bool
}

// A MatrixHost is one column of the conformance matrix.
type MatrixHost struct {
	// ID names it in every table ("apache-prefork").
	ID string
	// About says in a few words what runs.
	About string
	// Start runs the host serving s until the test ends.
	Start func(t *testing.T, s HostSite) Target
}

// MatrixHosts are every host anyhost runs on, as a user deploys each.
func MatrixHosts() []MatrixHost {
	apache := func(mpm string) func(t *testing.T, s HostSite) Target {
		return func(t *testing.T, s HostSite) Target {
			o := ApacheOptions{MPM: mpm, SiteFile: s.File}
			if s.Whole && s.File != "" {
				o.SiteFile = WriteSiteFile(t, "")
				o.Extra = `AnyhostSite "` + s.File + `"`
			}
			return StartApache(t, o).Target()
		}
	}
	lighttpd := func(adapter string, args func(t *testing.T, root, site string) []string) func(t *testing.T, s HostSite) Target {
		return func(t *testing.T, s HostSite) Target {
			l := StartLighttpd(t, func(root, addr string) string {
				a := args(t, root, s.File)
				if s.File != "" {
					a = append(a, "--config", s.File)
				}
				return LighttpdConf(t, root, addr, a...)
			})
			return l.Target(adapter)
		}
	}
	return []MatrixHost{
		{ID: "standalone", About: "anyhost serve (net/http), HTTP/1.1", Start: func(t *testing.T, s HostSite) Target {
			a := StartAnyhost(t, siteArgs(s.File)...)
			return Target{URL: a.URL, Addr: a.Addr, Adapter: "standalone"}
		}},
		{ID: "standalone-http/2", About: "anyhost serve with TLS: HTTP/2 (raw requests: HTTP/1.1 over TLS)", Start: func(t *testing.T, s HostSite) Target {
			cert, key := TestCert(t)
			a := StartAnyhostTLS(t, cert, key, siteArgs(s.File)...)
			resp, err := client.Get(a.URL + "/hello")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 2, resp.ProtoMajor, "the cases' client speaks HTTP/2 to it")
			return Target{URL: a.URL, Addr: a.Addr, Adapter: "standalone"}
		}},
		{ID: "apache-event", About: "in-process in Apache httpd, mpm_event (mod_anyhost)", Start: apache("event")},
		{ID: "apache-prefork", About: "in-process in Apache httpd, mpm_prefork (mod_anyhost)", Start: apache("prefork")},
		{ID: "apache-daemon", About: "Apache mod_proxy_fcgi + mod_authnz_fcgi to anyhost serve --adapter fastcgi", Start: func(t *testing.T, s HostSite) Target {
			return StartApacheDaemon(t, ApacheDaemonOptions{GoSite: s.File, ConfSite: s.File}).Target()
		}},
		{ID: "nginx-fastcgi", About: "nginx fastcgi_pass to anyhost serve --adapter nginx", Start: func(t *testing.T, s HostSite) Target {
			return StartNginxFastCGI(t, s.File).Target("nginx")
		}},
		{ID: "nginx-module", About: "in-process in nginx's workers (ngx_http_anyhost_module)", Start: func(t *testing.T, s HostSite) Target {
			return StartNginxModule(t, NginxModuleOptions{SiteFile: s.File}).Target("nginx-module")
		}},
		{ID: "cgi-apache", About: "anyhost as a CGI program under Apache mod_cgid (mpm_event)", Start: func(t *testing.T, s HostSite) Target {
			tg := StartApacheCGI(t, "event", s.File).Target()
			tg.Adapter = "cgi"
			return tg
		}},
		{ID: "cgi-lighttpd", About: "anyhost as a CGI program under lighttpd mod_cgi", Start: lighttpd("cgi", func(t *testing.T, root, site string) []string {
			return []string{"--mode", "cgi", "--program", CGIProgram(t, root, site)}
		})},
		{ID: "lighttpd-fastcgi", About: "lighttpd mod_fastcgi spawning anyhost serve --adapter fastcgi", Start: lighttpd("fastcgi", func(t *testing.T, root, site string) []string {
			spawn := AnyhostBinary(t) + " serve --adapter fastcgi"
			if site != "" {
				spawn += " --config " + site
			}
			return []string{"--mode", "fastcgi", "--socket", filepath.Join(root, "fcgi.sock"), "--spawn", spawn}
		})},
	}
}

func siteArgs(file string) []string {
	if file == "" {
		return nil
	}
	return []string{"--config", file}
}

// WriteSiteFile writes a site file where every host's workers (www-data)
// can read it, in a directory of its own they may also write to (the phase
// recorder's file).
func WriteSiteFile(t testing.TB, content string) string {
	t.Helper()
	dir := NewApacheRoot(t)
	p := filepath.Join(dir, "site.toml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}
