// A Go net/http client for the lab tests: it makes -n requests on one
// Transport (so later requests reuse pooled keep-alive connections), waits
// -wait between them, and prints one JSON line per request with the phases
// httptrace measured on the client's own clock.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"time"
)

type result struct {
	Index     int     `json:"index"`
	Status    int     `json:"status"`
	Error     string  `json:"error,omitempty"`
	Reused    bool    `json:"reused"`
	LocalAddr string  `json:"local_addr,omitempty"`
	DNSMs     float64 `json:"dns_ms"`
	ConnectMs float64 `json:"connect_ms"`
	TLSMs     float64 `json:"tls_ms"`
	WaitMs    float64 `json:"wait_ms"`
	TotalMs   float64 `json:"total_ms"`
	Connects  int     `json:"connects"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func main() {
	url := flag.String("url", "", "URL to call")
	n := flag.Int("n", 1, "requests")
	wait := flag.Duration("wait", 0, "pause between requests")
	method := flag.String("method", "GET", "method")
	body := flag.String("body", "", "request body")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request time-out")
	idle := flag.Duration("idle-conn-timeout", 90*time.Second, "Transport.IdleConnTimeout")
	insecure := flag.Bool("insecure", false, "accept any server certificate (the lab's own)")
	keylog := flag.String("keylog", "", "write TLS secrets here (tls.Config.KeyLogWriter)")
	flag.Parse()

	// Go sets up its network poller at the first socket: do it before the
	// first ConnectStart, so the connect phase holds the connect only.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	tlsConf := &tls.Config{InsecureSkipVerify: *insecure}
	if *keylog != "" {
		f, err := os.OpenFile(*keylog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		tlsConf.KeyLogWriter = f
	}
	tr := &http.Transport{IdleConnTimeout: *idle, DisableCompression: true, TLSClientConfig: tlsConf}
	client := &http.Client{Transport: tr, Timeout: *timeout}
	enc := json.NewEncoder(os.Stdout)
	for i := 0; i < *n; i++ {
		if i > 0 {
			time.Sleep(*wait)
		}
		var r result
		r.Index = i
		var dnsStart, connStart, tlsStart, wrote, start time.Time
		trace := &httptrace.ClientTrace{
			DNSStart: func(httptrace.DNSStartInfo) { dnsStart = time.Now() },
			DNSDone:  func(httptrace.DNSDoneInfo) { r.DNSMs = ms(time.Since(dnsStart)) },
			ConnectStart: func(string, string) {
				connStart = time.Now()
				r.Connects++
			},
			ConnectDone: func(_, _ string, err error) {
				if err == nil {
					r.ConnectMs = ms(time.Since(connStart))
				}
			},
			TLSHandshakeStart: func() { tlsStart = time.Now() },
			TLSHandshakeDone:  func(tls.ConnectionState, error) { r.TLSMs = ms(time.Since(tlsStart)) },
			GotConn: func(info httptrace.GotConnInfo) {
				r.Reused = info.Reused
				r.LocalAddr = info.Conn.LocalAddr().String()
			},
			WroteRequest:         func(httptrace.WroteRequestInfo) { wrote = time.Now() },
			GotFirstResponseByte: func() { r.WaitMs = ms(time.Since(wrote)) },
		}
		var rd io.Reader
		if *body != "" {
			rd = strings.NewReader(*body)
		}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), *method, *url, rd)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		start = time.Now()
		resp, err := client.Do(req)
		if err != nil {
			r.Error = err.Error()
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			r.Status = resp.StatusCode
		}
		r.TotalMs = ms(time.Since(start))
		_ = enc.Encode(r)
	}
}
