package inproc

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/anyhost/anyhost/internal/wire"
)

// Load is a bridge's init, once per child or worker: it reads the spec
// table, sets GOMAXPROCS (0 keeps Go's default) and builds with build.
// It returns 0; 1 when build failed for some specs (the rest serves, those
// handlers answer 500); -1 when nothing can run (versionErr, a bad table,
// a panic). The message goes into errbuf, NUL-terminated, for C to log.
func Load(errbuf []byte, versionErr error, specs []byte, gomaxprocs int, build func(serverRoot string, specs []wire.Spec) error) (rc int) {
	fail := func(err error, rc int) int {
		if len(errbuf) > 0 {
			m := copy(errbuf[:len(errbuf)-1], err.Error())
			errbuf[m] = 0
		}
		return rc
	}
	defer func() {
		if v := recover(); v != nil {
			rc = fail(fmt.Errorf("panic while building handlers: %v\n%s", v, debug.Stack()), -1)
		}
	}()
	if versionErr != nil {
		return fail(versionErr, -1)
	}
	root, sp, err := wire.ReadSpecs(specs)
	if err != nil {
		return fail(err, -1)
	}
	if gomaxprocs > 0 {
		runtime.GOMAXPROCS(gomaxprocs)
	}
	if err := build(root, sp); err != nil {
		// A child or worker started between a library swap and the reload
		// that goes with it meets exactly this.
		return fail(err, 1)
	}
	return 0
}
