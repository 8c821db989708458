package client

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// partitionInfo is what the client knows of one partition.
type partitionInfo struct {
	leader core.NodeID // -1: unknown
	epoch  int32       // leader epoch, -1: unknown (Metadata < v7)
}

// topicInfo is the cached metadata of one topic.
type topicInfo struct {
	id         [16]byte
	err        int16           // topic error of the last answer
	partitions []partitionInfo // by partition number; nil while unknown
}

// metadata is the client's view of the cluster, the Java client's Metadata
// and its MetadataCache: refreshed for the topics the machine needs, on
// demand (requestUpdate) and every metadata.max.age.ms.
type metadata struct {
	bootstrap  []core.NodeID
	brokers    []core.NodeID // from the last answer, sorted
	topics     map[string]*topicInfo
	wanted     map[string]bool
	maxAgeMs   int64
	autoCreate bool

	needUpdate  bool
	inflight    bool
	lastRefresh int64 // time of the last answer
	fresh       bool  // an answer arrived at least once
	nextAttempt int64
	attempts    int // consecutive failed or incomplete updates, for the backoff
	nodeIdx     int // where the search for a node to ask starts
}

func newMetadata(bootstrap []core.NodeID, maxAgeMs int64, autoCreate bool) metadata {
	return metadata{
		bootstrap:  slices.Clone(bootstrap),
		topics:     map[string]*topicInfo{},
		wanted:     map[string]bool{},
		maxAgeMs:   maxAgeMs,
		autoCreate: autoCreate,
	}
}

// want adds a topic to the ones kept up to date.
func (m *metadata) want(topic string) {
	if !m.wanted[topic] {
		m.wanted[topic] = true
		m.needUpdate = true
	}
}

func (m *metadata) requestUpdate() { m.needUpdate = true }

// nodeFailed moves the search for a metadata node past a failed node.
func (m *metadata) nodeFailed(node core.NodeID) {
	c := m.candidates()
	if len(c) > 0 && c[m.nodeIdx%len(c)] == node {
		m.nodeIdx++
	}
}

// candidates are the brokers to ask for metadata: those of the last answer,
// the bootstrap list before the first one.
func (m *metadata) candidates() []core.NodeID {
	if len(m.brokers) > 0 {
		return m.brokers
	}
	return m.bootstrap
}

// partitions is the topic's partition count, -1 if unknown.
func (m *metadata) partitions(topic string) int32 {
	if t := m.topics[topic]; t != nil && t.partitions != nil {
		return int32(len(t.partitions))
	}
	return -1
}

// leader is the partition's leader and leader epoch, if known.
func (m *metadata) leader(topic string, p int32) (core.NodeID, int32, bool) {
	t := m.topics[topic]
	if t == nil || p < 0 || int(p) >= len(t.partitions) || t.partitions[p].leader < 0 {
		return -1, -1, false
	}
	return t.partitions[p].leader, t.partitions[p].epoch, true
}

// available lists the partitions with a known leader
// (Cluster.availablePartitionsForTopic).
func (m *metadata) available(topic string) []int32 {
	var out []int32
	if t := m.topics[topic]; t != nil {
		for i, p := range t.partitions {
			if p.leader >= 0 {
				out = append(out, int32(i))
			}
		}
	}
	return out
}

// topicErr is the error of the topic's last metadata answer, 0 if none.
func (m *metadata) topicErr(topic string) int16 {
	if t := m.topics[topic]; t != nil {
		return t.err
	}
	return 0
}

