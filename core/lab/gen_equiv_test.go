package lab

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestGenerateSameAsFmt(t *testing.T) {
	for _, g := range []string{GenMatchEvents, GenClickstream} {
		a := &named{spec: ProducerSpec{Generator: g}, rnd: rand.New(rand.NewPCG(1, 2))}
		b := &named{spec: ProducerSpec{Generator: g}, rnd: rand.New(rand.NewPCG(1, 2))}
		for i := 0; i < 5000; i++ {
			k1, v1 := a.generate()
			var k2, v2 []byte
			switch g {
			case GenMatchEvents:
				if b.seq == nil {
					b.seq, b.state = make([]int, scenarioMatches), make([]int, scenarioMatches)
				}
				m := b.rnd.IntN(scenarioMatches)
				b.seq[m]++
				b.state[m] = min(90, b.state[m]+b.rnd.IntN(3))
				id := fmt.Sprintf("m%d", m+1)
				k2, v2 = []byte(id), fmt.Appendf(nil, `{"match":%q,"seq":%d,"minute":%d,"event":%q,"team":%q}`,
					id, b.seq[m], b.state[m], matchEvents[b.rnd.IntN(len(matchEvents))], teams[b.rnd.IntN(2)])
			default:
				if b.seq == nil {
					b.seq = make([]int, scenarioUsers)
				}
				u := b.rnd.IntN(scenarioUsers)
				b.seq[u]++
				id := fmt.Sprintf("u%d", u+1)
				k2, v2 = []byte(id), fmt.Appendf(nil, `{"user":%q,"seq":%d,"page":%q}`, id, b.seq[u], pages[b.rnd.IntN(len(pages))])
			}
			if !bytes.Equal(k1, k2) || !bytes.Equal(v1, v2) {
				t.Fatalf("%s #%d: %s=%s, fmt: %s=%s", g, i, k1, v1, k2, v2)
			}
		}
	}
}
