// Command cgihello is the CGI row of the Apache benchmark: a CGI program
// (net/http/cgi) that answers every request with "Hello!", as the other rows
// do. The bench driver (go run ./internal/bench) builds it and points a
// mod_cgid ScriptAlias at it; Apache forks and execs it once per request.
package main

import (
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"strconv"
)

func main() {
	body := []byte("Hello!")
	err := cgi.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cgihello:", err)
		os.Exit(1)
	}
}
