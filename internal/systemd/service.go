// Package systemd writes the service and socket units that run `anyhost
// serve`. Every adapter's unit gets the same hardening, reload and
// runtime-directory rules from here, so a fix to one is a fix to all.
package systemd

import (
	"fmt"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Service describes one `anyhost serve` service unit.
type Service struct {
	// Comment lines open the file (without the "# ").
	Comment []string
	// Description is the unit's Description=.
	Description string
	// Args is the command line, unescaped; Service escapes each word.
	Args []string
	// User and Group run the process. The group is its primary group, so
	// the unix sockets it creates get it without any privilege.
	User, Group string
	// DynamicUser has systemd allocate User for the service's lifetime
	// (DynamicUser=yes): a uid no other process has, so PHP or CGI
	// scripts running as the web server's user can neither read its
	// credentials nor ptrace or signal it. A static Group (www-data) is
	// used as it is.
	DynamicUser bool
	// Listen are the addresses the process itself listens on: a unix
	// socket's directory becomes the RuntimeDirectory when it is /run/NAME/,
	// else it is listed in ReadWritePaths (ProtectSystem=strict would make
	// it read-only).
	Listen []string
	// Before are units this one starts before (nginx.service).
	Before []string
	// SecretFile, if set, is a root-only file systemd copies where only
	// this service reads it (LoadCredential); the process gets
	// `--secret file:...` for it.
	SecretFile string
	// Socket, if set, is the .socket unit (of the same name) whose
	// listening socket the service gets as standard input (fd 0, what
	// `serve --adapter fastcgi` takes when no --listen is given); the
	// service requires it, so starting the service alone starts it too.
	Socket string
	// ShutdownTimeout is serve's --shutdown-timeout; the stop timeout is
	// a little longer, so systemd does not kill requests still finishing.
	ShutdownTimeout time.Duration
}

// CredentialName is the name the secret has in the service's credentials
// directory.
const CredentialName = "anyhost-secret"

// Unit writes the service unit. `systemctl reload` sends SIGHUP, which
// every `serve` adapter answers by re-reading the site file (a broken one
// is logged and the old site keeps serving), so a site change needs no
// restart.
func (s Service) Unit() (string, error) {
	for _, v := range []struct{ what, value string }{{"user", s.User}, {"group", s.Group}} {
		if !IsName(v.value) {
			return "", fmt.Errorf("systemd unit: %s %q is not a user or group name", v.what, v.value)
		}
	}
	if len(s.Args) == 0 || !filepath.IsAbs(s.Args[0]) {
		return "", fmt.Errorf("systemd unit: the anyhost binary must be an absolute path, got %q", strings.Join(s.Args[:min(1, len(s.Args))], ""))
	}
	args := make([]string, len(s.Args))
	for i, a := range s.Args {
		q, err := Arg(a)
		if err != nil {
			return "", err
		}
		args[i] = q
	}
	var credential string
	if s.SecretFile != "" {
		if !filepath.IsAbs(s.SecretFile) {
			return "", fmt.Errorf("systemd unit: the secret file must be an absolute path, got %q", s.SecretFile)
		}
		q, err := Arg(s.SecretFile)
		if err != nil {
			return "", err
		}
		credential = CredentialName + ":" + q
		// Unescaped: ExecStart expands the directory's variable.
		args = append(args, "--secret", "file:${CREDENTIALS_DIRECTORY}/"+CredentialName)
	}
	runDir, rwPaths, err := socketDirs(s.Listen)
	if err != nil {
		return "", err
	}
	grace := s.ShutdownTimeout
	if grace <= 0 {
		grace = 30 * time.Second
	}

	var b strings.Builder
	p := unitHead(&b, s.Comment, s.Description)
	p("After=network-online.target")
	p("Wants=network-online.target")
	if s.Socket != "" {
		p("Requires=%s", s.Socket)
		p("After=%s", s.Socket)
	}
	if len(s.Before) > 0 {
		p("Before=%s", strings.Join(s.Before, " "))
	}
	p("")
	p("[Service]")
	p("Type=exec")
	if credential != "" {
		p("LoadCredential=%s", credential)
	}
	p("ExecStart=%s", strings.Join(args, " "))
	p("ExecReload=/bin/kill -HUP $MAINPID")
	if s.Socket != "" {
		// The socket is fd 0; logs still go to the journal, not to the
		// socket (output defaults to the input's file).
		p("StandardInput=socket")
		p("StandardOutput=journal")
		p("StandardError=journal")
	}
	p("Restart=on-failure")
	p("RestartSec=1s")
	p("TimeoutStopSec=%d", int((grace + 5*time.Second).Seconds()))
	if s.DynamicUser {
		p("DynamicUser=yes")
		// Implied by DynamicUser; never for a static user, whose other
		// processes (PHP's, for www-data) would lose their IPC objects.
		p("RemoveIPC=yes")
	}
	p("User=%s", s.User)
	p("Group=%s", s.Group)
	if runDir != "" {
		// Owned by User and Group, mode 0750: the web server's workers (in
		// Group) reach the sockets, nobody else does.
		p("RuntimeDirectory=%s", runDir)
		p("RuntimeDirectoryMode=0750")
	}
	p("UMask=0027")
	p("# Hardening. The site's providers may need more: add ReadWritePaths= for files it writes,")
	p("# and relax ProtectHome= if the site file or its data live under /home.")
	p("NoNewPrivileges=yes")
	p("ProtectSystem=strict")
	if len(rwPaths) > 0 {
		p("ReadWritePaths=%s", strings.Join(rwPaths, " "))
	}
	for _, line := range hardening {
		p("%s", line)
	}
	if slices.ContainsFunc(s.Listen, func(a string) bool { return strings.HasPrefix(a, "unix:") }) {
		// serve chowns the unix sockets it makes to --socket-group.
		p("SystemCallFilter=@chown")
	}
	p("")
	p("[Install]")
	p("WantedBy=multi-user.target")
	return b.String(), nil
}

// hardening is what every anyhost service gets after ProtectSystem: serve
// needs the network (AF_UNIX for its sockets), its own files and nothing
// else of the system. It may run CGI scripts, so it keeps what their
// interpreters need: no MemoryDenyWriteExecute (a JIT, PHP's or Node's,
// maps memory writable and executable), no PrivateNetwork.
var hardening = []string{
	"ProtectHome=yes",
	"PrivateTmp=yes",
	"PrivateDevices=yes",
	"ProtectKernelTunables=yes",
	"ProtectKernelModules=yes",
	"ProtectKernelLogs=yes",
	"ProtectControlGroups=yes",
	"ProtectClock=yes",
	"ProtectHostname=yes",
	"ProtectProc=invisible",
	"ProcSubset=pid",
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
	"RestrictNamespaces=yes",
	"RestrictRealtime=yes",
	"RestrictSUIDSGID=yes",
	"LockPersonality=yes",
	"SystemCallArchitectures=native",
	"SystemCallFilter=@system-service",
	"SystemCallFilter=~@privileged @resources",
	// A refused call fails (a CGI interpreter's setpriority) instead of
	// killing the process.
	"SystemCallErrorNumber=EPERM",
	"CapabilityBoundingSet=",
}

// DynamicUserName is the services' user when none is named: allocated by
// systemd (DynamicUser=yes), so it is the service's alone.
const DynamicUserName = "anyhost"

// ResolveUser is the user a service runs as: name when it is an existing
// user (static), else name (default DynamicUserName) allocated by systemd
// when the service starts.
func ResolveUser(name string) (string, bool) {
	if name == "" {
		return DynamicUserName, true
	}
	if _, err := user.Lookup(name); err == nil {
		return name, false
	}
	return name, true
}

// socketDirs sorts the unix sockets' directories: at most one /run/NAME/
// becomes the RuntimeDirectory (systemd makes it at start with the
// service's owner and removes it at stop), the others stay writable.
func socketDirs(addrs []string) (runDir string, rwPaths []string, err error) {
	for _, addr := range addrs {
		path, ok := strings.CutPrefix(addr, "unix:")
		if !ok {
			continue
		}
		dir := filepath.Dir(path)
		if name, ok := strings.CutPrefix(dir, "/run/"); ok && name != "" && !strings.Contains(name, "/") &&
			(runDir == "" || runDir == name) {
			runDir = name
			continue
		}
		q, err := Arg(dir)
		if err != nil {
			return "", nil, err
		}
		if !slices.Contains(rwPaths, q) {
			rwPaths = append(rwPaths, q)
		}
	}
	return runDir, rwPaths, nil
}

// Arg writes s as one word of a unit's command line: '%' and '$' are
// escaped (systemd would expand them); whitespace, quotes and backslashes
// are refused rather than quoted, since the web servers' configurations
// take the same paths unquoted.
func Arg(s string) (string, error) {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"'\\;") {
		return "", fmt.Errorf("systemd unit: %q cannot be a unit command-line word (whitespace, quotes, backslash or ';')", s)
	}
	return strings.NewReplacer("%", "%%", "$", "$$").Replace(s), nil
}

// IsName reports whether s can be a user or group name in a unit: plain
// characters only, so it can be neither a path nor another directive.
func IsName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// unitHead starts a unit in b: its comment lines, then [Unit] with the
// description. It returns the line printer the rest is written with.
func unitHead(b *strings.Builder, comment []string, description string) func(format string, args ...any) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	for _, c := range comment {
		p("# %s", c)
	}
	p("[Unit]")
	p("Description=%s", description)
	return p
}
