package main

import "context"

// targets is the benchmark table. Rows run in this order within each round;
// groups are printed in order of their first row. Each group needs exactly
// one Baseline row.
func targets() []Target {
	standaloneCached, standaloneFresh := authRowNames("anyhost standalone")
	standaloneCachedNote, standaloneFreshNote := authNotes("anyhost serve --config (the auth rows' site)")
	bareHello := GoServer("./internal/bench/barehello", "barehello",
		func(addr string) []string { return []string{"--listen", addr} }, "/hello")

	ts := []Target{
		{
			Name:     "net/http bare hello",
			Group:    "standalone",
			Baseline: true,
			Notes:    "net/http with one HandlerFunc (internal/bench/barehello): the floor for any Go server",
			Start:    bareHello,
		},
		{
			Name:  "net/http bare hello + timeouts",
			Group: "standalone",
			Notes: "barehello with anyhost's default read/idle timeouts and header limit: what those alone cost",
			Start: GoServer("./internal/bench/barehello", "barehello",
				func(addr string) []string { return []string{"--listen", addr, "--timeouts"} }, "/hello"),
		},
		{
			Name:  "anyhost standalone /hello",
			Group: "standalone",
			Notes: "the product: anyhost serve --listen ADDR --log-level warn (no access log lines)",
			Start: GoServer("./cmd/anyhost", "anyhost", func(addr string) []string {
				return []string{"serve", "--listen", addr, "--log-level", "warn"}
			}, "/hello"),
		},
		{
			Name:  "anyhost standalone /hello, access log",
			Group: "standalone",
			Notes: "anyhost serve with its defaults: one JSON access log line per request to stderr (a file here)",
			Start: GoServer("./cmd/anyhost", "anyhost", func(addr string) []string {
				return []string{"serve", "--listen", addr, "--log-format", "json"}
			}, "/hello"),
		},
		{
			Name:  standaloneCached,
			Group: "standalone",
			Notes: standaloneCachedNote,
			Start: anyhostServe(authCachedPath, true, 0, false),
		},
		{
			Name:  standaloneFresh,
			Group: "standalone",
			Notes: standaloneFreshNote,
			Start: anyhostServe(authFreshPath, true, authFreshConns, false),
		},
		{
			// A/A control: a second, identical barehello process. Its ratios
			// to the baseline show how much of a difference is just noise.
			Name:  "net/http bare hello (A/A control)",
			Group: "standalone",
			OptIn: true,
			Notes: "a second barehello process; its ratios to the baseline are the run's noise",
			Start: bareHello,
		},
	}
	ts = append(ts, http2Targets()...)
	// Apache groups (apache.go): per MPM, one httpd with anyhost, a static
	// file, mod_proxy_http and CGI; then one httpd per embedded language.
	ts = append(ts, apacheTargets()...)
	ts = append(ts, nginxTargets()...)
	ts = append(ts, nginxModuleTargets()...)
	return append(ts, lighttpdGroups()...)
}

const http2Group = "standalone-http/2"

// http2Targets is the standalone host over TLS, where net/http speaks
// HTTP/2: h2load drives the rows (32 connections, one stream each at a
// time), against barehello over TLS as the baseline.
func http2Targets() []Target {
	const group = http2Group
	cachedName, freshName := authRowNames("anyhost standalone")
	cachedNote, freshNote := authNotes("")
	return []Target{
		{
			Name: "net/http bare hello", Group: group, Baseline: true,
			Notes: "internal/bench/barehello --tls-cert (ListenAndServeTLS: HTTP/2 over ALPN, a self-signed P-256 certificate); " +
				"h2load -c32 -t2 -m1 (one stream per connection at a time, as wrk's HTTP/1.1), percentiles from its --log-file",
			Start: func(ctx context.Context, workDir string) (*Running, error) {
				return startGoServer(ctx, workDir, "./internal/bench/barehello", "barehello", "https", "/hello", func(addr string) ([]string, error) {
					cert, key, err := benchCert(workDir)
					return []string{"--listen", addr, "--tls-cert", cert, "--tls-key", key}, err
				})
			},
		},
		{
			Name: "anyhost standalone /hello", Group: group,
			Notes: "the product: anyhost serve --tls-cert --tls-key (HTTP/2), the auth rows' site, --log-level warn",
			Start: anyhostServe("/hello", false, 0, true),
		},
		{Name: cachedName, Group: group, Notes: cachedNote, Start: anyhostServe(authCachedPath, true, 0, true)},
		{Name: freshName, Group: group, Notes: freshNote, Start: anyhostServe(authFreshPath, true, authFreshConns, true)},
	}
}
