package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/anyhost/anyhost/authn/htpasswd"
	"github.com/anyhost/anyhost/core"
)

// newUsers builds demo.users: the demo htpasswd (demo:demo). With the
// option record, every password check appends "USER RESULT" to that file,
// so tests can count checks across processes (how many times a request's
// password was verified) without timing anything. The password is never
// written.
func newUsers(o core.Options) (core.PasswordProvider, error) {
	if err := o.Check("record"); err != nil {
		return nil, err
	}
	f, err := htpasswd.Parse(bytes.NewReader(users))
	if err != nil {
		return nil, err
	}
	if o.String("record", "") == "" {
		return f, nil
	}
	return recordingUsers{f, o.Path("record")}, nil
}

type recordingUsers struct {
	core.PasswordProvider
	path string
}

func (u recordingUsers) CheckPassword(ctx context.Context, user, password string) (core.AuthResult, error) {
	res, err := u.PasswordProvider.CheckPassword(ctx, user, password)
	// O_APPEND keeps whole short lines intact across processes.
	f, ferr := os.OpenFile(u.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if ferr != nil {
		return core.Denied, fmt.Errorf("demo.users: option record: %w", ferr)
	}
	defer f.Close()
	fmt.Fprintf(f, "%q %s\n", user, res)
	return res, err
}

var _ core.PasswordProvider = recordingUsers{}
