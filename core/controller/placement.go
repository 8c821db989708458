package controller

import "slices"

// PlaceReplicas assigns the replicas of partitions 0..partitions-1 to
// brokers (sorted by id) as Kafka's rack-unaware placement does
// (AdminUtils.assignReplicasToBrokersRackUnaware, Kafka's classic algorithm
// and the one kafka-reassign-partitions still uses): the first replica of
// partition p goes to broker (p+startIndex) mod n, round-robin, so leaders
// spread evenly; the others follow at a shift that grows by one every n
// partitions, so followers spread too. The first replica is the preferred
// leader. Kafka draws startIndex and replicaShift at random in [0, n); the
// controller draws them from its seeded source. rf must be in [1, n].
//
// KRaft's own default, StripedReplicaPlacer, is rack-aware and shuffles
// brokers instead; with no racks both spread leaders and replicas evenly.
func PlaceReplicas(brokers []int32, partitions int32, rf int16, startIndex, replicaShift int) [][]int32 {
	n := len(brokers)
	out := make([][]int32, partitions)
	shift := replicaShift
	for p := range int(partitions) {
		if p > 0 && p%n == 0 {
			shift++
		}
		first := (p + startIndex) % n
		replicas := []int32{brokers[first]}
		for j := range int(rf) - 1 {
			replicas = append(replicas, brokers[replicaIndex(first, shift, j, n)])
		}
		out[p] = replicas
	}
	return out
}

// replicaIndex is AdminUtils.replicaIndex.
func replicaIndex(first, secondShift, j, n int) int {
	shift := 1 + (secondShift+j)%(n-1)
	return (first + shift) % n
}

// partitionChange computes the PartitionChangeRecord that moves a partition
// to targetISR and elects a leader if it needs one, as Kafka's
// PartitionChangeBuilder does with ELR off and no reassignment:
//   - the current leader stays if it is in the target ISR and acceptable
//     (registered, unfenced, not the broker being fenced);
//   - else the first replica in assignment order that is in the target ISR
//     and acceptable;
//   - else, with unclean election (unclean.leader.election.enable), the
//     first acceptable replica, and the ISR becomes just that leader: the
//     records only it had survive, the others' are lost;
//   - else no leader (NoLeader).
//
// An empty target ISR is never written: the last ISR member stays in the ISR
// even when fenced, so that it can lead again when it comes back
// (PartitionChangeBuilder.build, "isr ... !targetIsr.isEmpty()"). It returns
// false if nothing changes.
func partitionChange(p Partition, targetISR []int32, acceptable func(int32) bool, unclean bool) (PartitionChangeRecord, bool) {
	rec := PartitionChangeRecord{Leader: NoLeaderChange}
	valid := func(r int32) bool { return slices.Contains(targetISR, r) && acceptable(r) }
	leader, isUnclean := NoLeader, false
	if p.Leader != NoLeader && valid(p.Leader) {
		leader = p.Leader
	} else if i := slices.IndexFunc(p.Replicas, valid); i >= 0 {
		leader = p.Replicas[i]
	} else if i := slices.IndexFunc(p.Replicas, acceptable); unclean && i >= 0 {
		leader, isUnclean = p.Replicas[i], true
	}
	if leader != p.Leader {
		rec.Leader = leader
		if isUnclean {
			rec.ISR = []int32{leader}
		}
	}
	if rec.ISR == nil && len(targetISR) > 0 && !slices.Equal(targetISR, p.ISR) {
		rec.ISR = slices.Clone(targetISR)
	}
	return rec, rec.Leader != NoLeaderChange || rec.ISR != nil
}
