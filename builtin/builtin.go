// Package builtin links in every handler and provider that ships with
// anyhost. The CLI and the Apache handler library import it, so both
// register the same names.
package builtin

import (
	_ "github.com/anyhost/anyhost/authn/htpasswd"
	_ "github.com/anyhost/anyhost/authn/jwt"
	_ "github.com/anyhost/anyhost/authn/ldap"
	_ "github.com/anyhost/anyhost/authn/redisstore"
	_ "github.com/anyhost/anyhost/authn/sqlstore"
	_ "github.com/anyhost/anyhost/authn/static"
	_ "github.com/anyhost/anyhost/handlers/cgi"
	_ "github.com/anyhost/anyhost/handlers/demo"
	_ "github.com/anyhost/anyhost/handlers/health"
	_ "github.com/anyhost/anyhost/handlers/static"
)