// maybeUpdateMetadata sends a Metadata request when one is due: requested,
// missing a wanted topic, or older than metadata.max.age.ms; never while one
// is in flight and never before the refresh backoff has passed
// (Metadata.timeToNextUpdate).
func (c *netClient) maybeUpdateMetadata() {
	m := &c.meta
	if m.inflight || len(m.wanted) == 0 || c.now < m.nextAttempt {
		return
	}
	if !m.needUpdate && m.fresh && c.now-m.lastRefresh < m.maxAgeMs {
		return
	}
	node, ok := c.metadataNode()
	if !ok {
		return
	}
	v, ok := c.version(node, kmsg.Metadata.Int16(), clientVersions[kmsg.Metadata.Int16()][1])
	if !ok {
		m.nodeIdx++
		m.attempts++
		m.nextAttempt = c.now + c.retryBackoff(m.attempts-1)
		return
	}
	names := make([]string, 0, len(m.wanted))
	for t := range m.wanted {
		names = append(names, t)
	}
	sort.Strings(names)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = v
	for _, t := range names {
		req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{Topic: kmsg.StringPtr(t)})
	}
	// Producers let Metadata create missing topics (broker auto.create.topics
	// .enable decides); consumers do so per allow.auto.create.topics.
	req.AllowAutoTopicCreation = m.autoCreate
	m.inflight = true
	m.needUpdate = false
	c.send(node, req, func(resp kmsg.Response, err *kerr.Error) {
		m.inflight = false
		m.lastRefresh = c.now
		if err != nil {
			m.needUpdate = true
			m.attempts++
			m.nextAttempt = c.now + c.retryBackoff(m.attempts-1)
			return
		}
		m.fresh = true
		if c.applyMetadata(resp.(*kmsg.MetadataResponse)) {
			m.attempts = 0
		} else {
			// Something wanted is missing (a topic being created, a
			// partition without leader): ask again after a growing backoff.
			m.needUpdate = true
			m.attempts++
		}
		m.nextAttempt = c.now + c.retryBackoff(max(m.attempts-1, 0))
	})
}

// metadataNode picks the broker to ask, like NetworkClient.leastLoadedNode:
// a ready connection with the fewest requests in flight; else it starts
// connecting to the first candidate out of its reconnect backoff.
func (c *netClient) metadataNode() (core.NodeID, bool) {
	cands := c.meta.candidates()
	if len(cands) == 0 {
		return 0, false
	}
	best, found := core.NodeID(0), false
	for i := range cands {
		n := cands[(c.meta.nodeIdx+i)%len(cands)]
		if cn := c.conns[n]; cn != nil && cn.state == connReady && (!found || cn.inflight < c.conns[best].inflight) {
			best, found = n, true
		}
	}
	if found {
		return best, true
	}
	for _, n := range cands {
		if cn := c.conns[n]; cn != nil && cn.state == connHandshake {
			return 0, false // wait for that connection
		}
	}
	for i := range cands {
		n := cands[(c.meta.nodeIdx+i)%len(cands)]
		if c.isReady(n) || c.conns[n].state == connHandshake {
			return 0, false
		}
	}
	return 0, false
}

// applyMetadata takes in an answer and reports whether it had everything
// wanted: every topic with all partition leaders known.
func (c *netClient) applyMetadata(r *kmsg.MetadataResponse) bool {
	m := &c.meta
	m.brokers = m.brokers[:0]
	live := map[core.NodeID]bool{}
	for _, b := range r.Brokers {
		m.brokers = append(m.brokers, core.NodeID(b.NodeID))
		live[core.NodeID(b.NodeID)] = true
	}
	slices.Sort(m.brokers)
	complete := true
	seen := map[string]bool{}
	for _, rt := range r.Topics {
		if rt.Topic == nil {
			continue
		}
		name := *rt.Topic
		seen[name] = true
		old := m.topics[name]
		t := &topicInfo{id: rt.TopicID, err: rt.ErrorCode}
		m.topics[name] = t
		if rt.ErrorCode != 0 {
			// A topic with an error is not in the Java client's Cluster:
			// its partitions are unknown until an answer without error.
			complete = false
			continue
		}
		n := 0
		for _, p := range rt.Partitions {
			n = max(n, int(p.Partition)+1)
		}
		t.partitions = make([]partitionInfo, n)
		for i := range t.partitions {
			t.partitions[i] = partitionInfo{leader: -1, epoch: -1}
		}
		for _, p := range rt.Partitions {
			if p.Partition < 0 {
				continue
			}
			pi := partitionInfo{leader: core.NodeID(p.Leader), epoch: p.LeaderEpoch}
			if r.Version < 7 {
				pi.epoch = -1
			}
			if p.Leader < 0 || !live[pi.leader] {
				pi.leader = -1 // no leader, or one not among the brokers
			}
			// KIP-320: never go back to an older leader epoch than one
			// already seen (Metadata.updateLatestMetadata keeps the cached
			// partition then).
			if old != nil && int(p.Partition) < len(old.partitions) {
				if prev := old.partitions[p.Partition]; prev.epoch >= 0 && pi.epoch >= 0 && pi.epoch < prev.epoch {
					pi = prev
				}
			}
			t.partitions[p.Partition] = pi
			if pi.leader < 0 {
				complete = false
			}
		}
	}
	for name := range m.wanted {
		if !seen[name] {
			complete = false
		}
	}
	return complete
}
