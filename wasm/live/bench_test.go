//go:build js && wasm

package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"testing"
	"time"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/p2p/frame"
	"github.com/streamlab/streamlab/p2p/frame/frametest"
	"github.com/streamlab/streamlab/p2p/mesh"
	"github.com/streamlab/streamlab/p2p/rtc"
	"github.com/streamlab/streamlab/wasm/webrtctest"
)

// BenchmarkLive measures, in one run of the browser, the ceiling and what
// replication makes of it:
//
//   - browser/16KiB: the browser alone, a data channel between two
//     RTCPeerConnections of this page driven from JavaScript (no Go);
//   - raw/*: two rtc.Transports in this page, one sending envelopes to the
//     other as fast as flow control allows (16 KiB frames, and Produce
//     envelopes carrying one 100 B or 1 KiB record): MB/s of frames and
//     msgs/s;
//   - replication/*: three live members in this page (as three tabs would
//     be), a topic with RF=3 (3 partitions, min.insync.replicas=2) and a
//     producer with acks=all in member 1's tab, kept busy: records/s and
//     MB/s (record values) acknowledged, and that as a percentage of raw
//     16 KiB MB/s (%raw16K) and of raw MB/s with envelopes of the same
//     record size (%rawsame, whose wire bytes include the envelope). The
//     -batch256K and -acks1 cases are diagnostics (fewer, larger requests;
//     no wait for the followers);
//   - replication-memstore/*: the same on mesh members with memory stores
//     instead of IndexedDB, to tell the storage's share from the rest.
//
// Every wait is bounded: a stall fails the benchmark instead of hanging.
// Run it with
//
//	GOOS=js GOARCH=wasm sh ../shared/tools/netns-run go test -count=1 -run '^$' \
//	  -bench BenchmarkLive -benchtime=2s -timeout 15m -exec "$PWD/tools/wasmbrowser.sh" ./wasm/live/
func BenchmarkLive(b *testing.B) {
	webrtctest.AllowLocalCandidates(b)
	raw := map[string]float64{} // MB/s by case
	// The browser alone: a data channel between two RTCPeerConnections of
	// this page driven from JavaScript, no Go in the loop.
	b.Run("browser/16KiB", func(b *testing.B) { benchBrowser(b, frame.MessageSize) })
	for _, c := range []struct {
		name  string
		value int // record value size; 0: a 16 KiB frame
	}{{"16KiB", 0}, {"100B", 100}, {"1KiB", 1024}} {
		b.Run("raw/"+c.name, func(b *testing.B) { raw[c.name] = benchRaw(b, c.value) })
	}
	// One envelope at a time, there and back: the latency of a hop.
	b.Run("raw/pingpong-100B", benchPingPong)
	cl := startBenchCluster(b)
	for i, c := range []struct {
		name  string
		value int
		conf  func(*client.ProducerConfig)
	}{
		{"100B", 100, nil},
		{"1KiB", 1024, nil},
		// Diagnostics: what a round trip costs. Fewer, larger requests
		// (batch.size 256 KiB, linger.ms 20), and acks=1 (no wait for
		// the followers' fetches).
		{"1KiB-batch256K", 1024, func(c *client.ProducerConfig) { c.BatchSize, c.LingerMs = 256<<10, 20 }},
		{"1KiB-acks1", 1024, func(c *client.ProducerConfig) { c.Acks = client.AcksLeader }},
	} {
		b.Run("replication/"+c.name, func(b *testing.B) {
			mbs := benchReplication(b, cl, fmt.Sprintf("bench%d", i), c.value, c.conf)
			if r := raw["16KiB"]; r > 0 {
				b.ReportMetric(100*mbs/r, "%raw16K")
			}
			if r := raw[strings.Split(c.name, "-")[0]]; r > 0 {
				b.ReportMetric(100*mbs/r, "%rawsame")
			}
		})
	}
	// The same without IndexedDB: mesh members on memory stores.
	mem := startMemCluster(b)
	for i, c := range []struct {
		name  string
		value int
	}{{"100B", 100}, {"1KiB", 1024}} {
		b.Run("replication-memstore/"+c.name, func(b *testing.B) {
			mbs := benchReplication(b, mem, fmt.Sprintf("mem%d", i), c.value, nil)
			if r := raw["16KiB"]; r > 0 {
				b.ReportMetric(100*mbs/r, "%raw16K")
			}
			if r := raw[c.name]; r > 0 {
				b.ReportMetric(100*mbs/r, "%rawsame")
			}
		})
	}
}

