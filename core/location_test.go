package core

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLocationMatches(t *testing.T) {
	tests := []struct {
		prefix string
		path   string
		want   bool
	}{
		{"/private", "/private", true},
		{"/private", "/private/", true},
		{"/private", "/private/x", true},
		{"/private", "/private/x/y", true},
		{"/private", "/private123", false},
		{"/private", "/privat", false},
		{"/private", "/", false},
		{"/private", "/other/private", false},
		{"/private/", "/private", true},
		{"/private/", "/private/x", true},
		{"/private/", "/private123", false},
		{"/a/b", "/a/b/c", true},
		{"/a/b", "/a/bc", false},
		{"/a/b", "/a", false},
		{"/", "/", true},
		{"/", "/anything/at/all", true},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.path, func(t *testing.T) {
			l := &Location{Prefix: tt.prefix}
			assert.Equal(t, tt.want, l.Matches(tt.path))
		})
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/hello", "/hello"},
		{"hello", "/hello"},
		{"/a/b/", "/a/b/"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/a/b/..", "/a"},
		{"/a/b/../", "/a/"},
		{"/a/b/.", "/a/b"},
		{"/a/b/./", "/a/b/"},
		{"/..", "/"},
		{"/../", "/"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/.", "/"},
		{"/./", "/"},
		{"//", "/"},
		{"//a//b", "/a/b"},
		{"/a//b//", "/a/b/"},
		{"/a/.b/..c/...", "/a/.b/..c/..."},
		{"/a/b..", "/a/b.."},
		{"/private/../private123", "/private123"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, CleanPath(tt.in))
			// Cleaning is idempotent.
			assert.Equal(t, tt.want, CleanPath(tt.want))
		})
	}
}

func TestCleanPathNoAllocWhenClean(t *testing.T) {
	for _, p := range []string{"/hello", "/", "/a/b/", "/a/.b/c..d"} {
		var out string
		allocs := testing.AllocsPerRun(100, func() { out = CleanPath(p) })
		assert.Equal(t, p, out)
		assert.Zero(t, allocs, "CleanPath(%q) allocated", p)
	}
}

func TestNewSiteRejects(t *testing.T) {
	tests := []struct {
		name string
		locs []string
	}{
		{"empty prefix", []string{""}},
		{"relative prefix", []string{"private"}},
		{"duplicate", []string{"/a", "/a"}},
		{"duplicate with trailing slash", []string{"/a", "/a/"}},
		{"duplicate after cleaning", []string{"/a/b", "/a/./b"}},
		{"duplicate with double slash", []string{"/a//b/", "/a/b"}},
		{"duplicate root", []string{"/", "/"}},
		{"duplicate root spelled differently", []string{"/", "//"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var locs []*Location
			for _, p := range tt.locs {
				locs = append(locs, &Location{Prefix: p})
			}
			_, err := NewSite(locs)
			assert.Error(t, err)
		})
	}
}

func TestNewSiteAddsRootAndSorts(t *testing.T) {
	s := newSite(t)
	require.Len(t, s.Locations(), 1)
	assert.Equal(t, "/", s.Locations()[0].Prefix)
	assert.Equal(t, "/", s.Match("/anything").Prefix)

	s = newSite(t, &Location{Prefix: "/a/"}, &Location{Prefix: "/a/b/c"}, &Location{Prefix: "/zz"})
	var got []string
	for _, l := range s.Locations() {
		got = append(got, l.Prefix)
	}
	assert.Equal(t, []string{"/a/b/c", "/zz", "/a", "/"}, got, "longest first, trailing slash dropped, root added")

	// The caller's locations are not changed.
	in := &Location{Prefix: "/x/"}
	root := at("/", map[Phase][]Handler{Log: {HandlerFunc(func(*Request) Status { return OK })}})
	newSite(t, in, root)
	assert.Equal(t, "/x/", in.Prefix)
	assert.Nil(t, in.Handlers[Log], "inheritance must not write into the caller's Location")
}

func TestSiteMatchLongestPrefix(t *testing.T) {
	s := newSite(t,
		&Location{Prefix: "/"},
		&Location{Prefix: "/a"},
		&Location{Prefix: "/a/b"},
		&Location{Prefix: "/private/"},
	)
	tests := []struct{ path, want string }{
		{"/", "/"},
		{"/x", "/"},
		{"/a", "/a"},
		{"/a/", "/a"},
		{"/a/x", "/a"},
		{"/ab", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b"},
		{"/a/b/c/d", "/a/b"},
		{"/a/bc", "/a"},
		{"/private", "/private"},
		{"/private/", "/private"},
		{"/private/x", "/private"},
		{"/private123", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			assert.Equal(t, tt.want, s.Match(tt.path).Prefix)
		})
	}
}

// Each location's content handler names it, so the trace shows which
// location served a request.
func TestSiteLocationsThroughServe(t *testing.T) {
	tr := &trace{}
	s := newSite(t,
		at("/", map[Phase][]Handler{Content: {tr.h("root", OK)}}),
		at("/private", map[Phase][]Handler{Content: {tr.h("private", OK)}}),
		at("/private/deeper/", map[Phase][]Handler{Content: {tr.h("deeper", OK)}}),
	)
	tests := []struct{ target, want string }{
		{"/", "root"},
		{"/private", "private"},
		{"/private/", "private"},
		{"/private/x", "private"},
		{"/private123", "root"},
		{"/private/deeper", "deeper"},
		{"/private/deeper/x", "deeper"},
		{"/private/deeperx", "private"},
		{"/x/../private/y", "private"},
		{"//private//y", "private"},
		{"/private/../public", "root"},
		{"/private%2Fx", "private"}, // %-decoded before matching
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res := serveBoth(t, s, tr, tt.target)
			for _, via := range []string{"Serve", "ServeHTTP"} {
				assert.Equal(t, tt.want, res[via+"/trace"].body, via)
			}
		})
	}
}

