//go:build linux

// Package spawn starts a program the way a CGI host must when it lives inside
// another server (Apache's children, nginx's workers, a Go process): with an
// empty signal mask, every signal at its default disposition, no file
// descriptor but 0-2, in a process group of its own, with exactly the
// environment given. os/exec can do none of the first three: the child
// inherits the mask and ignored signals of the thread that forks (Apache
// blocks most signals around loading Go; it ignores SIGPIPE) and every
// descriptor not marked close-on-exec (nginx's listening and client sockets).
//
// It uses glibc's posix_spawn (clone with CLONE_VFORK, safe in a threaded
// process) with POSIX_SPAWN_SETSIGMASK, POSIX_SPAWN_SETSIGDEF,
// POSIX_SPAWN_SETPGROUP, and file actions that dup the three pipes to 0-2,
// change directory and close every descriptor from 3 up (closefrom, glibc
// 2.34).
package spawn

/*
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>

static int ah_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                    int in, int out, int err, const char *dir)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    sigset_t none, all;
    int rc;

    sigemptyset(&none);
    sigfillset(&all);
    if ((rc = posix_spawnattr_init(&attr)) != 0)
        return rc;
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        posix_spawnattr_destroy(&attr);
        return rc;
    }
    rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    if (!rc) rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (!rc) rc = posix_spawnattr_setpgroup(&attr, 0);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, in, 0);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, out, 1);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, err, 2);
    if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!rc && dir) rc = posix_spawn_file_actions_addchdir_np(&fa, dir);
    if (!rc) rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}
*/
import "C"

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Process is a started program. Its process group has the program's pid
// as id, so KillGroup reaches whatever it started too.
type Process struct {
	Pid  int
	proc *os.Process
}

// Start runs path with argv (argv[0] first) and env ("K=V"), its standard
// streams connected to stdin, stdout and stderr, in dir ("" for the
// caller's). Nothing of the caller's environment is passed.
func Start(path string, argv, env []string, dir string, stdin, stdout, stderr *os.File) (*Process, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	cargv := cStrings(argv)
	defer freeStrings(cargv)
	cenv := cStrings(env)
	defer freeStrings(cenv)
	var cdir *C.char
	if dir != "" {
		cdir = C.CString(dir)
		defer C.free(unsafe.Pointer(cdir))
	}
	var pid C.pid_t
	rc := C.ah_spawn(&pid, cpath, &cargv[0], &cenv[0], C.int(stdin.Fd()), C.int(stdout.Fd()), C.int(stderr.Fd()), cdir)
	if rc != 0 {
		return nil, fmt.Errorf("spawn %s: %w", path, syscall.Errno(rc))
	}
	p, err := os.FindProcess(int(pid))
	if err != nil {
		return nil, err
	}
	return &Process{Pid: int(pid), proc: p}, nil
}

// Wait waits for the program to exit and reaps it.
func (p *Process) Wait() (*os.ProcessState, error) { return p.proc.Wait() }

// KillGroup sends SIGKILL to the program's whole process group.
func (p *Process) KillGroup() error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }

// cStrings is a NULL-terminated C array of copies of ss.
func cStrings(ss []string) []*C.char {
	out := make([]*C.char, len(ss)+1)
	for i, s := range ss {
		out[i] = C.CString(s)
	}
	return out
}

func freeStrings(cs []*C.char) {
	for _, c := range cs {
		if c != nil {
			C.free(unsafe.Pointer(c))
		}
	}
}
