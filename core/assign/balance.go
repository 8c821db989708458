package assign

import "math"

// general assigns when subscriptions differ, the job of Kafka's
// GeneralAssignmentBuilder. Java keeps the owned partitions, deals out the
// rest and then moves partitions one at a time while that improves its
// balance score, in HashMap order: a heuristic whose result depends on that
// order and can stop short of the best balance (franz-go's sticky package
// documents such cases). This computes what it aims for (KIP-54: balance
// first, then stickiness), exactly: the most balanced assignment (the member
// loads, sorted, are lexicographically smallest, which also makes the
// largest load smallest and the smallest largest), and among those the one
// that moves the fewest owned partitions. Such an assignment passes Java's
// own isBalanced check, and Java's assignor would not undo it.
//
// It is a min-cost flow: source → topic (its partitions) → subscribed member
// (free while the member takes back partitions it owned, then 1 each) →
// sink, where a member's k-th partition costs big·(2k−1). The flow minimises
// big·Σload² + moves; Σload² is least exactly at the most balanced loads
// (decreasing minimisation on an M-convex set, Frank and Murota), and big
// outweighs any number of moves. Costs are convex, so pushing one partition
// at a time along a cheapest path (Bellman-Ford: reverse arcs are negative)
// stays optimal.
func general(members []Member, topics []string, partitions map[string]int32, owned [][]tp) [][]tp {
	nt, nm := len(topics), len(members)
	subs := make([][]int, nt)   // topic => subscribed members
	held := make([][]int32, nt) // topic => member => partitions it owns
	flow := make([][]int32, nt) // topic => member => partitions it gets
	left := make([]int32, nt)   // partitions of the topic not yet placed
	index := map[string]int{}
	total := int64(0)
	for t, topic := range topics {
		index[topic] = t
		held[t], flow[t] = make([]int32, nm), make([]int32, nm)
		for i, m := range members {
			if subscribes(m, topic) {
				subs[t] = append(subs[t], i)
			}
		}
		left[t] = partitions[topic]
		total += int64(left[t])
	}
	for i, own := range owned {
		for _, p := range own {
			held[index[p.topic]][i]++
		}
	}
	load := make([]int64, nm)
	big := 2*total + 2

	const inf = math.MaxInt64 / 4
	distT, distM := make([]int64, nt), make([]int64, nm)
	viaT, viaM := make([]int, nt), make([]int, nm) // the arc each node was reached by
	for range total {
		for t := range distT {
			distT[t], viaT[t] = inf, -1
			if left[t] > 0 {
				distT[t] = 0 // straight from the source
			}
		}
		for i := range distM {
			distM[i] = inf
		}
		// Bellman-Ford; no negative cycle exists as the flow so far is
		// optimal, so nm+nt rounds suffice.
		for round, changed := 0, true; changed && round <= nt+nm; round++ {
			changed = false
			for t, ms := range subs {
				for _, i := range ms {
					if d := distT[t] + moveCost(flow[t][i], held[t][i]); distT[t] < inf && d < distM[i] {
						distM[i], viaM[i], changed = d, t, true
					}
					if d := distM[i] + undoCost(flow[t][i], held[t][i]); distM[i] < inf && flow[t][i] > 0 && d < distT[t] {
						distT[t], viaT[t], changed = d, i, true
					}
				}
			}
		}
		best, bestCost := -1, int64(inf)
		for i, d := range distM {
			if c := d + big*(2*load[i]+1); d < inf && c < bestCost {
				best, bestCost = i, c
			}
		}
		if best < 0 {
			break // nobody can take what is left: no subscriber
		}
		load[best]++
		for i := best; ; {
			t := viaM[i]
			flow[t][i]++
			if viaT[t] < 0 {
				left[t]--
				break
			}
			i = viaT[t]
			flow[t][i]--
		}
	}

	// Realise the counts: per topic, each member first takes back the
	// lowest-numbered partitions it owned, then the others are dealt in
	// partition order.
	plan := make([][]tp, nm)
	for t, topic := range topics {
		free := make([]bool, partitions[topic])
		for p := range free {
			free[p] = true
		}
		kept := make([]int32, nm)
		for i, own := range owned {
			for _, p := range sortedParts(own, topic) {
				if kept[i] < flow[t][i] {
					plan[i] = append(plan[i], tp{topic, p})
					kept[i]++
					free[p] = false
				}
			}
		}
		next := int32(0)
		for _, i := range subs[t] {
			for ; kept[i] < flow[t][i]; kept[i]++ {
				for !free[next] {
					next++
				}
				plan[i] = append(plan[i], tp{topic, next})
				next++
			}
		}
	}
	return plan
}

// moveCost is the cost of giving a member one more partition of a topic.
func moveCost(flow, held int32) int64 {
	if flow < held {
		return 0 // takes back one it owned
	}
	return 1
}

// undoCost is the cost of taking one partition of a topic back from a member.
func undoCost(flow, held int32) int64 {
	if flow > held {
		return -1
	}
	return 0
}

// sortedParts returns own's partitions of topic, ascending; own is sorted by
// partition first.
func sortedParts(own []tp, topic string) []int32 {
	var out []int32
	for _, p := range own {
		if p.topic == topic {
			out = append(out, p.part)
		}
	}
	return out
}
