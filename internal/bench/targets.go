package main

// targets is the benchmark table. Rows run in this order within each round;
// groups are printed in order of their first row. Each group needs exactly
// one Baseline row.
func targets() []Target {
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
			// A/A control: a second, identical barehello process. Its ratios
			// to the baseline show how much of a difference is just noise.
			Name:  "net/http bare hello (A/A control)",
			Group: "standalone",
			OptIn: true,
			Notes: "a second barehello process; its ratios to the baseline are the run's noise",
			Start: bareHello,
		},
	}
	// Apache groups (apache.go): per MPM, one httpd with anyhost, a static
	// file, mod_proxy_http and CGI; then one httpd per embedded language.
	ts = append(ts, apacheTargets()...)
	ts = append(ts, nginxTargets()...)
	return append(ts, nginxModuleTargets()...)
}
