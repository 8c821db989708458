package lab

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/streamlab/streamlab/core/client"
)

// checkAckedSlow is CheckAcked as it was before it became incremental:
// every acknowledged record against a fresh read of every leader's log.
func (l *Lab) checkAckedSlow() []AckCheck {
	type leaderLog struct {
		leader bool
		start  int64
		recs   map[int64][2]string
	}
	read := func(p int32) leaderLog {
		id := l.leaderNode(p)
		if id < 0 {
			return leaderLog{}
		}
		b := l.servers[id].Broker()
		info, ok := b.Partition(l.cfg.Topic, p)
		if !ok {
			return leaderLog{}
		}
		lg := leaderLog{leader: true, start: info.LogStartOffset, recs: map[int64][2]string{}}
		for _, r := range b.Records(l.cfg.Topic, p, info.LogStartOffset, int(info.LogEndOffset-info.LogStartOffset)) {
			lg.recs[r.Offset] = [2]string{string(r.Key), string(r.Value)}
		}
		return lg
	}
	checks := map[client.Acks]*AckCheck{}
	logs := map[int32]leaderLog{}
	for _, ak := range l.acked {
		a := l.ackedRecord(ak)
		c := checks[ak.acks]
		if c == nil {
			c = &AckCheck{Acks: ak.acks}
			checks[ak.acks] = c
		}
		c.Acked++
		lg, ok := logs[a.Partition]
		if !ok {
			lg = read(a.Partition)
			logs[a.Partition] = lg
		}
		switch got, ok := lg.recs[a.Offset]; {
		case !lg.leader:
			c.Unknown++
		case a.Offset < lg.start:
			c.Deleted++
		case ok && got == [2]string{string(a.Key), string(a.Value)}:
			c.Present++
		default:
			c.Lost = append(c.Lost, a)
		}
	}
	var out []AckCheck
	for _, a := range []client.Acks{client.AcksAll, client.AcksLeader, client.AcksNone} {
		if c := checks[a]; c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// The incremental CheckAcked agrees with a full check at every step of a
// run with isolated, killed and restarted leaders under both acks settings,
// and after retention.
func TestCheckAckedIncremental(t *testing.T) {
	l := New(Config{Seed: 3, ClientRequestTimeoutMs: 10000, MinLatencyMs: 40, MaxLatencyMs: 120})
	lost := 0
	step := func(i int) {
		l.Advance(100)
		got, want := l.CheckAcked(), l.checkAckedSlow()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: CheckAcked\n%+v\nwant\n%+v", i, got, want)
		}
		for _, c := range got {
			lost = max(lost, len(c.Lost))
		}
	}
	for i := range 1500 {
		switch i {
		case 50:
			l.SetAcks(client.AcksLeader)
			l.Isolate(1)
		case 300:
			l.HealAll()
		case 500:
			l.SetAcks(client.AcksAll)
			l.KillBroker(2)
		case 700:
			l.RestartBroker(2)
		case 800:
			l.SetAcks(client.AcksLeader)
			l.Isolate(3)
		case 1000:
			l.HealAll()
		case 1300:
			l.Skip(8 * day)
		}
		if i%3 == 0 {
			l.Produce([]byte(fmt.Sprint("k", i%17)), []byte(fmt.Sprint("v", i)))
		}
		step(i)
	}
	if lost == 0 {
		t.Errorf("the run lost nothing: it does not test the lost records")
	}
}

const day = 24 * 60 * 60 * 1000
