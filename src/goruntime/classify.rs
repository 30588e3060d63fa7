//! What a goroutine is doing for the network, from its stack.
//!
//! The rules name functions of Go's standard library (`net`, `net/http` and
//! its bundled HTTP/2, `crypto/tls`), matched from the innermost frame out so
//! a handler that itself dials is a dial, not a handler. Where a server
//! handler blocks is the first frame outside the runtime and the standard
//! library ([`first_app_frame`]).

use super::{Goroutine, StackFrame};

/// A goroutine's part in network calls.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Resolving a name: `net.(*Resolver).lookup*`, the cgo resolver.
    Dns,
    /// Opening a connection: `net.(*Dialer).DialContext`,
    /// `net/http.(*Transport).dialConn`.
    Dial,
    /// In a TLS handshake (client or server side).
    TlsHandshake,
    /// A client call waiting for a connection inside `Transport.getConn`:
    /// for a dial in progress, or for a pooled connection when
    /// `MaxConnsPerHost` is reached.
    ConnWait,
    /// A client call waiting for its response (`persistConn.roundTrip`, the
    /// HTTP/2 client's `RoundTrip`).
    AwaitResponse,
    /// A pooled connection's reader (`persistConn.readLoop`): one per
    /// connection the client holds, idle or busy.
    ReadLoop,
    /// A pooled connection's writer (`persistConn.writeLoop`).
    WriteLoop,
    /// A server handler running (`ServeHTTP` under `(*conn).serve` or the
    /// HTTP/2 server's `runHandler`).
    Handler,
    /// A server connection waiting for its next request.
    ServerIdle,
    /// A server's accept loop.
    Accept,
    /// Anything else.
    Other,
}

impl Role {
    /// Every role, in report order.
    pub const ALL: [Role; 11] = [
        Role::Dns,
        Role::Dial,
        Role::TlsHandshake,
        Role::ConnWait,
        Role::AwaitResponse,
        Role::ReadLoop,
        Role::WriteLoop,
        Role::Handler,
        Role::ServerIdle,
        Role::Accept,
        Role::Other,
    ];

    /// A short name for reports and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Dns => "dns",
            Role::Dial => "dial",
            Role::TlsHandshake => "tls_handshake",
            Role::ConnWait => "conn_wait",
            Role::AwaitResponse => "await_response",
            Role::ReadLoop => "read_loop",
            Role::WriteLoop => "write_loop",
            Role::Handler => "handler",
            Role::ServerIdle => "server_idle",
            Role::Accept => "accept",
            Role::Other => "other",
        }
    }

    /// What the role means, for the text report.
    pub fn describe(&self) -> &'static str {
        match self {
            Role::Dns => "resolving a name",
            Role::Dial => "opening a connection (dial)",
            Role::TlsHandshake => "in a TLS handshake",
            Role::ConnWait => "waiting for a connection (Transport.getConn)",
            Role::AwaitResponse => "waiting for a response",
            Role::ReadLoop => "client connection readers (persistConn.readLoop)",
            Role::WriteLoop => "client connection writers (persistConn.writeLoop)",
            Role::Handler => "server handlers running",
            Role::ServerIdle => "server connections waiting for a request",
            Role::Accept => "accepting connections",
            Role::Other => "other",
        }
    }

    /// Whether the role belongs to an HTTP client (rather than a server).
    pub fn is_client(&self) -> bool {
        matches!(
            self,
            Role::Dns
                | Role::Dial
                | Role::ConnWait
                | Role::AwaitResponse
                | Role::ReadLoop
                | Role::WriteLoop
        )
    }
}

/// The role of one goroutine (or group sharing a stack).
pub fn classify(g: &Goroutine) -> Role {
    classify_at(g).0
}

/// The role and the frame that decided it.
pub fn classify_at(g: &Goroutine) -> (Role, Option<&StackFrame>) {
    // The goroutine writing the dump (or serving /debug/pprof) is the
    // observer, not a handler of the application's.
    if let Some(f) = g.frames.iter().find(|f| is_profiler(&f.function)) {
        return (Role::Other, Some(f));
    }
    // Innermost first: the first network operation found is what it waits
    // on; a handler that is itself in a dial, DNS lookup or TLS handshake is
    // that operation, as those frames come first.
    for f in &g.frames {
        if let Some(role) = by_function(&f.function) {
            return (role, Some(f));
        }
    }
    (Role::Other, None)
}

/// Frames of Go's profiler at work (not `runtime/pprof.Do`, which wraps
/// labelled application code).
fn is_profiler(name: &str) -> bool {
    name.starts_with("net/http/pprof.")
        || name.starts_with("runtime/pprof.writeGoroutine")
        || name.starts_with("runtime/pprof.(*Profile).WriteTo")
        || name.starts_with("runtime/pprof.profileWriter")
        || name.starts_with("runtime/pprof.writeRuntimeProfile")
}