// browserPump is JavaScript: setup() connects two RTCPeerConnections of this
// page by one ordered, reliable, negotiated data channel and resolves to
// pump(n, size), which sends n messages of size bytes as fast as the
// channel's buffer allows (the transport's high and low water marks) and
// resolves once all arrived, and close().
const browserPump = `(async () => {
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = e => { if (e.candidate) b.addIceCandidate(e.candidate).catch(() => {}); };
  b.onicecandidate = e => { if (e.candidate) a.addIceCandidate(e.candidate).catch(() => {}); };
  const da = a.createDataChannel("raw", {negotiated: true, id: 0, ordered: true});
  const db = b.createDataChannel("raw", {negotiated: true, id: 0, ordered: true});
  db.binaryType = "arraybuffer";
  da.bufferedAmountLowThreshold = 256 << 10;
  const opened = new Promise(r => { da.onopen = r; });
  const offer = await a.createOffer();
  await a.setLocalDescription(offer);
  await b.setRemoteDescription(offer);
  const answer = await b.createAnswer();
  await b.setLocalDescription(answer);
  await a.setRemoteDescription(answer);
  await opened;
  return {
    pump: async (n, size) => {
      let got = 0;
      const done = new Promise(r => { db.onmessage = () => { if (++got === n) r(); }; });
      const msg = new Uint8Array(size);
      for (let i = 0; i < n; i++) {
        if (da.bufferedAmount > (1 << 20)) await new Promise(r => { da.onbufferedamountlow = r; });
        da.send(msg);
      }
      await done;
    },
    close: () => { a.close(); b.close(); },
  };
})`

// awaitJS waits (bounded) for promise p.
func awaitJS(b *testing.B, p js.Value, timeout time.Duration) js.Value {
	b.Helper()
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		r := result{v: js.Undefined()}
		if len(args) > 0 {
			r.v = args[0]
		}
		done <- r
		return nil
	})
	defer then.Release()
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{err: fmt.Errorf("rejected: %s", args[0].Call("toString").String())}
		return nil
	})
	defer fail.Release()
	p.Call("then", then, fail)
	select {
	case r := <-done:
		if r.err != nil {
			b.Fatal(r.err)
		}
		return r.v
	case <-time.After(timeout):
		b.Fatalf("no answer from JavaScript in %v", timeout)
		return js.Undefined()
	}
}

