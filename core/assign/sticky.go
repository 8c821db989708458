package assign

import (
	"cmp"
	"slices"
)

// Sticky is Kafka's StickyAssignor (KIP-54): the most balanced assignment,
// and among those the one that keeps the most partitions where they were.
// It is eager: members give up everything before they join and tell the
// leader what they had in the subscription's UserData, with the generation
// it was from (KIP-341).
func Sticky() Assignor { return sticky{} }

// CooperativeSticky is Kafka's CooperativeStickyAssignor (KIP-429): Sticky's
// assignment, except that a partition moving from one member to another is
// given to nobody this rebalance. Its owner sees it gone from its assignment
// (Revoked), stops consuming it and rejoins; the second rebalance hands it
// to its new owner. Members keep consuming everything else throughout.
func CooperativeSticky() Assignor { return sticky{cooperative: true} }

type sticky struct{ cooperative bool }

func (s sticky) Name() string {
	if s.cooperative {
		return "cooperative-sticky"
	}
	return "sticky"
}

// tp is a topic partition.
type tp struct {
	topic string
	part  int32
}

func (s sticky) Assign(members []Member, partitions map[string]int32) map[string]map[string][]int32 {
	members = prepare(members)
	out := emptyPlan(members)
	if len(members) == 0 {
		return out
	}
	topics := subscribedTopics(members, partitions)
	owner := owners(members, partitions)
	// Each member's still valid partitions, lowest partition numbers first:
	// what ConstrainedAssignmentBuilder keeps when a member owns too many.
	owned := make([][]tp, len(members))
	for p, i := range owner {
		owned[i] = append(owned[i], p)
	}
	for _, o := range owned {
		slices.SortFunc(o, func(a, b tp) int { return cmp.Or(cmp.Compare(a.part, b.part), cmp.Compare(a.topic, b.topic)) })
	}

	var plan [][]tp
	if equalSubscriptions(members) {
		plan = constrained(members, topics, partitions, owned)
	} else {
		plan = general(members, topics, partitions, owned)
	}

	var claims map[tp][]int
	if s.cooperative {
		claims = claimants(members, partitions)
	}
	for i, m := range members {
		for _, p := range plan[i] {
			if s.cooperative && pending(p, i, owner, claims) {
				continue
			}
			out[m.ID][p.topic] = append(out[m.ID][p.topic], p.part)
		}
		for _, parts := range out[m.ID] {
			slices.Sort(parts)
		}
	}
	return out
}

// pending reports whether p, planned for member i, must wait for the next
// rebalance because another member may still be consuming it
// (CooperativeStickyAssignor.adjustAssignment). Unlike Java's general case, a
// claim its rival's higher generation beat counts too, as in kgo's
// AdjustCooperative (KIP-792): that member may not know yet.
func pending(p tp, i int, owner map[tp]int, claims map[tp][]int) bool {
	if o, ok := owner[p]; ok && o == i {
		return false // i keeps its own; any stale claimant revokes it
	}
	return slices.ContainsFunc(claims[p], func(j int) bool { return j != i })
}

// claimants returns, for each existing partition, the members claiming it in
// Owned, whatever their generation.
func claimants(members []Member, partitions map[string]int32) map[tp][]int {
	claims := map[tp][]int{}
	for i, m := range members {
		for topic, parts := range m.Owned {
			for _, p := range parts {
				if p >= 0 && p < partitions[topic] && !slices.Contains(claims[tp{topic, p}], i) {
					claims[tp{topic, p}] = append(claims[tp{topic, p}], i)
				}
			}
		}
	}
	return claims
}

// owners resolves who owned each partition before this rebalance, as
// AbstractStickyAssignor.allSubscriptionsEqual does: a claim stands if no
// other member claims the partition at a higher generation, and members
// claiming it at the same highest generation are all disbelieved (KIP-341,
// KIP-792). The winner keeps its claim only if it still subscribes to the
// topic. The result maps a partition to its owner's index in members.
func owners(members []Member, partitions map[string]int32) map[tp]int {
	type claim struct {
		member int
		gen    int32
		tie    bool
	}
	best := map[tp]claim{}
	for i, m := range members {
		for topic, parts := range m.Owned {
			for _, p := range parts {
				if p < 0 || p >= partitions[topic] {
					continue
				}
				b, ok := best[tp{topic, p}]
				switch {
				case !ok || m.Generation > b.gen:
					best[tp{topic, p}] = claim{i, m.Generation, false}
				case m.Generation == b.gen && b.member != i:
					best[tp{topic, p}] = claim{b.member, b.gen, true}
				}
			}
		}
	}
	owner := map[tp]int{}
	for p, b := range best {
		if !b.tie && subscribes(members[b.member], p.topic) {
			owner[p] = b.member
		}
	}
	return owner
}

func equalSubscriptions(members []Member) bool {
	for _, m := range members[1:] {
		if !slices.Equal(m.Topics, members[0].Topics) {
			return false
		}
	}
	return true
}

// constrained assigns when every member subscribes to the same topics,
// step by step as Kafka's ConstrainedAssignmentBuilder (without racks), with
// members in member order where Java walks a HashMap. Every member ends with
// total/members partitions or one more; a member keeps its owned partitions
// up to that quota, lowest partition numbers first, and may keep one more if
// it owned that many and some member still has to get the extra one. The
// rest, in topic and partition order, are dealt round-robin to the members
// still under the low quota (sorted by member id), then one each to members
// at it.
func constrained(members []Member, topics []string, partitions map[string]int32, owned [][]tp) [][]tp {
	total := 0
	for _, t := range topics {
		total += int(partitions[t])
	}
	n := len(members)
	minQ, maxQ := total/n, (total+n-1)/n
	extra := total % n // how many members still may end with maxQ

	plan := make([][]tp, n)
	taken := map[tp]bool{}
	var under, atMin []int // members below minQ; members at minQ that may get one more
	for i, own := range owned {
		switch {
		case len(own) < minQ:
			plan[i] = own
			under = append(under, i)
		case len(own) >= maxQ && extra > 0:
			plan[i] = own[:maxQ]
			extra--
			if extra == 0 {
				atMin = nil // nobody else gets more than minQ
			}
		default:
			plan[i] = own[:minQ]
			if extra > 0 {
				atMin = append(atMin, i)
			}
		}
		for _, p := range plan[i] {
			taken[p] = true
		}
	}
	byID := func(a, b int) int { return compareJava(members[a].ID, members[b].ID) }
	slices.SortFunc(under, byID)
	slices.SortFunc(atMin, byID)

	next := 0 // where the round-robin over under resumes
	for _, t := range topics {
		for part := range partitions[t] {
			p := tp{t, part}
			if taken[p] {
				continue
			}
			var i int
			fromUnder := len(under) > 0
			switch {
			case next < len(under):
				i, next = under[next], next+1
			case fromUnder:
				i, next = under[0], 1
			default: // the quotas add up to total, so someone is at minQ
				i, atMin = atMin[0], atMin[1:]
			}
			plan[i] = append(plan[i], p)
			if fromUnder && len(plan[i]) == minQ {
				next--
				under = slices.Delete(under, next, next+1)
				atMin = append(atMin, i)
			}
		}
	}
	return plan
}
