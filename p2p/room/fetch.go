package room

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// Fetcher makes one HTTP request for a Client. HTTPFetcher (net/http) is
// the native default. In the browser wasm/fetch uses the page's fetch():
// net/http's client there costs the app megabytes of wasm (its Transport
// drags in TLS, HTTP/2 and x509, all kept because the core's protobuf uses
// reflection), so this package only touches it natively.
type Fetcher interface {
	Fetch(ctx context.Context, req FetchRequest) (FetchResponse, error)
}

// FetchRequest is one request: Header holds its few headers
// (Authorization, Content-Type).
type FetchRequest struct {
	Method, URL string
	Header      map[string]string
	Body        []byte // nil: none
}

// FetchResponse is an answer: its status, the one header a Client reads
// (Retry-After) and up to max bytes of its body.
type FetchResponse struct {
	Status     int
	RetryAfter string
	Body       []byte
}

// maxResponse bounds an answer's body.
const maxResponse = 4 << 20

// HTTPFetcher fetches with net/http (Client nil: http.DefaultClient).
type HTTPFetcher struct{ Client *http.Client }

// Fetch makes the request.
func (f HTTPFetcher) Fetch(ctx context.Context, r FetchRequest) (FetchResponse, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return FetchResponse{}, err
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return FetchResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return FetchResponse{}, err
	}
	return FetchResponse{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: data}, nil
}