func benchBrowser(b *testing.B, size int) {
	pump := awaitJS(b, js.Global().Call("eval", browserPump).Invoke(), 30*time.Second)
	defer pump.Call("close")
	b.SetBytes(int64(size))
	b.ResetTimer()
	awaitJS(b, pump.Call("pump", b.N, size), 2*time.Minute+time.Duration(b.N)*time.Millisecond)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// envelope is a Produce envelope from 1 to 2 with one record of value
// bytes, or, for value 0, with a record sized so that the frame is 16 KiB.
func envelope(value int) (core.Envelope, int) {
	size := value
	if value == 0 {
		size = frame.MessageSize
	}
	for {
		env := frametest.Produce(1, 2, 0, frametest.Batch(1, size, 0))
		enc, err := frame.AppendEnvelope(nil, env)
		if err != nil {
			panic(err)
		}
		if value != 0 || len(enc) <= frame.MessageSize {
			return env, len(enc)
		}
		size -= len(enc) - frame.MessageSize
	}
}

// benchRaw sends b.N envelopes from one transport to another and returns
// MB/s.
// benchTransport starts node id's transport on hub: up and down events go
// to ups and downs.
func benchTransport(b *testing.B, hub *rtc.MemSignaling, cluster string, id core.NodeID, recv func(core.NodeID, core.Envelope), ups chan<- core.NodeID, downs chan<- error) *rtc.Transport {
	tr, err := rtc.New(rtc.Config{
		ID: id, Cluster: cluster, Signaler: hub.Node(id), Receive: recv,
		PeerUp:   func(core.NodeID) { ups <- id },
		PeerDown: func(_ core.NodeID, err error) { downs <- err },
		Logf:     b.Logf,
	})
	if err != nil {
		b.Fatal(err)
	}
	return tr
}

func benchRaw(b *testing.B, value int) float64 {
	env, size := envelope(value)
	hub := rtc.NewMemSignaling()
	var got atomic.Int64
	downs := make(chan error, 4)
	ups := make(chan core.NodeID, 4)
	cluster := fmt.Sprintf("rawbench%d", time.Now().UnixNano())
	newT := func(id core.NodeID, recv func(core.NodeID, core.Envelope)) *rtc.Transport {
		return benchTransport(b, hub, cluster, id, recv, ups, downs)
	}
	a := newT(1, nil)
	defer a.Close()
	r := newT(2, func(core.NodeID, core.Envelope) { got.Add(1) })
	defer r.Close()
	if err := a.Connect(2); err != nil {
		b.Fatal(err)
	}
	for range 2 {
		select {
		case <-ups:
		case err := <-downs:
			b.Fatalf("raw: connection failed: %v", err)
		case <-time.After(30 * time.Second):
			b.Fatal("raw: no connection in 30 s")
		}
	}
	// Keep at most window bytes sent and not received: more than the
	// channel's buffer (1 MiB), so that the pipe stays full, well below
	// the receiver's inbox (16 MiB), which a browser cannot hold back.
	const window = 4 << 20
	maxOut := int64(max(8, window/size))
	b.SetBytes(int64(size))
	b.ResetTimer()
	deadline := time.Now().Add(2*time.Minute + time.Duration(b.N)*time.Millisecond)
	check := func() {
		select {
		case err := <-downs:
			b.Fatalf("raw: connection lost after %d of %d: %v", got.Load(), b.N, err)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("raw: %d of %d received by the deadline", got.Load(), b.N)
		}
	}
	for i := 0; i < b.N; {
		if int64(i)-got.Load() >= maxOut {
			check()
			time.Sleep(100 * time.Microsecond)
			continue
		}
		err := a.Send(2, env)
		if errors.Is(err, rtc.ErrSendQueueFull) {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	for got.Load() < int64(b.N) {
		check()
		time.Sleep(200 * time.Microsecond)
	}
	el := b.Elapsed().Seconds()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el, "msgs/s")
	b.ReportMetric(float64(size), "B/msg")
	return float64(b.N) * float64(size) / el / 1e6
}

// benchPingPong sends a 100 B envelope from one transport to the other and
// back, b.N times, one at a time.
func benchPingPong(b *testing.B) {
	env, _ := envelope(100)
	back := env
	back.From, back.To = 2, 1
	hub := rtc.NewMemSignaling()
	cluster := fmt.Sprintf("pingbench%d", time.Now().UnixNano())
	pong := make(chan struct{}, 1)
	ups := make(chan core.NodeID, 4)
	downs := make(chan error, 4)
	var r *rtc.Transport
	newT := func(id core.NodeID, recv func(core.NodeID, core.Envelope)) *rtc.Transport {
		return benchTransport(b, hub, cluster, id, recv, ups, downs)
	}
	a := newT(1, func(core.NodeID, core.Envelope) { pong <- struct{}{} })
	defer a.Close()
	r = newT(2, func(core.NodeID, core.Envelope) { r.Send(1, back) })
	defer r.Close()
	if err := a.Connect(2); err != nil {
		b.Fatal(err)
	}
	for range 2 {
		select {
		case <-ups:
		case err := <-downs:
			b.Fatalf("pingpong: connection failed: %v", err)
		case <-time.After(30 * time.Second):
			b.Fatal("pingpong: no connection in 30 s")
		}
	}
	b.ResetTimer()
	for range b.N {
		if err := a.Send(2, env); err != nil {
			b.Fatal(err)
		}
		select {
		case <-pong:
		case err := <-downs:
			b.Fatalf("pingpong: connection lost: %v", err)
		case <-time.After(10 * time.Second):
			b.Fatal("pingpong: no answer in 10 s")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/roundtrip")
}

// tracer times each batch of one topic through replication, from the
// leader's append (its first RecordsAppended) to the followers' appends, the
// leader's high watermark passing it and the producer's acknowledgement of
// its last record. Events reach it on the hosts' goroutines.
type tracer struct {
	mu      sync.Mutex
	topic   string
	batches map[[2]int64]*traced // partition, base offset
	pending map[int32][]*traced  // by partition, in offset order: not yet past the HW
	unacked map[int32][]*traced  // by partition, in offset order: not yet acked
	done    []*traced
}

type traced struct {
	last      int64
	appended  time.Time
	followers []time.Time
	hw, acked time.Time
}

func (tr *tracer) reset(topic string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.topic = topic
	tr.batches = map[[2]int64]*traced{}
	tr.pending = map[int32][]*traced{}
	tr.unacked = map[int32][]*traced{}
	tr.done = nil
}

func (tr *tracer) event(e Event) {
	if len(e.Core) == 0 {
		return
	}
	now := time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.batches == nil {
		return
	}
	for _, ev := range e.Core {
		switch ev := ev.(type) {
		case core.RecordsAppended:
			if ev.Topic != tr.topic {
				continue
			}
			k := [2]int64{int64(ev.Partition), ev.BaseOffset}
			if t := tr.batches[k]; t != nil {
				t.followers = append(t.followers, now)
				continue
			}
			t := &traced{last: ev.LastOffset, appended: now}
			tr.batches[k] = t
			tr.pending[ev.Partition] = append(tr.pending[ev.Partition], t)
			tr.unacked[ev.Partition] = append(tr.unacked[ev.Partition], t)
		case core.HighWatermarkAdvanced:
			if ev.Topic != tr.topic {
				continue
			}
			q := tr.pending[ev.Partition]
			for len(q) > 0 && q[0].last < ev.HighWatermark {
				q[0].hw = now
				q = q[1:]
			}
			tr.pending[ev.Partition] = q
		case core.RecordAcked:
			if ev.Topic != tr.topic {
				continue
			}
			q := tr.unacked[ev.Partition]
			for len(q) > 0 && q[0].last <= ev.Offset {
				q[0].acked = now
				tr.done = append(tr.done, q[0])
				q = q[1:]
			}
			tr.unacked[ev.Partition] = q
		}
	}
}

// report adds the median milliseconds from the leader's append to each
// later step, over the batches acknowledged.
func (tr *tracer) report(b *testing.B) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var f1, f2, hw, ack []float64
	for _, t := range tr.done {
		ms := func(x time.Time) float64 { return float64(x.Sub(t.appended).Microseconds()) / 1000 }
		if len(t.followers) > 0 {
			f1 = append(f1, ms(t.followers[0]))
		}
		if len(t.followers) > 1 {
			f2 = append(f2, ms(t.followers[1]))
		}
		if !t.hw.IsZero() {
			hw = append(hw, ms(t.hw))
		}
		ack = append(ack, ms(t.acked))
	}
	median := func(v []float64) float64 {
		if len(v) == 0 {
			return -1
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	b.ReportMetric(median(f1), "ms-append-to-1st-follower")
	b.ReportMetric(median(f2), "ms-append-to-2nd-follower")
	b.ReportMetric(median(hw), "ms-append-to-hw")
	b.ReportMetric(median(ack), "ms-append-to-ack")
	tr.batches = nil
}

// benchCluster is three brokers in this page: live members (IndexedDB),
// or mesh members on memory stores (the same path without IndexedDB).
type benchCluster struct {
	name      string
	trace     *tracer
	addClient func(func(core.NodeID) core.Machine) (*Client, error)
	servers   []func(func(*server.Server))
}

func startBenchCluster(b *testing.B) *benchCluster {
	cl := &benchCluster{name: fmt.Sprintf("livebench%d", time.Now().UnixNano()), trace: &tracer{}}
	members := map[core.NodeID]*Member{}
	b.Cleanup(func() {
		for _, m := range members {
			m.Close()
		}
		for id := core.NodeID(1); id <= 3; id++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if req, err := idb.Global().DeleteDatabase(DatabaseName(cl.name, id)); err == nil {
				req.Await(ctx)
			}
			cancel()
		}
	})
	start := time.Now()
	for id := core.NodeID(1); id <= 3; id++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		m, err := Join(ctx, Config{Cluster: cl.name, ID: id, Logf: b.Logf, Configure: benchServerConfig, Events: cl.trace.event})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		members[id] = m
		cl.servers = append(cl.servers, func(f func(*server.Server)) { m.Server(f) })
	}
	cl.addClient = members[1].AddClient
	benchWait(b, 90*time.Second, "the brokers to register and unfence", func() bool {
		for _, m := range members {
			if !unfenced(m) {
				return false
			}
		}
		return true
	})
	b.Logf("cluster %s formed in %v", cl.name, time.Since(start).Round(time.Millisecond))
	return cl
}

func benchServerConfig(c *server.Config) {
	c.Controller.SessionTimeoutMs = 6000
	c.HeartbeatIntervalMs = 1000
}

// startMemCluster is startBenchCluster with memory stores: mesh members
// (what live.Join starts) signaling through an rtc.MemSignaling hub.
func startMemCluster(b *testing.B) *benchCluster {
	cl := &benchCluster{name: fmt.Sprintf("membench%d", time.Now().UnixNano()), trace: &tracer{}}
	hub := rtc.NewMemSignaling()
	var mms []*mesh.Member
	b.Cleanup(func() {
		for _, mm := range mms {
			mm.Close()
		}
	})
	for id := core.NodeID(1); id <= 3; id++ {
		scfg := server.Config{Broker: broker.DefaultConfig(id)}
		scfg.Broker.Seed = uint64(time.Now().UnixNano()) + uint64(id)
		scfg.Controller.Voters = []core.NodeID{1, 2, 3}
		scfg.Controller.DefaultReplicationFactor = 3
		benchServerConfig(&scfg)
		store := storage.NewMemory()
		srv, err := server.Open(scfg, store)
		if err != nil {
			b.Fatal(err)
		}
		mm, err := mesh.Start(mesh.Config{ID: id, Cluster: cl.name, MaxBrokers: 3, Signaler: hub.Node(id), Events: cl.trace.event, Logf: b.Logf}, srv, store)
		if err != nil {
			b.Fatal(err)
		}
		mms = append(mms, mm)
		cl.servers = append(cl.servers, func(f func(*server.Server)) {
			mm.Host().Do(func(mc core.Machine) { f(mc.(*server.Server)) })
		})
	}
	cl.addClient = mms[0].AddClient
	benchWait(b, 90*time.Second, "the memory brokers to connect, register and unfence", func() bool {
		for i, mm := range mms {
			if len(mm.Peers()) < 2 {
				for _, p := range mms[i+1:] {
					mm.Connect(p.ID())
				}
				return false
			}
			ok := false
			mm.Host().Do(func(mc core.Machine) {
				epoch, fenced := mc.(*server.Server).Registered()
				ok = epoch >= 0 && !fenced
			})
			if !ok {
				return false
			}
		}
		return true
	})
	return cl
}

// benchReplication produces b.N records of value bytes with acks=all to a
// new topic and returns the MB/s of record values acknowledged.
func benchReplication(b *testing.B, cl *benchCluster, name string, value int, conf func(*client.ProducerConfig)) float64 {
	brokers := []core.NodeID{1, 2, 3}
	// The first call (b.N = 1) creates the topic and the producer; later
	// calls reuse them.
	st := replState(cl, name)
	st.once.Do(func() {
		req := kmsg.NewCreateTopicsRequestTopic()
		req.Topic, req.NumPartitions, req.ReplicationFactor = name, 3, 3
		req.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr("2")}}
		admin, err := cl.addClient(func(id core.NodeID) core.Machine { return client.NewAdmin(id, brokers, req) })
		if err != nil {
			st.err = err
			return
		}
		defer admin.Close()
		deadline := time.Now().Add(90 * time.Second)
		for {
			var aerr error
			admin.Do(func(mc core.Machine) { aerr = mc.(*client.Admin).Err() })
			if aerr != nil {
				st.err = fmt.Errorf("creating %s: %w", name, aerr)
				return
			}
			ok := true
			for _, srv := range cl.servers {
				srv(func(s *server.Server) {
					for p := int32(0); p < 3; p++ {
						if pi, found := s.Broker().Partition(name, p); !found || pi.Leader < 0 || len(pi.ISR) < 3 {
							ok = false
						}
					}
				})
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				st.err = fmt.Errorf("topic %s not in sync on every broker in 90 s", name)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		st.prod, st.err = cl.addClient(func(id core.NodeID) core.Machine {
			pc := client.ProducerConfig{ID: id, Bootstrap: brokers, Acks: client.AcksAll, RequestTimeoutMs: 10000, Seed: uint64(id)}
			if conf != nil {
				conf(&pc)
			}
			return client.NewProducer(pc)
		})
	})
	if st.err != nil {
		b.Fatal(st.err)
	}
	val := make([]byte, value)
	for i := range val {
		val[i] = 'a' + byte(i%26)
	}
	stats := func() (s client.ProducerStats) {
		if err := st.prod.Do(func(mc core.Machine) { s = mc.(*client.Producer).Stats() }); err != nil {
			b.Fatal(err)
		}
		return s
	}
	base := stats()
	if base.Failed > 0 {
		b.Fatalf("%d records failed", base.Failed)
	}
	// Keep up to window bytes of records unacknowledged: far more than
	// max.in.flight (5) batches of batch.size (16 KiB) per broker.
	const window = 4 << 20
	maxPending := max(64, window/value)
	b.SetBytes(int64(value))
	cl.trace.reset(name)
	b.ResetTimer()
	deadline := time.Now().Add(2*time.Minute + time.Duration(b.N)*time.Millisecond)
	sent := 0
	var samples, inflight, buffered int64
	for {
		var s client.ProducerStats
		st.prod.Do(func(mc core.Machine) {
			p := mc.(*client.Producer)
			s = p.Stats()
			samples++
			inflight += int64(s.InFlight)
			buffered += int64(s.Buffered)
			for n := min(b.N-sent, maxPending-p.Pending()); n > 0; n-- {
				p.Send(client.Record{Topic: name, Partition: -1, Value: val})
				sent++
			}
		})
		if s.Failed > base.Failed {
			b.Fatalf("%d records failed", s.Failed-base.Failed)
		}
		if s.Acked-base.Acked >= int64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d records acknowledged by the deadline (%+v)", s.Acked-base.Acked, b.N, s)
		}
		time.Sleep(time.Millisecond)
	}
	el := b.Elapsed().Seconds()
	b.StopTimer()
	s := stats()
	b.ReportMetric(float64(b.N)/el, "records/s")
	if d := s.Requests - base.Requests; d > 0 {
		b.ReportMetric(float64(b.N)/float64(d), "records/req")
	}
	if samples > 0 {
		// Little's law: the time a record spends in flight (sent to its
		// leader, not yet acknowledged) is the records in flight over the
		// rate.
		avg := float64(inflight) / float64(samples)
		b.ReportMetric(avg, "inflight-records")
		b.ReportMetric(1000*avg/(float64(b.N)/el), "ms-inflight")
		b.ReportMetric(float64(buffered)/float64(samples), "buffered-records")
	}
	cl.trace.report(b)
	return float64(b.N) * float64(value) / el / 1e6
}

type replBench struct {
	once sync.Once
	prod *Client
	err  error
}

var (
	replMu     sync.Mutex
	replStates = map[string]*replBench{}
)

func replState(cl *benchCluster, topic string) *replBench {
	replMu.Lock()
	defer replMu.Unlock()
	k := cl.name + "/" + topic
	if replStates[k] == nil {
		replStates[k] = &replBench{}
	}
	return replStates[k]
}

func benchWait(b *testing.B, timeout time.Duration, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("no %s within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