func TestSiteLocationInheritance(t *testing.T) {
	tr := &trace{}
	s := newSite(t,
		at("/", map[Phase][]Handler{
			Access: {tr.h("root-access", OK)},
			Fixup:  {tr.h("root-fixup", OK)},
			Log:    {tr.h("root-log", OK)},
		}),
		at("/a", map[Phase][]Handler{
			Access:  {tr.h("a-access1", OK), tr.h("a-access2", OK)},
			Content: {tr.h("a-content", OK)},
		}),
		// Sets content only: access comes from /a (the nearest enclosing
		// location that sets it), fixup and log from /.
		at("/a/b", map[Phase][]Handler{Content: {tr.h("b-content", OK)}}),
		// Sets nothing: everything from /a/b, /a and /.
		at("/a/b/c", nil),
		// Replaces log for itself only.
		at("/a/b/c/d", map[Phase][]Handler{Log: {tr.h("d-log", OK)}}),
	)
	tests := []struct {
		target string
		ran    string
		status int
	}{
		{"/z", "root-access,root-fixup,root-log", 404},
		{"/a/x", "a-access1,a-access2,root-fixup,a-content,root-log", 200},
		{"/a/b", "a-access1,a-access2,root-fixup,b-content,root-log", 200},
		{"/a/b/c/x", "a-access1,a-access2,root-fixup,b-content,root-log", 200},
		{"/a/b/c/d/x", "a-access1,a-access2,root-fixup,b-content,d-log", 200},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res := serveBoth(t, s, tr, tt.target)
			for _, via := range []string{"Serve", "ServeHTTP"} {
				assert.Equal(t, tt.status, res[via].status, via)
				assert.Equal(t, tt.ran, res[via+"/trace"].body, via)
			}
		})
	}
}

func TestSiteLocationEmptyStackReplaces(t *testing.T) {
	// A location that sets a phase to an empty, non-nil stack replaces the
	// enclosing handlers with none.
	tr := &trace{}
	s := newSite(t,
		at("/", map[Phase][]Handler{Access: {tr.h("root-access", http.StatusForbidden)}, Content: {tr.h("c", OK)}}),
		at("/open", map[Phase][]Handler{Access: {}}),
	)
	res := serveBoth(t, s, tr, "/open/x")
	assert.Equal(t, http.StatusOK, res["Serve"].status)
	assert.Equal(t, "c", res["Serve/trace"].body)
	res = serveBoth(t, s, tr, "/closed")
	assert.Equal(t, http.StatusForbidden, res["Serve"].status)
}

func TestSiteOnlyPhasesOnLocationIgnored(t *testing.T) {
	tr := &trace{}
	s := newSite(t,
		at("/", map[Phase][]Handler{
			PostReadRequest: {tr.h("root-prr", OK)},
			Translate:       {tr.h("root-translate", OK)},
		}),
		at("/a", map[Phase][]Handler{
			PostReadRequest: {tr.h("a-prr", OK)},
			Translate:       {tr.h("a-translate", OK)},
			Content:         {tr.h("a-content", OK)},
		}),
	)
	for _, l := range s.Locations() {
		assert.Nil(t, l.Handlers[PostReadRequest], l.Prefix)
		assert.Nil(t, l.Handlers[Translate], l.Prefix)
	}
	res := serveBoth(t, s, tr, "/a/x")
	assert.Equal(t, "a-content", res["Serve/trace"].body)
	assert.Equal(t, "a-content", res["ServeHTTP/trace"].body)
}

func TestSiteTranslateChangesPathBeforeMatching(t *testing.T) {
	tr := &trace{}
	s := newSite(t,
		at("/", map[Phase][]Handler{Content: {tr.h("root", OK)}}),
		at("/new", map[Phase][]Handler{Content: {tr.fn("new", func(r *Request) Status {
			r.WriteString(r.Path)
			return OK
		})}}),
	)
	s.Translate = []Handler{
		tr.fn("t-decline", func(*Request) Status { return Declined }),
		tr.fn("t-rewrite", func(r *Request) Status {
			if len(r.Path) >= 4 && r.Path[:4] == "/old" {
				r.Path = "/new" + r.Path[4:]
				return OK
			}
			return Declined
		}),
		// First non-Declined wins: never runs after a rewrite.
		tr.h("t-last", Declined),
	}
	res := serveBoth(t, s, tr, "/old/page")
	for _, via := range []string{"Serve", "ServeHTTP"} {
		assert.Equal(t, http.StatusOK, res[via].status, via)
		assert.Equal(t, "/new/page", res[via].body, via)
		assert.Equal(t, "t-decline,t-rewrite,new", res[via+"/trace"].body, via)
	}
	res = serveBoth(t, s, tr, "/other")
	assert.Equal(t, "t-decline,t-rewrite,t-last,root", res["Serve/trace"].body)

	// post-read-request may change the path as well.
	s.Translate = nil
	s.PostReadRequest = []Handler{HandlerFunc(func(r *Request) Status { r.Path = "/new/from-prr"; return OK })}
	res = serveBoth(t, s, tr, "/")
	assert.Equal(t, "/new/from-prr", res["Serve"].body)
	assert.Equal(t, "/new/from-prr", res["ServeHTTP"].body)
}
