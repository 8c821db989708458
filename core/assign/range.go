package assign

// Range is Kafka's RangeAssignor: each topic on its own, its partitions in
// numeric order split into contiguous ranges over the members subscribed to
// it, in member order; the first partitions%members members get one more.
// Topics with the same partition count and subscribers thus line up
// (co-partitioned joins), at the cost of balance across topics.
func Range() Assignor { return rangeAssignor{} }

type rangeAssignor struct{}

func (rangeAssignor) Name() string { return "range" }

func (rangeAssignor) Assign(members []Member, partitions map[string]int32) map[string]map[string][]int32 {
	members = prepare(members)
	out := emptyPlan(members)
	for _, topic := range subscribedTopics(members, partitions) {
		var consumers []string
		for _, m := range members {
			if subscribes(m, topic) {
				consumers = append(consumers, m.ID)
			}
		}
		n, c := partitions[topic], int32(len(consumers))
		next := int32(0)
		for i, id := range consumers {
			size := n / c
			if int32(i) < n%c {
				size++
			}
			for p := next; p < next+size; p++ {
				out[id][topic] = append(out[id][topic], p)
			}
			next += size
		}
	}
	return out
}
