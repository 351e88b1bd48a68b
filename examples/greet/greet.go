// Package greet is an example of a user's own handler: it registers itself
// from init(), so any anyhost binary that imports it can serve it.
package greet

import "github.com/anyhost/anyhost/core"

func init() { core.Register("greet", "greets ?name=, or the authenticated user", New) }

// New builds the handler; option greeting defaults to "Hello".
func New(o core.Options) (core.Handler, error) {
	if err := o.Check("greeting"); err != nil {
		return nil, err
	}
	greeting := o.String("greeting", "Hello")
	return core.HandlerFunc(func(r *core.Request) core.Status {
		name := r.HTTPRequest().URL.Query().Get("name")
		if name == "" {
			name = r.User
		}
		if name == "" {
			return core.Declined // nothing to greet: the host answers 404
		}
		r.ResponseHeader.Set("Content-Type", "text/plain; charset=utf-8")
		r.WriteString(greeting + ", " + name + "!\n")
		return core.OK
	}), nil
}
