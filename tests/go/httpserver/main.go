// A Go net/http server for the lab tests: answers every request with a small
// body after -think, with IdleTimeout -idle (the server's keep-alive time-out).
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address")
	idle := flag.Duration("idle", 0, "Server.IdleTimeout (0: none)")
	think := flag.Duration("think", 0, "time before answering")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	srv := &http.Server{
		IdleTimeout: *idle,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			time.Sleep(*think)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, "{\"path\":%q}\n", r.URL.Path)
		}),
	}
	fmt.Printf("listening %s\n", ln.Addr())
	_ = srv.Serve(ln)
}
