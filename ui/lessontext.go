package ui

import (
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/lab"
)

// lesson is one guided lesson: a few steps, each with what to do, what to
// watch, and the check of the lab's state that completes it (core/lab/
// lessons.go; its tests drive the same checks in the same order).
type lesson struct {
	title, intro string
	steps        []lessonStep
}

type lessonStep struct {
	do, watch string
	check     lab.Check
}

func (l lesson) checks() []lab.Check {
	var out []lab.Check
	for _, s := range l.steps {
		out = append(out, s.check)
	}
	return out
}

var lessons = []lesson{
	{
		title: "Records, keys and partitions",
		intro: "A producer sends records, each a key and a value, to a topic. The topic events is split into 6 partitions, " +
			"and the producer itself picks each record's partition from its key: murmur2(key) & 0x7fffffff % 6. Same key, same partition.",
		steps: []lessonStep{
			{"In the Producer form, type the key user-1 and any value, then press Produce.",
				"The hint under the form computes murmur2 before you send. The record appears as a coloured cell in its partition's row, " +
					"first on the partition's leader broker, then on the two others.",
				lab.KeyAcked("user-1", 1)},
			{"Produce a record whose key goes to another partition: the hint tells you where before you send (alice does).",
				"Different keys spread over the partitions; each key keeps its colour wherever it appears.",
				lab.KeysSpread(2)},
			{"Produce user-1 again.",
				"Same key, same partition: it lands after the first one, at a higher offset, so user-1's records keep their order.",
				lab.All(lab.KeyAcked("user-1", 2), lab.KeyInOrder("user-1"))},
			{"Look at the Consumer panel.",
				"The consumer reads both user-1 records from that partition, in order. It reads only up to the high watermark: " +
					"records that every in-sync replica has.",
				lab.KeyConsumed("user-1", 2)},
		},
	},
	{
		title: "Offsets and the log",
		intro: "Each partition is an append-only log. Its leader gives every record the next offset, 0, 1, 2…; " +
			"a record is never changed, and an offset is never given out twice.",
		steps: []lessonStep{
			{"Press Produce 10 (keys user-0 … user-9).",
				"In each replica row the log end offset (LEO) grows by the records its partition got; the new cells take the next offsets.",
				lab.AckedSince(client.AcksAll, 10)},
			{"Press Skip 7 days in the clock bar.",
				"retention.ms is 7 days: at the next retention check the expired segments are deleted. A row's log start offset jumps " +
					"up to its log end; the log end stays. (Every clock jumped, so the brokers are fenced until they heartbeat again.)",
				lab.LogStartMoved},
			{"Produce a record into a partition that was emptied, user-1 for instance.",
				"Its offset continues the count where the log ended: offsets deleted by retention are never reused.",
				lab.AckedPastLogStart},
		},
	},
	{
		title: "Replicas, the ISR and the high watermark",
		intro: "Each partition has 3 replicas, one per broker: the leader takes the writes, the followers fetch from it. The in-sync " +
			"replicas (ISR) are those caught up with the leader; the high watermark (HW) is how far every ISR member has the log, " +
			"and so how far consumers may read.",
		steps: []lessonStep{
			{"Produce a record (any key).",
				"The leader appends it first; the followers fetch it; once every in-sync replica has it the HW passes it " +
					"(each row shows log start · HW · LEO).",
				lab.FullyReplicated},
			{"Press Pause on one broker.",
				"A paused broker sends no heartbeat: after broker.session.timeout.ms (9 s) the controller fences it and removes it " +
					"from every ISR; the partitions it led get new leaders.",
				lab.ISRShrunk},
			{"Press Produce 10 while it is paused.",
				"acks=all waits for the ISR only: 2 in-sync replicas are enough (min.insync.replicas=2), so the records are " +
					"acknowledged and the HW moves on while the paused replica falls behind.",
				lab.All(lab.AckedSince(client.AcksAll, 1), lab.ISRShrunk)},
			{"Press Resume.",
				"The broker heartbeats and is unfenced, its replicas fetch what they missed, and each rejoins the ISR once caught up.",
				lab.AllInSync},
		},
	},
	{
		title: "A leader dies",
		intro: "When a leader's broker dies, the controller (the KRaft quorum's leader) elects another leader from the in-sync " +
			"replicas. A record acknowledged with acks=all is on every ISR member, so none is lost.",
		steps: []lessonStep{
			{"With acks=all, produce a record with the key user-1.",
				"The hint under the form names the broker leading user-1's partition, and its leader epoch.",
				lab.KeyAcked("user-1", 1)},
			{"Press Kill on that broker.",
				"For about 9 s nothing changes: the controller waits broker.session.timeout.ms for a heartbeat before it gives up on a broker.",
				lab.KeyLeaderDown("user-1")},
			{"Wait.",
				"The controller fences the dead broker and makes the first live in-sync replica the leader, with a higher leader " +
					"epoch; the producer and the consumer move to it.",
				lab.KeyLeaderEpochRose("user-1")},
			{"Press Restart on the dead broker.",
				"It recovers its log, registers, catches up from the new leader and rejoins the ISR. The Acknowledged records " +
					"panel: nothing acknowledged with acks=all was lost.",
				lab.All(lab.AllInSync, lab.NoneLost(client.AcksAll))},
		},
	},
	{
		title: "acks=1 can lose acknowledged records",
		intro: "acks is how many replicas must have a record before the producer hears it is stored: acks=1, the leader alone; " +
			"acks=all, every in-sync replica, and at least min.insync.replicas of them.",
		steps: []lessonStep{
			{"In the Producer form, choose acks=1.",
				"From now on the leader answers as soon as it has appended a record.",
				lab.AcksIs(client.AcksLeader)},
			{"Press Isolate on the broker that leads user-1's partition (the hint names it).",
				"It is cut off from the other brokers and the controller, but the producer still reaches it, and it still believes it leads.",
				lab.AnyIsolated},
			{"Press Produce 10.",
				"The isolated leader acknowledges the records of its partitions, though no follower can copy them: with acks=1 its word is enough.",
				lab.All(lab.AckedSince(client.AcksLeader, 1), lab.AnyIsolated)},
			{"Wait about 9 s.",
				"The controller fences the isolated broker and elects new leaders, which never got those records: the Acknowledged " +
					"records panel shows them LOST. Press Heal: the old leader learns the new leader epoch and truncates what only it had.",
				lab.SomeLost(client.AcksLeader)},
			{"Heal the broker if you have not, choose acks=all again and produce.",
				"With acks=all an isolated leader cannot reach min.insync.replicas=2, so it acknowledges nothing; the producer " +
					"retries with the new leader. Try isolating a leader again: nothing acknowledged with acks=all is lost.",
				lab.All(lab.AcksIs(client.AcksAll), lab.AckedSince(client.AcksAll, 1), lab.NoneLost(client.AcksAll))},
		},
	},
	{
		title: "Consumer groups",
		intro: "Consumers sharing a group.id form a consumer group: the group splits the topic's partitions among its members, " +
			"so each partition is read by exactly one member. One broker, the group coordinator, runs the group.",
		steps: []lessonStep{
			{"In Consumer groups, press Add group with 1 member.",
				"The member joins (JoinGroup), becomes the group's leader, runs the assignor and gets all 6 partitions (SyncGroup): " +
					"the group is Stable.",
				lab.GroupSplit(1)},
			{"Press + member on the group's card.",
				"A rebalance: the generation goes up and the partitions are split, 3 and 3. No partition has two readers.",
				lab.GroupSplit(2)},
			{"Add a second group.",
				"It reads the same records again, on its own, with its own committed offsets: groups do not share work, members do.",
				lab.GroupsSplit(2)},
		},
	},
	{
		title: "Rebalances: eager and cooperative",
		intro: "A rebalance moves partitions between members when one joins, leaves or stops heartbeating. Eager assignors " +
			"(range, roundrobin, sticky) take every partition back first; cooperative-sticky (KIP-429) moves only what must move.",
		steps: []lessonStep{
			{"Have a group with the assignor range and 2 members (the group of the last lesson will do).",
				"Each member reads its share; the card shows the generation.",
				lab.GroupSplit(2, lab.EagerAssignors...)},
			{"Press + member on that group.",
				"Eager: every member revokes all its partitions and rejoins; one rebalance, the generation +1, then the new split.",
				lab.GroupGrew(1, lab.EagerAssignors...)},
			{"Add a group with the assignor cooperative-sticky and 2 members.",
				"Same split as range would give, for now.",
				lab.GroupSplit(2, lab.CooperativeAssignors...)},
			{"Press + member on it.",
				"The members keep reading the partitions that stay theirs; only the ones that move are revoked, and a second " +
					"rebalance hands them to the new member: the generation goes up by 2.",
				lab.GroupGrew(2, lab.CooperativeAssignors...)},
		},
	},
	{
		title: "Committed offsets and delivery",
		intro: "A group commits, per partition, the offset of the next record to read. After a crash, the next owner of a " +
			"partition starts there: when the commit happens decides what a crash costs.",
		steps: []lessonStep{
			{"Add a group with enable.auto.commit false: commitSync after processing, 500 ms/record and 2 members; then press Produce 10.",
				"Each member processes its records, then commits: the card shows the committed offset following the position.",
				lab.GroupCommitted(client.CommitAfterProcessing)},
			{"Press Crash on a member while it processes.",
				"No LeaveGroup: after session.timeout.ms the coordinator removes it and the other member takes its partitions, " +
					"from the committed offset. What the crashed member processed after its last commit is processed again: " +
					"at-least-once. Committing before processing would skip it instead: at-most-once.",
				lab.GroupTookOver(client.CommitAfterProcessing)},
		},
	},
}
