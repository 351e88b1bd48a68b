// Command barehello is the benchmark baseline: the smallest net/http server
// that answers GET /hello with "Hello!" (over TLS with --tls-cert, where
// net/http speaks HTTP/2 by itself). The bench driver
// (go run ./internal/bench) builds and starts it as a child process.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	timeouts := flag.Bool("timeouts", false, "set anyhost's default server timeouts and header limit, to attribute their cost")
	cert := flag.String("tls-cert", "", "certificate file (PEM); with --tls-key serves TLS, and HTTP/2 to clients that offer it")
	key := flag.String("tls-key", "", "private key file (PEM)")
	flag.Parse()

	body := []byte("Hello!")
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(body)
	})
	log.Printf("barehello listening on %s", *listen)
	srv := &http.Server{Addr: *listen, Handler: mux}
	if *timeouts {
		// The same values core.Limits.WithDefaults gives anyhost.
		srv.ReadHeaderTimeout = 10 * time.Second
		srv.ReadTimeout = 60 * time.Second
		srv.IdleTimeout = 120 * time.Second
		srv.MaxHeaderBytes = 64 << 10
	}
	if *cert != "" {
		log.Fatal(srv.ListenAndServeTLS(*cert, *key))
	}
	log.Fatal(srv.ListenAndServe())
}
