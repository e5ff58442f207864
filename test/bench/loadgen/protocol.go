package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
)

// Call is one prepared request, built once per key before the clock starts so that the generator
// spends the measured time waiting on the server, not encoding (etcd's base64 JSON would
// otherwise cost the generator more than kuorum's raw bytes).
type Call struct {
	Method      string
	Path        string
	Body        []byte
	ContentType string
}

// Protocol turns "put key=value" / "linearizable get key" into a Call for a system, and judges the reply.
type Protocol interface {
	Put(key string, value []byte) Call
	Get(key string) Call
	// Check returns nil when the reply is a success for op ("put" or "get").
	Check(op string, status int, body []byte) error
}

func protocolFor(system string) (Protocol, error) {
	switch system {
	case "kuorum":
		return kuorumProtocol{}, nil
	case "etcd":
		return etcdProtocol{}, nil
	}
	return nil, fmt.Errorf("unknown -system %q (kuorum or etcd)", system)
}

// kuorum: PUT /v1/kv/{key} with the raw value; GET /v1/kv/{key} is linearizable by default.
type kuorumProtocol struct{}

func (kuorumProtocol) Put(key string, value []byte) Call {
	return Call{http.MethodPut, "/v1/kv/" + key, value, "application/octet-stream"}
}

func (kuorumProtocol) Get(key string) Call {
	return Call{Method: http.MethodGet, Path: "/v1/kv/" + key}
}

func (kuorumProtocol) Check(op string, status int, body []byte) error {
	if status == http.StatusOK || (op == "put" && status == http.StatusCreated) {
		if op == "get" && len(body) == 0 {
			return errKind("empty-value")
		}
		return nil
	}
	return errKind(fmt.Sprintf("http-%d", status))
}

// etcd v3 JSON gateway: POST /v3/kv/put and /v3/kv/range, keys and values base64;
// serializable:false makes the range linearizable (a ReadIndex round, like kuorum's default).
type etcdProtocol struct{}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func (etcdProtocol) Put(key string, value []byte) Call {
	body := fmt.Sprintf(`{"key":%q,"value":%q}`, b64([]byte(key)), b64(value))
	return Call{http.MethodPost, "/v3/kv/put", []byte(body), "application/json"}
}

func (etcdProtocol) Get(key string) Call {
	body := fmt.Sprintf(`{"key":%q,"serializable":false}`, b64([]byte(key)))
	return Call{http.MethodPost, "/v3/kv/range", []byte(body), "application/json"}
}

func (etcdProtocol) Check(op string, status int, body []byte) error {
	if status != http.StatusOK {
		return errKind(fmt.Sprintf("http-%d", status))
	}
	if op == "get" && !bytes.Contains(body, []byte(`"kvs"`)) {
		return errKind("missing-key")
	}
	return nil
}

type errKind string

func (e errKind) Error() string { return string(e) }

// send issues one call and reads the whole reply, so the connection is reused (keep-alive).
func send(client *http.Client, base string, c Call) (int, []byte, error) {
	var body io.Reader
	if c.Body != nil {
		body = bytes.NewReader(c.Body)
	}
	req, err := http.NewRequest(c.Method, base+c.Path, body)
	if err != nil {
		return 0, nil, err
	}
	if c.ContentType != "" {
		req.Header.Set("Content-Type", c.ContentType)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, data, err
}
