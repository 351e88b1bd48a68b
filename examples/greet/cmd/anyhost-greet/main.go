// Command anyhost-greet is the anyhost CLI with the greet handler linked in.
package main

import (
	"github.com/anyhost/anyhost/cmd/anyhost/app"
	_ "github.com/anyhost/anyhost/examples/greet"
)

func main() { app.Main() }
