package core

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options are the settings of one configured handler or provider. Values are
// strings on every host (Apache's `AnyhostOption KEY VALUE` can pass nothing
// else); the typed getters parse them.
type Options struct {
	// Values maps option names to values.
	Values map[string]string
	// Dir is the directory relative paths are resolved against: the site
	// file's directory, or the working directory.
	Dir string
	// Location is the path prefix (core.LocationPrefix form) of the
	// location the handler is configured on; "" for the site-wide phases
	// and where the host does not say (Apache's Anyhost*Handler
	// directives). A CGI script's SCRIPT_NAME starts with it.
	Location string
}

// Check fails on any option not in known, so a typo is an error, not a
// silently ignored setting.
func (o Options) Check(known ...string) error {
	var bad []string
	for k := range o.Values {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 && len(known) == 0 {
		slices.Sort(bad)
		return fmt.Errorf("unknown option %s (this takes no options)", strings.Join(bad, ", "))
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("unknown option %s (known: %s)", strings.Join(bad, ", "), strings.Join(known, ", "))
	}
	return nil
}

// String returns the value of key, or def when unset.
func (o Options) String(key, def string) string {
	if v, ok := o.Values[key]; ok {
		return v
	}
	return def
}

// Required returns the value of key, or an error naming it.
func (o Options) Required(key string) (string, error) {
	v, ok := o.Values[key]
	if !ok || v == "" {
		return "", fmt.Errorf("option %s is required", key)
	}
	return v, nil
}

// Path returns key's value as a path resolved against Dir; "" when unset.
func (o Options) Path(key string) string {
	v := o.Values[key]
	if v == "" || filepath.IsAbs(v) {
		return v
	}
	return filepath.Join(o.Dir, v)
}

// Int returns key's value as an integer, or def when unset.
func (o Options) Int(key string, def int) (int, error) {
	v, ok := o.Values[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("option %s: %q is not a whole number", key, v)
	}
	return n, nil
}

// Bool returns key's value as a boolean, or def when unset.
func (o Options) Bool(key string, def bool) (bool, error) {
	v, ok := o.Values[key]
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("option %s: %q is not true or false", key, v)
	}
	return b, nil
}

// Duration returns key's value as a duration ("30s"), or def when unset.
func (o Options) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := o.Values[key]
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("option %s: %q is not a duration like 30s", key, v)
	}
	return d, nil
}

// Secret resolves key's value, which must be a reference, never the secret
// itself: "file:PATH" (trailing newline dropped) or "env:NAME". Keeping
// secrets out of site files keeps them out of version control and logs.
func (o Options) Secret(key string) (string, error) {
	v, ok := o.Values[key]
	if !ok {
		return "", fmt.Errorf("option %s is required", key)
	}
	return ResolveSecret(v, o.Dir)
}

// ResolveSecret reads a "file:" or "env:" reference.
func ResolveSecret(ref, dir string) (string, error) {
	switch {
	case strings.HasPrefix(ref, "file:"):
		p := strings.TrimPrefix(ref, "file:")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", ref, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("secret %s: environment variable %s is not set", ref, name)
		}
		return v, nil
	}
	return "", fmt.Errorf("a secret must be given as file:PATH or env:NAME, not inline")
}