/// Whether a stack is a connection being opened by an HTTP Transport
/// (`dialConnFor`): one goroutine per dial in progress, whatever it is
/// waiting on inside (DNS, the TCP connect, the TLS handshake).
pub fn is_transport_dial(g: &Goroutine) -> bool {
    g.frames
        .iter()
        .any(|f| f.function == "net/http.(*Transport).dialConnFor")
        || g.created_by
            .as_ref()
            .is_some_and(|f| f.function == "net/http.(*Transport).queueForDial")
}

fn by_function(name: &str) -> Option<Role> {
    let role = if name.starts_with("net.(*Resolver).")
        || name.starts_with("net.cgoLookup")
        || name.starts_with("net._C2func_getaddrinfo")
        || name.starts_with("net.(*dnsConfig)")
        || name.starts_with("net.goLookup")
    {
        Role::Dns
    } else if name.starts_with("net.(*Dialer).Dial")
        || name.starts_with("net.(*sysDialer).")
        || name == "net/http.(*Transport).dialConn"
        || name == "net/http.(*Transport).dialConnFor"
        || name == "net/http.(*Transport).dial"
    {
        Role::Dial
    } else if name.starts_with("crypto/tls.(*Conn).Handshake")
        || name.starts_with("crypto/tls.(*Conn).handshakeContext")
        || name.starts_with("crypto/tls.(*Conn).clientHandshake")
        || name.starts_with("crypto/tls.(*Conn).serverHandshake")
    {
        Role::TlsHandshake
    } else if name == "net/http.(*Transport).getConn"
        || name == "net/http.(*Transport).queueForIdleConn"
        || name == "net/http.(*wantConn).wait"
    {
        Role::ConnWait
    } else if name == "net/http.(*persistConn).roundTrip"
        || name.ends_with("http2.(*ClientConn).RoundTrip")
        || name.ends_with("http2ClientConn).RoundTrip")
        || name.ends_with("http2.(*clientStream).waitOnHeaders")
    {
        Role::AwaitResponse
    } else if name == "net/http.(*persistConn).readLoop"
        || name.ends_with("http2clientConnReadLoop).run")
        || name.ends_with("http2.(*clientConnReadLoop).run")
    {
        Role::ReadLoop
    } else if name == "net/http.(*persistConn).writeLoop" {
        Role::WriteLoop
    } else if name.ends_with("http2serverConn).runHandler")
        || name.ends_with("http2.(*serverConn).runHandler")
        || name == "net/http.serverHandler.ServeHTTP"
    {
        Role::Handler
    } else if name == "net/http.(*conn).serve"
        || name.ends_with("http2serverConn).serve")
        || name.ends_with("http2.(*serverConn).serve")
    {
        Role::ServerIdle
    } else if name == "net/http.(*Server).Serve" || name.starts_with("net.(*TCPListener).Accept") {
        Role::Accept
    } else {
        return None;
    };
    Some(role)
}

/// The first frame, innermost first, that is neither the runtime nor Go's
/// standard library: where application code waits.
pub fn first_app_frame(frames: &[StackFrame]) -> Option<&StackFrame> {
    frames.iter().find(|f| !is_standard(f))
}

/// The first elements of Go's standard library package paths (and
/// `vendor/`, its vendored copies).
const STANDARD_ROOTS: &[&str] = &[
    "archive",
    "bufio",
    "builtin",
    "bytes",
    "cmp",
    "compress",
    "container",
    "context",
    "crypto",
    "database",
    "debug",
    "embed",
    "encoding",
    "errors",
    "expvar",
    "flag",
    "fmt",
    "go",
    "hash",
    "html",
    "image",
    "index",
    "internal",
    "io",
    "iter",
    "log",
    "maps",
    "math",
    "mime",
    "net",
    "os",
    "path",
    "plugin",
    "reflect",
    "regexp",
    "runtime",
    "slices",
    "sort",
    "strconv",
    "strings",
    "structs",
    "sync",
    "syscall",
    "testing",
    "text",
    "time",
    "unicode",
    "unique",
    "unsafe",
    "vendor",
    "weak",
];

/// Whether a frame is in Go's runtime or standard library, by its package's
/// first path element. (Files do not tell: `internal/poll.runtime_pollWait`
/// lives in `runtime/netpoll.go`, and GOPATH builds put applications under a
/// `src/` too.)
pub fn is_standard(f: &StackFrame) -> bool {
    let package = package_of(&f.function);
    let first = package.split('/').next().unwrap_or("");
    STANDARD_ROOTS.contains(&first)
}

