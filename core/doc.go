// Package core is the contract between a handler and every host that runs
// it (Apache in-process, nginx, FastCGI, standalone, CGI): what a handler
// reads and writes, what it returns, in which phase it runs, how it is
// registered and configured, and the interfaces auth plugins implement.
// It holds no host plumbing and no auth implementation.
//
// What is here:
//   - Request (its fields and the handler-facing methods: Write, Flush,
//     Note, ErrHeader, Env, Context, Log, HTTPRequest, ...), Identity, Kind.
//   - Handler, HandlerFunc, Status (OK, Declined, Done or an HTTP status),
//     RunPhase; Phase and its stacking rules.
//   - Site, Location, Limits, NewSite, LocationPrefix, CleanPath.
//   - The registry: Registry, NewRegistry, Build, Handlers, Providers,
//     Register, RegisterProvider, NewHandler, NewProvider; Options and
//     ResolveSecret.
//   - The auth interfaces: Authenticator, PasswordProvider (AuthResult:
//     Granted, Denied, UserNotFound), GroupLister, Authorizer,
//     TokenVerifier, ErrInvalidToken.
//   - net/http both ways: FromHTTPHandler runs an http.Handler as content,
//     and a *Site is an http.Handler. StatusForError and the body errors
//     (ErrBodyTooLarge, ErrBodyTimeout, ErrBodyMalformed) let a handler
//     answer a body it could not read.
//
// Where the rest went:
//   - core/host, for hosts: Bind, Reset, SetEnv, SetEnvLoader, EnvLoaded,
//     SetPanicLog and PanicLog (were Request methods and a core type;
//     SetPhase, which no host called, is gone: RunPhase sets the phase), HTTPHandler, DiscardWriter, RunAuthPhases, ParseTarget
//     and its errors, RequestFromCGI (was fastcgi.FillFromCGI), and
//     SiteSlot, the swappable site every host shares.
//   - authn: AuthnHandler, AuthzHandler, Require, ParseRequire,
//     CheckChain, StatusError.
//   - authn/basic: Basic, ParseBasic, CredentialCache, Throttle and its
//     modes, ErrThrottled, ClientIP, TrustedProxies.
//   - authn/bearer: Bearer, ParseBearer, the token verifier registry.
//   - authn/store: the state of the cache and the throttle, split into
//     Cache and FailureCounter; Memory (was MemoryStore) and the store
//     registry (was AuthStores).
//   - DuplicateCredentials is no longer exported: every host runs it
//     through Site.Serve or host.RunAuthPhases.
package core
