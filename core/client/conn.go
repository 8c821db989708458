package client

import (
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// clientVersions are the versions of each API this package speaks, by key.
// The version used on a connection is the highest one both sides support, as
// the Java client's NetworkClient picks it from the broker's ApiVersions
// answer (NodeApiVersions.latestUsableVersion). The floors are where the
// features we rely on begin: Produce v3 and Fetch v4 carry RecordBatch v2
// (KIP-98), Metadata v1 lets an empty topic list mean "no topics" and
// ListOffsets v1 returns a single offset. Fetch v13+ names topics by id
// (KIP-516); Consumer.fetch caps it at 12 while a topic id is unknown.
var clientVersions = map[int16][2]int16{
	kmsg.ApiVersions.Int16(): {0, 4},
	kmsg.Metadata.Int16():    {1, 12},
	kmsg.Produce.Int16():     {3, 12},
	kmsg.Fetch.Int16():       {4, 17},
	kmsg.ListOffsets.Int16(): {1, 10},
	// InitProducerId v0 is enough for a producer without transactional.id;
	// v3+ could bump an epoch (KIP-360), which this client does not do.
	kmsg.InitProducerID.Int16(): {0, 5},
}

// Java client defaults shared by the producer and the consumer
// (CommonClientConfigs).
const (
	defaultRequestTimeoutMs     = 30000  // request.timeout.ms
	defaultRetryBackoffMs       = 100    // retry.backoff.ms
	defaultRetryBackoffMaxMs    = 1000   // retry.backoff.max.ms (KIP-580)
	defaultMetadataMaxAgeMs     = 300000 // metadata.max.age.ms
	reconnectBackoffMs          = 50     // reconnect.backoff.ms
	reconnectBackoffMaxMs       = 1000   // reconnect.backoff.max.ms
	connectionSetupTimeoutMs    = 10000  // socket.connection.setup.timeout.ms
	backoffJitterPercent        = 20     // CommonClientConfigs.RETRY_BACKOFF_JITTER = 0.2
	clientSoftwareName          = "streamlab-go"
	clientSoftwareVersion       = "0.1.0"
	maxInFlightPerConnection    = 5 // max.in.flight.requests.per.connection
	apiVersionsKey              = int16(18)
	defaultAllowAutoTopicCreate = true
)

// orDefault reads a config value whose zero value means Kafka's default d;
// a negative value asks for 0 where 0 means something in Kafka
// (linger.ms=0, fetch.max.wait.ms=0, retry.backoff.ms=0).
func orDefault[T int | int32 | int64](v, d T) T {
	switch {
	case v == 0:
		return d
	case v < 0:
		return 0
	}
	return v
}

// backoff is Kafka's ExponentialBackoff(initial, 2, max, 0.2) (KIP-580):
// initial * 2^attempts capped at max, times a random factor in [0.8, 1.2),
// capped at max again. Integer arithmetic instead of Java's doubles keeps
// runs identical on every platform.
func backoff(rng *rand.Rand, initial, maxMs int64, attempts int) int64 {
	if maxMs <= initial {
		return initial // Java: expMax == 0 means a constant backoff, no jitter
	}
	term := initial
	for i := 0; i < attempts && term < maxMs; i++ {
		term *= 2
	}
	term = min(term, maxMs)
	return min(term*(100-backoffJitterPercent+rng.Int64N(2*backoffJitterPercent))/100, maxMs)
}

// connState is the life of the one logical connection a client keeps to a
// broker, as NetworkClient's ConnectionState: DISCONNECTED, then
// CHECKING_API_VERSIONS (the ApiVersions handshake that starts every Java
// client connection), then READY.
type connState uint8

const (
	connDown connState = iota
	connHandshake
	connReady
)

type conn struct {
	node     core.NodeID
	state    connState
	versions map[int16][2]int16 // broker's ranges, from ApiVersions
	inflight int                // requests awaiting a response, handshake excluded
	failures int                // consecutive failed connections, for the reconnect backoff
	retryAt  int64              // no new connection before this time
}

// call is a request waiting for its response.
type call struct {
	corr     int32
	node     core.NodeID
	key      int16
	version  int16
	deadline int64
	// handle gets the response, or nil and the Kafka error that ended the
	// call: REQUEST_TIMED_OUT for the call that timed out, NETWORK_EXCEPTION
	// for the others on the same connection (NetworkClient closes the
	// connection on a timeout and fails everything in flight on it).
	handle func(kmsg.Response, *kerr.Error)
}

// netClient is the plumbing the producer and the consumer share: connections
// with their ApiVersions handshake, correlation ids, in-flight calls with
// request.timeout.ms, the metadata cache, and the outbox of a Ready.
type netClient struct {
	id               core.NodeID
	clientID         string
	now              int64
	rng              *rand.Rand
	requestTimeoutMs int64
	retryBackoffMs   int64
	retryBackoffMax  int64

	nextCorr int32
	conns    map[core.NodeID]*conn
	calls    map[int32]*call

	meta metadata

	out    []core.Envelope
	events []core.Event
}

func newNetClient(id core.NodeID, clientID string, bootstrap []core.NodeID, seed uint64,
	requestTimeoutMs, retryBackoffMs, retryBackoffMax, metadataMaxAge int64, autoCreate bool) netClient {
	return netClient{
		id:               id,
		clientID:         clientID,
		rng:              rand.New(rand.NewPCG(seed, seed^0x5bd1e995)),
		requestTimeoutMs: requestTimeoutMs,
		retryBackoffMs:   retryBackoffMs,
		retryBackoffMax:  retryBackoffMax,
		conns:            map[core.NodeID]*conn{},
		calls:            map[int32]*call{},
		meta:             newMetadata(bootstrap, metadataMaxAge, autoCreate),
	}
}

func (c *netClient) emit(ev core.Event) { c.events = append(c.events, ev) }

func (c *netClient) ready() core.Ready { return core.Ready{Messages: c.out, Events: c.events} }

func (c *netClient) advance() { c.out, c.events = nil, nil }

// retryBackoff is retry.backoff.ms grown exponentially with attempts.
func (c *netClient) retryBackoff(attempts int) int64 {
	return backoff(c.rng, c.retryBackoffMs, c.retryBackoffMax, attempts)
}

func (c *netClient) conn(node core.NodeID) *conn {
	cn := c.conns[node]
	if cn == nil {
		cn = &conn{node: node}
		c.conns[node] = cn
	}
	return cn
}

// isReady reports whether requests can go to node now. Like NetworkClient.ready
// it starts connecting (the ApiVersions handshake) when there is no
// connection and the reconnect backoff has passed.
func (c *netClient) isReady(node core.NodeID) bool {
	cn := c.conn(node)
	switch cn.state {
	case connReady:
		return true
	case connDown:
		if c.now >= cn.retryAt {
			c.handshake(cn, clientVersions[apiVersionsKey][1])
		}
	}
	return false
}

// canSend reports whether node is ready and has room for another request
// (max.in.flight.requests.per.connection, InFlightRequests.canSendMore).
func (c *netClient) canSend(node core.NodeID, maxInFlight int) bool {
	return c.isReady(node) && c.conns[node].inflight < maxInFlight
}

// inflight is the number of requests awaiting a response from node.
func (c *netClient) inflight(node core.NodeID) int {
	if cn := c.conns[node]; cn != nil {
		return cn.inflight
	}
	return 0
}

// handshake sends ApiVersions, the first request of every connection. The
// timeout is socket.connection.setup.timeout.ms: our transport has no TCP
// connect step, so a broker that is down shows up as a handshake that never
// completes.
func (c *netClient) handshake(cn *conn, version int16) {
	cn.state = connHandshake
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = version
	req.ClientSoftwareName = clientSoftwareName
	req.ClientSoftwareVersion = clientSoftwareVersion
	c.post(cn.node, req, connectionSetupTimeoutMs, func(resp kmsg.Response, err *kerr.Error) {
		if err != nil {
			return // disconnect already reset the connection
		}
		r := resp.(*kmsg.ApiVersionsResponse)
		switch r.ErrorCode {
		case 0:
		case kerr.UnsupportedVersion.Code:
			// The broker answered v0 with its own ApiVersions range: retry
			// with the highest version it supports (KIP-511, NetworkClient
			// handleApiVersionsResponse).
			for _, k := range r.ApiKeys {
				if k.ApiKey == apiVersionsKey && k.MaxVersion < version {
					c.handshake(cn, k.MaxVersion)
					return
				}
			}
			c.disconnect(cn.node, 0)
			return
		default:
			c.disconnect(cn.node, 0)
			return
		}
		cn.versions = map[int16][2]int16{}
		for _, k := range r.ApiKeys {
			cn.versions[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		cn.state = connReady
		cn.failures = 0
	})
}

// version is the highest version of key usable on node's connection, capped
// at upTo; ok is false if the ranges do not meet.
func (c *netClient) version(node core.NodeID, key, upTo int16) (int16, bool) {
	cn := c.conns[node]
	if cn == nil || cn.state != connReady {
		return 0, false
	}
	ours, theirs := clientVersions[key], cn.versions[key]
	hi := min(ours[1], theirs[1], upTo)
	lo := max(ours[0], theirs[0])
	if _, ok := cn.versions[key]; !ok || hi < lo {
		return 0, false
	}
	return hi, true
}

// send posts a request to a ready node with request.timeout.ms. handle nil
// means no response is expected (Produce with acks=0).
func (c *netClient) send(node core.NodeID, req kmsg.Request, handle func(kmsg.Response, *kerr.Error)) {
	if handle == nil {
		c.nextCorr++
		c.out = append(c.out, core.Envelope{From: c.id, To: node, CorrelationID: c.nextCorr, ClientID: c.clientID, Request: req})
		return
	}
	c.conns[node].inflight++
	c.post(node, req, c.requestTimeoutMs, handle)
}

func (c *netClient) post(node core.NodeID, req kmsg.Request, timeoutMs int64, handle func(kmsg.Response, *kerr.Error)) {
	c.nextCorr++
	c.calls[c.nextCorr] = &call{corr: c.nextCorr, node: node, key: req.Key(), version: req.GetVersion(),
		deadline: c.now + timeoutMs, handle: handle}
	c.out = append(c.out, core.Envelope{From: c.id, To: node, CorrelationID: c.nextCorr, ClientID: c.clientID, Request: req})
}

// step hands a response to the call waiting for it. Responses nobody waits
// for (their call timed out and its connection was closed) are dropped, as
// they could not arrive on a new connection.
func (c *netClient) step(env core.Envelope) {
	if env.Response == nil || env.To != c.id {
		return
	}
	cl := c.calls[env.CorrelationID]
	if cl == nil || cl.node != env.From {
		return
	}
	if env.Response.Key() != cl.key {
		// A response of another API to our correlation id: the Java client
		// fails the connection (NetworkClient.correlate).
		c.disconnect(cl.node, 0)
		return
	}
	delete(c.calls, cl.corr)
	if cl.key != apiVersionsKey {
		c.conns[cl.node].inflight--
	}
	cl.handle(env.Response, nil)
}

// tick moves the clock and closes connections whose requests timed out.
func (c *netClient) tick(now int64) {
	if now > c.now {
		c.now = now
	}
	var expired []*call
	for _, cl := range c.calls {
		// Expired once more than the timeout has passed since the send
		// (InFlightRequests.hasExpiredRequest).
		if c.now > cl.deadline {
			expired = append(expired, cl)
		}
	}
	slices.SortFunc(expired, func(a, b *call) int { return int(a.corr - b.corr) })
	for _, cl := range expired {
		if c.calls[cl.corr] != nil { // not failed yet by an earlier disconnect
			c.disconnect(cl.node, cl.corr)
		}
	}
}

// disconnect closes the connection to node, as NetworkClient does after a
// request timeout: the timed-out call (corr, 0 if none) fails with
// REQUEST_TIMED_OUT and every other call on the connection with
// NETWORK_EXCEPTION. The next connection waits reconnect.backoff.ms, growing
// exponentially to reconnect.backoff.max.ms, and redoes the handshake.
func (c *netClient) disconnect(node core.NodeID, corr int32) {
	cn := c.conn(node)
	cn.state = connDown
	cn.versions = nil
	cn.inflight = 0
	cn.failures++
	cn.retryAt = c.now + backoff(c.rng, reconnectBackoffMs, reconnectBackoffMaxMs, cn.failures-1)
	var failed []*call
	for _, cl := range c.calls {
		if cl.node == node {
			failed = append(failed, cl)
		}
	}
	slices.SortFunc(failed, func(a, b *call) int { return int(a.corr - b.corr) })
	for _, cl := range failed {
		delete(c.calls, cl.corr)
	}
	// A broken connection is a reason to doubt the metadata (NetworkException
	// is an InvalidMetadataException in the Java client).
	c.meta.requestUpdate()
	c.meta.nodeFailed(node)
	for _, cl := range failed {
		err := kerr.NetworkException
		if cl.corr == corr {
			err = kerr.RequestTimedOut
		}
		cl.handle(nil, err)
	}
}

// errName is the Kafka name of an error code, "" for none.
func errName(code int16) string {
	switch code {
	case 0:
		return ""
	case kerr.NotLeaderForPartition.Code:
		return "NOT_LEADER_OR_FOLLOWER" // Kafka's name since 2.7 (KIP-392); kerr keeps the old one
	}
	if e := kerr.TypedErrorForCode(code); e != nil {
		return e.Message
	}
	return "UNKNOWN_SERVER_ERROR"
}

// invalidMetadata reports errors after which the Java client refreshes its
// metadata: the subclasses of InvalidMetadataException.
func invalidMetadata(code int16) bool {
	switch code {
	case kerr.NotLeaderForPartition.Code, // NOT_LEADER_OR_FOLLOWER
		kerr.UnknownTopicOrPartition.Code,
		kerr.LeaderNotAvailable.Code,
		kerr.FencedLeaderEpoch.Code,
		kerr.UnknownLeaderEpoch.Code,
		kerr.KafkaStorageError.Code,
		kerr.NetworkException.Code,
		kerr.UnknownTopicID.Code,
		kerr.InconsistentTopicID.Code,
		kerr.NotCoordinator.Code,
		kerr.ReplicaNotAvailable.Code:
		return true
	}
	return false
}

func retriable(code int16) bool {
	return kerr.IsRetriable(kerr.ErrorForCode(code))
}
