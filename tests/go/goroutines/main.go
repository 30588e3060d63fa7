// A Go lab program for the goroutine-dump tests (issue 14), stdlib only.
//
// -role server: an HTTP server whose handlers block in known places:
//
//	/hang     blocks in main.hang (a select) until -hang passes or the client goes
//	/slow     sleeps -think, then answers
//	/compute  burns CPU for -think, then answers
//	/ok       answers at once
//
// With -labels each request runs under pprof.Do with the label
// {"remote": r.RemoteAddr}, so a goroutine names its connection.
//
// -role client: -n concurrent GETs of -url on one Transport with
// MaxConnsPerHost -max-conns; with -leak the response bodies are never read or
// closed. It keeps running -linger after the calls so its dumps can be taken.
// With -tls the server serves HTTPS with a throwaway certificate and the
// client trusts it: HTTP/2 by ALPN on both sides.
// With -resolver ADDR names in -url are looked up by Go's own resolver at ADDR
// (UDP), whatever /etc/resolv.conf says.
//
// With -cpuprofile FILE the process profiles its CPU for -cpu-for from its
// start, then prints "cpuprofile done".
//
// Both serve net/http/pprof on -pprof, and with -dump DIR write their own
// goroutine dumps (debug=1, debug=2 and protobuf) there after -dump-after,
// named goroutine-<n>.{txt1,txt2,pb.gz}, -dumps times, -dump-every apart,
// printing "dumped <n> <unix nanos>" on stdout for each.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"
)

var (
	role      = flag.String("role", "server", "server or client")
	listen    = flag.String("listen", "127.0.0.1:0", "server address")
	pprofAddr = flag.String("pprof", "", "serve /debug/pprof here")
	hangFor   = flag.Duration("hang", 30*time.Second, "how long /hang blocks")
	think     = flag.Duration("think", 200*time.Millisecond, "/slow and /compute time")
	labels    = flag.Bool("labels", false, "pprof.Do with the remote address")
	url       = flag.String("url", "", "client: URL to call")
	n         = flag.Int("n", 1, "client: concurrent calls")
	maxConns  = flag.Int("max-conns", 0, "client: Transport.MaxConnsPerHost")
	leak      = flag.Bool("leak", false, "client: never close response bodies")
	rounds    = flag.Int("rounds", 1, "client: rounds of -n calls")
	gap       = flag.Duration("gap", 0, "client: pause between rounds")
	linger    = flag.Duration("linger", 0, "client: keep running after the calls")
	dumpDir   = flag.String("dump", "", "write own goroutine dumps here")
	dumpAfter = flag.Duration("dump-after", time.Second, "first dump after this")
	dumpEvery = flag.Duration("dump-every", time.Second, "between dumps")
	dumps     = flag.Int("dumps", 1, "number of dumps")
	resolver  = flag.String("resolver", "", "client: DNS server (ip:port) for names in -url")
	useTLS    = flag.Bool("tls", false, "HTTPS (HTTP/2 by ALPN): a self-signed server, a client that trusts it")
	cpuOut    = flag.String("cpuprofile", "", "write a CPU profile of the first -cpu-for here")
	cpuFor    = flag.Duration("cpu-for", 3*time.Second, "how long the CPU profile runs")
)

func main() {
	flag.Parse()
	if *pprofAddr != "" {
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("pprof %s\n", ln.Addr())
		go http.Serve(ln, http.DefaultServeMux)
	}
	if *dumpDir != "" {
		go dumpLoop()
	}
	if *cpuOut != "" {
		f, err := os.Create(*cpuOut)
		if err != nil || pprof.StartCPUProfile(f) != nil {
			fmt.Fprintln(os.Stderr, "cannot start the CPU profile")
			os.Exit(2)
		}
		go func() {
			time.Sleep(*cpuFor)
			pprof.StopCPUProfile()
			f.Close()
			fmt.Println("cpuprofile done")
		}()
	}
	switch *role {
	case "server":
		serve()
	case "client":
		client()
	default:
		fmt.Fprintln(os.Stderr, "unknown -role")
		os.Exit(2)
	}
}

func dumpLoop() {
	time.Sleep(*dumpAfter)
	for i := 0; i < *dumps; i++ {
		if i > 0 {
			time.Sleep(*dumpEvery)
		}
		now := time.Now()
		for _, f := range []struct {
			ext   string
			debug int
		}{{"txt2", 2}, {"txt1", 1}, {"pb.gz", 0}} {
			out, err := os.Create(filepath.Join(*dumpDir, fmt.Sprintf("goroutine-%d.%s", i, f.ext)))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			_ = pprof.Lookup("goroutine").WriteTo(out, f.debug)
			out.Close()
		}
		fmt.Printf("dumped %d %d\n", i, now.UnixNano())
	}
}

func serve() {
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { hang(r.Context()); fmt.Fprintln(w, "late") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(*think); fmt.Fprintln(w, "slow") })
	mux.HandleFunc("/compute", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, compute(*think)) })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	var h http.Handler = mux
	if *labels {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pprof.Do(r.Context(), pprof.Labels("remote", r.RemoteAddr), func(ctx context.Context) {
				mux.ServeHTTP(w, r.WithContext(ctx))
			})
		})
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{Handler: h}
	if *useTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned()}}
		_ = srv.ServeTLS(ln, "", "")
		return
	}
	_ = srv.Serve(ln)
}

// selfSigned makes a throwaway certificate for the -tls server.
func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lab"},
		DNSNames:     []string{"lab"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// hang blocks the handler: the place a goroutine dump should point at.
func hang(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(*hangFor):
	}
}

// compute burns CPU for d: server think time that is computing.
func compute(d time.Duration) uint64 {
	var x uint64 = 1
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

func client() {
	tr := &http.Transport{MaxConnsPerHost: *maxConns, DisableCompression: true}
	if *useTLS {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		tr.ForceAttemptHTTP2 = true
	}
	if *resolver != "" {
		d := &net.Dialer{Resolver: &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "udp", *resolver)
			},
		}}
		tr.DialContext = d.DialContext
	}
	c := &http.Client{Transport: tr}
	for r := 0; r < *rounds; r++ {
		if r > 0 {
			time.Sleep(*gap)
		}
		var wg sync.WaitGroup
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				call(c, i)
			}(i)
		}
		wg.Wait()
	}
	time.Sleep(*linger)
}

// call makes one GET of -url: the client's application frame in the dumps.
func call(c *http.Client, i int) {
	start := time.Now()
	resp, err := c.Get(*url)
	if err != nil {
		fmt.Printf("call %d error %v after %v\n", i, err, time.Since(start))
		return
	}
	if !*leak {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	fmt.Printf("call %d status %d after %v\n", i, resp.StatusCode, time.Since(start))
}
