// dnsclient makes DNS traffic the way Go programs do, for netsleuth's live
// DNS tests (tests/live_dns.rs). Standard library only; the pure-Go resolver
// reads search and ndots from /etc/resolv.conf, and every query is dialled to
// the DNS server given on the command line (any port).
//
//	dnsclient calls DNS_ADDR URL N
//	    N sequential GETs of URL, no keep-alive (a lookup per call); prints
//	    "dns_ms X" per call (httptrace DNSStart to DNSDone), then "ok".
//	dnsclient concurrent DNS_ADDR NAME WORKERS PER
//	    WORKERS goroutines each resolving NAME PER times (A and AAAA, a new
//	    socket and id per query); prints "lookups L failed F", then "ok".
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"sync"
	"time"
)

func resolver(dnsAddr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 2 * time.Second}
			return d.DialContext(ctx, network, dnsAddr)
		},
	}
}

func calls(dnsAddr, url string, n int) error {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Resolver: resolver(dnsAddr)}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true},
	}
	for i := 0; i < n; i++ {
		var start time.Time
		trace := &httptrace.ClientTrace{
			DNSStart: func(httptrace.DNSStartInfo) { start = time.Now() },
			DNSDone: func(httptrace.DNSDoneInfo) {
				fmt.Printf("dns_ms %.3f\n", float64(time.Since(start).Microseconds())/1000)
			},
		}
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			return err
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func concurrent(dnsAddr, name string, workers, per int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	lookups, failed := 0, 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := resolver(dnsAddr)
			for i := 0; i < per; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := r.LookupIPAddr(ctx, name)
				cancel()
				mu.Lock()
				lookups++
				if err != nil {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("lookups %d failed %d\n", lookups, failed)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad number:", s)
		os.Exit(2)
	}
	return n
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dnsclient calls DNS_ADDR URL N | concurrent DNS_ADDR NAME WORKERS PER")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "calls":
		if len(os.Args) != 5 {
			os.Exit(2)
		}
		if err := calls(os.Args[2], os.Args[3], atoi(os.Args[4])); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
	case "concurrent":
		if len(os.Args) != 6 {
			os.Exit(2)
		}
		concurrent(os.Args[2], os.Args[3], atoi(os.Args[4]), atoi(os.Args[5]))
	default:
		os.Exit(2)
	}
	fmt.Println("ok")
}
