// Package metrics is `anyhost serve`'s Prometheus metrics: a core.Observer
// that counts what its sites serve, and the handler that exposes them.
// Only serve binaries import it; the handler libraries Apache and nginx
// load never link the client library (core knows only the interface).
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/anyhost/anyhost/core"
)

// Metrics holds one process's metrics in a registry of its own (no
// global state: two servers in one test process count apart).
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	auth      *prometheus.CounterVec
	cache     *prometheus.CounterVec
	throttled *prometheus.CounterVec
	reloads   *prometheus.CounterVec

	// series caches each (location, phase, status)'s counter and its
	// location's histogram: WithLabelValues hashes and validates its
	// labels on every call, which was most of what a request cost.
	series sync.Map // outcome -> *outcomeSeries
}

type outcome struct {
	location string
	decided  core.Phase
	status   int
}

type outcomeSeries struct {
	requests  prometheus.Counter
	durations prometheus.Observer
}

// New makes the metrics of a process serving on adapter, with the Go
// runtime's and the process's own (CPU, memory, descriptors).
func New(adapter, version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "anyhost_requests_total",
			Help: "Requests served, by the site location they ended in, the status sent, and the phase that decided it (content for a normal answer).",
		}, []string{"location", "code", "phase"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "anyhost_request_duration_seconds",
			Help: "Time from the first phase to the end of the log phase, by location.",
			// 100 us to 6 s: a handler answers in well under a
			// millisecond, a password hash takes tens of them.
			Buckets: prometheus.ExponentialBuckets(100e-6, 3, 11),
		}, []string{"location"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "anyhost_requests_in_flight",
			Help: "Requests whose phases are running.",
		}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "anyhost_auth_answers_total",
			Help: "Answers of password providers and token verifiers, by registered name: granted, denied, not_found (user unknown to it), error.",
		}, []string{"provider", "result"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "anyhost_credential_cache_lookups_total",
			Help: "Credential cache look-ups, by result (hit, miss); the hit ratio is hit over their sum.",
		}, []string{"result"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "anyhost_throttled_logins_total",
			Help: "Logins the failed-attempt throttle refused (429/403) or delayed.",
		}, []string{"action"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "anyhost_site_reloads_total",
			Help: "Site file reloads (SIGHUP), by result: ok, or failed (the previous site kept serving).",
		}, []string{"result"}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "anyhost_build_info",
		Help: "Always 1: the version and the adapter serving.",
	}, []string{"version", "adapter"})
	info.WithLabelValues(version, adapter).Set(1)
	m.reg.MustRegister(m.requests, m.durations, m.inFlight, m.auth, m.cache, m.throttled, m.reloads, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The series that exist before the first event, so a dashboard's
	// rate() has a zero to start from.
	for _, r := range []string{"hit", "miss"} {
		m.cache.WithLabelValues(r)
	}
	for _, a := range []string{"refused", "delayed"} {
		m.throttled.WithLabelValues(a)
	}
	for _, r := range []string{"ok", "failed"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// Handler serves the metrics in Prometheus' text format (or
// OpenMetrics, when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// Reloaded counts one reload.
func (m *Metrics) Reloaded(ok bool) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// Begin implements core.Observer.
func (m *Metrics) Begin() { m.inFlight.Inc() }

// Finish implements core.Observer.
func (m *Metrics) Finish(location string, decided core.Phase, status int, took time.Duration) {
	m.inFlight.Dec()
	key := outcome{location, decided, status}
	v, ok := m.series.Load(key)
	if !ok {
		v, _ = m.series.LoadOrStore(key, &outcomeSeries{
			requests:  m.requests.WithLabelValues(location, strconv.Itoa(status), decided.String()),
			durations: m.durations.WithLabelValues(location),
		})
	}
	s := v.(*outcomeSeries)
	s.requests.Inc()
	s.durations.Observe(took.Seconds())
}

// Auth implements core.Observer.
func (m *Metrics) Auth(provider, result string) { m.auth.WithLabelValues(provider, result).Inc() }

// CredentialCache implements core.Observer.
func (m *Metrics) CredentialCache(hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cache.WithLabelValues(result).Inc()
}

// Throttled implements core.Observer.
func (m *Metrics) Throttled(refused bool) {
	action := "delayed"
	if refused {
		action = "refused"
	}
	m.throttled.WithLabelValues(action).Inc()
}

var _ core.Observer = (*Metrics)(nil)
