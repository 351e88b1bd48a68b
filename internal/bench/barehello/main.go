// Command barehello is the benchmark baseline: the smallest net/http server
// that answers GET /hello with "Hello!". The bench driver
// (go run ./internal/bench) builds and starts it as a child process.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	body := []byte("Hello!")
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(body)
	})
	log.Printf("barehello listening on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
