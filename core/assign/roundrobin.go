package assign

// RoundRobin is Kafka's RoundRobinAssignor: every partition of every
// subscribed topic, topics sorted and partitions in order, dealt in turn to
// the members in member order; a member not subscribed to the partition's
// topic is passed over, and the deal carries on from where it stopped.
func RoundRobin() Assignor { return roundRobin{} }

type roundRobin struct{}

func (roundRobin) Name() string { return "roundrobin" }

func (roundRobin) Assign(members []Member, partitions map[string]int32) map[string]map[string][]int32 {
	members = prepare(members)
	out := emptyPlan(members)
	next := 0 // the circular iterator over members (CircularIterator)
	for _, topic := range subscribedTopics(members, partitions) {
		for p := range partitions[topic] {
			// Some member subscribes to topic, so this ends.
			for !subscribes(members[next], topic) {
				next = (next + 1) % len(members)
			}
			out[members[next].ID][topic] = append(out[members[next].ID][topic], p)
			next = (next + 1) % len(members)
		}
	}
	return out
}