/// The package path of a qualified function name: `net/http.(*conn).serve`
/// → `net/http`.
pub fn package_of(function: &str) -> &str {
    let last_slash = function.rfind('/').map_or(0, |i| i + 1);
    match function[last_slash..].find('.') {
        Some(dot) => &function[..last_slash + dot],
        None => function,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(functions: &[(&str, &str)]) -> Goroutine {
        Goroutine {
            count: 1,
            frames: functions
                .iter()
                .map(|(f, file)| StackFrame {
                    function: f.to_string(),
                    file: file.to_string(),
                    line: 1,
                })
                .collect(),
            ..Goroutine::default()
        }
    }

    const GOROOT: &str = "/usr/lib/go-1.19/src";

    #[test]
    fn client_roles() {
        let getconn = g(&[
            (
                "net/http.(*Transport).getConn",
                "/usr/lib/go-1.19/src/net/http/transport.go",
            ),
            (
                "net/http.(*Transport).roundTrip",
                "/usr/lib/go-1.19/src/net/http/transport.go",
            ),
            ("main.client.func1", "/tmp/main.go"),
        ]);
        assert_eq!(classify(&getconn), Role::ConnWait);
        let rt = g(&[
            ("net/http.(*persistConn).roundTrip", ""),
            ("net/http.(*Transport).roundTrip", ""),
        ]);
        assert_eq!(classify(&rt), Role::AwaitResponse);
        let dial = g(&[
            ("internal/poll.runtime_pollWait", ""),
            ("net.(*netFD).connect", ""),
            ("net.(*sysDialer).dialSerial", ""),
            ("net.(*Dialer).DialContext", ""),
            ("net/http.(*Transport).dialConn", ""),
        ]);
        assert_eq!(classify(&dial), Role::Dial);
        let dns = g(&[
            ("net.(*Resolver).goLookupIPCNAMEOrder", ""),
            ("net.(*Resolver).lookupIP", ""),
            ("net.(*Dialer).DialContext", ""),
        ]);
        assert_eq!(classify(&dns), Role::Dns);
        assert_eq!(
            classify(&g(&[("net/http.(*persistConn).readLoop", "")])),
            Role::ReadLoop
        );
        assert!(Role::ReadLoop.is_client() && !Role::Handler.is_client());
    }

    #[test]
    fn server_roles_and_where_a_handler_blocks() {
        let hang = g(&[
            ("runtime.gopark", &format!("{GOROOT}/runtime/proc.go")),
            ("main.hang", "/srv/app/server.go"),
            (
                "net/http.HandlerFunc.ServeHTTP",
                &format!("{GOROOT}/net/http/server.go"),
            ),
            (
                "net/http.serverHandler.ServeHTTP",
                &format!("{GOROOT}/net/http/server.go"),
            ),
            (
                "net/http.(*conn).serve",
                &format!("{GOROOT}/net/http/server.go"),
            ),
        ]);
        assert_eq!(classify(&hang), Role::Handler);
        assert_eq!(first_app_frame(&hang.frames).unwrap().function, "main.hang");
        let idle = g(&[
            ("internal/poll.runtime_pollWait", ""),
            ("net/http.(*connReader).backgroundRead", ""),
        ]);
        assert_eq!(classify(&idle), Role::Other);
        let reading = g(&[("bufio.(*Reader).Peek", ""), ("net/http.(*conn).serve", "")]);
        assert_eq!(classify(&reading), Role::ServerIdle);
        let tls = g(&[
            ("crypto/tls.(*Conn).serverHandshake", ""),
            ("crypto/tls.(*Conn).HandshakeContext", ""),
            ("net/http.(*conn).serve", ""),
        ]);
        assert_eq!(classify(&tls), Role::TlsHandshake);
        let dumping = g(&[
            ("runtime/pprof.writeGoroutineStacks", ""),
            ("net/http/pprof.handler.ServeHTTP", ""),
            ("net/http.serverHandler.ServeHTTP", ""),
            ("net/http.(*conn).serve", ""),
        ]);
        assert_eq!(
            classify(&dumping),
            Role::Other,
            "the dump's own writer is not a handler"
        );
        let labelled = g(&[
            ("main.hang", "/app/main.go"),
            ("runtime/pprof.Do", ""),
            ("net/http.serverHandler.ServeHTTP", ""),
        ]);
        assert_eq!(classify(&labelled), Role::Handler);
    }

    #[test]
    fn standard_library_or_application() {
        let f = |function: &str, file: &str| StackFrame {
            function: function.into(),
            file: file.into(),
            line: 1,
        };
        assert!(is_standard(&f(
            "net/http.(*conn).serve",
            "/usr/local/go/src/net/http/server.go"
        )));
        assert!(is_standard(&f("runtime.gopark", "")));
        assert!(is_standard(&f(
            "internal/poll.runtime_pollWait",
            "/usr/lib/go/src/runtime/netpoll.go"
        )));
        assert!(!is_standard(&f("main.hang", "/app/main.go")));
        assert!(!is_standard(&f(
            "github.com/gin-gonic/gin.(*Context).Next",
            "/go/pkg/mod/x.go"
        )));
        assert!(!is_standard(&f(
            "myapp/handlers.Orders",
            "/home/me/myapp/handlers/orders.go"
        )));
        assert!(is_standard(&f(
            "vendor/golang.org/x/net/http2/hpack.(*Decoder).Write",
            "/usr/lib/go/src/vendor/golang.org/x/net/http2/hpack/hpack.go"
        )));
        assert_eq!(package_of("net/http.(*conn).serve"), "net/http");
        assert_eq!(package_of("main.main.func1"), "main");
        assert_eq!(package_of("github.com/a/b.F"), "github.com/a/b");
    }
}
