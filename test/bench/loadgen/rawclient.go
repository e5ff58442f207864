package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawClient is a minimal HTTP/1.1 client on one keep-alive connection, for the closed-loop and
// fill workers (one connection each). net/http's client costs ~35-40 µs of CPU per request here
// (a request object, header maps, and hand-offs between the caller's, the read loop's and the
// write loop's goroutines); on a 2-core machine that CPU is taken from the servers being
// measured, and more of it from the system that serves more requests. This one writes a request
// in one syscall and parses the reply in place: the status line, Content-Length,
// Transfer-Encoding: chunked and Connection: close (enough for kuorum's and etcd's servers,
// whose replies are plain HTTP/1.1).
//
// Not safe for concurrent use. The body returned by do is valid until the next call.
type rawClient struct {
	host    string // host:port
	timeout time.Duration
	conn    net.Conn
	reader  *bufio.Reader
	out     []byte
	body    []byte
}

func newRawClient(base string, timeout time.Duration) (*rawClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("target %q: want http://host:port", base)
	}
	return &rawClient{host: u.Host, timeout: timeout}, nil
}

// errNoReply marks a failure before any byte of the reply arrived.
type errNoReply struct{ err error }

func (e errNoReply) Error() string { return e.err.Error() }
func (e errNoReply) Unwrap() error { return e.err }

// do sends one call and reads its whole reply. A connection that was idle may have been closed
// by the server in the meantime: a call that gets no reply on a reused connection is sent once
// more on a new one (as net/http does for requests whose body it can replay).
func (c *rawClient) do(call Call) (int, []byte, error) {
	reused := c.conn != nil
	status, body, err := c.roundTrip(call)
	var noReply errNoReply
	if err != nil && reused && errors.As(err, &noReply) && !isTimeout(err) {
		status, body, err = c.roundTrip(call)
	}
	if noReply, ok := err.(errNoReply); ok {
		err = noReply.err
	}
	return status, body, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawClient) roundTrip(call Call) (int, []byte, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.host, 2*time.Second)
		if err != nil {
			return 0, nil, err
		}
		c.conn = conn
		if c.reader == nil {
			c.reader = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.reader.Reset(conn)
		}
	}
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		c.close()
		return 0, nil, errNoReply{err}
	}
	c.out = appendRequest(c.out[:0], c.host, call)
	if _, err := c.conn.Write(c.out); err != nil {
		c.close()
		return 0, nil, errNoReply{err}
	}
	status, keepAlive, err := c.readReply(call.Method == "HEAD")
	if err != nil {
		c.close()
		return 0, nil, err
	}
	if !keepAlive {
		c.close()
	}
	return status, c.body, nil
}

func appendRequest(b []byte, host string, call Call) []byte {
	b = append(b, call.Method...)
	b = append(b, ' ')
	b = append(b, call.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if call.ContentType != "" {
		b = append(b, "Content-Type: "...)
		b = append(b, call.ContentType...)
		b = append(b, "\r\n"...)
	}
	if call.Body != nil || call.Method == "PUT" || call.Method == "POST" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(call.Body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, call.Body...)
}

// readReply reads one response (skipping interim 1xx ones) into c.body; keepAlive is false when
// the connection cannot carry another request.
func (c *rawClient) readReply(head bool) (status int, keepAlive bool, err error) {
	for first := true; ; first = false {
		line, err := c.line()
		if err != nil {
			if first {
				return 0, false, errNoReply{err}
			}
			return 0, false, err
		}
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return 0, false, fmt.Errorf("malformed status line %q", line)
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil {
			return 0, false, fmt.Errorf("malformed status line %q", line)
		}
		keepAlive = line[7] == '1' // HTTP/1.0 closes unless it says otherwise
		length, chunked := -1, false
		for {
			h, err := c.line()
			if err != nil {
				return 0, false, err
			}
			if len(h) == 0 {
				break
			}
			colon := bytes.IndexByte(h, ':')
			if colon < 0 {
				return 0, false, fmt.Errorf("malformed header line %q", h)
			}
			name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
					return 0, false, fmt.Errorf("malformed Content-Length %q", value)
				}
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				chunked = bytes.EqualFold(value, []byte("chunked"))
				if !chunked {
					return 0, false, fmt.Errorf("unsupported Transfer-Encoding %q", value)
				}
			case bytes.EqualFold(name, []byte("Connection")):
				if bytes.EqualFold(value, []byte("close")) {
					keepAlive = false
				} else if bytes.EqualFold(value, []byte("keep-alive")) {
					keepAlive = true
				}
			}
		}
		if status >= 100 && status < 200 {
			continue
		}
		c.body = c.body[:0]
		switch {
		case head || status == 204 || status == 304:
		case chunked:
			err = c.readChunked()
		case length >= 0:
			err = c.readN(length)
		default: // the body runs to the end of the connection
			var all []byte
			all, err = io.ReadAll(c.reader)
			c.body = append(c.body, all...)
			keepAlive = false
		}
		return status, keepAlive, err
	}
}

// line returns the next line without its CRLF; it is valid until the next read.
func (c *rawClient) line() ([]byte, error) {
	line, err := c.reader.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("reply line longer than %d bytes", c.reader.Size())
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func (c *rawClient) readN(n int) error {
	start := len(c.body)
	if cap(c.body)-start < n {
		grown := make([]byte, start, start+n)
		copy(grown, c.body)
		c.body = grown
	}
	c.body = c.body[:start+n]
	_, err := io.ReadFull(c.reader, c.body[start:])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (c *rawClient) readChunked() error {
	for {
		line, err := c.line()
		if err != nil {
			return err
		}
		if semi := bytes.IndexByte(line, ';'); semi >= 0 {
			line = line[:semi]
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 31)
		if err != nil {
			return fmt.Errorf("malformed chunk size %q", line)
		}
		if size == 0 {
			for { // trailers, up to the empty line
				t, err := c.line()
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if err := c.readN(int(size)); err != nil {
			return err
		}
		if crlf, err := c.line(); err != nil || len(crlf) != 0 {
			return fmt.Errorf("chunk of %d bytes not followed by CRLF", size)
		}
	}
}
