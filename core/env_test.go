package core

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvDerived(t *testing.T) {
	r := &Request{
		Method: "POST", URI: "/cgi/x%20y?a=1", Path: "/cgi/x y", RawQuery: "a=1", Proto: "HTTP/1.1",
		Host: "example.test:8443", Scheme: "https", RemoteAddr: "192.0.2.7:51234",
		ContentLength: 11, User: "demo", AuthType: "Basic",
		Header: http.Header{
			"Content-Type":    {"application/json"},
			"Content-Length":  {"11"},
			"Authorization":   {"Basic ZGVtbzpkZW1v"},
			"Proxy":           {"http://evil.example:8080"},
			"Accept":          {"text/html", "application/json"},
			"User-Agent":      {"test/1.0"},
			"X-Forwarded-For": {"198.51.100.1"},
			"Cookie":          {"a=1"},
		},
	}
	want := map[string]string{
		"GATEWAY_INTERFACE":    "CGI/1.1",
		"SERVER_PROTOCOL":      "HTTP/1.1",
		"REQUEST_METHOD":       "POST",
		"REQUEST_URI":          "/cgi/x%20y?a=1",
		"QUERY_STRING":         "a=1",
		"SCRIPT_NAME":          "",
		"PATH_INFO":            "/cgi/x y",
		"REQUEST_SCHEME":       "https",
		"HTTPS":                "on",
		"REMOTE_ADDR":          "192.0.2.7",
		"REMOTE_PORT":          "51234",
		"SERVER_NAME":          "example.test",
		"SERVER_PORT":          "8443",
		"REMOTE_USER":          "demo",
		"AUTH_TYPE":            "Basic",
		"CONTENT_LENGTH":       "11",
		"CONTENT_TYPE":         "application/json",
		"HTTP_ACCEPT":          "text/html, application/json",
		"HTTP_USER_AGENT":      "test/1.0",
		"HTTP_X_FORWARDED_FOR": "198.51.100.1",
		"HTTP_COOKIE":          "a=1",
	}
	assert.Equal(t, want, r.Env())
}

func TestEnvVariants(t *testing.T) {
	tests := []struct {
		name    string
		r       Request
		want    map[string]string
		missing []string
	}{
		{"address without port", Request{RemoteAddr: "192.0.2.7", Host: "example.test"},
			map[string]string{"REMOTE_ADDR": "192.0.2.7", "SERVER_NAME": "example.test"},
			[]string{"REMOTE_PORT", "SERVER_PORT"}},
		{"IPv6", Request{RemoteAddr: "[2001:db8::1]:443", Host: "[2001:db8::2]:8080"},
			map[string]string{"REMOTE_ADDR": "2001:db8::1", "REMOTE_PORT": "443", "SERVER_NAME": "2001:db8::2", "SERVER_PORT": "8080"},
			nil},
		{"plain http, no user, no body", Request{Scheme: "http", ContentLength: 0},
			map[string]string{"REQUEST_SCHEME": "http"},
			[]string{"HTTPS", "REMOTE_USER", "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE"}},
		{"unknown length", Request{ContentLength: -1}, nil, []string{"CONTENT_LENGTH"}},
		{"no Authorization, no Proxy (httpoxy)", Request{Header: http.Header{
			"Authorization": {"Bearer t"}, "Proxy": {"http://evil"},
		}}, nil, []string{"HTTP_AUTHORIZATION", "HTTP_PROXY", "HTTP_CONTENT_LENGTH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.r.Env()
			for k, v := range tt.want {
				assert.Equal(t, v, e[k], k)
			}
			for _, k := range tt.missing {
				assert.NotContains(t, e, k)
			}
		})
	}
}

func TestEnvCachedAndSettable(t *testing.T) {
	r := &Request{Method: "GET"}
	e := r.Env()
	e["MY_VAR"] = "x"
	assert.Equal(t, "x", r.Env()["MY_VAR"], "derived once; handlers may add variables")

	installed := map[string]string{"REQUEST_METHOD": "PUT", "SCRIPT_NAME": "/cgi-bin/app"}
	r.st.Env = installed
	assert.Equal(t, installed, r.Env())
}

func TestEnvThroughServer(t *testing.T) {
	envs := make(chan map[string]string, 1)
	s := newSite(t, at("/", map[Phase][]Handler{
		Authn: {HandlerFunc(func(r *Request) Status { r.User, r.AuthType = "demo", "Basic"; return OK })},
		Content: {HandlerFunc(func(r *Request) Status {
			envs <- r.Env()
			return OK
		})},
	}))
	srv := httptest.NewServer(s)
	defer srv.Close()
	st, _, _ := get(t, srv.Client(), srv.URL+"/p/a?q=1",
		"Authorization", "Basic ZGVtbzpkZW1v", "Proxy", "http://evil.example", "X-Test-Header", "v")
	require.Equal(t, http.StatusOK, st)
	e := <-envs

	assert.Equal(t, "127.0.0.1", e["REMOTE_ADDR"])
	port, err := strconv.Atoi(e["REMOTE_PORT"])
	require.NoError(t, err)
	assert.Positive(t, port)
	assert.Equal(t, "127.0.0.1", e["SERVER_NAME"])
	_, sport, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	assert.Equal(t, sport, e["SERVER_PORT"])
	assert.Equal(t, "GET", e["REQUEST_METHOD"])
	assert.Equal(t, "/p/a?q=1", e["REQUEST_URI"])
	assert.Equal(t, "/p/a", e["PATH_INFO"])
	assert.Equal(t, "q=1", e["QUERY_STRING"])
	assert.Equal(t, "HTTP/1.1", e["SERVER_PROTOCOL"])
	assert.Equal(t, "v", e["HTTP_X_TEST_HEADER"])
	assert.Equal(t, "demo", e["REMOTE_USER"])
	assert.Equal(t, "Basic", e["AUTH_TYPE"])
	assert.NotContains(t, e, "HTTP_AUTHORIZATION")
	assert.NotContains(t, e, "HTTP_PROXY")
	assert.NotContains(t, e, "HTTPS")
}
