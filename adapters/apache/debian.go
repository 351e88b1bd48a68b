package apache

import (
	"fmt"
	"strings"
)

// DebianModule names the module in Debian's layout: mods-available/
// NAME.load and NAME.conf, enabled together by `a2enmod NAME`.
const DebianModule = "anyhost"

// DebianModuleFiles writes o.Site as Debian's pair of module files, so
// that `a2enmod anyhost` enables it as any packaged module: load
// (mods-available/anyhost.load) loads mod_anyhost and names the Go
// library, which Apache's start-up reads before any other Anyhost
// directive (apache2.conf includes every mods-enabled/*.load before the
// *.conf); conf (anyhost.conf) holds the site's directives. comment
// lines (without "# ") open both files.
func DebianModuleFiles(o ConfOptions, comment []string) (load, conf string, err error) {
	if o.Mode != "" && o.Mode != ModeInProcess {
		return "", "", fmt.Errorf("mods-available (Debian) holds the in-process module only, not --mode %s", o.Mode)
	}
	if o.Full {
		return "", "", fmt.Errorf("mods-available (Debian) holds a fragment, not a full httpd.conf")
	}
	// Conf's checks, and its text, which the parts below must match.
	if _, err := Conf(o); err != nil {
		return "", "", err
	}
	if o.ModulesDir == "" {
		o.ModulesDir = modulesDir()
	}
	load, rest, err := inProcess(o, o.ModulesDir)
	if err != nil {
		return "", "", err
	}
	var head strings.Builder
	for _, c := range comment {
		fmt.Fprintf(&head, "# %s\n", c)
	}
	fmt.Fprintf(&head, "# From %s.\n", o.Site.File)
	loadHead := head.String() + "# The module and its Go library; the site's directives are in " + DebianModule + ".conf.\n"
	confHead := head.String() +
		"# These <Location> sections are server-wide: they apply to every virtual host\n" +
		"# (sites-enabled/*), as everything in mods-enabled/ does. To serve the site on one\n" +
		"# host only, move them into that <VirtualHost> (the AnyhostAuthnProvider lines stay here).\n"
	return loadHead + load, confHead + rest, nil
}
