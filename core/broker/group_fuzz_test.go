package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// groupFuzzKeys are the group coordinator's APIs; the first fuzz byte picks
// one.
var groupFuzzKeys = []int16{
	kmsg.FindCoordinator.Int16(), kmsg.JoinGroup.Int16(), kmsg.SyncGroup.Int16(), kmsg.Heartbeat.Int16(),
	kmsg.LeaveGroup.Int16(), kmsg.OffsetCommit.Int16(), kmsg.OffsetFetch.Int16(), kmsg.DescribeGroups.Int16(),
	kmsg.ListGroups.Int16(), kmsg.DeleteGroups.Int16(),
}

func groupSeed(req kmsg.Request) []byte {
	idx := 0
	for i, k := range groupFuzzKeys {
		if k == req.Key() {
			idx = i
		}
	}
	return append([]byte{byte(idx), byte(req.GetVersion())}, req.AppendTo(nil)...)
}

// FuzzGroupStep hands a broker that coordinates a stable group one
// arbitrary group request, lets the timers run, and checks that it never
// panics, answers at most once with the request's correlation id and an
// encodable response, and that a broker reopened from its store rebuilds the
// groups without trouble.
//
// Run: go test -run=^$ -fuzz=FuzzGroupStep -fuzztime=60s ./core/broker
func FuzzGroupStep(f *testing.F) {
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = 9, "g", 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{1}}}
	f.Add(groupSeed(join))
	join.Version, join.InstanceID = 5, kmsg.StringPtr("static")
	f.Add(groupSeed(join))
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version, sync.Group, sync.Generation, sync.MemberID = 3, "g", 1, "m"
	f.Add(groupSeed(sync))
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.Generation = 2, "g", 1
	f.Add(groupSeed(hb))
	f.Add(groupSeed(offsetCommit("g", "", -1, "t", 1, 2)))
	f.Add(groupSeed(offsetCommit("empty", "", -1, "t", 1, 2)))
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version, fetch.Group = 3, "g"
	f.Add(groupSeed(fetch))
	fetch.Version, fetch.Groups = 8, []kmsg.OffsetFetchRequestGroup{{Group: "g"}, {Group: "x", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}}}
	f.Add(groupSeed(fetch))
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version, leave.Group, leave.Members = 4, "g", []kmsg.LeaveGroupRequestMember{{InstanceID: kmsg.StringPtr("static")}}
	f.Add(groupSeed(leave))
	d := kmsg.NewPtrDescribeGroupsRequest()
	d.Version, d.Groups = 5, []string{"g", ""}
	f.Add(groupSeed(d))
	l := kmsg.NewPtrListGroupsRequest()
	l.Version, l.StatesFilter = 4, []string{"stable"}
	f.Add(groupSeed(l))
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version, del.Groups = 2, []string{"g", "empty"}
	f.Add(groupSeed(del))
	f.Add(groupSeed(findCoordinator(4, "g")))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		req := kmsg.RequestForKey(groupFuzzKeys[int(data[0])%len(groupFuzzKeys)])
		req.SetVersion(int16(data[1]) % (req.MaxVersion() + 1))
		if !decode(req, data[2:]) {
			return
		}
		h := groupHarness(t)
		h.createTopic("t", 2, nil)
		h.do(findCoordinator(3, "g"))
		h.joinAndSync("g")
		h.do(offsetCommit("empty", "", -1, "t", 5))

		h.n.Step(core.Envelope{From: fuzzClient, To: 1, CorrelationID: fuzzCorr, Request: req})
		answers := 0
		check := func(msgs []core.Envelope) {
			for _, m := range msgs {
				if m.To != fuzzClient {
					continue
				}
				if m.CorrelationID != fuzzCorr {
					t.Fatalf("response with correlation id %d", m.CorrelationID)
				}
				if answers++; answers > 1 {
					t.Fatal("two responses to one request")
				}
				m.Response.AppendTo(nil) // must encode at its version
			}
		}
		check(h.drain())
		for _, ms := range []int64{1, 3000, 10000, 60000, 600000} {
			check(h.tick(ms))
		}
		h.reopen()
		h.tick(1)
	})
}
