package fastcgi

import (
	"strconv"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/secret"
)

// The params the web server's configuration adds for us (never a client:
// a client's header Anyhost-User arrives as HTTP_ANYHOST_USER). Each may
// come once; none reaches a handler's Env().
const (
	// ANYHOST_USER and ANYHOST_AUTH_TYPE carry the user the web server's
	// auth check (through us) established: nginx's auth_request reply,
	// Apache's mod_authnz_fcgi. They are the only source of r.User here,
	// believed only with the secret.
	paramUser     = "ANYHOST_USER"
	paramAuthType = "ANYHOST_AUTH_TYPE"
	// ParamLocation names the site location the web server matched the
	// request to (Apache's <Location>, nginx's location): the authorizer
	// and the responder refuse a request whose path the site matches to
	// another location, so auth is never decided on one location and
	// content served from another (a configuration generated from an older
	// site file, a host that normalises the path differently).
	ParamLocation = "ANYHOST_LOCATION"
)

// ParamAuthDone is the param a web server sends, with the value "1", in the
// locations where its configuration already runs the location's access,
// authn and authz phases through us (nginx's auth_request to our auth
// endpoint, Apache's mod_authnz_fcgi to our Authorizer role): the Responder
// then sets core.Request.AuthChecked and does not check the password a
// second time. It is believed only with the web server's secret
// (secret.Param) and with ANYHOST_LOCATION; without them the Responder runs
// the auth phases itself.
const ParamAuthDone = "ANYHOST_AUTH_DONE"

// serverParams is what the web server's configuration said about a request
// beside the CGI variables.
type serverParams struct {
	user, authType string
	authDone       bool
	secret         string
	location       string
	hasLocation    bool
}

// takeServerParams removes our params from env, so that no handler sees
// them (the secret above all), and returns them.
func takeServerParams(env map[string]string) serverParams {
	var sp serverParams
	sp.user, sp.authType = env[paramUser], env[paramAuthType]
	sp.authDone = env[ParamAuthDone] == "1"
	sp.secret = env[secret.Param]
	sp.location, sp.hasLocation = env[ParamLocation]
	for _, k := range [...]string{paramUser, paramAuthType, ParamAuthDone, secret.Param, ParamLocation} {
		delete(env, k)
	}
	return sp
}

// errLocation is a request whose ANYHOST_LOCATION disagrees with the site.
type errLocation struct{ msg string }

func (e errLocation) Error() string { return "fastcgi: " + e.msg }

// checkLocation returns the location for r's path, refusing it when the web
// server named another (or none): the web server's configuration was
// generated from another site file, or it matched another path than the
// one REQUEST_URI says. A location is named by its prefix
// (core.LocationPrefix), and only the one the site matches will do: one
// that merely encloses the path could have weaker rules than the site's
// own for it.
func checkLocation(site *core.Site, r *core.Request, sp serverParams) (*core.Location, error) {
	loc := site.Match(r.Path)
	if !sp.hasLocation || sp.location == "" {
		return nil, errLocation{ParamLocation + " missing: the web server's configuration does not say which location it checked (regenerate it with `anyhost apache conf` or `anyhost nginx conf`)"}
	}
	if named := core.LocationPrefix(sp.location); named != loc.Prefix {
		return nil, errLocation{"the web server matched location " + strconv.Quote(sp.location) + " for path " +
			strconv.Quote(r.Path) + ", the site location " + strconv.Quote(loc.Prefix) + ": regenerate the web server's configuration from this site file"}
	}
	return loc, nil
}
