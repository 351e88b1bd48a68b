package core

import (
	"fmt"
	"regexp"
	"sort"
	"sync"
)

// HandlerFactory builds a handler from its per-location options. It is
// called once per configured use (per Apache child on Apache), never per
// request; it should check its options (Options.Check) and load what it
// needs, so that a bad option fails at start-up with a clear error.
type HandlerFactory func(Options) (Handler, error)

// ProviderFactory builds a password provider from its options.
type ProviderFactory func(Options) (PasswordProvider, error)

// Registry maps names to factories. Plugins register from init(), the
// database/sql driver pattern, because an Apache library never runs main.
type Registry[F any] struct {
	kind string
	mu   sync.RWMutex
	m    map[string]entry[F]
}

type entry[F any] struct {
	factory F
	doc     string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$`)

// Register adds a factory under name with a one-line description. A
// malformed or duplicate name panics: both are programming errors found at
// init.
func (g *Registry[F]) Register(name, doc string, f F) {
	if !nameRE.MatchString(name) {
		panic(fmt.Sprintf("anyhost: %s name %q: use lower-case words joined by dots", g.kind, name))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.m[name]; dup {
		panic(fmt.Sprintf("anyhost: %s %q registered twice", g.kind, name))
	}
	if g.m == nil {
		g.m = map[string]entry[F]{}
	}
	g.m[name] = entry[F]{f, doc}
}

// Lookup returns the factory registered under name.
func (g *Registry[F]) Lookup(name string) (F, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	e, ok := g.m[name]
	return e.factory, ok
}

// Names lists the registered names, sorted.
func (g *Registry[F]) Names() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	names := make([]string, 0, len(g.m))
	for n := range g.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Doc returns the description registered with name.
func (g *Registry[F]) Doc(name string) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.m[name].doc
}

// Handlers is the registry of handler factories.
var Handlers = &Registry[HandlerFactory]{kind: "handler"}

// Providers is the registry of password provider factories.
var Providers = &Registry[ProviderFactory]{kind: "provider"}

// Register adds a handler factory; see Registry.Register.
func Register(name, doc string, f HandlerFactory) { Handlers.Register(name, doc, f) }

// RegisterProvider adds a password provider factory.
func RegisterProvider(name, doc string, f ProviderFactory) { Providers.Register(name, doc, f) }

// NewRegistry makes a registry whose errors call its entries kind ("auth
// store"), for plugin families outside core.
func NewRegistry[F any](kind string) *Registry[F] { return &Registry[F]{kind: kind} }

// Build calls the factory registered in g under name; errors name the
// registry's kind, so every New* reads the same.
func Build[F ~func(Options) (T, error), T any](g *Registry[F], name string, o Options) (T, error) {
	var zero T
	f, ok := g.Lookup(name)
	if !ok {
		// The usual cause is a package that is not linked in: names
		// are registered by init, and only imported packages run it.
		return zero, fmt.Errorf("unknown %s %q (known: %v); a %s comes with the package that registers it: "+
			"link that package into this binary (import it in your main, or `apache build --pkg` / `nginx build --pkg` for the libraries)",
			g.kind, name, g.Names(), g.kind)
	}
	v, err := f(o)
	if err != nil {
		return zero, fmt.Errorf("%s %s: %w", g.kind, name, err)
	}
	return v, nil
}

// NewHandler builds the handler registered under name.
func NewHandler(name string, o Options) (Handler, error) { return Build(Handlers, name, o) }

// NewProvider builds the password provider registered under name.
func NewProvider(name string, o Options) (PasswordProvider, error) { return Build(Providers, name, o) }
