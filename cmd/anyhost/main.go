// Command anyhost serves a site on the host chosen at deploy time and holds
// the tools a deployer needs. Every built-in handler and provider is linked
// in; to add your own, write a main like this one that also imports your
// package (see README).
package main

import "github.com/anyhost/anyhost/cmd/anyhost/app"

func main() { app.Main() }
