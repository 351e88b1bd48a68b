package config

import (
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// lines maps each key path in a TOML document ("location[1].auth.realm",
// "location[0].content[2]") to the line it is written on, so that errors
// found after decoding can still name file:line.
type lines map[string]int

func indexLines(data []byte) lines {
	ix := lines{}
	arrays := map[string]int{} // array-table path -> index of its last element
	var p unstable.Parser
	p.Reset(data)
	line := func(b []byte, fallback int) int {
		if len(b) == 0 {
			return fallback
		}
		off := cap(data) - cap(b)
		// Values with escapes are copies, not slices of the input.
		if off < 0 || off >= len(data) || &data[off] != &b[0] {
			return fallback
		}
		return 1 + strings.Count(string(data[:off]), "\n")
	}
	resolve := func(keys []string) string {
		cur := ""
		for _, k := range keys {
			if cur != "" {
				cur += "."
			}
			cur += k
			if i, ok := arrays[cur]; ok {
				cur += fmt.Sprintf("[%d]", i)
			}
		}
		return cur
	}
	keysOf := func(it unstable.Iterator) ([]string, int) {
		var keys []string
		ln := 0
		for it.Next() {
			n := it.Node()
			keys = append(keys, string(n.Data))
			if ln == 0 {
				if n.Raw.Length > 0 {
					ln = p.Shape(n.Raw).Start.Line
				} else {
					ln = line(n.Data, 0)
				}
			}
		}
		return keys, ln
	}
	var value func(path string, n *unstable.Node, ln int)
	value = func(path string, n *unstable.Node, ln int) {
		if n.Raw.Length > 0 {
			ln = p.Shape(n.Raw).Start.Line
		} else {
			ln = line(n.Data, ln)
		}
		ix[path] = ln
		switch n.Kind {
		case unstable.Array:
			it := n.Children()
			for i := 0; it.Next(); i++ {
				value(fmt.Sprintf("%s[%d]", path, i), it.Node(), ln)
			}
		case unstable.InlineTable:
			it := n.Children()
			for it.Next() {
				kv := it.Node()
				keys, kl := keysOf(kv.Key())
				if kl == 0 {
					kl = ln
				}
				value(path+"."+strings.Join(keys, "."), kv.Value(), kl)
			}
		}
	}
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			keys, ln := keysOf(e.Key())
			table = resolve(keys)
			ix[table] = ln
		case unstable.ArrayTable:
			keys, ln := keysOf(e.Key())
			full := resolve(keys[:len(keys)-1])
			if full != "" {
				full += "."
			}
			full += keys[len(keys)-1]
			i, seen := arrays[full]
			if seen {
				i++
			}
			arrays[full] = i
			table = fmt.Sprintf("%s[%d]", full, i)
			ix[table] = ln
		case unstable.KeyValue:
			keys, ln := keysOf(e.Key())
			if e.Raw.Length > 0 {
				ln = p.Shape(e.Raw).Start.Line
			}
			path := strings.Join(keys, ".")
			if table != "" {
				path = table + "." + path
			}
			value(path, e.Value(), ln)
		}
	}
	return ix
}

// at returns the line of path, or of its nearest enclosing path.
func (ix lines) at(path string) int {
	for path != "" {
		if ln, ok := ix[path]; ok {
			return ln
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
