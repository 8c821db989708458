//go:build !js

package assign

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kgoAssign runs franz-go's balancer as its group leader would
// (groupConsumer.balanceGroup): the members' subscriptions are the bytes
// EncodeSubscription writes, sorted as kgo sorts them, and the plan comes back
// through SyncGroup bytes that DecodeAssignment reads.
func kgoAssign(t *testing.T, b kgo.GroupBalancer, members []Member, partitions map[string]int32) plan {
	t.Helper()
	var joined []kmsg.JoinGroupResponseMember
	for _, m := range members {
		j := kmsg.NewJoinGroupResponseMember()
		j.MemberID = m.ID
		if m.InstanceID != "" {
			j.InstanceID = kmsg.StringPtr(m.InstanceID)
		}
		j.ProtocolMetadata = EncodeSubscription(m.Topics, m.Owned, m.Generation, b.ProtocolName())
		joined = append(joined, j)
	}
	slices.SortFunc(joined, func(l, r kmsg.JoinGroupResponseMember) int { // kgo's joinMemberLess
		switch {
		case l.InstanceID != nil && r.InstanceID != nil:
			return cmp.Compare(*l.InstanceID, *r.InstanceID)
		case l.InstanceID != nil:
			return -1
		case r.InstanceID != nil:
			return 1
		}
		return cmp.Compare(l.MemberID, r.MemberID)
	})
	mb, topics, err := b.MemberBalancer(joined)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int32{}
	for topic := range topics {
		if n, ok := partitions[topic]; ok {
			counts[topic] = n
		}
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(counts)
	if err != nil {
		t.Fatal(err)
	}
	out := plan{}
	for _, a := range into.IntoSyncAssignment() {
		if out[a.MemberID], err = DecodeAssignment(a.MemberAssignment); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// scenario is a group over a few rebalances: members come and go, change
// subscriptions, and topics grow partitions.
type scenario struct {
	r          *rand.Rand
	topics     []string
	partitions map[string]int32
	members    []Member
	gen        int32
	nextID     int
}

func newScenario(seed uint64) *scenario {
	s := &scenario{r: rand.New(rand.NewPCG(seed, 0x5eed)), partitions: map[string]int32{}, gen: 1}
	for i := range 1 + s.r.IntN(5) {
		topic := fmt.Sprint("t", i)
		s.topics = append(s.topics, topic)
		s.partitions[topic] = 1 + s.r.Int32N(30)
	}
	same := s.r.IntN(3) == 0 // exercise the constrained path
	shared := s.subscription()
	for range 1 + s.r.IntN(12) {
		m := s.newMember()
		if same {
			m.Topics = shared
		}
		s.members = append(s.members, m)
	}
	if s.r.IntN(10) == 0 { // a subscribed topic without metadata
		s.members[0].Topics = append(slices.Clone(s.members[0].Topics), "missing")
	}
	return s
}

func (s *scenario) subscription() []string {
	var topics []string
	for _, t := range s.topics {
		if s.r.IntN(2) == 0 {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		topics = []string{s.topics[s.r.IntN(len(s.topics))]}
	}
	return topics
}

// newMember returns a member with a random id, so that creation order is not
// member order, and now and then a static one.
func (s *scenario) newMember() Member {
	s.nextID++
	m := Member{ID: fmt.Sprintf("%08x-%d", s.r.Uint32(), s.nextID), Topics: s.subscription(), Generation: -1}
	if s.r.IntN(5) == 0 {
		m.InstanceID = fmt.Sprintf("i%04x", s.r.IntN(1<<16))
	}
	return m
}

// randomOwnership gives members a random history: most partitions owned by
// somebody (subscribed to the topic or not), at the current or an older
// generation, a few claimed twice.
func (s *scenario) randomOwnership() {
	s.gen = 5
	gens := make([]int32, len(s.members))
	for i := range s.members {
		gens[i] = s.gen - int32(s.r.IntN(3))*int32(s.r.IntN(2))
		s.members[i].Owned, s.members[i].Generation = map[string][]int32{}, gens[i]
	}
	for _, t := range s.topics {
		for p := range s.partitions[t] {
			for claim := 0; claim == 0 && s.r.IntN(10) < 7 || claim == 1 && s.r.IntN(20) == 0; claim++ {
				i := s.r.IntN(len(s.members))
				s.members[i].Owned[t] = append(s.members[i].Owned[t], p)
			}
		}
	}
}

// next moves the group on a generation: everybody now owns what assigned
// gave it; some leave, some join, some resubscribe, some topic grows.
func (s *scenario) next(assigned plan) {
	s.gen++
	var members []Member
	for _, m := range s.members {
		if s.r.IntN(8) == 0 {
			continue // left
		}
		m.Owned, m.Generation = assigned[m.ID], s.gen
		if s.r.IntN(8) == 0 {
			m.Topics = s.subscription()
		}
		members = append(members, m)
	}
	for len(members) == 0 || len(members) < 12 && s.r.IntN(3) == 0 {
		members = append(members, s.newMember())
	}
	s.members = members
	if t := s.topics[s.r.IntN(len(s.topics))]; s.r.IntN(6) == 0 {
		s.partitions[t] += 1 + s.r.Int32N(4) // Kafka only ever adds partitions
	}
}

func TestMatchesKgo(t *testing.T) {
	const cases = 1000
	for _, tc := range []struct {
		ours   Assignor
		theirs kgo.GroupBalancer
		exact  bool
	}{
		{Range(), kgo.RangeBalancer(), true},
		{RoundRobin(), kgo.RoundRobinBalancer(), true},
		{Sticky(), kgo.StickyBalancer(), false},
		{CooperativeSticky(), kgo.CooperativeStickyBalancer(), false},
	} {
		t.Run(tc.ours.Name(), func(t *testing.T) {
			var rounds, identical, equivalent, stickier int
			for seed := range uint64(cases) {
				s := newScenario(seed)
				if !tc.exact {
					s.randomOwnership()
				}
				for round := range 3 {
					rounds++
					ours := tc.ours.Assign(s.members, s.partitions)
					if again := tc.ours.Assign(reversed(s.members), s.partitions); !reflect.DeepEqual(again, ours) {
						t.Fatalf("seed %d round %d: member order changes the plan:\n%v\n%v", seed, round, ours, again)
					}
					theirs := kgoAssign(t, tc.theirs, s.members, s.partitions)
					where := fmt.Sprintf("seed %d round %d: members %+v partitions %v\nours   %v\ntheirs %v", seed, round, s.members, s.partitions, ours, theirs)
					switch {
					case reflect.DeepEqual(ours, normalise(theirs)):
						identical++
					case tc.exact:
						t.Fatalf("differs from kgo: %s", where)
					default:
						equivalent++
						if checkEquivalent(t, tc.ours.Name(), s.members, s.partitions, ours, theirs, where) {
							stickier++
						}
					}
					checkValid(t, tc.ours.Name(), s.members, s.partitions, ours, where)
					if tc.ours.Name() == "cooperative-sticky" {
						checkSettles(t, s, ours, where)
					}
					s.next(ours)
				}
			}
			t.Logf("%s: %d cases (%d rebalances), %d identical to kgo, %d equivalent (%d of them keep more partitions in place)",
				tc.ours.Name(), cases, rounds, identical, equivalent, stickier)
		})
	}
}

// normalise gives kgo's plan our shape: every member present, no empty topics.
func normalise(p plan) plan {
	for m, topics := range p {
		for t, parts := range topics {
			if len(parts) == 0 {
				delete(topics, t)
			}
		}
		if topics == nil {
			p[m] = map[string][]int32{}
		}
	}
	return p
}

// checkValid checks the rules every plan obeys: members get only existing
// partitions of topics they subscribe to, each partition goes to one member,
// and, for the sticky assignors, every subscribed partition is assigned, or,
// for cooperative-sticky, still claimed by a member that must revoke it. A
// cooperative member never gets a partition another member still claims,
// unless the claim is stale.
func checkValid(t *testing.T, name string, members []Member, partitions map[string]int32, p plan, where string) {
	t.Helper()
	holder := map[tp]string{}
	for _, m := range members {
		for topic, parts := range p[m.ID] {
			if !slices.Contains(m.Topics, topic) {
				t.Fatalf("%s gave %s topic %s it does not subscribe to: %s", name, m.ID, topic, where)
			}
			for _, part := range parts {
				if part < 0 || part >= partitions[topic] {
					t.Fatalf("%s gave %s %s-%d, which does not exist: %s", name, m.ID, topic, part, where)
				}
				if other, dup := holder[tp{topic, part}]; dup {
					t.Fatalf("%s gave %s-%d to %s and %s: %s", name, topic, part, other, m.ID, where)
				}
				holder[tp{topic, part}] = m.ID
			}
		}
	}
	if name == "range" || name == "roundrobin" {
		return
	}
	owner := validOwners(members, partitions)
	for _, topic := range subscribedTopics(prepare(members), partitions) {
		for part := range partitions[topic] {
			x := tp{topic, part}
			var claimants []string
			for _, m := range members {
				if slices.Contains(m.Owned[topic], part) {
					claimants = append(claimants, m.ID)
				}
			}
			h, assigned := holder[x]
			switch {
			case !assigned && (name == "sticky" || len(claimants) == 0):
				t.Fatalf("%s left %s-%d unassigned: %s", name, topic, part, where)
			case assigned && name == "cooperative-sticky" && owner[x] != h && slices.ContainsFunc(claimants, func(c string) bool { return c != h }):
				t.Fatalf("%s gave %s-%d to %s while %v still claim it: %s", name, topic, part, h, claimants, where)
			}
		}
	}
}

// checkEquivalent checks a sticky plan that differs from kgo's against it:
// the member loads are as balanced (equal once sorted: both are the most
// balanced split there is), and at least as many partitions stay with their
// previous owner. It reports whether more stay.
func checkEquivalent(t *testing.T, name string, members []Member, partitions map[string]int32, ours, theirs plan, where string) bool {
	t.Helper()
	if name == "sticky" {
		if l, r := loads(ours), loads(theirs); !slices.Equal(l, r) {
			t.Fatalf("%s loads %v, kgo's %v (spread %d vs %d): %s", name, l, r, l[len(l)-1]-l[0], r[len(r)-1]-r[0], where)
		}
	}
	l, r := kept(members, partitions, ours), kept(members, partitions, theirs)
	if l < r {
		t.Fatalf("%s keeps %d partitions with their owner, kgo %d: %s", name, l, r, where)
	}
	return l > r
}

// checkSettles runs the second rebalance of a cooperative one: every member
// rejoins owning what it was given, at the next generation. Nothing is left
// to move then, and the group is as balanced as kgo gets it.
func checkSettles(t *testing.T, s *scenario, first plan, where string) {
	t.Helper()
	var members []Member
	for _, m := range s.members {
		m.Owned, m.Generation = first[m.ID], s.gen+1
		members = append(members, m)
	}
	ours := CooperativeSticky().Assign(members, s.partitions)
	for _, m := range members {
		if r := Revoked(m.Owned, ours[m.ID]); r != nil {
			t.Fatalf("second rebalance revokes %v from %s:\nsecond %v\n%s", r, m.ID, ours, where)
		}
	}
	checkValid(t, "sticky", members, s.partitions, ours, where) // nothing pending
	theirs := kgoAssign(t, kgo.CooperativeStickyBalancer(), members, s.partitions)
	if l, r := loads(ours), loads(theirs); !slices.Equal(l, r) {
		t.Fatalf("settled loads %v, kgo's %v: %s", l, r, where)
	}
}

// loads returns the members' partition counts, sorted.
func loads(p plan) []int {
	var out []int
	for _, topics := range p {
		n := 0
		for _, parts := range topics {
			n += len(parts)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// kept counts the partitions a plan leaves with their previous owner.
func kept(members []Member, partitions map[string]int32, p plan) int {
	n := 0
	for x, id := range validOwners(members, partitions) {
		if slices.Contains(p[id][x.topic], x.part) {
			n++
		}
	}
	return n
}

// validOwners restates Kafka's rule for who owned a partition, independently
// of owners: the only member claiming it at the highest generation, if it
// still subscribes to the topic.
func validOwners(members []Member, partitions map[string]int32) map[tp]string {
	out := map[tp]string{}
	for topic, n := range partitions {
		for part := range n {
			var top []Member
			for _, m := range members {
				if !slices.Contains(m.Owned[topic], part) {
					continue
				}
				if len(top) > 0 && m.Generation > top[0].Generation {
					top = nil
				}
				if len(top) == 0 || m.Generation == top[0].Generation {
					top = append(top, m)
				}
			}
			if len(top) == 1 && slices.Contains(top[0].Topics, topic) {
				out[tp{topic, part}] = top[0].ID
			}
		}
	}
	return out
}
