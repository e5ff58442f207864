package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server starts a real net/http server and counts the connections clients open to it.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func client(t *testing.T, base string, timeout time.Duration) *rawClient {
	t.Helper()
	c, err := newRawClient(base, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func TestRawClientSendsTheCallAndReusesOneConnection(t *testing.T) {
	s, conns := server(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("got:" + string(body)))
	})
	c := client(t, s.URL, time.Second)
	for i := 0; i < 50; i++ {
		status, body, err := c.do(Call{"PUT", "/v1/kv/k1", []byte("value-" + string(rune('a'+i%26))), "application/octet-stream"})
		if err != nil {
			t.Fatal(err)
		}
		if want := "got:value-" + string(rune('a'+i%26)); status != 201 || string(body) != want {
			t.Fatalf("call %d: %d %q, want 201 %q", i, status, body, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 50 calls, want 1 (keep-alive)", n)
	}
	status, body, err := c.do(Call{Method: "GET", Path: "/x"})
	if err != nil || status != 201 || string(body) != "got:" {
		t.Fatalf("GET without a body: %d %q %v", status, body, err)
	}
}

func TestRawClientSendsMethodPathTypeAndHost(t *testing.T) {
	var seen atomic.Value
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type") + " " + r.Host + " " + string(body))
	})
	c := client(t, s.URL, time.Second)
	if _, _, err := c.do(Call{"POST", "/v3/kv/put", []byte(`{"key":"a2V5"}`), "application/json"}); err != nil {
		t.Fatal(err)
	}
	want := `POST /v3/kv/put application/json ` + strings.TrimPrefix(s.URL, "http://") + ` {"key":"a2V5"}`
	if got := seen.Load(); got != want {
		t.Fatalf("server saw %q, want %q", got, want)
	}
}

func TestRawClientReadsAChunkedReply(t *testing.T) {
	big := strings.Repeat("0123456789", 1000)
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(big[:5000]))
		w.(http.Flusher).Flush() // no Content-Length: the reply goes out chunked
		w.Write([]byte(big[5000:]))
	})
	c := client(t, s.URL, time.Second)
	for i := 0; i < 3; i++ {
		status, body, err := c.do(Call{Method: "GET", Path: "/"})
		if err != nil || status != 200 || string(body) != big {
			t.Fatalf("call %d: %d, %d bytes, %v; want 200 and %d bytes", i, status, len(body), err, len(big))
		}
	}
}

func TestRawClientOpensANewConnectionAfterConnectionClose(t *testing.T) {
	s, conns := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	})
	c := client(t, s.URL, time.Second)
	for i := 0; i < 3; i++ {
		if status, body, err := c.do(Call{Method: "GET", Path: "/"}); err != nil || status != 200 || string(body) != "bye" {
			t.Fatalf("call %d: %d %q %v", i, status, body, err)
		}
		if c.conn != nil {
			t.Fatalf("call %d: the connection the server closed is kept for the next request", i)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (the server closes each)", n)
	}
}

func TestRawClientRetriesOnceWhenAnIdleConnectionWasClosed(t *testing.T) {
	var calls atomic.Int64
	s, conns := server(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write([]byte("ok"))
	})
	c := client(t, s.URL, time.Second)
	if _, _, err := c.do(Call{Method: "GET", Path: "/"}); err != nil {
		t.Fatal(err)
	}
	s.CloseClientConnections() // what a server's idle timeout does
	status, body, err := c.do(Call{Method: "GET", Path: "/"})
	if err != nil || status != 200 || string(body) != "ok" {
		t.Fatalf("after the idle close: %d %q %v", status, body, err)
	}
	if calls.Load() != 2 || conns.Load() != 2 {
		t.Fatalf("%d calls on %d connections, want 2 on 2", calls.Load(), conns.Load())
	}
}

func TestRawClientTimesOutAndRecovers(t *testing.T) {
	var slow atomic.Bool
	slow.Store(true)
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond)
		}
		w.Write([]byte("late"))
	})
	c := client(t, s.URL, 50*time.Millisecond)
	_, _, err := c.do(Call{Method: "GET", Path: "/"})
	if err == nil || classify(err) != "timeout" {
		t.Fatalf("got %v (%s), want a timeout", err, classify(err))
	}
	slow.Store(false)
	if status, body, err := c.do(Call{Method: "GET", Path: "/"}); err != nil || status != 200 || string(body) != "late" {
		t.Fatalf("after the timeout: %d %q %v", status, body, err)
	}
}

func TestRawClientReportsARefusedConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := client(t, "http://"+addr, time.Second)
	if _, _, err := c.do(Call{Method: "GET", Path: "/"}); classify(err) != "conn-refused" {
		t.Fatalf("got %v (%s), want conn-refused", err, classify(err))
	}
}

// A reply cut short is an error, not a short body.
func TestRawClientRejectsATruncatedReply(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		bufio.NewReader(conn).ReadString('\n')
		conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
		conn.Close()
	}()
	c := client(t, "http://"+l.Addr().String(), time.Second)
	if _, body, err := c.do(Call{Method: "GET", Path: "/"}); err == nil {
		t.Fatalf("a 3-byte body of a declared 10 was accepted: %q", body)
	}
}

func TestRawClientRefusesTargetsItCannotSpeakTo(t *testing.T) {
	for _, base := range []string{"https://127.0.0.1:1", "127.0.0.1:1", "http://127.0.0.1:1/prefix"} {
		if _, err := newRawClient(base, time.Second); err == nil {
			t.Errorf("%q accepted", base)
		}
	}
}
